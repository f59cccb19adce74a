"""State changes of waves: opening (which freezes the cards) and closing."""

import logging
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fielding.allocation import wave_plan
from fielding.errors import FieldingError
from survey.audit import audit_record
from survey.cards import card_problems, card_snapshot
from survey.errors import SurveyError
from survey.models import AuditEvent, Stratum, Wave

logger = logging.getLogger(__name__)


def checked_seed(seed) -> int:
    """A seed as the allocation engine takes it: a whole number from 0 to 2**63 - 1."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise SurveyError(
            _("The seed must be a whole number from 0 to 2**63 - 1, not %(seed)s.")
            % {"seed": seed}
        )
    return seed


def strata_ensure(wave: Wave) -> None:
    """A wave without strata gets one that holds every place, so allocation can run."""
    if not wave.strata.exists():
        Stratum.objects.create(
            wave=wave, code="all", name=_("All places"), is_rest=True
        )


def plan_check(wave: Wave) -> None:
    for experiment in wave.survey.experiments.all():
        for stratum in wave.strata.all():
            try:
                wave_plan(wave, experiment, stratum)
            except FieldingError as error:
                raise SurveyError(str(error)) from None


def wave_open(*, wave: Wave, seed: int | None = None, user=None) -> Wave:
    """Move a draft wave to fielding: freeze its cards and record its seed.

    ``user`` is who opened it, for the audit log (None for the system, as the demo).
    """
    with transaction.atomic():
        wave = Wave.objects.select_for_update().get(pk=wave.pk)
        if wave.status != Wave.DRAFT:
            raise SurveyError(
                _("Only a draft wave can be opened; “%(wave)s” is %(status)s.")
                % {"wave": wave.name, "status": wave.get_status_display()}
            )
        snapshot = card_snapshot(wave.survey)
        problems = card_problems(snapshot, wave.survey)
        if problems:
            raise SurveyError(
                _("The cards are not ready to field: %(problems)s")
                % {"problems": " ".join(problems)}
            )
        wave.frozen_cards = snapshot
        strata_ensure(wave)
        plan_check(wave)
        if seed is None and isinstance(wave.plan, dict):
            seed = wave.plan.get("seed")
        wave.seed = checked_seed(seed) if seed is not None else secrets.randbits(63)
        wave.status = Wave.FIELDING
        wave.opened_at = timezone.now()
        try:
            wave.full_clean()
        except ValidationError as error:
            raise SurveyError(" ".join(error.messages)) from None
        wave.save()
        audit_record(user, AuditEvent.OPENED, wave, f"seed {wave.seed}")
    logger.info("Wave %s opened for fieldwork with seed %s", wave.pk, wave.seed)
    return wave


def wave_close(*, wave: Wave, user=None) -> Wave:
    """Close a wave; from then on it and its data are read-only.

    ``user`` is who closed it, for the audit log.
    """
    with transaction.atomic():
        wave = Wave.objects.select_for_update().get(pk=wave.pk)
        if wave.status == Wave.CLOSED:
            raise SurveyError(
                _("Wave “%(wave)s” is already closed.") % {"wave": wave.name}
            )
        wave.status = Wave.CLOSED
        wave.closed_at = timezone.now()
        wave.save()
        audit_record(user, AuditEvent.CLOSED, wave)
    logger.info("Wave %s closed", wave.pk)
    return wave
