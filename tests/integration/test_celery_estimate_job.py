"""The estimate job end to end on PostgreSQL, Redis and a real Celery worker.

Run by ``make integration`` (part of ``make test``), which points ``DATABASE_URL`` and
``REDIS_URL`` at the machine's PostgreSQL and Redis. The worker is a separate process
started here on a queue of its own, so it cannot take another run's tasks.
"""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from analysis.models import EstimateJob
from analysis.services import estimate_job_create
from tests.analysis.test_estimate_command import RACE_OVERALL, RACE_SOUTH, TOLERANCE
from tests.conftest import RACE_CSV, RACE_SPEC, import_csv

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker_queue(settings):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.fail(
            "integration tests need DATABASE_URL (PostgreSQL) and REDIS_URL set"
        )
    queue = f"listexp-test-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for(connection.settings_dict["NAME"]),
        "CELERY_QUEUE": queue,
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "survey",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield worker
    worker.terminate()
    try:
        output, _unused = worker.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        output, _unused = worker.communicate()
    print(output)


def database_url_for(name: str) -> str:
    """The test database's URL, so the worker reads the rows this test writes."""
    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    return f"{base}/{name}"


def wait_for(job: EstimateJob, seconds: float = 90) -> EstimateJob:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            return job
        time.sleep(0.2)
    pytest.fail(f"job {job.pk} still {job.status} after {seconds}s: {job.message}")


def test_a_worker_runs_the_race_estimate_and_stores_it_once(worker_queue):
    wave = import_csv(RACE_CSV.read_bytes(), name="race.csv", **RACE_SPEC).wave

    job = estimate_job_create(wave=wave, by=["south"])

    assert EstimateJob.objects.get(pk=job.pk).status in {
        "queued",
        "running",
        "succeeded",
    }
    job = wait_for(job)
    assert job.status == EstimateJob.SUCCEEDED, job.failure_reason
    assert job.attempts == 1
    assert job.result["overall"]["estimate"] == pytest.approx(
        RACE_OVERALL["estimate"], abs=TOLERANCE
    )
    south = {g["level"]: g for g in job.result["groups"]}
    assert south["1"]["se"] == pytest.approx(RACE_SOUTH["1"]["se"], abs=TOLERANCE)
    assert settings.REDIS_URL


def test_a_failing_job_is_marked_failed_by_the_worker(worker_queue):
    wave = import_csv(b"y,treat\n1,1\n2,1\n", items=3, outcome="y", treat="treat").wave

    job = wait_for(estimate_job_create(wave=wave, by=[]))

    assert job.status == EstimateJob.FAILED
    assert "control arm" in job.failure_reason
