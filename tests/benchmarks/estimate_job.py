"""Benchmark 3: an estimate job end to end on a million stored responses.

A wave of 10^6 imported respondents (one complete response each) is loaded into
PostgreSQL with COPY. What is timed is what an analyst's request costs: saving the
job (`estimate_job_create`, by gender, education, university and region, with the
design-effect test) and running it (`estimate_job_run`: one query reading the wave
into arrays, the report, the result stored on the job row). The job is run in this
process rather than handed to a worker, so that no queue is timed.

The baseline is the same query the job sends, run as ``COPY (SELECT ...) TO STDOUT``
and read to the last byte: what the database needs to hand over the same columns.
"""

from __future__ import annotations

import time
from unittest import mock

import numpy as np

from tests.benchmarks import database
from tests.benchmarks.common import (
    ROOT,
    csv_path,
    interleaved,
    respondents,
    rounded,
    say,
    write_csv,
)

N = 10**6
REPEAT = 3
TARGET = 2.0
BY = ["gender", "education", "university", "region"]


def read_query(captured) -> str:
    """The SQL of the query that read the wave, among those a job sent."""
    reads = [q["sql"] for q in captured.captured_queries if "answers" in q["sql"]]
    if len(reads) != 1:
        raise AssertionError(f"expected one query reading answers, got {len(reads)}")
    return reads[0]


def job_run(wave) -> dict:
    """Save and run one estimate job; its stored result."""
    from analysis.models import EstimateJob
    from analysis.services import estimate_job_create, estimate_job_run

    # The job runs here, in this thread, instead of in the thread a dispatch starts.
    with mock.patch("analysis.runner.job_dispatch"):
        job = estimate_job_create(wave=wave, by=BY, design_test=True)
    estimate_job_run(job.pk)
    job = EstimateJob.objects.get(pk=job.pk)
    if job.status != EstimateJob.SUCCEEDED:
        raise AssertionError(f"the estimate job failed: {job.failure_reason}")
    return job.result


def run(n: int = N) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from analysis.selectors import wave_list_data
    from survey.models import Wave

    data = respondents(n, seed=3)
    path = write_csv(data, csv_path("estimate-job", n))
    start = time.perf_counter()
    wave = Wave.objects.get(pk=database.wave_load(data, f"Benchmark: {n:,} responses"))
    say(f"  loaded {n:,} responses with COPY in {time.perf_counter() - start:.1f} s")
    experiment = wave.survey.experiments.get()

    with CaptureQueriesContext(connection) as captured:
        result = job_run(wave)
    sql = read_query(captured)
    expected = data.y[data.treat].mean() - data.y[~data.treat].mean()
    if result["n_used"] != n or not np.isclose(
        result["overall"]["estimate"], expected, rtol=0, atol=1e-12
    ):
        raise AssertionError("the job's estimate is not the data's")
    copied = []

    timed = interleaved(
        {
            "job": lambda: job_run(wave),
            "copy": lambda: copied.append(database.copy_out(sql)),
            "read": lambda: wave_list_data(wave, experiment, BY, any_design=True),
        },
        REPEAT,
    )
    (job_s, job_runs), (copy_s, copy_runs) = timed["job"], timed["copy"]
    read_s, read_runs = timed["read"]
    ratio = job_s / copy_s
    say(
        f"  estimate job n={n:,}: job {job_s:.2f} s (reading the wave alone "
        f"{read_s:.2f} s), bare COPY {copy_s:.2f} s, ratio {ratio:.2f}"
    )
    return {
        "target": f"job within {TARGET:g}x a bare COPY of the same query",
        "met": ratio <= TARGET,
        "respondents": n,
        "job_s": round(job_s, 3),
        "copy_s": round(copy_s, 3),
        "read_wave_s": round(read_s, 3),
        "ratio": round(ratio, 2),
        "job_runs_s": rounded(job_runs, 3),
        "copy_runs_s": rounded(copy_runs, 3),
        "read_wave_runs_s": rounded(read_runs, 3),
        "copy_bytes": copied[-1],
        "wave_id": wave.pk,
        "csv": str(path.relative_to(ROOT)),
    }
