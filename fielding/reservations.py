"""Reserving allocation slots for a tablet that will interview offline.

A tablet must know its arms to work without a network, so it takes the next slots of a
stratum ahead of time. They are handed out in order under the stratum's row lock, as
online allocation does, and stay the device's until used or released.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fielding.allocation import slots_extend
from fielding.errors import FieldingError
from fielding.models import AccessToken, AllocationSlot
from survey.models import Settlement, Stratum, Wave
from survey.selectors import stratum_lookup

logger = logging.getLogger(__name__)


def slots_reserve(*, token: AccessToken, wave: Wave, place: str, count: int):
    """The next ``count`` slots of ``place``'s stratum, now reserved for ``token``.

    Returns the slots and whether the stratum has gone past its quota with them.
    """
    if not 1 <= count <= settings.RESERVATION_MAX:
        raise FieldingError(
            _("Reserve between 1 and %(max)s slots at a time.")
            % {"max": settings.RESERVATION_MAX}
        )
    if wave.status != Wave.FIELDING:
        raise FieldingError(
            _("Wave “%(wave)s” is not in fieldwork.") % {"wave": wave.name}
        )
    settlement = Settlement.objects.filter(code=place).first()
    if settlement is None:
        raise FieldingError(
            _("“%(place)s” is not a known place code.") % {"place": place}
        )
    stratum = stratum_lookup(wave)(settlement)
    if stratum is None:
        raise FieldingError(_("This place is in none of the wave's strata."))
    experiment = wave.survey.experiments.order_by("position", "id").first()
    if experiment is None:
        raise FieldingError(_("The wave's survey has no list experiment."))

    with transaction.atomic():
        stratum = Stratum.objects.select_for_update().get(pk=stratum.pk)
        mine = AllocationSlot.objects.filter(
            wave=wave, experiment=experiment, stratum=stratum
        )
        made = mine.count()
        free = mine.filter(status=AllocationSlot.AVAILABLE).count()
        if free < count:
            slots_extend(wave, experiment, stratum, made + count - free)
        slots = list(
            mine.filter(status=AllocationSlot.AVAILABLE).order_by("position")[:count]
        )
        now = timezone.now()
        for slot in slots:
            slot.status = AllocationSlot.RESERVED
            slot.device = token
            slot.device_label = token.label
            slot.reserved_at = now
        AllocationSlot.objects.bulk_update(
            slots, ["status", "device", "device_label", "reserved_at"]
        )
        taken = mine.exclude(status=AllocationSlot.AVAILABLE).count()

    over_quota = stratum.quota is not None and taken > stratum.quota
    logger.info(
        "Device %s reserved %s slots of stratum %s in wave %s%s",
        token.pk,
        len(slots),
        stratum.code,
        wave.pk,
        " (past the quota)" if over_quota else "",
    )
    return slots, over_quota
