"""Administrator pages for getting data into waves."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from fielding.allocation import wave_allocation_table
from fielding.errors import FieldingError
from fielding.forms import ImportForm
from fielding.importing import ImportSpec, responses_import
from fielding.sequences import table_csv
from fielding.tabular import TableError, read_table
from survey.models import Wave
from survey.roles import ADMINISTRATOR, role_required


@role_required(ADMINISTRATOR)
def import_responses(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    problems = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        spec = ImportSpec(
            items=data["items"],
            outcome=data["outcome"].strip(),
            treat=data["treat"].strip(),
            id_column=data["id_column"].strip(),
            covariates=data["covariates"],
            numeric=data["numeric"],
            weight=data["weight"].strip(),
            place=data["place"].strip(),
            arms=data["arms"],
            second_outcome=data["second_outcome"].strip(),
            second_treat=data["second_treat"].strip(),
            second_items=data["second_items"] or 0,
            direct=data["direct"].strip(),
        )
        upload = data["file"]
        try:
            table = read_table(upload.read(), name=upload.name)
            summary = responses_import(
                table=table, spec=spec, wave=data["wave"], user=request.user
            )
        except TableError as error:
            problems = error.lines()
        else:
            messages.success(
                request,
                _("Imported %(n)s respondents into wave “%(wave)s”.")
                % {"n": summary.respondents, "wave": summary.wave.name},
            )
            for note in summary.notes:
                messages.warning(request, note)
            return redirect("home")
    return render(
        request, "fielding/import_form.html", {"form": form, "problems": problems}
    )


@role_required(ADMINISTRATOR)
def allocation_table(request, wave_id: int):
    """The open wave's allocation sequences as CSV, for audit and pre-registration."""
    wave = get_object_or_404(Wave, pk=wave_id)
    try:
        rows = wave_allocation_table(wave)
    except FieldingError as error:
        messages.warning(request, str(error))
        return redirect("home")
    response = HttpResponse(table_csv(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="wave{wave.pk}-allocation-seed{wave.seed}.csv"'
    )
    return response
