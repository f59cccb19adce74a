from django.urls import path

from fielding import views

app_name = "fielding"

urlpatterns = [
    path("import/", views.import_responses, name="import"),
]
