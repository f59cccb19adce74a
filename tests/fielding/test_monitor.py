"""The fieldwork monitor: what it counts, what it flags, and who may see it."""

import datetime
import json

import pytest
from django.urls import reverse

from fielding.allocation import SLOT_BATCH, respondent_register, slot_allocate
from fielding.balance import arm_balance_p
from fielding.interviewing import response_record
from fielding.models import AllocationSlot, Assignment, Respondent, Response
from fielding.monitor import NO_GROUP, wave_monitor
from survey.models import Stratum, Survey, Wave
from survey.roles import INTERVIEWER
from survey.services import wave_open
from tests.conftest import make_user

SEED = 20240611
COMPLETE, REFUSED = Response.COMPLETE, Response.REFUSED


def opened(wave: Wave, plan: dict | None = None) -> Wave:
    """The small wave without its imported rows, opened with two strata.

    North has a quota of 2 completes; south has none and takes every other place.
    """
    Respondent.objects.filter(wave=wave).delete()
    Stratum.objects.create(wave=wave, code="north", name="North", quota=2, position=1)
    Stratum.objects.create(
        wave=wave, code="south", name="South", is_rest=True, position=2
    )
    if plan is not None:
        wave.plan = plan
        wave.save()
    return wave_open(wave=wave, seed=SEED)


@pytest.fixture
def wave(small_wave) -> Wave:
    return opened(small_wave)


def interview(
    wave: Wave,
    stratum: str = "north",
    *,
    interviewer=None,
    status: str | None = COMPLETE,
    minutes: float | None = None,
) -> Assignment:
    """Register, allocate and record a count of 1 through the services."""
    respondent = respondent_register(
        wave=wave,
        consented=True,
        interviewer=interviewer,
        stratum=wave.strata.get(code=stratum),
    )
    assignment = slot_allocate(respondent=respondent, user=interviewer)
    if status is not None:
        response_record(
            assignment=assignment,
            status=status,
            count=1 if status == COMPLETE else None,
        )
    if minutes is not None:
        finished = respondent.started_at + datetime.timedelta(minutes=minutes)
        Respondent.objects.filter(pk=respondent.pk).update(finished_at=finished)
    return assignment


def recorded(
    wave: Wave,
    arm: str,
    *,
    n: int = 1,
    status: str | None = COMPLETE,
    count: int | None = 1,
    interviewer=None,
) -> None:
    """``n`` respondents in the south with the arm chosen, written directly."""
    experiment = wave.survey.experiments.get()
    stratum = wave.strata.get(code="south")
    respondents = Respondent.objects.bulk_create(
        Respondent(wave=wave, stratum=stratum, interviewer=interviewer)
        for _ in range(n)
    )
    assignments = Assignment.objects.bulk_create(
        Assignment(
            respondent=respondent,
            experiment=experiment,
            arm=arm,
            source=Assignment.IMPORT,
        )
        for respondent in respondents
    )
    if status is not None:
        Response.objects.bulk_create(
            Response(
                assignment=assignment,
                status=status,
                count=count if status == COMPLETE else None,
            )
            for assignment in assignments
        )


def by_key(rows: list[dict], key: str) -> dict[str, dict]:
    return {row[key]: row for row in rows}


def test_completes_per_stratum_are_counted_against_the_quota(wave):
    for status in [COMPLETE, COMPLETE, COMPLETE, REFUSED]:
        interview(wave, "north", status=status)
    interview(wave, "south")

    strata = by_key(wave_monitor(wave)["strata"], "code")

    north, south = strata["north"], strata["south"]
    assert (north["completes"], north["respondents"], north["quota"]) == (3, 4, 2)
    assert north["share_of_quota"] == 1.5
    assert north["past_quota"] is True
    assert (south["completes"], south["respondents"], south["quota"]) == (1, 1, None)
    assert south["share_of_quota"] is None
    assert south["past_quota"] is False


def test_a_stratum_that_has_just_reached_its_quota_is_not_past_it(wave):
    interview(wave, "north")
    interview(wave, "north")

    north = by_key(wave_monitor(wave)["strata"], "code")["north"]

    assert north["share_of_quota"] == 1.0
    assert north["past_quota"] is False


def test_an_unbalanced_interviewer_is_flagged_after_holm_and_balanced_ones_are_not(
    wave,
):
    alice, bob, mallory, trudy = (
        make_user(name, INTERVIEWER) for name in ["alice", "bob", "mallory", "trudy"]
    )
    for user in (alice, bob):
        recorded(wave, "control", n=15, interviewer=user)
        recorded(wave, "treatment", n=15, interviewer=user)
    recorded(wave, "treatment", n=20, interviewer=mallory)
    # 23 treatment lists in 30 has p = 0.0052 alone, but 0.016 after Holm (x 3).
    recorded(wave, "control", n=7, interviewer=trudy)
    recorded(wave, "treatment", n=23, interviewer=trudy)

    rows = by_key(wave_monitor(wave)["interviewers"], "interviewer")

    assert [name for name, row in rows.items() if row["unbalanced"]] == ["mallory"]
    assert rows["mallory"]["n_treatment"] == 20
    assert rows["mallory"]["share_treatment"] == 1.0
    assert rows["mallory"]["p_adjusted"] == pytest.approx(4 * 0.5**19, rel=1e-9)
    assert rows["trudy"]["p_value"] < 0.01
    assert rows["trudy"]["p_adjusted"] == pytest.approx(3 * rows["trudy"]["p_value"])
    assert rows["alice"]["p_value"] == pytest.approx(1.0)
    assert (rows["bob"]["n_control"], rows["bob"]["n_treatment"]) == (15, 15)


def test_the_balance_test_follows_the_planned_ratio(small_wave):
    wave = opened(small_wave, plan={"ratio": [1, 2], "block_sizes": [3, 6]})
    recorded(wave, "control", n=10)
    recorded(wave, "treatment", n=20)

    monitor = wave_monitor(wave)

    south = by_key(monitor["strata"], "code")["south"]
    assert monitor["experiment"]["planned_treatment_share"] == pytest.approx(2 / 3)
    assert south["p_value"] == pytest.approx(arm_balance_p(20, 30, 2 / 3))
    assert south["p_value"] == pytest.approx(1.0)
    assert south["unbalanced"] is False


def test_respondents_without_an_interviewer_are_grouped_last_as_a_dash(wave):
    interview(wave, interviewer=make_user("zoe", INTERVIEWER))
    recorded(wave, "control", n=2)

    rows = wave_monitor(wave)["interviewers"]

    assert [row["interviewer"] for row in rows] == ["zoe", NO_GROUP]
    assert [row["respondents"] for row in rows] == [1, 2]


def test_the_control_lists_shares_at_zero_and_at_j_are_warned_above_ten_percent(
    wave,
):
    for count in [0, 0, 3, 1, 2]:
        recorded(wave, "control", count=count)
    recorded(wave, "treatment", count=4)

    found = wave_monitor(wave)["floor_ceiling"]

    assert found["items"] == 3
    assert found["n_control_completes"] == 5
    assert found["share_floor"] == pytest.approx(0.4)
    assert found["share_ceiling"] == pytest.approx(0.2)
    assert (found["floor_warning"], found["ceiling_warning"]) == (True, True)


def test_a_share_of_exactly_ten_percent_at_zero_is_not_warned(wave):
    recorded(wave, "control", count=0)
    recorded(wave, "control", n=9, count=1)

    found = wave_monitor(wave)["floor_ceiling"]

    assert found["share_floor"] == pytest.approx(0.1)
    assert (found["floor_warning"], found["ceiling_warning"]) == (False, False)


def test_refusal_dont_know_and_break_off_rates_are_given_by_arm(wave):
    recorded(wave, "control", status=COMPLETE)
    recorded(wave, "control", n=2, status=REFUSED)
    recorded(wave, "control", status=Response.DONT_KNOW)
    recorded(wave, "treatment", status=Response.BROKEN_OFF)
    recorded(wave, "treatment", status=None)

    rows = by_key(wave_monitor(wave)["statuses"], "arm")

    control, treatment = rows["control"], rows["treatment"]
    assert control["assigned"] == 4
    assert control["rates"]["refused"] == 0.5
    assert control["rates"]["dont_know"] == 0.25
    assert control["rates"]["complete"] == 0.25
    assert treatment["assigned"] == 2
    assert treatment["rates"]["broken_off"] == 0.5
    assert treatment["counts"]["no_response"] == 1
    assert treatment["rates"]["refused"] == 0.0


def test_the_median_interview_length_is_given_overall_and_per_interviewer(wave):
    ivan, olga = make_user("ivan", INTERVIEWER), make_user("olga", INTERVIEWER)
    for minutes in [10, 20, 30]:
        interview(wave, interviewer=ivan, minutes=minutes)
    interview(wave, interviewer=olga, minutes=40)
    interview(wave, interviewer=olga)  # not finished: no length

    monitor = wave_monitor(wave)

    rows = by_key(monitor["interviewers"], "interviewer")
    assert monitor["totals"]["median_minutes"] == pytest.approx(25.0)
    assert rows["ivan"]["median_minutes"] == pytest.approx(20.0)
    assert rows["olga"]["median_minutes"] == pytest.approx(40.0)


def test_slots_are_counted_by_status_per_stratum(wave):
    for _ in range(3):
        interview(wave, "north")
    north_slots = AllocationSlot.objects.filter(stratum__code="north")
    north_slots.filter(position=4).update(status=AllocationSlot.SKIPPED)
    north_slots.filter(position=5).update(status=AllocationSlot.RESERVED)

    slots = by_key(wave_monitor(wave)["slots"], "code")

    assert slots["north"] == {
        "code": "north",
        "name": "North",
        "available": SLOT_BATCH - 5,
        "reserved": 1,
        "used": 3,
        "skipped": 1,
        "top_used": 3,
    }
    assert slots["south"]["used"] == 0
    assert slots["south"]["top_used"] is None


def test_a_card_shown_before_registration_fails_the_concealment_audit(wave):
    early = interview(wave)
    interview(wave)
    registered = early.respondent.registered_at
    Assignment.objects.filter(pk=early.pk).update(
        card_shown_at=registered - datetime.timedelta(minutes=1)
    )
    Assignment.objects.exclude(pk=early.pk).update(
        card_shown_at=registered + datetime.timedelta(minutes=1)
    )

    audit = wave_monitor(wave)["concealment"]

    assert audit == {
        "allocated": 2,
        "checked": 2,
        "card_before_registration": 1,
        "warning": True,
    }


def test_the_demo_wave_counts_its_simulated_respondents_in_a_few_queries(
    demo_wave, django_assert_max_num_queries
):
    with django_assert_max_num_queries(10):
        monitor = wave_monitor(demo_wave)

    assert monitor["totals"]["simulated"] == 1000
    assert monitor["totals"]["respondents"] == 1000
    assert monitor["concealment"]["warning"] is False
    assert sum(row["respondents"] for row in monitor["strata"]) == 1000


def test_the_page_shows_the_demo_wave_and_says_simulated_responses_are_included(
    admin_client, demo_wave
):
    page = admin_client.get(reverse("fielding:monitor", args=[demo_wave.pk]))

    assert page.status_code == 200
    assert "Simulated responses are included" in page.text
    assert "Almaty" in page.text
    assert 'class="table-responsive"' in page.text
    assert "js/monitor_refresh.js" in page.text


def test_the_page_shows_a_warning_badge_for_an_unbalanced_interviewer(
    admin_client, wave
):
    recorded(wave, "treatment", n=20, interviewer=make_user("mallory", INTERVIEWER))

    page = admin_client.get(reverse("fielding:monitor", args=[wave.pk]))

    assert "arms unbalanced" in page.text
    assert "mallory" in page.text


def test_the_json_endpoint_gives_the_same_data_as_the_page(admin_client, wave):
    interview(wave, "north")
    recorded(wave, "control", status=REFUSED)

    response = admin_client.get(reverse("fielding:monitor-json", args=[wave.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == json.loads(json.dumps(wave_monitor(wave)))


def test_a_wave_whose_survey_has_no_list_experiment_has_nothing_to_monitor(
    admin_client, db
):
    survey = Survey.objects.create(code="bare", name="Bare", languages=["en"])
    wave = Wave.objects.create(survey=survey, name="Bare wave")

    page = admin_client.get(reverse("fielding:monitor", args=[wave.pk]))

    assert wave_monitor(wave)["experiment"] is None
    assert "nothing to monitor" in page.text


@pytest.mark.parametrize("name", ["fielding:monitor", "fielding:monitor-json"])
@pytest.mark.parametrize("persona", ["analyst_client", "interviewer_client"])
def test_analysts_and_interviewers_may_not_see_the_monitor(
    request, persona, name, wave
):
    client = request.getfixturevalue(persona)

    response = client.get(reverse(name, args=[wave.pk]))

    assert response.status_code == 403


@pytest.mark.parametrize("name", ["fielding:monitor", "fielding:monitor-json"])
def test_an_anonymous_visitor_is_sent_to_log_in(client, name, wave):
    url = reverse(name, args=[wave.pk])

    response = client.get(url)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_the_home_page_links_the_monitor_for_waves_past_draft_only(
    admin_client, wave, race_wave
):
    page = admin_client.get(reverse("home"))

    assert reverse("fielding:monitor", args=[wave.pk]) in page.text
    assert reverse("fielding:monitor", args=[race_wave.pk]) not in page.text
