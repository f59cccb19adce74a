"""Analyst pages: starting a job, reading its table, downloading it; who may see them."""

import csv
import io
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from analysis.comparison import compare_job_create
from analysis.models import EstimateJob
from analysis.services import estimate_job_create, estimate_job_run
from tests.analysis.test_comparison import split_race_waves
from tests.analysis.test_estimate_command import RACE_SOUTH, TOLERANCE


def finished_job(wave, by) -> EstimateJob:
    job = estimate_job_create(wave=wave, by=by)
    estimate_job_run(job.pk)
    return job


def test_an_analyst_starts_a_job_from_the_form(analyst_client, race_wave):
    url = reverse("analysis:estimate", args=[race_wave.pk])
    experiment = race_wave.survey.experiments.get()

    page = analyst_client.get(url)
    response = analyst_client.post(url, {"experiment": experiment.pk, "by": ["south"]})

    assert page.status_code == 200 and "south" in page.text
    job = EstimateJob.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("analysis:job", args=[job.pk])
    assert job.specification["by"] == ["south"]


def test_the_job_page_shows_progress_until_it_is_done(analyst_client, race_wave):
    job = estimate_job_create(wave=race_wave, by=["south"])
    EstimateJob.objects.filter(pk=job.pk).update(dispatched_at=timezone.now())

    page = analyst_client.get(reverse("analysis:job", args=[job.pk]))
    status = analyst_client.get(reverse("analysis:job-status", args=[job.pk])).json()

    assert 'role="progressbar"' in page.text
    assert status == {
        "status": "pending",
        "progress": 0.0,
        "message": "",
        "failure_reason": "",
        "finished": False,
    }


def test_the_job_page_shows_the_table_in_percent(analyst_client, race_wave):
    job = finished_job(race_wave, ["south"])

    page = analyst_client.get(reverse("analysis:job", args=[job.pk]))

    assert "Entire sample" in page.text
    assert "25.9" in page.text  # south = 1: 0.2587 as a percentage
    assert "normal approximation" in page.text


def test_a_failed_job_says_why_in_a_sentence(analyst_client, race_wave):
    job = finished_job(race_wave, [])
    EstimateJob.objects.filter(pk=job.pk).update(
        status=EstimateJob.FAILED, failure_reason="The wave has no complete responses."
    )

    page = analyst_client.get(reverse("analysis:job", args=[job.pk]))

    assert "The estimate could not be made." in page.text
    assert "The wave has no complete responses." in page.text


def test_the_csv_download_has_a_bom_and_the_reference_figures(
    analyst_client, race_wave
):
    job = finished_job(race_wave, ["south"])

    response = analyst_client.get(reverse("analysis:job-csv", args=[job.pk]))

    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    assert "attachment" in response["Content-Disposition"]
    rows = {
        (r["variable"], r["level"]): r for r in csv.DictReader(io.StringIO(body[1:]))
    }
    south1 = float(rows[("south", "1")]["estimate"])
    assert south1 == pytest.approx(RACE_SOUTH["1"]["estimate"], abs=TOLERANCE)


def test_the_json_download_is_the_stored_result(analyst_client, race_wave):
    job = finished_job(race_wave, ["south"])

    response = analyst_client.get(reverse("analysis:job-json", args=[job.pk]))

    assert json.loads(response.content) == EstimateJob.objects.get(pk=job.pk).result


def test_an_unfinished_job_has_nothing_to_download(analyst_client, race_wave):
    job = estimate_job_create(wave=race_wave, by=[])

    response = analyst_client.get(reverse("analysis:job-csv", args=[job.pk]))

    assert response.status_code == 404


def test_simulated_responses_are_labelled_on_the_result(analyst_client, demo_wave):
    job = finished_job(demo_wave, [])

    page = analyst_client.get(reverse("analysis:job", args=[job.pk]))

    assert "simulated, not collected" in page.text


@pytest.mark.parametrize("name", ["waves", "estimate", "job", "job-status", "job-csv"])
def test_interviewers_never_see_estimates(interviewer_client, race_wave, name):
    job = finished_job(race_wave, [])
    args = {"waves": [], "estimate": [race_wave.pk]}.get(name, [job.pk])

    response = interviewer_client.get(reverse(f"analysis:{name}", args=args))

    assert response.status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client, race_wave):
    response = client.get(reverse("analysis:waves"))

    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_a_job_started_while_redis_is_down_stays_pending_and_says_so(
    settings, analyst_client, race_wave, django_capture_on_commit_callbacks
):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    from survey.celery import app

    app.conf.broker_url = settings.REDIS_URL
    try:
        with django_capture_on_commit_callbacks(execute=True):
            job = estimate_job_create(wave=race_wave, by=[])
    finally:
        app.conf.broker_url = "memory://"

    job.refresh_from_db()
    assert job.status == EstimateJob.PENDING
    assert "cannot be reached" in job.message
    page = analyst_client.get(reverse("analysis:job", args=[job.pk]))
    assert "cannot be reached" in page.text


def test_the_csv_download_keeps_formula_like_levels_as_text(analyst_client, db):
    from tests.conftest import import_csv

    rows = b"y,treat,g\n" + b"".join(
        f"{c},{t},=1+1\n".encode() for c, t in [(1, 0), (2, 0), (2, 1), (3, 1)]
    )
    wave = import_csv(rows, items=3, outcome="y", treat="treat", covariates=("g",)).wave
    job = finished_job(wave, ["g"])

    body = analyst_client.get(reverse("analysis:job-csv", args=[job.pk])).content
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))

    assert rows[1]["level"] == "'=1+1" and rows[1]["label"] == "'=1+1"


def test_the_job_page_shows_differences_tests_and_models(analyst_client, race_wave):
    job = estimate_job_create(
        wave=race_wave,
        by=["south"],
        compare=[("south", "1", "0")],
        design_test=True,
        model="ml",
        covariates=["south"],
    )
    estimate_job_run(job.pk)

    page = analyst_client.get(reverse("analysis:job", args=[job.pk]))

    assert "Differences between groups" in page.text
    assert "Blair and Imai" in page.text
    assert "Maximum likelihood model" in page.text and "Linear model" in page.text


def test_the_form_refuses_a_difference_written_wrongly(analyst_client, race_wave):
    url = reverse("analysis:estimate", args=[race_wave.pk])
    experiment = race_wave.survey.experiments.get()

    page = analyst_client.post(
        url, {"experiment": experiment.pk, "compare": "south 1 0"}
    )

    assert page.status_code == 200 and "variable:A,B" in page.text
    assert not EstimateJob.objects.exists()


def job_page(client, job, language: str):
    return client.get(
        reverse("analysis:job", args=[job.pk]), HTTP_ACCEPT_LANGUAGE=language
    )


def arm_cells(page, heading: str) -> list[str]:
    """The first cell of each row of the table under ``heading``."""
    table = page.text.split(heading, 1)[1].split("</table>", 1)[0]
    return [row.split("</td>", 1)[0] for row in table.split("<tr><td>")[1:]]


@pytest.mark.parametrize(
    "language, heading, names",
    [
        ("en", "Responses by arm", ["Control", "Treatment"]),
        ("ru", "Ответы по группам", ["Контрольная", "Экспериментальная"]),
    ],
)
def test_responses_by_arm_name_the_arms_in_the_page_language(
    analyst_client, race_wave, language, heading, names
):
    job = finished_job(race_wave, [])
    job.refresh_from_db()

    page = job_page(analyst_client, job, language)

    assert set(job.result["statuses"]) == {"control", "treatment"}
    assert sorted(arm_cells(page, heading)) == sorted(names)


def test_a_comparison_page_heads_se_and_ci_as_the_estimate_page_does(
    analyst_client, db
):
    earlier, later = split_race_waves()
    job = compare_job_create(earlier=earlier, later=later, by=["male"])
    estimate_job_run(job.pk)

    english = job_page(analyst_client, job, "en")
    russian = job_page(analyst_client, job, "ru")

    assert '<th class="text-end">SE (%)</th>' in english.text
    assert '<th class="text-end">95% CI (%)</th>' in english.text
    assert '<th class="text-end">Стандартная ошибка (%)</th>' in russian.text
    assert '<th class="text-end">95% ДИ (%)</th>' in russian.text
