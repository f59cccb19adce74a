"""The offline tablet app: one page, its service worker and its web app manifest.

The page holds no data and needs no login. The tablet keeps its token, the waves, its
reserved slots and its unsent interviews in the browser's IndexedDB and sends the
token with each API call. Every text the app shows is rendered into the page in all
three languages, because the interview's language may differ from the interviewer's
and the page must switch between them without a network.
"""

import hashlib
import json

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from survey.models import LANGUAGE_CHOICES

STATIC_FILES = [
    "tablet/store.js",
    "tablet/sending.js",
    "tablet/app.js",
    "vendor/bootstrap/bootstrap.min.css",
    "vendor/bootstrap/bootstrap.bundle.min.js",
    "tablet/icon-192.png",
    "tablet/icon-512.png",
]
BATCH_SIZE = 50

TEXTS = {
    # The interviewer's screens.
    "app_title": _("Offline interviews"),
    "language": _("Language"),
    "online": _("Online"),
    "offline": _("Offline"),
    "enrol_title": _("Register this tablet"),
    "enrol_help": _(
        "Scan the QR code an administrator gave you, or type the tablet's token."
    ),
    "token": _("Token"),
    "token_missing": _("Type the token."),
    "device_label": _("Tablet name (optional)"),
    "enrol_save": _("Save the token"),
    "enrol_kept": _(
        "The token stays on this tablet and is sent only to this server, with each "
        "request."
    ),
    "enrol_https": _(
        "To work without a network this page must be opened over HTTPS or on localhost."
    ),
    "storage_not_persistent": _(
        "The browser has not promised to keep this tablet's data. Send interviews "
        "whenever you have a network."
    ),
    "wave": _("Wave"),
    "load_waves": _("Update waves"),
    "waves_loaded": _("Waves last updated: %(time)s"),
    "waves_need_network": _("Connect to a network once to load the waves."),
    "no_waves": _("No wave in fieldwork is assigned to you."),
    "reserve_title": _("Reserve slots"),
    "reserve_help": _(
        "Each interview takes a slot of its place's stratum. Reserve slots while "
        "online; they stay on this tablet."
    ),
    "place": _("Place of interview"),
    "number": _("Number of slots"),
    "reserve": _("Reserve"),
    "reserved": _("Slots reserved: %(n)s"),
    "over_quota": _(
        "With these slots the stratum is past its quota; tell your supervisor."
    ),
    "reserve_needs_network": _("Reserving slots needs a network."),
    "strata_title": _("Unused slots on this tablet"),
    "stratum": _("Stratum"),
    "slots": _("Slots"),
    "new_interview": _("New interview"),
    "interview_language": _("Interview language"),
    "consent": _("The respondent agrees to take part."),
    "consent_help": _(
        "Without consent the interview ends here and nothing is recorded."
    ),
    "register": _("Register and show the card"),
    "cancel": _("Cancel"),
    "reserve_first": _("Reserve slots for this place first."),
    "no_consent": _("No consent, no interview: nothing was recorded."),
    "queue_label": _("Interviews waiting to be sent"),
    "send_now": _("Send now"),
    "sending": _("Sending…"),
    "all_sent": _("Every interview on this tablet has been sent."),
    "last_sent": _("Last sent: %(time)s"),
    "network_failed": _(
        "The server could not be reached. The interviews stay on this tablet; "
        "next try at %(time)s."
    ),
    "server_failed": _(
        "The server could not store the interviews (error %(status)s). They stay on "
        "this tablet; next try at %(time)s."
    ),
    "attention_title": _("Needs attention"),
    "attention_help": _(
        "The server did not store these interviews. They stay on this tablet; show "
        "this list to your supervisor."
    ),
    "conflict": _(
        "The server already has another version of this interview and kept the "
        "first one."
    ),
    "rejected": _("The server refused this interview."),
    "interview_of": _("Interview of %(time)s, %(place)s"),
    "export": _("Save unsent interviews to a file"),
    "revoked_help": _(
        "Nothing can be sent until the tablet is registered again. Save the unsent "
        "interviews to a file and give it to your supervisor."
    ),
    "enrol_again": _("Register with a new token"),
    "saved_on_tablet": _(
        "The interview is kept on this tablet until it has been sent."
    ),
    "back": _("Back to the start"),
    # The respondent's screens, shown in the interview's language.
    "list_step": _("List %(number)s of %(lists)s"),
    "only_how_many": _("Please do not say which ones, only how many."),
    "how_many": _("How many?"),
    "refused": _("Refused"),
    "dont_know": _("Don't know"),
    "broken_off": _("Interview broken off"),
    "choose_count": _("Choose how many, or why there is no count."),
    "save": _("Save"),
    "questions_title": _("A few questions about the respondent"),
    "number_range": _("Enter a number from %(min)s to %(max)s."),
    "number_invalid": _("Enter a number."),
    "save_interview": _("Save the interview"),
    "saved_thanks": _("The interview is saved. Thank you."),
    "next_interview": _("Next interview"),
}


def texts_all() -> dict[str, dict[str, str]]:
    """Every text of the app in each of the project's languages."""
    texts = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            texts[code] = {key: str(text) for key, text in TEXTS.items()}
    return texts


def page_context(language: str) -> dict:
    return {
        "texts": texts_all(),
        "config": {
            "ui_language": language,
            "languages": dict(LANGUAGE_CHOICES),
            "waves_url": reverse("api-waves"),
            "reservations_url": reverse("api-reservations", args=[0]),
            "responses_url": reverse("api-responses"),
            "sw_url": reverse("fielding:tablet-sw"),
            "scope": reverse("fielding:tablet"),
            "batch_size": BATCH_SIZE,
            "reservation_max": settings.RESERVATION_MAX,
        },
        "page_language": language,
    }


def precache_urls() -> list[str]:
    return [reverse("fielding:tablet"), reverse("fielding:tablet-manifest")] + [
        static(path) for path in STATIC_FILES
    ]


def app_version() -> str:
    """A fingerprint of everything the service worker caches, so that a change to
    any of it installs a new worker and a new cache."""
    digest = hashlib.sha256()
    digest.update(
        render_to_string("fielding/tablet/page.html", page_context("en")).encode()
    )
    for path in STATIC_FILES:
        found = finders.find(path)
        if found:
            with open(found, "rb") as file:
                digest.update(file.read())
    return digest.hexdigest()[:12]


@require_safe
def tablet_page(request):
    return render(
        request,
        "fielding/tablet/page.html",
        page_context(translation.get_language() or settings.LANGUAGE_CODE),
    )


@require_safe
def tablet_sw(request):
    body = render_to_string(
        "fielding/tablet/sw.js",
        {
            "version": app_version(),
            "precache": json.dumps(precache_urls()),
            "page_url": json.dumps(reverse("fielding:tablet")),
        },
    )
    response = HttpResponse(body, content_type="application/javascript")
    response["Cache-Control"] = "no-cache"
    return response


@require_safe
def tablet_manifest(request):
    manifest = {
        "name": str(_("List experiments: offline interviews")),
        "short_name": str(_("Interviews")),
        "start_url": reverse("fielding:tablet"),
        "scope": reverse("fielding:tablet"),
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#212529",
        "icons": [
            {
                "src": static(f"tablet/icon-{size}.png"),
                "sizes": f"{size}x{size}",
                "type": "image/png",
            }
            for size in (192, 512)
        ],
    }
    return JsonResponse(manifest, content_type="application/manifest+json")
