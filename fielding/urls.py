from django.urls import path

from fielding import (
    device_views,
    interview_views,
    monitor_views,
    tablet_views,
    upload_views,
    views,
    web_views,
)

app_name = "fielding"

urlpatterns = [
    path("import/", views.import_responses, name="import"),
    path("devices/", device_views.devices, name="devices"),
    path("devices/upload/", upload_views.device_upload, name="device-upload"),
    path(
        "devices/<int:token_id>/revoke/",
        device_views.device_revoke,
        name="device-revoke",
    ),
    path(
        "devices/<int:token_id>/release/",
        device_views.device_release,
        name="device-release",
    ),
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
    path("tablet/", tablet_views.tablet_page, name="tablet"),
    path("tablet/sw.js", tablet_views.tablet_sw, name="tablet-sw"),
    path(
        "tablet/manifest.webmanifest",
        tablet_views.tablet_manifest,
        name="tablet-manifest",
    ),
    path("r/<str:token>/", web_views.web_start, name="web-start"),
    path("r/<str:token>/card/", web_views.web_card, name="web-card"),
    path("r/<str:token>/questions/", web_views.web_questions, name="web-questions"),
]
