from django.urls import path

from analysis import views

app_name = "analysis"

urlpatterns = [
    path("", views.wave_list, name="waves"),
    path("waves/<int:wave_id>/estimate/", views.estimate_new, name="estimate"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
    path("jobs/<int:job_id>/status.json", views.job_status, name="job-status"),
    path("jobs/<int:job_id>/table.csv", views.job_csv, name="job-csv"),
    path("jobs/<int:job_id>/table.json", views.job_json, name="job-json"),
]
