"""Downloads for analysts: a job's table as XLSX or Stata, a wave's microdata.

A refused microdata download (an unknown format or language, a wave too big for
Excel) goes back to the waves page with the reason; nothing is recorded then.
"""

import tempfile

from django.contrib import messages
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import translation

from analysis.errors import AnalysisError
from analysis.exports.microdata import (
    codebook_csv,
    codebook_rows,
    csv_lines,
    microdata_dta,
    microdata_export,
    microdata_plan,
    microdata_xlsx,
)
from analysis.exports.tables import table_dta, table_xlsx
from analysis.views import analysts, download_name, finished_job
from survey.models import LANGUAGE_CODES, Wave

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DTA_TYPE = "application/x-stata-dta"


def spooled_file():
    """A temporary file that stays in memory while small and is removed on close."""
    return tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)


def file_download(write, content_type: str, filename: str) -> FileResponse:
    target = spooled_file()
    write(target)
    target.seek(0)
    return FileResponse(
        target, as_attachment=True, filename=filename, content_type=content_type
    )


@analysts
def job_xlsx(request, job_id: int):
    job = finished_job(job_id)
    with translation.override(job.specification.get("language", "en")):
        return file_download(
            lambda target: table_xlsx(job.result, target),
            XLSX_TYPE,
            download_name(job, "xlsx"),
        )


@analysts
def job_dta(request, job_id: int):
    job = finished_job(job_id)
    with translation.override(job.specification.get("language", "en")):
        title = f"{job.wave.name}: {job.get_kind_display()} {job.pk}"
        return file_download(
            lambda target: table_dta(job.result, target, title=title),
            DTA_TYPE,
            download_name(job, "dta"),
        )


def chosen_language(request) -> str:
    """The language asked for, else the page's language."""
    asked = request.GET.get("language")
    if asked:
        return asked
    current = (translation.get_language() or "en").split("-")[0]
    return current if current in LANGUAGE_CODES else "en"


@analysts
def wave_microdata(request, wave_id: int):
    wave = get_object_or_404(Wave.objects.select_related("survey"), pk=wave_id)
    format = request.GET.get("format", "csv")
    language = chosen_language(request)
    try:
        export = microdata_export(
            wave=wave, format=format, language=language, user=request.user
        )
    except AnalysisError as error:
        messages.error(request, str(error))
        return redirect("analysis:waves")

    filename = f"wave{wave.pk}-microdata-{language}.{format}"
    if format == "csv":
        response = StreamingHttpResponse(
            csv_lines(export), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    if format == "xlsx":
        return file_download(
            lambda target: microdata_xlsx(export, target), XLSX_TYPE, filename
        )
    return file_download(
        lambda target: microdata_dta(export, target), DTA_TYPE, filename
    )


@analysts
def wave_codebook(request, wave_id: int):
    """The codebook of a download: ``format`` csv and xlsx share one, dta has its
    own (Stata's names and codes)."""
    wave = get_object_or_404(Wave.objects.select_related("survey"), pk=wave_id)
    format = request.GET.get("format", "csv")
    language = chosen_language(request)
    try:
        # The XLSX's codebook sheet is the CSV's codebook, at any size of wave.
        export = microdata_plan(
            wave=wave,
            format="csv" if format == "xlsx" else format,
            language=language,
        )
    except AnalysisError as error:
        messages.error(request, str(error))
        return redirect("analysis:waves")
    response = HttpResponse(
        codebook_csv(codebook_rows(export)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="wave{wave.pk}-codebook-{format}-{language}.csv"'
    )
    return response
