"""``manage.py simulate_responses``: simulated respondents from the memo or a wave."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from fielding.management.commands.simulate_responses import MAX_SIMULATED
from fielding.models import Assignment, Response
from survey.models import Survey, Wave
from tests.conftest import RACE_CSV, RACE_SPEC, import_csv


def simulate(wave, n, *flags) -> str:
    out = StringIO()
    call_command("simulate_responses", str(wave.pk), str(n), *flags, stdout=out)
    return out.getvalue()


def refused(wave_id, n, *flags) -> str:
    """Run a simulation that must exit with status 2; returns its message."""
    with pytest.raises(CommandError) as raised:
        call_command("simulate_responses", str(wave_id), str(n), *flags)
    assert raised.value.returncode == 2
    return str(raised.value)


def drawn_after(wave, last_pk):
    """Arm, status, count and answers of the respondents added after ``last_pk``."""
    return list(
        Assignment.objects.filter(respondent__wave=wave, respondent__pk__gt=last_pk)
        .order_by("respondent__pk")
        .values_list(
            "arm", "response__status", "response__count", "respondent__answers"
        )
    )


def last_respondent(wave) -> int:
    return wave.respondents.order_by("pk").last().pk


def assert_counts_fit_the_card(drawn, items):
    for arm, status, count, _answers in drawn:
        if status == Response.COMPLETE:
            top = items + (1 if arm == "treatment" else 0)
            assert 0 <= count <= top, (arm, count)
        else:
            assert count is None


def test_it_adds_respondents_drawn_from_the_memo_to_the_demo_wave(demo_wave):
    last = last_respondent(demo_wave)

    output = simulate(demo_wave, 200, "--seed", "3")

    assert output == (
        f"Added 200 simulated respondents to wave {demo_wave.pk} “{demo_wave.name}”.\n"
    )
    drawn = drawn_after(demo_wave, last)
    assert len(drawn) == 200
    assert {arm for arm, *_rest in drawn} == {"control", "treatment"}
    assert_counts_fit_the_card(drawn, items=4)
    assert all(
        set(answers) == {"gender", "education", "ethnicity", "age"}
        for *_r, answers in drawn
    )

    added = demo_wave.respondents.filter(pk__gt=last)
    assert not added.filter(stratum=None).exists()
    assert set(
        Assignment.objects.filter(respondent__in=added).values_list("source", flat=True)
    ) == {Assignment.SIMULATION}


def test_it_resamples_any_wave_from_its_own_data(race_wave):
    last = last_respondent(race_wave)

    simulate(race_wave, 300, "--from", "data", "--seed", "5")

    drawn = drawn_after(race_wave, last)
    assert len(drawn) == 300
    assert_counts_fit_the_card(drawn, items=3)
    assert {status for _a, status, _c, _answers in drawn} == {Response.COMPLETE}
    assert all(set(answers) == {"south", "male"} for *_r, answers in drawn)
    sources = Assignment.objects.filter(respondent__wave=race_wave).values_list(
        "source", flat=True
    )
    assert list(sources).count(Assignment.SIMULATION) == 300


def test_it_resamples_by_default_outside_the_founding_survey(race_wave):
    simulate(race_wave, 10)

    assert race_wave.respondents.count() == 1223


def test_the_same_seed_draws_the_same_respondents_twice(race_wave):
    twin = import_csv(RACE_CSV.read_bytes(), name="race.csv", **RACE_SPEC).wave
    other = import_csv(RACE_CSV.read_bytes(), name="race.csv", **RACE_SPEC).wave
    last = {wave.pk: last_respondent(wave) for wave in (race_wave, twin, other)}

    simulate(race_wave, 100, "--seed", "11")
    simulate(twin, 100, "--seed", "11")
    simulate(other, 100, "--seed", "12")

    first = drawn_after(race_wave, last[race_wave.pk])
    assert drawn_after(twin, last[twin.pk]) == first
    assert drawn_after(other, last[other.pk]) != first


@pytest.mark.parametrize("n", [0, -5])
def test_it_refuses_fewer_than_one_respondent(small_wave, stored_rows, n):
    before = stored_rows()

    assert refused(small_wave.pk, n) == "Ask for at least one simulated respondent."
    assert stored_rows() == before


@pytest.mark.parametrize("n", [MAX_SIMULATED + 1, 10_000_000_000])
def test_it_refuses_more_respondents_than_one_call_adds_naming_n(
    small_wave, stored_rows, n
):
    before = stored_rows()

    message = refused(small_wave.pk, n)

    assert message == (
        f"N is at most 100,000 simulated respondents per call; got {n:,}. Run the "
        "command again to add more."
    )
    assert stored_rows() == before


def test_it_refuses_a_wave_that_does_not_exist(db):
    assert refused(999999, 10) == "No wave with id 999999."


def test_it_refuses_the_memo_for_a_survey_other_than_the_founding_one(
    small_wave, stored_rows
):
    before = stored_rows()

    message = refused(small_wave.pk, 10, "--from", "memo")

    assert message == (
        "The memo's assumptions fit only the founding survey; use --from data."
    )
    assert stored_rows() == before


def test_it_refuses_to_resample_a_wave_without_respondents(small_wave):
    empty = Wave.objects.create(survey=small_wave.survey, name="Second wave")

    message = refused(empty.pk, 10)

    assert message == "Wave “Second wave” has no respondents to resample from."
    assert not empty.respondents.exists()


def test_it_refuses_a_wave_whose_survey_has_no_list_experiment(db):
    survey = Survey.objects.create(code="bare", name="Bare", languages=["en"])
    wave = Wave.objects.create(survey=survey, name="Bare wave")

    assert refused(wave.pk, 10) == "The wave's survey has no list experiment."


def test_resampling_a_double_list_keeps_both_counts_together(db):
    data = b"ya,ta,yb,tb\n3,1,0,0\n0,0,4,1\n"
    wave = import_csv(
        data, items=3, outcome="ya", treat="ta", second_outcome="yb", second_treat="tb"
    ).wave
    last = last_respondent(wave)

    simulate(wave, 20, "--seed", "3")

    drawn = Response.objects.filter(assignment__respondent__pk__gt=last)
    assert {(r.assignment.arm, r.count, r.second_count) for r in drawn} <= {
        ("A", 3, 0),
        ("B", 0, 4),
    }
    assert drawn.count() == 20
