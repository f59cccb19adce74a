"""Uploading interviews a tablet could not send: the file its offline page saves.

Each response in the file is stored as if the tablet that reserved its slot had sent
it: the same checks, the same results, so uploading a file twice, or uploading one the
tablet later sends as well, stores every interview once.
"""

import json
import logging
from dataclasses import dataclass

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fielding.api.serializers import SyncItemSerializer
from fielding.errors import FieldingError
from fielding.importing import size_problem
from fielding.models import AllocationSlot
from fielding.sync import CONFLICT, CREATED, DUPLICATE, REJECTED, response_sync
from survey.roles import ADMINISTRATOR, role_required

logger = logging.getLogger(__name__)

FORMAT = "listexp-unsent-v1"
RESULT_LABELS = {
    CREATED: gettext_lazy("stored"),
    DUPLICATE: gettext_lazy("stored before (duplicate)"),
    CONFLICT: gettext_lazy("conflict: held for a decision"),
    REJECTED: gettext_lazy("rejected"),
}


@dataclass
class UploadRow:
    index: int
    uuid: str | None
    result: str
    errors: list[str]

    @property
    def label(self) -> str:
        return str(RESULT_LABELS[self.result])


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File of unsent interviews"),
        help_text=gettext_lazy(
            "The .json file the tablet's page saves when it cannot reach the server."
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        problem = size_problem(upload.size)
        if problem:
            raise forms.ValidationError(problem)
        return upload


# Each interview is stored in its own transaction; this many take well under the 30 s
# a web server usually allows a request.
MAX_UPLOAD_RESPONSES = 2000


def unsent_read(data: bytes) -> dict:
    """The export's content; FieldingError says what is wrong with the file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FieldingError(_("The file is not UTF-8 text.")) from None
    try:
        export = json.loads(text)
    except (ValueError, RecursionError):
        raise FieldingError(_("The file is not valid JSON.")) from None
    if not isinstance(export, dict) or export.get("format") != FORMAT:
        raise FieldingError(
            _(
                "This is not a file of unsent interviews saved by the tablet page "
                "(its format should be “%(format)s”)."
            )
            % {"format": FORMAT}
        )
    if not isinstance(export.get("responses"), list):
        raise FieldingError(_("The file has no list of responses."))
    if len(export["responses"]) > MAX_UPLOAD_RESPONSES:
        raise FieldingError(
            _(
                "The file holds %(n)s interviews; upload at most %(max)s at a time "
                "(one tablet's file at a time)."
            )
            % {"n": len(export["responses"]), "max": MAX_UPLOAD_RESPONSES}
        )
    return export


def error_lines(errors, field: str = "") -> list[str]:
    """Errors by field (nested as the serializer gives them) as sentences."""
    if isinstance(errors, dict):
        return [
            line
            for key, value in errors.items()
            for line in error_lines(value, key if key != "non_field_errors" else "")
        ]
    if isinstance(errors, list):
        return [line for value in errors for line in error_lines(value, field)]
    return [f"{field}: {errors}" if field else str(errors)]


def unsent_store(raw: object) -> tuple[str | None, str, dict]:
    """One response of the file, stored as its slot's tablet would have sent it."""
    if not isinstance(raw, dict):
        return None, REJECTED, {"": [_("Each response is a JSON object.")]}
    uuid = str(raw["uuid"]) if raw.get("uuid") else None
    shape = SyncItemSerializer(data=raw)
    if not shape.is_valid():
        return uuid, REJECTED, shape.errors

    item = shape.validated_data
    slot = (
        AllocationSlot.objects.select_related("device__user")
        .filter(pk=item["slot"])
        .first()
    )
    if slot is None or slot.device is None:
        return (
            uuid,
            REJECTED,
            {
                "slot": [
                    _("No tablet reserved this slot, so nobody could have used it.")
                ]
            },
        )
    result = response_sync(token=slot.device, item=item)
    return result.uuid, result.result, result.errors


def unsent_store_all(*, responses: list, by: AbstractBaseUser) -> list[UploadRow]:
    """Every response of the file, each in its own transaction, in file order."""
    rows = []
    for index, raw in enumerate(responses):
        uuid, result, errors = unsent_store(raw)
        rows.append(UploadRow(index, uuid, result, error_lines(errors)))
    totals = {}
    for row in rows:
        totals[row.result] = totals.get(row.result, 0) + 1
    logger.info(
        "%s uploaded %s unsent responses: %s", by.get_username(), len(rows), totals
    )
    return rows


@role_required(ADMINISTRATOR)
def device_upload(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        try:
            export = unsent_read(form.cleaned_data["file"].read())
        except FieldingError as error:
            form.add_error("file", str(error))
        else:
            rows = unsent_store_all(responses=export["responses"], by=request.user)
            totals = [
                (label, sum(row.result == result for row in rows))
                for result, label in RESULT_LABELS.items()
            ]
            context.update(rows=rows, totals=totals, export=export, form=UploadForm())
    return render(request, "fielding/devices/upload.html", context)
