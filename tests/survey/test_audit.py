"""The audit log: who opened and closed a wave, every add, change and delete made in
the admin, and the log itself read-only in the admin."""

import pytest
from django.contrib import admin
from django.test import RequestFactory

from analysis.models import EstimateJob
from analysis.services import estimate_job_create
from fielding.models import AccessToken, Respondent, Response
from fielding.tokens import token_issue
from survey.errors import SurveyError
from survey.models import AuditEvent, Region, Survey, Wave
from survey.services import wave_close, wave_open
from tests.conftest import client_for, make_user

ADMIN = "/admin"


def events(action=None, object_type=None):
    rows = AuditEvent.objects.all()
    if action:
        rows = rows.filter(action=action)
    if object_type:
        rows = rows.filter(object_type=object_type)
    return list(rows.order_by("id"))


def only(action, object_type) -> AuditEvent:
    rows = events(action, object_type)
    assert len(rows) == 1, rows
    return rows[0]


def select(client, url, action, *objects, **extra):
    data = {"action": action, "_selected_action": [o.pk for o in objects]}
    return client.post(url, {**data, **extra})


# Opening and closing


def test_opening_a_wave_records_who_opened_it_and_the_seed(small_wave, administrator):
    wave_open(wave=small_wave, seed=42, user=administrator)

    event = only(AuditEvent.OPENED, "survey.wave")
    assert (event.user, event.username) == (administrator, "ada")
    assert event.object_id == str(small_wave.pk)
    assert event.description == "seed 42"


def test_closing_a_wave_records_who_closed_it(small_wave, administrator):
    wave_open(wave=small_wave, seed=42)
    wave_close(wave=small_wave, user=administrator)

    event = only(AuditEvent.CLOSED, "survey.wave")
    assert event.username == "ada" and event.object_id == str(small_wave.pk)


def test_the_services_still_work_without_a_user_and_record_the_system(small_wave):
    wave_open(wave=small_wave, seed=1)
    wave_close(wave=small_wave)

    opened, closed = events(object_type="survey.wave")
    assert (opened.action, closed.action) == (AuditEvent.OPENED, AuditEvent.CLOSED)
    assert opened.user is None and opened.username == ""


def test_a_refused_opening_or_closing_records_nothing(small_wave, administrator):
    wave_open(wave=small_wave, seed=1, user=administrator)
    wave_close(wave=small_wave, user=administrator)

    with pytest.raises(SurveyError):
        wave_open(wave=small_wave, user=administrator)
    with pytest.raises(SurveyError):
        wave_close(wave=small_wave, user=administrator)

    assert len(events(object_type="survey.wave")) == 2


def test_the_admin_actions_record_the_administrator(admin_client, small_wave):
    select(admin_client, f"{ADMIN}/survey/wave/", "open_waves", small_wave)
    select(admin_client, f"{ADMIN}/survey/wave/", "close_waves", small_wave)

    assert Wave.objects.get(pk=small_wave.pk).status == Wave.CLOSED
    assert [(e.action, e.username) for e in events(object_type="survey.wave")] == [
        (AuditEvent.OPENED, "ada"),
        (AuditEvent.CLOSED, "ada"),
    ]


# Adds, changes and deletes in the admin


def test_adding_a_row_in_the_admin_is_recorded(admin_client):
    response = admin_client.post(
        f"{ADMIN}/survey/region/add/", {"name": "Karaganda", "code": "karaganda"}
    )

    assert response.status_code == 302
    region = Region.objects.get(code="karaganda")
    event = only(AuditEvent.CREATED, "survey.region")
    assert event.object_id == str(region.pk) and event.username == "ada"
    assert "Karaganda" in event.description


def test_a_change_names_the_fields_changed(admin_client):
    region = Region.objects.create(name="Karaganda", code="karaganda")

    admin_client.post(
        f"{ADMIN}/survey/region/{region.pk}/change/",
        {"name": "Qaraghandy", "code": "karaganda"},
    )

    event = only(AuditEvent.EDITED, "survey.region")
    assert event.description.endswith("changed name")


def test_saving_without_a_change_records_nothing(admin_client):
    region = Region.objects.create(name="Karaganda", code="karaganda")

    admin_client.post(
        f"{ADMIN}/survey/region/{region.pk}/change/",
        {"name": "Karaganda", "code": "karaganda"},
    )

    assert events() == []


def test_correcting_a_count_is_recorded_without_the_count(admin_client, small_wave):
    response_row = Response.objects.filter(count=3).get()

    reply = admin_client.post(
        f"{ADMIN}/fielding/response/{response_row.pk}/change/",
        {"status": "complete", "count": "2", "second_count": ""},
    )

    assert reply.status_code == 302, reply.content
    assert Response.objects.get(pk=response_row.pk).count == 2
    event = only(AuditEvent.EDITED, "fielding.response")
    assert event.object_id == str(response_row.pk)
    assert event.description == f"admin: in wave {small_wave.pk}; changed count"


def test_deleting_a_respondent_in_the_admin_is_recorded(admin_client, small_wave):
    respondent = Respondent.objects.filter(wave=small_wave).first()

    reply = admin_client.post(
        f"{ADMIN}/fielding/respondent/{respondent.pk}/delete/", {"post": "yes"}
    )

    assert reply.status_code == 302
    assert not Respondent.objects.filter(pk=respondent.pk).exists()
    event = only(AuditEvent.DELETED, "fielding.respondent")
    assert event.object_id == str(respondent.pk) and event.username == "ada"
    assert event.description == f"admin: in wave {small_wave.pk}"


def test_deleting_several_responses_at_once_records_each(admin_client, small_wave):
    doomed = list(Response.objects.filter(assignment__respondent__wave=small_wave)[:2])

    reply = select(
        admin_client,
        f"{ADMIN}/fielding/response/",
        "delete_selected",
        *doomed,
        post="yes",
    )

    assert reply.status_code == 302
    assert not Response.objects.filter(pk__in=[r.pk for r in doomed]).exists()
    recorded = {e.object_id for e in events(AuditEvent.DELETED, "fielding.response")}
    assert recorded == {str(r.pk) for r in doomed}


def test_a_deletion_the_closed_wave_refuses_leaves_no_record(admin_client, small_wave):
    """The model refuses; the admin hides the button, so call the mixin directly."""
    wave_open(wave=small_wave, seed=1)
    wave_close(wave=small_wave)
    respondent = Respondent.objects.filter(wave=small_wave).first()
    before = len(events())
    request = RequestFactory().post("/")
    request.user = make_user("root", None)
    model_admin = admin.site._registry[Respondent]

    with pytest.raises(SurveyError):
        model_admin.delete_model(request, respondent)

    assert Respondent.objects.filter(pk=respondent.pk).exists()
    assert len(events()) == before


def form_data(page) -> dict:
    """What the admin's change page would post back unchanged, inlines included."""
    forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        forms.append(inline.formset.management_form)
        forms.extend(inline.formset.forms)
    data = {}
    for form in forms:
        for field in form:
            value = field.value()
            if value is None or value is False:
                continue
            data[field.html_name] = value
            if field.field.show_hidden_initial:
                data[field.html_initial_name] = value
    return data


def test_inline_rows_are_recorded_one_by_one(admin_client, small_wave):
    url = f"{ADMIN}/survey/wave/{small_wave.pk}/change/"
    data = form_data(admin_client.get(url))
    data.update(
        {
            "strata-TOTAL_FORMS": "1",
            "strata-0-code": "north",
            "strata-0-name": "North",
            "strata-0-position": "0",
            "strata-0-design_weight": "1",
        }
    )

    reply = admin_client.post(url, data)

    assert reply.status_code == 302, reply.context and reply.context["errors"]
    event = only(AuditEvent.CREATED, "survey.stratum")
    assert event.description == f"admin: in wave {small_wave.pk}"
    assert events(object_type="survey.wave") == []


def test_deleting_an_estimate_job_in_the_admin_is_recorded(admin_client, race_wave):
    job = estimate_job_create(wave=race_wave, by=[])

    admin_client.post(f"{ADMIN}/analysis/estimatejob/{job.pk}/delete/", {"post": "yes"})

    assert not EstimateJob.objects.filter(pk=job.pk).exists()
    assert only(AuditEvent.DELETED, "analysis.estimatejob").object_id == str(job.pk)


def test_revoking_a_token_in_the_admin_is_recorded(admin_client, interviewer):
    token, _raw = token_issue(user=interviewer, label="Tablet 9")

    select(admin_client, f"{ADMIN}/fielding/accesstoken/", "revoke_tokens", token)

    assert AccessToken.objects.get(pk=token.pk).is_revoked
    event = only(AuditEvent.EDITED, "fielding.accesstoken")
    assert event.description.endswith("revoked")


def test_deleting_a_survey_in_the_admin_is_recorded_by_name(admin_client):
    survey = Survey.objects.create(name="Test survey", code="test", languages=["en"])

    admin_client.post(f"{ADMIN}/survey/survey/{survey.pk}/delete/", {"post": "yes"})

    assert only(AuditEvent.DELETED, "survey.survey").description == (
        "admin: “Test survey”"
    )


# The log in the admin


@pytest.fixture
def some_event(small_wave, administrator):
    wave_open(wave=small_wave, seed=3, user=administrator)
    return AuditEvent.objects.get()


def test_administrators_read_the_log_in_the_admin(admin_client, some_event):
    listing = admin_client.get(f"{ADMIN}/survey/auditevent/")
    detail = admin_client.get(f"{ADMIN}/survey/auditevent/{some_event.pk}/change/")

    assert listing.status_code == 200 and "seed 3" in listing.text
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.text


@pytest.mark.parametrize("superuser", [False, True])
def test_nobody_adds_changes_or_deletes_log_rows(some_event, superuser, administrator):
    user = administrator
    if superuser:
        user = make_user("root", None)
        user.is_staff = user.is_superuser = True
        user.save()
    client = client_for(user)
    base = f"{ADMIN}/survey/auditevent/"

    add = client.get(f"{base}add/")
    change = client.post(
        f"{base}{some_event.pk}/change/", {"description": "nothing happened"}
    )
    delete = client.post(f"{base}{some_event.pk}/delete/", {"post": "yes"})
    bulk = select(client, base, "delete_selected", some_event, post="yes")

    assert add.status_code == 403
    assert change.status_code == 403
    assert delete.status_code == 403
    assert bulk.status_code in (200, 302)
    stored = AuditEvent.objects.get(pk=some_event.pk)
    assert stored.description == "seed 3"
