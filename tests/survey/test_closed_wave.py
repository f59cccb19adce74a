"""A closed wave, and everything recorded in it, refuses every change."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from fielding.models import Assignment, Respondent, Response
from survey.errors import WaveClosedError
from survey.models import Stratum, Wave
from survey.services import wave_close, wave_open
from tests.conftest import RACE_CSV


@pytest.fixture
def closed_wave(small_wave):
    """A wave with data and one stratum, opened and then closed."""
    Stratum.objects.create(wave=small_wave, code="all", name="Everywhere", is_rest=True)
    wave_open(wave=small_wave, seed=1)
    return wave_close(wave=small_wave)


RECORDED = {
    "the wave": lambda wave: Wave.objects.get(pk=wave.pk),
    "a stratum": lambda wave: wave.strata.get(),
    "a respondent": lambda wave: wave.respondents.first(),
    "an assignment": lambda wave: Assignment.objects.filter(
        respondent__wave=wave
    ).first(),
    "a response": lambda wave: Response.objects.filter(
        assignment__respondent__wave=wave
    ).first(),
}


@pytest.mark.parametrize("what", RECORDED)
def test_saving_anything_recorded_in_a_closed_wave_raises(closed_wave, what):
    row = RECORDED[what](closed_wave)

    with pytest.raises(WaveClosedError, match="“small.csv” is closed"):
        row.save()


@pytest.mark.parametrize("what", RECORDED)
def test_deleting_anything_recorded_in_a_closed_wave_raises_and_keeps_it(
    closed_wave, what
):
    row = RECORDED[what](closed_wave)

    with pytest.raises(WaveClosedError):
        row.delete()

    assert type(row).objects.filter(pk=row.pk).exists()


def test_nothing_new_can_be_recorded_in_a_closed_wave(closed_wave):
    with pytest.raises(WaveClosedError):
        Respondent.objects.create(wave=closed_wave)
    with pytest.raises(WaveClosedError):
        Stratum.objects.create(wave=closed_wave, code="more", name="More")

    assert closed_wave.respondents.count() == 4


def test_a_closed_wave_cannot_be_reopened_by_saving_it(closed_wave):
    closed_wave.status = Wave.DRAFT

    with pytest.raises(WaveClosedError):
        closed_wave.save()

    assert Wave.objects.get(pk=closed_wave.pk).status == Wave.CLOSED


@pytest.mark.parametrize("what", ["a respondent", "a stratum"])
def test_nothing_can_be_moved_out_of_a_closed_wave(closed_wave, what):
    next_wave = Wave.objects.create(survey=closed_wave.survey, name="Next wave")
    row = RECORDED[what](closed_wave)
    row.wave = next_wave

    with pytest.raises(WaveClosedError):
        row.save()

    assert type(row).objects.get(pk=row.pk).wave_id == closed_wave.pk


def test_simulating_into_a_closed_wave_is_refused(closed_wave, stored_rows):
    before = stored_rows()

    with pytest.raises(CommandError, match="is closed; nothing can be added") as raised:
        call_command("simulate_responses", str(closed_wave.pk), "10")

    assert raised.value.returncode == 2
    assert stored_rows() == before


def test_importing_into_a_closed_wave_is_refused(closed_wave, stored_rows):
    before = stored_rows()
    err = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command(
            "import_responses",
            str(RACE_CSV),
            *("--items", "3", "--outcome", "y", "--treat", "treat"),
            *("--wave", str(closed_wave.pk)),
            stderr=err,
        )

    assert raised.value.returncode == 2
    assert "wave “small.csv” is closed" in err.getvalue()
    assert stored_rows() == before


# The admin


def change_url(wave: Wave, model: str) -> str:
    """The admin change page of the wave itself or of its first respondent or response."""
    if model == "survey/wave":
        pk = wave.pk
    elif model == "fielding/respondent":
        pk = wave.respondents.first().pk
    else:
        pk = Response.objects.filter(assignment__respondent__wave=wave).first().pk
    return f"/admin/{model}/{pk}/change/"


ADMIN_PAGES = ["survey/wave", "fielding/respondent", "fielding/response"]


@pytest.mark.parametrize("model", ADMIN_PAGES)
def test_the_admin_shows_a_draft_waves_data_with_a_save_button(
    admin_client, small_wave, model
):
    response = admin_client.get(change_url(small_wave, model))

    assert response.status_code == 200
    assert b'name="_save"' in response.content
    assert b"Delete" in response.content


@pytest.mark.parametrize("model", ADMIN_PAGES)
def test_the_admin_shows_a_closed_waves_data_without_a_save_button(
    admin_client, closed_wave, model
):
    response = admin_client.get(change_url(closed_wave, model))

    assert response.status_code == 200
    assert b'name="_save"' not in response.content
    assert b"Delete" not in response.content


def test_a_post_to_the_admin_does_not_change_a_closed_wave(admin_client, closed_wave):
    response = admin_client.post(
        change_url(closed_wave, "survey/wave"),
        {"survey": closed_wave.survey_id, "name": "Renamed", "cluster": "none"},
    )

    assert response.status_code == 403
    assert Wave.objects.get(pk=closed_wave.pk).name == "small.csv"


def test_a_post_to_the_admin_does_not_change_a_closed_waves_count(
    admin_client, closed_wave
):
    stored = Response.objects.filter(assignment__respondent__wave=closed_wave).first()

    response = admin_client.post(
        change_url(closed_wave, "fielding/response"),
        {"status": "refused", "count": "", "second_count": ""},
    )

    assert response.status_code == 403
    stored_now = Response.objects.get(pk=stored.pk)
    assert (stored_now.status, stored_now.count) == (stored.status, stored.count)


def test_the_admin_will_not_delete_a_closed_wave(admin_client, closed_wave):
    response = admin_client.post(
        f"/admin/survey/wave/{closed_wave.pk}/delete/", {"post": "yes"}
    )

    assert response.status_code == 403
    assert Wave.objects.filter(pk=closed_wave.pk).exists()


def test_the_admin_closes_a_wave_with_its_action(admin_client, small_wave):
    wave_open(wave=small_wave)

    response = admin_client.post(
        "/admin/survey/wave/",
        {"action": "close_waves", "_selected_action": [small_wave.pk]},
        follow=True,
    )

    assert Wave.objects.get(pk=small_wave.pk).status == Wave.CLOSED
    assert "Closed “small.csv”." in response.content.decode()


def test_the_admin_says_why_it_will_not_open_a_closed_wave(admin_client, closed_wave):
    response = admin_client.post(
        "/admin/survey/wave/",
        {"action": "open_waves", "_selected_action": [closed_wave.pk]},
        follow=True,
    )

    assert Wave.objects.get(pk=closed_wave.pk).status == Wave.CLOSED
    assert (
        "Only a draft wave can be opened; “small.csv” is closed."
        in response.content.decode()
    )


def test_the_admin_will_not_add_a_respondent_to_a_closed_wave(
    admin_client, closed_wave
):
    response = admin_client.post(
        "/admin/fielding/respondent/add/",
        {
            "wave": closed_wave.pk,
            "answers": "{}",
            "assignments-TOTAL_FORMS": "0",
            "assignments-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code in (200, 403)
    assert closed_wave.respondents.count() == 4


def test_the_admin_answers_an_added_response_without_a_server_error(
    admin_client, small_wave
):
    before = Response.objects.count()

    response = admin_client.post(
        "/admin/fielding/response/add/",
        {"status": "complete", "count": "1", "second_count": ""},
    )

    assert response.status_code in (200, 403)
    assert Response.objects.count() == before
