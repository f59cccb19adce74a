"""Deciding on responses held back by the sync: accept a conflict as a correction, or
dismiss a held response.

A conflict is a second version of an interview the server already stores (same uuid,
other content). Accepting it is an audited correction: the stored version is kept on
the held row, the new status, count and covariate answers replace it, and the arm and
item order never change. A dismissed response stays where it is, outside the wave's
data, with who dismissed it and when.
"""

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fielding.errors import FieldingError
from fielding.interviewing import answers_clean, counts_checked
from fielding.models import Assignment, HeldSubmission, Respondent, Response
from fielding.sync import content_hash
from survey.models import Wave

logger = logging.getLogger(__name__)


def held_accept(*, held: HeldSubmission, by: AbstractBaseUser) -> HeldSubmission:
    """Apply a conflicting version's status, count and answers to the stored interview.

    The stored status, count and answers are kept in ``held.previous``. The interview's
    fingerprint becomes the accepted version's, so a tablet sending that version again
    gets "duplicate". Refused for a closed wave, for a version that is not a conflict
    or is already decided, and for content the sync itself would refuse.

    Notes
    -----
    Only status, counts and answers change: a new place, language or timestamps in the
    accepted version are not applied (they decide the stratum and the late flag, which
    a correction must not move).
    """
    with transaction.atomic():
        held = HeldSubmission.objects.select_for_update().get(pk=held.pk)
        held_check_open(held)
        if held.kind != HeldSubmission.CONFLICT:
            raise FieldingError(
                _(
                    "Only a conflicting version of a stored interview can be accepted "
                    "as a correction; this response was held because: %(why)s."
                )
                % {"why": held.get_kind_display()}
            )
        respondent = (
            Respondent.objects.select_for_update().filter(client_uuid=held.uuid).first()
        )
        if respondent is None:
            raise FieldingError(
                _("No stored interview has this uuid, so there is nothing to correct.")
            )
        # Locking the wave queues this correction behind a wave being closed.
        wave = Wave.objects.select_for_update().get(pk=respondent.wave_id)
        if wave.status == Wave.CLOSED:
            raise FieldingError(
                _(
                    "Wave “%(wave)s” is closed, so its data can no longer be "
                    "corrected; dismiss this version instead."
                )
                % {"wave": wave.name}
            )

        assignment = (
            Assignment.objects.select_related("experiment", "response")
            .filter(respondent=respondent)
            .first()
        )
        payload = held.payload
        if assignment is None or not hasattr(assignment, "response"):
            raise FieldingError(_("The stored interview has no count to correct."))
        if assignment.slot_id is not None and payload.get("slot") != assignment.slot_id:
            raise FieldingError(
                _(
                    "This version names another slot; a correction cannot change the "
                    "arm or the item order."
                )
            )
        status, count, second_count = checked_status_count(assignment, payload)
        answers = checked_answers(wave, payload)

        response = assignment.response
        held.previous = {
            "status": response.status,
            "count": response.count,
            "second_count": response.second_count,
            "answers": respondent.answers,
        }
        response.status = status
        response.count = count
        response.second_count = second_count
        response.full_clean()
        response.save()

        respondent.answers = answers
        respondent.payload_hash = content_hash(payload)
        respondent.full_clean()
        respondent.save(update_fields=["answers", "payload_hash"])

        held_resolve(held, HeldSubmission.ACCEPTED, by)
    logger.info(
        "Held response %s accepted as a correction of respondent %s by %s",
        held.pk,
        respondent.pk,
        by.get_username(),
    )
    return held


def held_dismiss(*, held: HeldSubmission, by: AbstractBaseUser) -> HeldSubmission:
    """Decide not to use a held response; it is kept, marked dismissed."""
    with transaction.atomic():
        held = HeldSubmission.objects.select_for_update().get(pk=held.pk)
        held_check_open(held)
        held_resolve(held, HeldSubmission.DISMISSED, by)
    logger.info("Held response %s dismissed by %s", held.pk, by.get_username())
    return held


def held_check_open(held: HeldSubmission) -> None:
    if held.resolution != HeldSubmission.OPEN:
        raise FieldingError(
            _("This response was decided already: %(resolution)s.")
            % {"resolution": held.get_resolution_display()}
        )


def held_resolve(held: HeldSubmission, resolution: str, by: AbstractBaseUser) -> None:
    held.resolution = resolution
    held.resolved_by = by
    held.resolved_at = timezone.now()
    held.full_clean()
    held.save()


def checked_status_count(
    assignment: Assignment, payload: dict
) -> tuple[str, int | None, int | None]:
    """The version's status and counts, checked as the sync checks a new response."""
    status = payload.get("status")
    if status not in dict(Response.STATUS_CHOICES):
        raise FieldingError(_("Unknown response status “%(s)s”.") % {"s": status})
    count, second_count = counts_checked(
        tops=assignment.count_tops(),
        status=status,
        count=payload.get("count"),
        counts=payload.get("counts"),
    )
    return status, count, second_count


def checked_answers(wave: Wave, payload: dict) -> dict:
    return answers_clean(wave.survey, payload.get("answers") or {})


def held_stored_version(held: HeldSubmission) -> dict | None:
    """What the server stores under the held response's uuid, to compare with it."""
    respondent = Respondent.objects.filter(client_uuid=held.uuid).first()
    if respondent is None:
        return None
    response = Response.objects.filter(assignment__respondent=respondent).first()
    return {
        "status": response.status if response else None,
        "count": response.count if response else None,
        "second_count": response.second_count if response else None,
        "answers": respondent.answers,
    }
