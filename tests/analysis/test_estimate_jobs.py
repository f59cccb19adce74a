"""Estimate jobs: the result on real data, failure in plain words, claiming and leases."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from analysis.errors import AnalysisError
from analysis.models import EstimateJob
from analysis.runner import jobs_revive
from analysis.services import estimate_job_create, estimate_job_run
from fielding.models import Response
from tests.analysis.test_estimate_command import RACE_OVERALL, RACE_SOUTH, TOLERANCE
from tests.conftest import import_csv


def run_job(wave, by, **kwargs) -> EstimateJob:
    job = estimate_job_create(wave=wave, by=by, **kwargs)
    estimate_job_run(job.pk)
    job.refresh_from_db()
    return job


def test_it_matches_the_r_package_on_an_imported_wave(race_wave):
    job = run_job(race_wave, ["south"])

    assert job.status == EstimateJob.SUCCEEDED
    overall = job.result["overall"]
    assert overall["estimate"] == pytest.approx(RACE_OVERALL["estimate"], abs=TOLERANCE)
    assert overall["se"] == pytest.approx(RACE_OVERALL["se"], abs=TOLERANCE)
    for group in job.result["groups"]:
        expected = RACE_SOUTH[group["level"]]
        assert group["estimate"] == pytest.approx(expected["estimate"], abs=TOLERANCE)
        assert group["se"] == pytest.approx(expected["se"], abs=TOLERANCE)


def test_it_records_what_it_used_so_a_result_can_be_reproduced(race_wave):
    first = run_job(race_wave, ["south"])
    second = run_job(race_wave, ["south"])

    assert first.responses_used == 1213
    assert len(first.responses_checksum) == 64
    assert first.responses_checksum == second.responses_checksum
    assert first.software_version and first.specification["by"] == ["south"]
    assert first.progress == 1.0 and first.finished_at is not None


def test_it_breaks_down_the_demo_by_covariates_recodes_and_strata(demo_wave):
    job = run_job(demo_wave, ["gender", "university", "stratum"])

    levels = {(g["variable"], g["level"]) for g in job.result["groups"]}
    assert ("university", "university") in levels
    assert ("stratum", "almaty") in levels
    labels = {g["label"] for g in job.result["groups"] if g["variable"] == "gender"}
    assert labels == {"Male", "Female"}
    assert job.result["n_simulated"] == job.responses_used


def test_it_shows_refusals_per_arm_and_never_counts_them(demo_wave):
    job = run_job(demo_wave, [])

    statuses = job.result["statuses"]
    refused = sum(arm["refused"] + arm["dont_know"] for arm in statuses.values())
    assert refused > 0
    overall = job.result["overall"]
    assert overall["n_treatment"] + overall["n_control"] == job.responses_used
    assert (
        job.responses_used == Response.objects.filter(status=Response.COMPLETE).count()
    )


def test_it_fails_with_a_plain_reason_when_an_arm_has_no_responses(db):
    wave = import_csv(
        b"y,treat\n1,0\n2,0\n3,0\n", items=3, outcome="y", treat="treat"
    ).wave

    job = run_job(wave, [])

    assert job.status == EstimateJob.FAILED
    assert "no complete responses in the treatment arm" in job.failure_reason
    assert job.result is None


def test_it_notes_a_group_too_small_to_estimate(db):
    rows = b"y,treat,g\n" + b"1,0,a\n2,0,a\n2,1,a\n3,1,a\n1,0,b\n2,1,b\n"
    wave = import_csv(rows, items=3, outcome="y", treat="treat", covariates=("g",)).wave

    job = run_job(wave, ["g"])

    small = next(g for g in job.result["groups"] if g["level"] == "b")
    assert small["estimate"] is None and "Fewer than 2" in small["note"]


def test_it_refuses_a_breakdown_the_survey_does_not_have(race_wave):
    with pytest.raises(AnalysisError, match="age"):
        estimate_job_create(wave=race_wave, by=["age"])


def test_running_a_job_twice_does_nothing_the_second_time(race_wave):
    job = run_job(race_wave, ["south"])
    finished_at = job.finished_at

    estimate_job_run(job.pk)

    job.refresh_from_db()
    assert job.attempts == 1 and job.finished_at == finished_at


def test_a_live_lease_keeps_a_second_worker_out(race_wave):
    job = estimate_job_create(wave=race_wave, by=[])
    EstimateJob.objects.filter(pk=job.pk).update(
        status=EstimateJob.RUNNING, lease_until=timezone.now() + timedelta(minutes=1)
    )

    estimate_job_run(job.pk)

    job.refresh_from_db()
    assert job.status == EstimateJob.RUNNING and job.result is None


def test_a_lapsed_lease_is_taken_over_and_finished(race_wave):
    job = estimate_job_create(wave=race_wave, by=[])
    EstimateJob.objects.filter(pk=job.pk).update(
        status=EstimateJob.RUNNING,
        lease_until=timezone.now() - timedelta(seconds=1),
        attempts=1,
    )

    estimate_job_run(job.pk)

    job.refresh_from_db()
    assert job.status == EstimateJob.SUCCEEDED and job.attempts == 2


@pytest.mark.django_db(transaction=True)
def test_without_redis_the_job_runs_in_a_thread_of_the_web_process(settings):
    settings.REDIS_URL = ""
    wave = import_csv(
        b"y,treat\n1,0\n2,0\n2,1\n3,1\n", items=3, outcome="y", treat="treat"
    ).wave

    job = estimate_job_create(wave=wave, by=[])

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            break
        time.sleep(0.05)
    assert job.status == EstimateJob.SUCCEEDED
    assert job.result["overall"]["estimate"] == pytest.approx(1.0)


@pytest.fixture
def dispatched(monkeypatch):
    """Record the jobs handed on instead of starting them."""
    calls = []
    monkeypatch.setattr("analysis.runner.job_dispatch", calls.append)
    return calls


def age(job, **fields):
    EstimateJob.objects.filter(pk=job.pk).update(**fields)


def test_stalled_jobs_are_handed_on_again(race_wave, dispatched):
    long_ago = timezone.now() - timedelta(hours=1)
    pending = estimate_job_create(wave=race_wave, by=[])
    lost = estimate_job_create(wave=race_wave, by=[])
    dead = estimate_job_create(wave=race_wave, by=[])
    live = estimate_job_create(wave=race_wave, by=[])
    age(pending, dispatched_at=long_ago)
    age(lost, status=EstimateJob.QUEUED, dispatched_at=long_ago)
    age(dead, status=EstimateJob.RUNNING, dispatched_at=long_ago, lease_until=long_ago)
    age(
        live,
        status=EstimateJob.RUNNING,
        dispatched_at=long_ago,
        lease_until=timezone.now() + timedelta(minutes=1),
    )

    assert jobs_revive() == 3

    assert sorted(dispatched) == sorted([pending.pk, lost.pk, dead.pk])


def test_a_job_handed_on_recently_is_left_alone(race_wave, dispatched):
    job = estimate_job_create(wave=race_wave, by=[])
    age(job, dispatched_at=timezone.now())

    assert jobs_revive() == 0 and dispatched == []


def test_a_duplicate_delivery_beside_a_live_run_asks_to_be_retried(race_wave):
    job = estimate_job_create(wave=race_wave, by=[])
    age(
        job,
        status=EstimateJob.RUNNING,
        lease_until=timezone.now() + timedelta(minutes=1),
    )

    assert estimate_job_run(job.pk) is False


def test_a_breakdown_asked_for_twice_is_estimated_once(race_wave):
    job = run_job(race_wave, ["south", "south"])

    assert job.status == EstimateJob.SUCCEEDED
    assert [g["level"] for g in job.result["groups"]] == ["0", "1"]


def test_levels_follow_the_order_of_the_question_choices(demo_wave):
    job = run_job(demo_wave, ["ethnicity", "stratum"])

    labels = [g["label"] for g in job.result["groups"]]
    assert labels == ["Kazakh", "Russian", "Other", "Almaty", "Astana", "All others"]


def test_a_job_gives_differences_the_design_test_and_models(race_wave):
    job = estimate_job_create(
        wave=race_wave,
        by=["south"],
        compare=[("south", "1", "0")],
        design_test=True,
        model="ml",
        covariates=["south", "male"],
        predict_by=["south"],
    )
    estimate_job_run(job.pk)
    job.refresh_from_db()

    assert job.status == EstimateJob.SUCCEEDED, job.failure_reason
    (difference,) = job.result["differences"]
    # R package list 9.2.6 / base R on race.csv: south 1 minus 0.
    assert difference["estimate"] == pytest.approx(0.253223284441569, abs=1e-9)
    assert difference["se"] == pytest.approx(0.119752305415017, abs=1e-9)
    # R package list 9.2.6, ict.test(gms = TRUE) on race.csv.
    assert job.result["design_test"]["p_value"] == pytest.approx(
        0.0443110858651332, abs=1e-6
    )
    assert job.result["model"]["method"] == "ml"
    assert job.result["model_linear"]["method"] == "lm"


def test_a_weighted_job_needs_a_design(race_wave):
    job = run_job(
        race_wave,
        [],
    )
    weighted = estimate_job_create(wave=race_wave, by=[], weighted=True)
    estimate_job_run(weighted.pk)
    weighted.refresh_from_db()

    assert job.status == EstimateJob.SUCCEEDED
    assert weighted.status == EstimateJob.FAILED
    assert "no design to weight by" in weighted.failure_reason


def test_a_weighted_job_uses_the_respondents_weights(db):
    rows = b"y,treat,w\n" + b"".join(
        f"{c},{t},{w}\n".encode()
        for c, t, w in [
            (1, 0, 1),
            (2, 0, 3),
            (3, 0, 1),
            (2, 1, 1),
            (3, 1, 2),
            (4, 1, 1),
        ]
    )
    wave = import_csv(rows, items=3, outcome="y", treat="treat", weight="w").wave

    job = estimate_job_create(wave=wave, by=[], weighted=True)
    estimate_job_run(job.pk)
    job.refresh_from_db()

    assert job.result["weighted"] is True
    # Hajek means: control (1 + 6 + 3) / 5 = 2.0, treatment (2 + 6 + 4) / 4 = 3.0.
    assert job.result["overall"]["estimate"] == pytest.approx(1.0)
