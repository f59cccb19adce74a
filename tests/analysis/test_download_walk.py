"""Every kind of job downloaded as every table format: a file, or a clean refusal.

A new user clicks every download button of every job page. Each download must answer
200 with a file that reads back, or 404 / 400 with a sentence; never a server error.
The jobs are small but real: each is made by the service a page calls and run the
way the worker runs it.
"""

import io

import numpy as np
import pandas as pd
import pytest
from django.urls import reverse

from analysis.comparison import compare_job_create
from analysis.models import EstimateJob
from analysis.services import estimate_job_create, estimate_job_run
from fielding.services import responses_simulate
from survey.demo import demo_load, pilot_wave_create
from survey.models import CovariateQuestion, ListExperiment, Wave
from survey.services import wave_open
from tests.analysis.test_comparison import split_race_waves
from tests.analysis.test_design_jobs import (
    build_wave,
    combined_list1_wave,
    csv_rows,
    double_records,
)
from tests.analysis.test_planner_views import plan_url, query
from tests.conftest import RACE_CSV, RACE_SPEC, import_csv

FORMATS = ("csv", "xlsx", "dta", "json")


def run(job: EstimateJob) -> EstimateJob:
    estimate_job_run(job.pk)
    job.refresh_from_db()
    assert job.status == EstimateJob.SUCCEEDED, job.failure_reason
    return job


def single_job(client):
    wave = import_csv(RACE_CSV.read_bytes(), name="race.csv", **RACE_SPEC).wave
    return run(
        estimate_job_create(
            wave=wave,
            by=["south", "male"],
            compare=[("south", "1", "0")],
            design_test=True,
        )
    )


def weighted_model_job(client):
    wave, _later = split_race_waves()
    return run(
        estimate_job_create(
            wave=wave, by=["male"], weighted=True, model="lm", covariates=["male"]
        )
    )


def multi_arm_job(client):
    records = [
        {
            "arm": row["treat"],
            "count": int(row["y"]),
            "answers": {"south": row["south"]},
        }
        for row in csv_rows("multi.csv")
    ]
    wave = build_wave(
        "multi",
        records,
        sensitive=("race", "affirm"),
        questions=[("south", CovariateQuestion.CODED, ["0", "1"])],
    )
    return run(estimate_job_create(wave=wave, by=["south"]))


def double_job(client):
    wave = build_wave(
        "double",
        double_records(),
        design=ListExperiment.DOUBLE,
        lists=(("A", 3), ("B", 3)),
        questions=[("g", CovariateQuestion.CODED, ["x", "y"])],
    )
    return run(estimate_job_create(wave=wave, by=["g"]))


def direct_job(client):
    wave = combined_list1_wave()
    return run(estimate_job_create(wave=wave, by=["direct1"], direct=True))


def compare_job(client, by=()):
    earlier, later = split_race_waves()
    return run(compare_job_create(earlier=earlier, later=later, by=list(by)))


def compare_by_male_job(client):
    return compare_job(client, by=["male"])


def rehearsal_job(client):
    """A rehearsal of the demo's national draft, started from its planner page."""
    pilot = demo_load()
    draft = Wave.objects.get(survey=pilot.survey, status=Wave.DRAFT)
    data = {**query(pilot), "draws": "100", "seed": "11", "deflators": "0"}
    client.post(plan_url(draft), data)
    return run(EstimateJob.objects.get(kind=EstimateJob.REHEARSAL))


#: A job of every kind, by a name that reads in the test's id; each takes a client.
JOBS = {
    "estimate single": single_job,
    "estimate weighted with a model": weighted_model_job,
    "estimate several items": multi_arm_job,
    "estimate double list": double_job,
    "estimate with the direct question": direct_job,
    "compare": compare_job,
    "compare by male": compare_by_male_job,
    "rehearsal": rehearsal_job,
}


def content_of(reply) -> bytes:
    return b"".join(reply.streaming_content) if reply.streaming else reply.content


def download(client, job: EstimateJob, fmt: str) -> bytes:
    reply = client.get(reverse(f"analysis:job-{fmt}", args=[job.pk]))
    assert reply.status_code == 200
    return content_of(reply)


def table_of(reply, fmt: str) -> pd.DataFrame | dict:
    """The download read back as a reader of that format would."""
    if fmt == "json":
        return reply.json()
    content = content_of(reply)
    if fmt == "csv":
        return pd.read_csv(io.StringIO(content.decode("utf-8-sig")), dtype=str)
    if fmt == "xlsx":
        return pd.read_excel(io.BytesIO(content), sheet_name=0, dtype=str)
    return pd.read_stata(io.BytesIO(content))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", list(JOBS))
def test_every_table_download_gives_a_file_or_a_clean_refusal(
    analyst_client, kind, fmt
):
    job = JOBS[kind](analyst_client)

    reply = analyst_client.get(reverse(f"analysis:job-{fmt}", args=[job.pk]))

    assert reply.status_code in (200, 400, 404), reply.status_code
    if reply.status_code == 200:
        table = table_of(reply, fmt)
        assert len(table) > 0
    else:
        assert reply.content.strip()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_job_not_finished_has_no_download_but_a_page_saying_so(
    analyst_client, race_wave, fmt
):
    job = estimate_job_create(wave=race_wave, by=[])

    reply = analyst_client.get(reverse(f"analysis:job-{fmt}", args=[job.pk]))

    assert reply.status_code == 404
    assert reply.content.strip()


def plain(value):
    """A cell as a number when it reads as one, None when empty, text otherwise.

    Numbers are compared to 12 significant digits, since Excel keeps 15; the CSV
    marks text a spreadsheet would run with a leading apostrophe.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return None
    try:
        return float(f"{float(value):.12g}")
    except (TypeError, ValueError):
        return str(value).removeprefix("'")


def cells(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(plain(v) for v in row) for row in frame.itertuples(index=False)]


@pytest.mark.parametrize("kind", list(JOBS))
def test_the_workbook_and_the_stata_file_hold_the_rows_of_the_csv(analyst_client, kind):
    job = JOBS[kind](analyst_client)

    text = download(analyst_client, job, "csv").decode("utf-8-sig")
    xlsx = download(analyst_client, job, "xlsx")
    dta = download(analyst_client, job, "dta")

    table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    sheet = pd.read_excel(io.BytesIO(xlsx), sheet_name="table", dtype=str)
    stata = pd.read_stata(io.BytesIO(dta))

    assert len(table) > 0
    assert list(sheet.columns) == list(table.columns) == list(stata.columns)
    assert cells(sheet) == cells(table) == cells(stata)


def test_a_comparison_by_gender_and_stratum_downloads_as_xlsx_and_stata(
    analyst_client, demo_wave
):
    """The case first reported: the demo's pilot and a second wave, by gender and
    stratum, answered 500 for XLSX and Stata while CSV worked."""
    second = pilot_wave_create(demo_wave.survey)
    second = wave_open(wave=second, seed=7)
    responses_simulate(wave=second, n=400, seed=7)
    job = run(
        compare_job_create(earlier=demo_wave, later=second, by=["gender", "stratum"])
    )

    text = download(analyst_client, job, "csv").decode("utf-8-sig")
    xlsx = download(analyst_client, job, "xlsx")
    dta = download(analyst_client, job, "dta")

    table = pd.read_csv(io.StringIO(text), dtype=str)
    sheets = pd.read_excel(io.BytesIO(xlsx), sheet_name=None, dtype=str)
    stata = pd.read_stata(io.BytesIO(dta))
    assert list(table["level"]) == ["overall", "1", "2", "almaty", "astana", "other"]
    assert cells(sheets["table"]) == cells(table) == cells(stata)
    assert {"earlier", "earlier_groups", "later", "later_groups"} <= set(sheets)
    change = job.result["groups"][0]
    assert stata["change_estimate"][1] == pytest.approx(change["estimate"], abs=1e-15)


def test_a_rehearsal_downloads_as_csv_one_row_per_quantity(analyst_client):
    job = rehearsal_job(analyst_client)

    reply = analyst_client.get(reverse("analysis:job-csv", args=[job.pk]))

    assert reply.status_code == 200
    assert f"job{job.pk}.csv" in reply["Content-Disposition"]
    text = reply.content.decode("utf-8")
    assert text.startswith("\ufefflabel,title,kind,truth,mean_estimate,bias,")
    table = pd.read_csv(io.StringIO(text.removeprefix("\ufeff")))
    quantities = job.result["quantities"]
    assert list(table["label"]) == [q["label"] for q in quantities]
    assert list(table["coverage"]) == pytest.approx([q["coverage"] for q in quantities])


def test_a_rehearsal_page_links_its_downloads(analyst_client):
    job = rehearsal_job(analyst_client)

    page = analyst_client.get(reverse("analysis:job", args=[job.pk])).content.decode()

    for name in ("job-csv", "job-json", "job-xlsx", "job-dta"):
        assert reverse(f"analysis:{name}", args=[job.pk]) in page
