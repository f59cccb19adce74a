from django.urls import path

from analysis import planner_views, views
from analysis.exports import views as exports

app_name = "analysis"

urlpatterns = [
    path("", views.wave_list, name="waves"),
    path("waves/<int:wave_id>/estimate/", views.estimate_new, name="estimate"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
    path("jobs/<int:job_id>/status.json", views.job_status, name="job-status"),
    path("jobs/<int:job_id>/table.csv", views.job_csv, name="job-csv"),
    path("jobs/<int:job_id>/table.json", views.job_json, name="job-json"),
    path("jobs/<int:job_id>/reproduce.R", views.job_script, name="job-reproduce"),
    path("jobs/<int:job_id>/table.xlsx", exports.job_xlsx, name="job-xlsx"),
    path("jobs/<int:job_id>/table.dta", exports.job_dta, name="job-dta"),
    path("waves/<int:wave_id>/microdata/", exports.wave_microdata, name="microdata"),
    path(
        "waves/<int:wave_id>/codebook.csv",
        exports.wave_codebook,
        name="microdata-codebook",
    ),
    path("waves/<int:wave_id>/compare/", views.compare_new, name="compare"),
    path("waves/<int:wave_id>/plan/", planner_views.wave_plan, name="plan"),
    path(
        "jobs/<int:job_id>/figure/<slug:figure>.<str:image_format>",
        views.job_figure,
        name="job-figure",
    ),
]
