"""Storing responses sent by tablets: each exactly once, whatever the network does.

Every response carries a uuid made on the tablet. A resend of the same content is a
*duplicate* and stores nothing; the same uuid with other content is a *conflict*: the
first version stays and the new one is held for an administrator. Each response is
stored whole or not at all, in its own transaction, so one bad response never stops
the rest of a batch. The slot row is locked before the uuid is looked up, so two
concurrent sends of one response queue behind each other and the second finds the
first.

On PostgreSQL the wave's row is also held in share mode: a wave cannot close while a
response is being stored in it, and responses of one wave, each on its own slot, are
stored side by side. A response for a closed wave is held after its transaction is
rolled back, so the hold is kept.
"""

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from fielding.errors import FieldingError
from fielding.interviewing import answers_clean, counts_checked, survey_questions
from fielding.models import (
    AccessToken,
    AllocationSlot,
    Assignment,
    HeldSubmission,
    Respondent,
    Response,
    count_tops,
)
from survey.errors import WaveClosedError
from survey.models import Settlement, Wave
from survey.selectors import stratum_lookup

logger = logging.getLogger(__name__)

CREATED, DUPLICATE, CONFLICT, REJECTED = "created", "duplicate", "conflict", "rejected"
# Responses stored in one transaction when a batch is all new and valid: small
# enough that a cut-off request loses little work, large enough to save the cost of
# a transaction and a dozen queries per response.
CHUNK = 25
CONTENT_FIELDS = (
    "uuid",
    "slot",
    "status",
    "count",
    "counts",
    "answers",
    "place",
    "language",
    "started_at",
    "finished_at",
)


class Rejection(Exception):
    """A response that cannot be stored, with errors by field."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__(errors)


class HeldRejection(Rejection):
    """A response refused here but kept: the caller holds it for an administrator once
    the refused transaction is rolled back, so it is never dropped."""

    kind = ""

    def __init__(self, wave: Wave, errors: dict[str, list[str]]):
        self.wave = wave
        super().__init__(errors)


class WaveClosed(HeldRejection):
    kind = HeldSubmission.WAVE_CLOSED

    def __init__(self, wave: Wave):
        super().__init__(wave, {"wave": [_("wave closed")]})


class SlotReleased(HeldRejection):
    """An interview made on a slot an administrator released (a tablet thought lost
    and found again): the interview happened, so it is kept for a decision."""

    kind = HeldSubmission.SLOT_RELEASED

    def __init__(self, wave: Wave):
        super().__init__(
            wave, {"slot": [_("This slot was released by an administrator.")]}
        )


@dataclass
class SyncResult:
    uuid: str
    result: str
    errors: dict = field(default_factory=dict)


def content_hash(item: dict) -> str:
    """A fingerprint of what the tablet said, to tell a resend from a changed answer."""
    content = {key: item.get(key) for key in CONTENT_FIELDS}
    text = json.dumps(content, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class Lookups:
    """What the responses of one batch look up again and again (places, a wave's
    strata, a survey's questions), each read once per batch. A batch is one request,
    and none of these change while a wave is in fieldwork."""

    def __init__(self):
        self.places: dict[str, Settlement | None] = {}
        self.strata: dict[int, object] = {}
        self.questions: dict[int, dict] = {}

    def place(self, code: str) -> Settlement | None:
        if code not in self.places:
            self.places[code] = Settlement.objects.filter(code=code).first()
        return self.places[code]

    def stratum_of(self, wave: Wave, place: Settlement):
        if wave.pk not in self.strata:
            self.strata[wave.pk] = stratum_lookup(wave)
        return self.strata[wave.pk](place)

    def survey_questions(self, survey) -> dict:
        if survey.pk not in self.questions:
            self.questions[survey.pk] = survey_questions(survey)
        return self.questions[survey.pk]


def responses_sync(*, token: AccessToken, items: list[dict]) -> list[SyncResult]:
    """Store a batch of already-shaped responses from ``token``'s tablet, in order.

    The batch goes in chunks of `CHUNK`. A chunk of new, valid responses (what a
    tablet sends after a day's work) is stored in one transaction with a few
    queries; any other chunk (a resend, a bad or held response, a race with another
    request) goes one response at a time, which answers each case.
    """
    lookups = Lookups()
    results = []
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        stored = chunk_store(token, chunk, lookups)
        if stored is None:
            stored = [
                response_sync(token=token, item=item, lookups=lookups) for item in chunk
            ]
        results += stored
    counts = {}
    for result in results:
        counts[result.result] = counts.get(result.result, 0) + 1
    logger.info(
        "Device %s (%s) sent %s responses: %s",
        token.pk,
        token.label,
        len(items),
        counts,
    )
    return results


def response_sync(
    *, token: AccessToken, item: dict, lookups: Lookups | None = None
) -> SyncResult:
    uuid = str(item["uuid"])
    try:
        with transaction.atomic():
            result = response_store(token, item, lookups or Lookups())
    except HeldRejection as held:
        hold(token, held.wave, item, held.kind)
        return SyncResult(uuid, REJECTED, held.errors)
    except Rejection as rejection:
        return SyncResult(uuid, REJECTED, rejection.errors)
    except IntegrityError:
        # Another request stored this uuid between our look-up and our insert.
        result = known_response(token, item)
        if result is None:
            raise
    if result == CONFLICT:
        return SyncResult(uuid, result, conflict_errors())
    return SyncResult(uuid, result)


def conflict_errors() -> dict[str, list[str]]:
    """What a tablet shows beside a conflict: the stored version stays, this one waits
    for an administrator. No field is named: the first version is kept as rows, not
    as the tablet sent it, and the administrator compares the two when deciding."""
    return {
        "uuid": [
            _(
                "Another version of this interview was stored first; this one is "
                "held for an administrator to decide."
            )
        ]
    }


def known_response(token: AccessToken, item: dict) -> str | None:
    """``duplicate`` or ``conflict`` if the uuid is already stored, else None."""
    stored = Respondent.objects.filter(client_uuid=item["uuid"]).first()
    if stored is None:
        return None
    if stored.payload_hash == content_hash(item):
        return DUPLICATE
    hold(token, stored.wave, item, HeldSubmission.CONFLICT)
    return CONFLICT


def hold(token: AccessToken, wave: Wave, item: dict, kind: str) -> None:
    """Keep a response outside the wave's data, once per distinct content."""
    payload = json.loads(json.dumps(item, default=str))
    if not HeldSubmission.objects.filter(
        uuid=item["uuid"], kind=kind, payload=payload
    ).exists():
        HeldSubmission.objects.create(
            uuid=item["uuid"], kind=kind, wave=wave, token=token, payload=payload
        )


def chunk_store(
    token: AccessToken, items: list[dict], lookups: Lookups
) -> list[SyncResult] | None:
    """Store ``items`` in one transaction if every one is new and valid; else store
    nothing and return None, for the caller to go one response at a time.

    The rows go in with ``bulk_create``,
    which skips the models' closed-wave guard: the waves' status is read again
    under their share locks just before, which the guard would have done.
    """
    uuids = [str(item["uuid"]) for item in items]
    slot_ids = [item["slot"] for item in items]
    if len(set(uuids)) < len(uuids) or not all(type(i) is int for i in slot_ids):
        return None
    try:
        with transaction.atomic():
            slots = {slot.pk: slot for slot in slots_locked(slot_ids)}
            waves_share_lock({slot.wave_id for slot in slots.values()})
            if Respondent.objects.filter(client_uuid__in=uuids).exists():
                return None
            rows = []
            for item in items:
                slot = slots.get(item["slot"])
                try:
                    rows.append(interview_rows(token, slot, item, lookups))
                except Rejection:
                    return None
            if Wave.objects.filter(
                pk__in={slot.wave_id for slot in slots.values()}, status=Wave.CLOSED
            ).exists():
                return None
            interviews_bulk_create(rows)
    except IntegrityError:
        # Another request stored one of these between our look-up and our insert.
        return None
    return [SyncResult(uuid, CREATED) for uuid in uuids]


def response_store(token: AccessToken, item: dict, lookups: Lookups) -> str:
    """Check one response against its slot and store it (inside the caller's atomic)."""
    slot = slots_locked([item["slot"]]).first()
    if slot is not None:
        waves_share_lock({slot.wave_id})
    known = known_response(token, item)
    if known is not None:
        return known
    respondent, assignment, response = interview_rows(token, slot, item, lookups)
    try:
        respondent.save()
        assignment.respondent = respondent
        assignment.save()
        response.assignment = assignment
        response.save()
        slot.save(update_fields=["status", "allocated_at", "allocated_by"])
    except WaveClosedError:
        # Closed after the check above: the rows refused to save, so hold it too.
        raise WaveClosed(slot.wave) from None
    return CREATED


def interview_rows(
    token: AccessToken, slot: AllocationSlot | None, item: dict, lookups: Lookups
) -> tuple[Respondent, Assignment, Response]:
    """Check one response against its slot and return its rows, unsaved, with the
    slot marked used; raise a `Rejection` naming the field if it cannot be stored."""
    if slot is None or slot.device_id != token.pk:
        raise Rejection({"slot": [_("This slot was not reserved by this tablet.")]})
    if slot.wave.status == Wave.CLOSED:
        raise WaveClosed(slot.wave)
    if slot.status == AllocationSlot.USED:
        raise Rejection(
            {"slot": [_("This slot is already used by another interview.")]}
        )
    if slot.status != AllocationSlot.RESERVED:
        raise SlotReleased(slot.wave)

    place = checked_place(slot, item["place"], lookups)
    counts = checked_count(slot, item)
    language = item.get("language") or ""
    if language and language not in slot.wave.survey.languages:
        raise Rejection({"language": [_("The survey has no such language.")]})
    try:
        answers = answers_clean(
            slot.wave.survey,
            item.get("answers") or {},
            questions=lookups.survey_questions(slot.wave.survey),
        )
    except FieldingError as error:
        raise Rejection({"answers": [str(error)]}) from None

    now = timezone.now()
    late_after = timedelta(days=settings.LATE_AFTER_DAYS)
    respondent = Respondent(
        wave=slot.wave,
        interviewer=token.user,
        place=place,
        stratum=slot.stratum,
        mode=Wave.TABLET,
        language=language,
        client_uuid=item["uuid"],
        payload_hash=content_hash(item),
        answers=answers,
        consented_at=item.get("registered_at") or item.get("started_at"),
        registered_at=item.get("registered_at") or item.get("started_at"),
        started_at=item.get("started_at"),
        finished_at=item.get("finished_at"),
        late=slot.reserved_at is not None and now - slot.reserved_at > late_after,
    )
    assignment = Assignment(
        respondent=respondent,
        experiment=slot.experiment,
        arm=slot.arm,
        item_order=slot.item_order,
        source=Assignment.ALLOCATION,
        slot=slot,
        card_shown_at=item.get("card_shown_at"),
    )
    status = item["status"]
    first, second = counts
    response = Response(
        assignment=assignment, status=status, count=first, second_count=second
    )
    slot.status = AllocationSlot.USED
    slot.allocated_at = respondent.registered_at or now
    slot.allocated_by = token.user
    return respondent, assignment, response


def interviews_bulk_create(rows: list[tuple[Respondent, Assignment, Response]]) -> None:
    """Insert checked rows, a table at a time, and mark their slots used."""
    respondents = Respondent.objects.bulk_create([row[0] for row in rows])
    if any(respondent.pk is None for respondent in respondents):
        # A database that cannot return the new ids: roll back, go one at a time.
        raise IntegrityError("the database did not return the new respondents' ids")
    for respondent, assignment, _response in rows:
        assignment.respondent = respondent
    assignments = Assignment.objects.bulk_create([row[1] for row in rows])
    for assignment, (_respondent, _assignment, response) in zip(assignments, rows):
        response.assignment = assignment
    Response.objects.bulk_create([row[2] for row in rows])
    slots_mark_used([assignment.slot for assignment in assignments])


def slots_mark_used(slots: list[AllocationSlot]) -> None:
    """Write the slots' new status, time and user, one prepared statement for all:
    ``bulk_update`` builds a CASE per field and row, which cost more than the
    inserts themselves."""
    meta = AllocationSlot._meta
    columns = [meta.get_field(name).column for name in ("status", "allocated_at")]
    by = meta.get_field("allocated_by").column
    sql = (
        f"UPDATE {meta.db_table} SET {columns[0]} = %s, {columns[1]} = %s, "
        f"{by} = %s WHERE {meta.pk.column} = %s"
    )
    field = meta.get_field("allocated_at")
    rows = [
        (
            slot.status,
            field.get_db_prep_save(slot.allocated_at, connection),
            slot.allocated_by_id,
            slot.pk,
        )
        for slot in slots
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def slots_locked(ids: list) -> QuerySet:
    """The slots of ``ids`` with what checking a response on them reads, locked for
    update in the order of their ids (so two requests sending the same slots queue
    rather than deadlock). Ids that are not database integers match nothing."""
    ids = [i for i in ids if type(i) is int and abs(i) < 2**63]
    return (
        AllocationSlot.objects.select_for_update(of=("self",))
        .select_related("wave__survey", "stratum", "experiment")
        .prefetch_related("experiment__lists")
        .filter(pk__in=ids)
        .order_by("pk")
    )


def waves_share_lock(wave_ids: set[int]) -> None:
    """Hold the waves' rows against closing until this transaction ends.

    Closing takes the row for update, so it waits for the responses being stored
    and they wait for it; responses of the same wave share the lock and are stored
    side by side. SQLite's transactions take the whole database, so there is
    nothing to add there.
    """
    if connection.vendor == "postgresql" and wave_ids:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM survey_wave WHERE id = ANY(%s) ORDER BY id FOR SHARE",
                [sorted(wave_ids)],
            )


def checked_place(slot: AllocationSlot, code: str, lookups: Lookups) -> Settlement:
    place = lookups.place(code)
    if place is None:
        raise Rejection(
            {"place": [_("“%(place)s” is not a known place code.") % {"place": code}]}
        )
    if lookups.stratum_of(slot.wave, place) != slot.stratum:
        raise Rejection(
            {
                "place": [
                    _("This place is outside the slot's stratum (%(s)s).")
                    % {"s": slot.stratum.name}
                ]
            }
        )
    return place


def checked_count(slot: AllocationSlot, item: dict) -> tuple[int | None, int | None]:
    """The first and second list's counts, or None when the status says there are
    none. A count out of range, a count beside a refusal, or a double list without
    both lists' counts is refused, naming ``count`` or ``counts``."""
    tops = count_tops(slot.experiment, slot.arm, slot.item_order)
    try:
        return counts_checked(
            tops=tops,
            status=item["status"],
            count=item.get("count"),
            counts=item.get("counts"),
        )
    except FieldingError as error:
        raise Rejection({error.field or "count": [str(error)]}) from None
