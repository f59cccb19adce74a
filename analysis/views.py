"""Analyst pages: choose a wave, run an estimate job, read and download its table."""

from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify
from django.utils.translation import get_language

from analysis.errors import AnalysisError
from analysis.formatting import as_csv, as_json
from analysis.forms import EstimateForm
from analysis.models import EstimateJob
from analysis.runner import jobs_revive
from analysis.services import estimate_job_create
from survey.models import Wave
from survey.roles import ADMINISTRATOR, ANALYST, role_required
from survey.selectors import waves_for_analysis

analysts = role_required(ANALYST, ADMINISTRATOR)


@analysts
def wave_list(request):
    jobs = EstimateJob.objects.select_related("wave").order_by("-created_at")[:20]
    return render(
        request,
        "analysis/wave_list.html",
        {"waves": waves_for_analysis(), "jobs": jobs},
    )


@analysts
def estimate_new(request, wave_id: int):
    wave = get_object_or_404(Wave.objects.select_related("survey"), pk=wave_id)
    form = EstimateForm(request.POST or None, wave=wave)
    if request.method == "POST" and form.is_valid():
        try:
            job = estimate_job_create(
                wave=wave,
                user=request.user,
                language=get_language() or "en",
                **form.job_options(),
            )
        except AnalysisError as error:
            form.add_error(None, str(error))
        else:
            return redirect("analysis:job", job_id=job.pk)
    jobs = wave.jobs.order_by("-created_at")[:10]
    return render(
        request,
        "analysis/estimate_form.html",
        {"wave": wave, "form": form, "jobs": jobs},
    )


@analysts
def job_detail(request, job_id: int):
    job = get_object_or_404(
        EstimateJob.objects.select_related("wave", "experiment"), pk=job_id
    )
    if job.status == EstimateJob.PENDING and job.message:
        messages.warning(request, job.message)
    return render(request, "analysis/job_detail.html", {"job": job})


@analysts
def job_status(request, job_id: int):
    """The job's state for the progress bar; a job that stalled is handed on again."""
    job = get_object_or_404(EstimateJob, pk=job_id)
    if jobs_revive(EstimateJob.objects.filter(pk=job.pk)):
        job.refresh_from_db()
    return JsonResponse(
        {
            "status": job.status,
            "progress": job.progress,
            "message": job.message,
            "failure_reason": job.failure_reason,
            "finished": job.is_finished,
        }
    )


def finished_job(job_id: int) -> EstimateJob:
    return get_object_or_404(
        EstimateJob.objects.select_related("wave"),
        pk=job_id,
        status=EstimateJob.SUCCEEDED,
    )


def download_name(job: EstimateJob, extension: str) -> str:
    return f"estimate-{slugify(job.wave.name) or 'wave'}-job{job.pk}.{extension}"


@analysts
def job_csv(request, job_id: int):
    job = finished_job(job_id)
    response = HttpResponse(
        as_csv(job.result, bom=True, labels=True),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{download_name(job, "csv")}"'
    )
    return response


@analysts
def job_json(request, job_id: int):
    job = finished_job(job_id)
    response = HttpResponse(
        as_json(job.result), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{download_name(job, "json")}"'
    )
    return response
