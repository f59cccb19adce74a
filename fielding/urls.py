from django.urls import path

from fielding import interview_views, monitor_views, views, web_views

app_name = "fielding"

urlpatterns = [
    path("import/", views.import_responses, name="import"),
    path(
        "waves/<int:wave_id>/allocation.csv",
        views.allocation_table,
        name="allocation-table",
    ),
    path("interviews/", interview_views.interview_home, name="interview-home"),
    path(
        "waves/<int:wave_id>/interviews/new/",
        interview_views.interview_new,
        name="interview-new",
    ),
    path(
        "interviews/<int:respondent_id>/card/",
        interview_views.interview_card,
        name="interview-card",
    ),
    path(
        "interviews/<int:respondent_id>/questions/",
        interview_views.interview_questions,
        name="interview-questions",
    ),
    path(
        "interviews/<int:respondent_id>/done/",
        interview_views.interview_done,
        name="interview-done",
    ),
    path(
        "waves/<int:wave_id>/show-cards/", interview_views.show_cards, name="show-cards"
    ),
    path("waves/<int:wave_id>/links/", web_views.links_new, name="web-links"),
    path(
        "waves/<int:wave_id>/monitor/",
        monitor_views.wave_monitor_page,
        name="monitor",
    ),
    path(
        "waves/<int:wave_id>/monitor.json",
        monitor_views.wave_monitor_json,
        name="monitor-json",
    ),
    path("r/<str:token>/", web_views.web_start, name="web-start"),
    path("r/<str:token>/card/", web_views.web_card, name="web-card"),
    path("r/<str:token>/questions/", web_views.web_questions, name="web-questions"),
]
