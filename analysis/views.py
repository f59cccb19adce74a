"""Analyst pages: choose a wave, run an estimate job, read and download its table."""

from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.text import slugify
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from analysis import figures
from analysis.comparison import change_csv, compare_job_create, waves_with_earlier
from analysis.errors import AnalysisError
from analysis.estimators.floor_ceiling import count_distribution
from analysis.exports.tables import main_section, section_csv
from analysis.formatting import as_csv, as_json
from analysis.forms import CompareForm, EstimateForm
from analysis.models import EstimateJob
from analysis.rscripts import r_script, reproducible, wave_facts
from analysis.runner import jobs_revive
from analysis.selectors import FIELDING_VARIABLES, wave_list_data
from analysis.services import estimate_job_create
from fielding.models import Respondent
from survey.models import Wave
from survey.roles import ADMINISTRATOR, ANALYST, role_required
from survey.selectors import waves_for_analysis

analysts = role_required(ANALYST, ADMINISTRATOR)


@analysts
def wave_list(request):
    jobs = EstimateJob.objects.select_related("wave").order_by("-created_at")[:20]
    waves = list(waves_for_analysis())
    answered = set(
        Respondent.objects.filter(wave__in=waves)
        .values_list("wave_id", flat=True)
        .distinct()
    )
    return render(
        request,
        "analysis/wave_list.html",
        {
            "waves": waves,
            "with_earlier": waves_with_earlier(waves),
            "answered": answered,
            "jobs": jobs,
        },
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
    return render(
        request,
        "analysis/job_detail.html",
        {"job": job, "figures": job_figures(job)},
    )


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
    if job.kind == EstimateJob.COMPARE:
        table = change_csv(job.result, bom=True)
    elif job.kind == EstimateJob.REHEARSAL:
        table = section_csv(main_section(job.result), bom=True)
    else:
        table = as_csv(job.result, bom=True, labels=True)
    response = HttpResponse(table, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{download_name(job, "csv")}"'
    )
    return response


@analysts
def job_script(request, job_id: int):
    """An R script that recomputes the job's figures from the wave's microdata."""
    job = get_object_or_404(
        EstimateJob.objects.select_related("wave__survey", "experiment"),
        pk=job_id,
        status=EstimateJob.SUCCEEDED,
    )
    if not reproducible(job):
        raise Http404
    response = HttpResponse(
        r_script(job, wave_facts(job)), content_type="text/plain; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="reproduce-job{job.pk}.R"'
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


@analysts
def compare_new(request, wave_id: int):
    """Start a job for the change from an earlier wave of the survey to this one."""
    wave = get_object_or_404(Wave.objects.select_related("survey"), pk=wave_id)
    form = CompareForm(request.POST or None, wave=wave)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = compare_job_create(
                earlier=data["earlier"],
                later=wave,
                experiment=data["experiment"],
                by=data["by"],
                weighted=data["weighted"],
                user=request.user,
                language=get_language() or "en",
            )
        except AnalysisError as error:
            form.add_error(None, str(error))
        else:
            return redirect("analysis:job", job_id=job.pk)
    return render(
        request,
        "analysis/compare_form.html",
        {
            "wave": wave,
            "form": form,
            "has_earlier": bool(form.waves),
            "has_other": wave.survey.waves.exclude(pk=wave.pk).exists(),
        },
    )


#: The figures of a finished job, by the job's kind.
FIGURES = {
    EstimateJob.ESTIMATE: ("estimates", "counts"),
    EstimateJob.COMPARE: ("change",),
}
FIGURE_TITLES = {
    "estimates": gettext_lazy("Estimated share holding the sensitive item"),
    "counts": gettext_lazy("Counts by arm"),
    "change": gettext_lazy("Change between waves"),
}


def figure_names(job: EstimateJob) -> tuple[str, ...]:
    """The figures a job has: a finished job of one list with one sensitive item."""
    result = job.result or {}
    single = result.get("list_design", "single") == "single" and "overall" in result
    if job.status != EstimateJob.SUCCEEDED or not single:
        return ()
    return FIGURES.get(job.kind, ())


def job_figures(job: EstimateJob) -> list[dict]:
    return [{"name": name, "title": FIGURE_TITLES[name]} for name in figure_names(job)]


def figure_image(job: EstimateJob, name: str, image_format: str) -> bytes:
    """Draw one of the job's figures, every label in the active language."""
    result = job.result
    headings = {key: str(label) for key, label in FIELDING_VARIABLES.items()}
    overall = _("Entire sample")
    # xgettext:no-python-format
    note = _("95% confidence intervals use the normal approximation.")
    if name == "estimates":
        return figures.estimates_chart(
            figures.estimate_sections(result, overall, headings),
            title=str(FIGURE_TITLES[name]),
            # xgettext:no-python-format
            axis_label=_("Percent, with 95% confidence interval"),
            missing_label=_("no estimate"),
            note=note,
            fmt=image_format,
        )
    if name == "change":
        return figures.change_chart(
            figures.change_sections(result, overall, headings),
            title=str(FIGURE_TITLES[name]),
            earlier_label=result["earlier"]["wave"]["name"],
            later_label=result["later"]["wave"]["name"],
            estimate_axis_label=_("Estimate in each wave (%)"),
            change_title=_("Change, later minus earlier"),
            # xgettext:no-python-format
            change_axis_label=_("Percentage points, with 95% confidence interval"),
            missing_label=_("no estimate"),
            note=note,
            fmt=image_format,
        )

    distribution = result.get("count_distribution")
    if not distribution:
        try:
            data = wave_list_data(job.wave, job.experiment, [])
        except AnalysisError:
            raise Http404 from None
        distribution = count_distribution(
            data.counts, data.treated, job.experiment.items_count()
        )
    return figures.count_histogram(
        distribution,
        title=str(FIGURE_TITLES[name]),
        axis_label=_("Count"),
        share_label=_("Share of the arm (%)"),
        arm_labels={"control": _("Control list"), "treatment": _("Treatment list")},
        fmt=image_format,
    )


@analysts
def job_figure(request, job_id: int, figure: str, image_format: str):
    """A finished job's figure as PNG or SVG; ``?download=1`` saves it as a file."""
    job = finished_job(job_id)
    if figure not in figure_names(job) or image_format not in figures.FORMATS:
        raise Http404
    with translation.override(job.specification.get("language") or "en"):
        image = figure_image(job, figure, image_format)
    response = HttpResponse(image, content_type=figures.FORMATS[image_format])
    disposition = "attachment" if request.GET.get("download") else "inline"
    filename = download_name(job, image_format).replace("estimate-", f"{figure}-", 1)
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response
