"""Administrator pages for getting data into waves."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from fielding.forms import ImportForm
from fielding.importing import ImportSpec, responses_import
from fielding.tabular import TableError, read_table
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
            return redirect("home")
    return render(
        request, "fielding/import_form.html", {"form": form, "problems": problems}
    )
