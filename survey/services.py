"""State changes of waves: opening (which freezes the cards) and closing."""

import logging
import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from survey.errors import SurveyError
from survey.models import Survey, Wave

logger = logging.getLogger(__name__)


def card_snapshot(survey: Survey) -> dict:
    """Every list experiment's items and texts, with their versions, as plain data."""
    snapshot = {}
    for experiment in survey.experiments.prefetch_related(
        "lists", "items", "texts__item"
    ):
        texts: dict[str, dict] = {}
        for text in experiment.texts.all():
            entry = {"text": text.text, "version": text.version}
            by_language = texts.setdefault(
                text.language, {"instructions": None, "items": {}}
            )
            if text.item_id is None:
                by_language["instructions"] = entry
            else:
                by_language["items"][text.item.code] = entry
        snapshot[experiment.code] = {
            "name": experiment.name,
            "design": experiment.design,
            "arms": experiment.arms(),
            "lists": {
                item_list.code: [
                    item.code for item in experiment.control_items(item_list.code)
                ]
                for item_list in experiment.lists.all()
            },
            "sensitive": [item.code for item in experiment.sensitive_items()],
            "texts": texts,
        }
    return snapshot


def wave_open(*, wave: Wave, seed: int | None = None) -> Wave:
    """Move a draft wave to fielding: freeze its cards and record its seed."""
    with transaction.atomic():
        wave = Wave.objects.select_for_update().get(pk=wave.pk)
        if wave.status != Wave.DRAFT:
            raise SurveyError(
                _("Only a draft wave can be opened; “%(wave)s” is %(status)s.")
                % {"wave": wave.name, "status": wave.get_status_display()}
            )
        wave.frozen_cards = card_snapshot(wave.survey)
        wave.seed = seed if seed is not None else secrets.randbits(63)
        wave.status = Wave.FIELDING
        wave.opened_at = timezone.now()
        wave.full_clean()
        wave.save()
    logger.info("Wave %s opened for fieldwork with seed %s", wave.pk, wave.seed)
    return wave


def wave_close(*, wave: Wave) -> Wave:
    """Close a wave; from then on it and its data are read-only."""
    with transaction.atomic():
        wave = Wave.objects.select_for_update().get(pk=wave.pk)
        if wave.status == Wave.CLOSED:
            raise SurveyError(
                _("Wave “%(wave)s” is already closed.") % {"wave": wave.name}
            )
        wave.status = Wave.CLOSED
        wave.closed_at = timezone.now()
        wave.save()
    logger.info("Wave %s closed", wave.pk)
    return wave
