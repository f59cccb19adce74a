"""The earlier wave of a comparison must be earlier: on the form, in the service and
on the command line.

Waves are ordered by their first day of fieldwork, else the day they opened or were
created; on the same day the wave opened (or created) first comes first.
"""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from analysis.comparison import (
    check_comparable,
    compare_job_create,
    earlier_waves,
    wave_order,
)
from analysis.errors import AnalysisError
from analysis.models import EstimateJob
from survey.models import Wave
from tests.analysis.test_comparison import split_race_waves


@pytest.fixture
def race_waves(db):
    return split_race_waves()


@pytest.fixture
def demo_waves(demo_wave):
    """The demo's pilot (opened, September 2022) and its draft national wave (2023)."""
    national = Wave.objects.get(survey=demo_wave.survey, status=Wave.DRAFT)
    return demo_wave, national


def compare_url(wave) -> str:
    return reverse("analysis:compare", args=[wave.pk])


def test_the_pilot_offers_no_later_wave_as_earlier(analyst_client, demo_waves):
    pilot, national = demo_waves

    page = analyst_client.get(compare_url(pilot))

    assert page.status_code == 200
    assert national.name not in page.text
    assert "No wave of this survey went to the field before this one" in page.text
    assert earlier_waves(pilot) == []


def test_the_later_wave_offers_the_pilot_with_its_first_day(analyst_client, demo_waves):
    pilot, national = demo_waves

    page = analyst_client.get(compare_url(national))

    assert earlier_waves(national) == [pilot]
    choices = dict(page.context["form"].fields["earlier"].choices)
    assert choices == {pilot.pk: f"{pilot.name} (2022-09-01)"}


def test_posting_a_later_wave_as_earlier_is_a_form_error_and_saves_no_job(
    analyst_client, demo_waves
):
    pilot, national = demo_waves
    third = Wave.objects.create(survey=pilot.survey, name="Third wave")
    experiment = pilot.survey.experiments.first()

    on_national = analyst_client.post(
        compare_url(national), {"earlier": third.pk, "experiment": experiment.pk}
    )
    on_pilot = analyst_client.post(
        compare_url(pilot), {"earlier": national.pk, "experiment": experiment.pk}
    )

    assert on_national.status_code == on_pilot.status_code == 200
    assert on_national.context["form"].errors["earlier"] == [
        "Choose one of the survey's waves that went to the field before this one."
    ]
    assert "Choose one of the survey" in on_national.text
    assert "earlier" in on_pilot.context["form"].errors
    assert not EstimateJob.objects.exists()


def test_the_service_refuses_waves_the_wrong_way_round(race_waves):
    earlier, later = race_waves

    with pytest.raises(AnalysisError, match="is not the earlier wave"):
        compare_job_create(earlier=later, later=earlier, by=[])

    assert not EstimateJob.objects.exists()
    assert check_comparable(earlier, later).code


def test_the_first_day_of_fieldwork_decides_before_the_day_of_creation(race_waves):
    earlier, later = race_waves
    # The wave created first holds data fielded after the other's.
    Wave.objects.filter(pk=earlier.pk).update(starts_on=dt.date(2024, 5, 1))
    Wave.objects.filter(pk=later.pk).update(starts_on=dt.date(2021, 5, 1))
    earlier.refresh_from_db()
    later.refresh_from_db()

    assert wave_order(later) < wave_order(earlier)
    with pytest.raises(AnalysisError, match="on 2024-05-01, after “race later”"):
        check_comparable(earlier, later)
    assert check_comparable(later, earlier).code


def test_the_wave_list_links_only_waves_with_an_earlier_wave(
    analyst_client, race_waves
):
    earlier, later = race_waves

    page = analyst_client.get(reverse("analysis:waves"))

    assert compare_url(later) in page.text
    assert compare_url(earlier) not in page.text


def compare(*args) -> str:
    out = io.StringIO()
    call_command("compare_waves", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def test_the_command_refuses_the_later_wave_as_earlier_with_exit_2(race_waves):
    earlier, later = race_waves

    with pytest.raises(CommandError) as refused:
        compare(later.pk, earlier.pk)

    assert refused.value.returncode == 2
    message = str(refused.value)
    assert "“race later”" in message and "is not the earlier wave" in message
    assert "give the earlier wave first" in message
    assert "later minus earlier" in compare(earlier.pk, later.pk)


def test_a_wave_without_responses_offers_no_estimate_or_comparison(
    analyst_client, demo_wave
):
    draft = Wave.objects.create(survey=demo_wave.survey, name="Next wave")

    page = analyst_client.get(reverse("analysis:waves")).content.decode()

    assert reverse("analysis:estimate", args=[demo_wave.pk]) in page
    assert reverse("analysis:estimate", args=[draft.pk]) not in page
    assert compare_url(draft) not in page
    assert "No responses yet" in page
