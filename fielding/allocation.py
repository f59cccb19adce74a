"""Handing out allocation slots: registration first, then the next slot, never twice.

The order of events is the design's concealment: a respondent is registered (with
consent) before any slot is touched, and the arm is read from the slot only inside the
transaction that gives the slot away. The next slot of a stratum is taken under a lock
on the stratum's row (PostgreSQL) or inside an immediate transaction (SQLite, where one
writer at a time holds the database); the unique position constraint would stop a
double hand-out even if both failed. A respondent who already has an assignment gets
it back: nobody can re-draw.
"""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fielding.errors import FieldingError
from fielding.models import AllocationSlot, Assignment, Respondent
from fielding.sequences import (
    Plan,
    PlanError,
    allocation_sequence,
    item_orders,
    table_rows,
)
from survey.cards import default_order, list_codes, wave_snapshot
from survey.models import ListExperiment, Stratum, Wave
from survey.selectors import stratum_lookup

logger = logging.getLogger(__name__)

SLOT_BATCH = 200
DEFAULT_PLAN = {"kind": "blocked", "ratio": [1, 1], "block_sizes": [4, 6]}


def wave_plan(wave: Wave, experiment: ListExperiment, stratum: Stratum) -> Plan:
    """The wave's plan for one experiment and stratum, as the engine takes it."""
    try:
        return plan_of(wave, experiment, stratum)
    except (TypeError, ValueError, KeyError) as error:
        raise FieldingError(
            _("The wave's randomization plan cannot be used: %(why)s")
            % {
                "why": error
                if isinstance(error, PlanError)
                else _(
                    "it is not shaped "
                    'like {"kind": "blocked", "ratio": [1, 1], "block_sizes": [4, 6]}.'
                )
            }
        ) from None


def plan_of(wave: Wave, experiment: ListExperiment, stratum: Stratum) -> Plan:
    if not isinstance(wave.plan or {}, dict):
        raise TypeError("plan")
    given = wave.plan or {}
    spec = {**DEFAULT_PLAN, **given}
    arms = tuple(spec.get("arms") or experiment.arms())
    # Without a ratio every arm has an equal share and blocks hold two or three rounds
    # of it (4 or 6 slots for two arms), so several sensitive items need no plan.
    ratio = tuple(given.get("ratio") or [1] * len(arms))
    sizes = given.get("block_sizes") or (2 * sum(ratio), 3 * sum(ratio))
    kind = spec["kind"]
    return Plan(
        kind=kind,
        arms=arms,
        ratio=ratio,
        p=spec.get("p") if kind == "simple" else None,
        block_sizes=tuple(sizes) if kind == "blocked" else (),
        chunk=(stratum.quota or spec.get("chunk") or 100)
        if kind == "complete"
        else None,
    )


def stream_key(experiment: ListExperiment, stratum: Stratum) -> str:
    """The stratum's code; a survey's later experiments add their own code to it."""
    first = experiment.survey.experiments.order_by("position", "id").first()
    if first is None or first.pk == experiment.pk:
        return stratum.code
    return f"{stratum.code}/{experiment.code}"


def slots_extend(
    wave: Wave, experiment: ListExperiment, stratum: Stratum, upto: int
) -> None:
    """Make the stratum's slots up to position ``upto`` (the caller holds the lock)."""
    have = AllocationSlot.objects.filter(
        wave=wave, experiment=experiment, stratum=stratum
    )
    made = have.count()
    if made >= upto:
        return

    key = stream_key(experiment, stratum)
    plan = wave_plan(wave, experiment, stratum)
    snapshot = wave_snapshot(wave)[experiment.code]
    sequence = allocation_sequence(wave.seed, key, plan, upto)
    shuffle = bool((wave.plan or {}).get("shuffle_items"))
    orders = slot_item_orders(
        snapshot,
        [slot.arm for slot in sequence],
        seed=wave.seed if shuffle else None,
        key=key,
    )
    AllocationSlot.objects.bulk_create(
        AllocationSlot(
            wave=wave,
            experiment=experiment,
            stratum=stratum,
            position=slot.position,
            block=slot.block,
            arm=slot.arm,
            item_order=order,
        )
        for slot, order in zip(sequence[made:], orders[made:])
    )


def slot_item_orders(
    snapshot: dict, arms: list[str], *, seed: int | None = None, key: str = ""
) -> list[dict[str, list[str]]]:
    """Each slot's item order on every list of the card, shuffled when a seed is given.

    A double list's slot holds the order of both lists. The shuffle takes each slot's
    lists one after the other from the stratum's item stream, so a single list's
    orders are the ones it has always had and every slot stays prefix-stable.
    """
    lists = list_codes(snapshot)
    flat = [default_order(snapshot, arm, code) for arm in arms for code in lists]
    if seed is not None:
        flat = item_orders(seed, f"{key}#items", flat)
    width = len(lists)
    return [
        dict(zip(lists, flat[at : at + width])) for at in range(0, len(flat), width)
    ]


def next_slot(
    wave: Wave, experiment: ListExperiment, stratum: Stratum
) -> AllocationSlot:
    available = AllocationSlot.objects.filter(
        wave=wave,
        experiment=experiment,
        stratum=stratum,
        status=AllocationSlot.AVAILABLE,
    ).order_by("position")
    slot = available.first()
    if slot is None:
        made = AllocationSlot.objects.filter(
            wave=wave, experiment=experiment, stratum=stratum
        ).count()
        slots_extend(wave, experiment, stratum, made + SLOT_BATCH)
        slot = available.first()
    return slot


def respondent_register(
    *,
    wave: Wave,
    consented: bool,
    interviewer=None,
    place=None,
    stratum: Stratum | None = None,
    language: str = "",
    mode: str = Wave.TABLET,
    external_id: str | None = None,
) -> Respondent:
    """Register a respondent who has consented; without consent nothing is stored."""
    if not consented:
        raise FieldingError(_("No consent, no interview: nothing was recorded."))
    if wave.status != Wave.FIELDING:
        raise FieldingError(
            _("Wave “%(wave)s” is not in fieldwork.") % {"wave": wave.name}
        )
    if stratum is None:
        stratum = stratum_lookup(wave)(place) if place is not None else None
    if stratum is None:
        stratum = wave.strata.filter(is_rest=True).first()
    if stratum is None:
        raise FieldingError(_("This place is in none of the wave's strata."))

    now = timezone.now()
    respondent = Respondent(
        wave=wave,
        interviewer=interviewer,
        place=place,
        stratum=stratum,
        language=language,
        mode=mode,
        external_id=external_id or None,
        consented_at=now,
        registered_at=now,
        started_at=now,
    )
    try:
        with transaction.atomic():
            respondent.save()
    except IntegrityError:
        raise FieldingError(
            _("Respondent id “%(id)s” is already used in this wave.")
            % {"id": external_id}
        ) from None
    return respondent


def slot_allocate(
    *,
    respondent: Respondent,
    experiment: ListExperiment | None = None,
    user=None,
    device_label: str = "",
) -> Assignment:
    """Give a registered respondent the next slot of their stratum, once."""
    if respondent.consented_at is None:
        raise FieldingError(_("No consent, no slot."))
    wave = respondent.wave
    experiment = (
        experiment or wave.survey.experiments.order_by("position", "id").first()
    )

    with transaction.atomic():
        stratum = Stratum.objects.select_for_update().get(pk=respondent.stratum_id)
        existing = Assignment.objects.filter(
            respondent=respondent, experiment=experiment
        )
        if existing.exists():
            return existing.get()
        wave = Wave.objects.get(pk=wave.pk)
        if wave.status != Wave.FIELDING:
            raise FieldingError(
                _("Wave “%(wave)s” is not in fieldwork.") % {"wave": wave.name}
            )

        slot = next_slot(wave, experiment, stratum)
        slot.status = AllocationSlot.USED
        slot.allocated_at = timezone.now()
        slot.allocated_by = user
        slot.device_label = device_label
        slot.save(
            update_fields=["status", "allocated_at", "allocated_by", "device_label"]
        )
        assignment = Assignment.objects.create(
            respondent=respondent,
            experiment=experiment,
            arm=slot.arm,
            item_order=slot.item_order,
            source=Assignment.ALLOCATION,
            slot=slot,
        )

    logger.info(
        "Allocated slot %s/%s of wave %s to respondent %s (interviewer %s)",
        stratum.code,
        slot.position,
        wave.pk,
        respondent.pk,
        user.get_username() if user else "-",
    )
    return assignment


def wave_allocation_table(wave: Wave, n: int | None = None) -> list[dict]:
    """The wave's filed sequence per stratum and experiment, for audit.

    Each stratum's table runs to ``n`` slots, or by default to the larger of its quota
    and the slots already made, so the download covers everything handed out.
    """
    if wave.seed is None:
        raise FieldingError(_("The wave has no seed yet: open it first."))
    rows = []
    for experiment in wave.survey.experiments.order_by("position", "id"):
        for stratum in wave.strata.all():
            made = AllocationSlot.objects.filter(
                wave=wave, experiment=experiment, stratum=stratum
            ).count()
            length = n or max(stratum.quota or 0, made, 1)
            plan = wave_plan(wave, experiment, stratum)
            key = stream_key(experiment, stratum)
            sequence = allocation_sequence(wave.seed, key, plan, length)
            rows.extend(table_rows((key, slot) for slot in sequence))
    return rows
