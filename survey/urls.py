from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from survey import views
from survey.forms import LoginForm

urlpatterns = [
    path("", views.home, name="home"),
    path("surveys/<int:survey_id>/cards/", views.cards_preview, name="cards-preview"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=LoginForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("fielding/", include("fielding.urls")),
    path("analysis/", include("analysis.urls")),
    path("api/", include("fielding.api.urls")),
]
