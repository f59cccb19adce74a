"""Every URL of the project, walked with every role.

The walk is built from the URL configuration, so a URL added later fails here until
someone says who may use it: add its name to ACCESS.
"""

import re

import pytest
from django.apps import apps
from django.test import Client
from django.urls import (
    URLPattern,
    URLResolver,
    get_resolver,
    include,
    path,
    resolve,
    reverse,
)
from drf_spectacular.generators import SchemaGenerator

from analysis.services import estimate_job_create, estimate_job_run
from fielding.allocation import respondent_register, slot_allocate
from fielding.models import AccessToken
from fielding.tokens import token_issue
from survey.models import Settlement
from tests.conftest import client_for, make_user

ANONYMOUS, INTERVIEWER, ANALYST, ADMINISTRATOR = (
    "anonymous",
    "interviewer",
    "analyst",
    "administrator",
)
ROLES = (ANONYMOUS, INTERVIEWER, ANALYST, ADMINISTRATOR)
PUBLIC = set(ROLES)
SIGNED_IN = {INTERVIEWER, ANALYST, ADMINISTRATOR}
ANALYSTS = {ANALYST, ADMINISTRATOR}
INTERVIEWERS = {INTERVIEWER, ADMINISTRATOR}
ADMINISTRATORS = {ADMINISTRATOR}

ACCESS = {
    "home": SIGNED_IN,
    "login": PUBLIC,
    "logout": PUBLIC,
    "set_language": PUBLIC,
    "cards-preview": ADMINISTRATORS,
    "fielding:import": ADMINISTRATORS,
    "fielding:allocation-table": ADMINISTRATORS,
    "fielding:web-links": ADMINISTRATORS,
    "fielding:monitor": ADMINISTRATORS,
    "fielding:monitor-json": ADMINISTRATORS,
    "fielding:devices": ADMINISTRATORS,
    "fielding:device-upload": ADMINISTRATORS,
    "fielding:device-revoke": ADMINISTRATORS,
    "fielding:device-release": ADMINISTRATORS,
    "fielding:interview-home": INTERVIEWERS,
    "fielding:interview-new": INTERVIEWERS,
    "fielding:interview-card": INTERVIEWERS,
    "fielding:interview-questions": INTERVIEWERS,
    "fielding:interview-done": INTERVIEWERS,
    "fielding:show-cards": INTERVIEWERS,
    "fielding:web-start": PUBLIC,
    "fielding:web-card": PUBLIC,
    "fielding:web-questions": PUBLIC,
    "fielding:tablet": PUBLIC,
    "fielding:tablet-sw": PUBLIC,
    "fielding:tablet-manifest": PUBLIC,
    # The API's write endpoints take a tablet's token, never a session.
    "api-schema": PUBLIC,
    "api-waves": INTERVIEWERS,
    "api-reservations": set(),
    "api-responses": set(),
    "api-wave-responses": ANALYSTS,
    "api-wave-responses-csv": ANALYSTS,
    "analysis:waves": ANALYSTS,
    "analysis:estimate": ANALYSTS,
    "analysis:job": ANALYSTS,
    "analysis:job-status": ANALYSTS,
    "analysis:job-csv": ANALYSTS,
    "analysis:job-json": ANALYSTS,
    "analysis:job-reproduce": ANALYSTS,
    "analysis:job-xlsx": ANALYSTS,
    "analysis:job-dta": ANALYSTS,
    "analysis:microdata": ANALYSTS,
    "analysis:microdata-codebook": ANALYSTS,
    "analysis:compare": ANALYSTS,
    "analysis:plan": ANALYSTS,
    "analysis:job-figure": ANALYSTS,
}


# Rows made only by the system (jobs, responses): the admin refuses to add them.
ADDED_ELSEWHERE = {
    "admin:analysis_estimatejob_add",
    "admin:fielding_response_add",
    "admin:fielding_accesstoken_add",
    "admin:fielding_heldsubmission_add",
}

# Refused in the admin even to administrators: the audit log is only ever added to, by
# the code; failed logins are recorded by the login page.
REFUSED_IN_ADMIN = {
    "admin:survey_auditevent_add",
    "admin:survey_auditevent_delete",
    "admin:axes_accessattempt_add",
}


def url_names(patterns, namespace=""):
    """(name, argument names) of every named URL, namespaces included."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace or ""
            prefix = (
                f"{namespace}:{inner}" if namespace and inner else inner or namespace
            )
            yield from url_names(pattern.url_patterns, prefix)
        elif isinstance(pattern, URLPattern) and pattern.name:
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield name, tuple(pattern.pattern.regex.groupindex)


ALL_URLS = sorted(set(url_names(get_resolver().url_patterns)))
PROJECT_URLS = [(n, a) for n, a in ALL_URLS if not n.startswith("admin:")]
ADMIN_URLS = [(n, a) for n, a in ALL_URLS if n.startswith("admin:")]


def test_every_url_of_the_project_says_who_may_use_it():
    unclassified = [name for name, _args in PROJECT_URLS if name not in ACCESS]

    assert unclassified == [], "add these URL names to ACCESS"


@pytest.fixture
def world(demo_wave, race_wave):
    """A wave in fieldwork, an interview by the interviewer, a finished job."""
    people = {
        INTERVIEWER: make_user("walk-interviewer", INTERVIEWER),
        ANALYST: make_user("walk-analyst", ANALYST),
        ADMINISTRATOR: make_user("walk-admin", ADMINISTRATOR),
    }
    demo_wave.interviewers.add(people[INTERVIEWER])
    respondent = respondent_register(
        wave=demo_wave,
        consented=True,
        interviewer=people[INTERVIEWER],
        place=Settlement.objects.get(code="almaty"),
        language="ru",
    )
    slot_allocate(respondent=respondent, user=people[INTERVIEWER])
    job = estimate_job_create(wave=race_wave, by=[])
    estimate_job_run(job.pk)
    tablet, _raw = token_issue(user=people[INTERVIEWER], label="walk tablet")
    # A failed login, so the admin's page of lockouts has a row to walk.
    Client().post(reverse("login"), {"username": "walk-admin", "password": "wrong"})
    values = {
        "wave_id": demo_wave.pk,
        "survey_id": demo_wave.survey_id,
        "respondent_id": respondent.pk,
        "job_id": job.pk,
        "token": "no-such-link",
        "token_id": tablet.pk,
        "figure": "estimates",
        "image_format": "png",
    }
    return people, values


def client_as(role, people, client):
    return client if role == ANONYMOUS else client_for(people[role])


@pytest.mark.parametrize("role", ROLES)
def test_every_project_url_answers_each_role_as_its_access_says(world, role, client):
    people, values = world
    browser = client_as(role, people, client)
    wrong = []

    for name, args in PROJECT_URLS:
        url = reverse(name, kwargs={arg: values[arg] for arg in args})
        response = browser.get(url)
        allowed = role in ACCESS[name]
        if allowed:
            ok = response.status_code < 400 or name.startswith("fielding:web-")
            ok = ok or (name == "logout" and response.status_code == 405)
        elif role == ANONYMOUS and name.startswith("api-"):
            ok = response.status_code in (401, 403)
        elif role == ANONYMOUS:
            ok = (
                response.status_code == 302
                and "/accounts/login/" in response["Location"]
            )
        else:
            ok = response.status_code == 403
        if not ok or response.status_code >= 500:
            wrong.append((name, response.status_code))

    assert wrong == []


def admin_kwargs(name: str, args: tuple) -> dict | None:
    """Arguments for an admin URL: an existing object of its model, or None to skip."""
    kwargs = {}
    for arg in args:
        if arg == "object_id":
            match = re.match(r"admin:(\w+?)_(\w+)_\w+$", name)
            model = apps.get_model(match[1], match[2]) if match else None
            obj = model.objects.first() if model else None
            if obj is None:
                return None
            kwargs[arg] = str(obj.pk)
        elif arg == "app_label":
            kwargs[arg] = "survey"
        else:
            return None
    return kwargs


@pytest.mark.parametrize("role", ROLES)
def test_the_admin_is_for_administrators_only(world, role, client):
    people, _values = world
    browser = client_as(role, people, client)
    wrong = []

    for name, args in ADMIN_URLS:
        kwargs = admin_kwargs(name, args)
        if kwargs is None or name in {
            "admin:logout",
            "admin:view_on_site",
            "admin:autocomplete",
        }:
            continue
        response = browser.get(reverse(name, kwargs=kwargs))
        if role == ADMINISTRATOR and name in REFUSED_IN_ADMIN:
            ok = response.status_code == 403
        elif role == ADMINISTRATOR:
            ok = response.status_code in (200, 302) or name in ADDED_ELSEWHERE
        else:
            ok = response.status_code == 302 and "/admin/login/" in response["Location"]
            ok = ok or name == "admin:login"
        if not ok:
            wrong.append((name, response.status_code))

    assert wrong == [], wrong


# The walk itself: that it finds every URL, and the API's endpoints under every token.


def unnamed_patterns(patterns, prefix=""):
    """Routes without a name outside the admin: the walk could not reach them."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if getattr(pattern, "app_name", None) != "admin":
                yield from unnamed_patterns(pattern.url_patterns, route)
        elif not pattern.name:
            yield route


def test_every_url_outside_the_admin_has_a_name_so_the_walk_reaches_it():
    assert list(unnamed_patterns(get_resolver().url_patterns)) == []


def test_access_names_no_url_that_no_longer_exists():
    names = {name for name, _args in PROJECT_URLS}

    assert sorted(set(ACCESS) - names) == []


def test_the_walk_finds_a_new_url_however_deeply_it_is_included():
    def page(request):
        return None

    inner = ([path("deep/<int:wave_id>/", page, name="deep")], "extra")
    patterns = [*get_resolver().url_patterns, path("x/", include(inner))]

    found = dict(url_names(patterns))

    assert found["extra:deep"] == ("wave_id",)
    assert "extra:deep" not in ACCESS


def test_every_endpoint_of_the_api_schema_is_walked():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    names = set()
    for route in schema["paths"]:
        match = resolve(re.sub(r"\{\w+\}", "1", route))
        names.add(match.view_name)

    assert names and sorted(names - set(ACCESS)) == []


# Token holders: a tablet (its interviewer's device token) and personal tokens. A
# personal token acts as its owner's role and a tablet as its interviewer, except where
# an endpoint is for tablets alone.
TABLET = "tablet"
TOKEN_ROLES = (TABLET, INTERVIEWER, ANALYST, ADMINISTRATOR)
TABLET_ONLY = {"api-reservations", "api-responses"}


def token_access(name: str) -> set[str]:
    if name in TABLET_ONLY:
        return {TABLET}
    allowed = set(ACCESS[name])
    if INTERVIEWER in allowed:
        allowed.add(TABLET)
    return allowed


@pytest.mark.parametrize("holder", TOKEN_ROLES)
def test_every_api_endpoint_answers_each_token_as_its_access_says(world, holder):
    people, values = world
    if holder == TABLET:
        _token, raw = token_issue(user=people[INTERVIEWER], label="walk tablet 2")
    else:
        _token, raw = token_issue(
            user=people[holder], label="walk script", kind=AccessToken.PERSONAL
        )
    api = Client(headers={"Authorization": f"Token {raw}"})
    wrong = []

    for name, args in PROJECT_URLS:
        if not name.startswith("api-"):
            continue
        response = api.get(reverse(name, kwargs={a: values[a] for a in args}))
        if holder in token_access(name):
            # A POST-only endpoint answers a GET it lets through with 405.
            ok = response.status_code < 400 or response.status_code == 405
        else:
            ok = response.status_code == 403
        if not ok:
            wrong.append((name, response.status_code))

    assert wrong == []
