from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from fielding.api import views

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("v1/waves/", views.WaveListView.as_view(), name="api-waves"),
    path(
        "v1/waves/<int:wave_id>/reservations/",
        views.ReservationView.as_view(),
        name="api-reservations",
    ),
    path("v1/responses/", views.ResponsesView.as_view(), name="api-responses"),
    path(
        "v1/waves/<int:wave_id>/responses/",
        views.WaveResponsesView.as_view(),
        name="api-wave-responses",
    ),
    path(
        "v1/waves/<int:wave_id>/responses.csv",
        views.WaveResponsesCsvView.as_view(),
        name="api-wave-responses-csv",
    ),
]
