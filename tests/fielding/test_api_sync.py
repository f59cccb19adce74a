"""POST /api/v1/responses/: each response stored exactly once, whatever the network does."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection
from django.utils import timezone

from fielding import sync
from fielding.allocation import slots_extend
from fielding.models import (
    AllocationSlot,
    Assignment,
    HeldSubmission,
    Respondent,
    Response,
)
from fielding.tokens import slots_release
from survey.models import Wave
from survey.services import wave_close
from tests.fielding.tablets import (
    RESPONSES_URL,
    demo_interviewer,
    response_for,
    tablet_for,
    token_client,
)


@pytest.fixture
def tablet(demo_wave):
    return tablet_for(demo_interviewer())


@pytest.fixture
def slots(tablet, demo_wave):
    """Four reserved slots in Almaty and two in the rest stratum."""
    return tablet.slots(demo_wave, count=4) + tablet.slots(
        demo_wave, place="aktobe", count=2
    )


def synced(*items) -> list[Respondent]:
    uuids = [item["uuid"] for item in items]
    return list(Respondent.objects.filter(client_uuid__in=uuids))


def stored_rows() -> tuple[int, int, int]:
    """Respondents, assignments and responses sent by tablets."""
    return (
        Respondent.objects.filter(client_uuid__isnull=False).count(),
        Assignment.objects.filter(respondent__client_uuid__isnull=False).count(),
        Response.objects.filter(
            assignment__respondent__client_uuid__isnull=False
        ).count(),
    )


def only(results: list[dict]) -> dict:
    (result,) = results
    return result


# Storing a response


def test_a_response_is_created_with_its_slot_arm_and_count(tablet, slots):
    item = response_for(slots[0], count=3)

    result = only(tablet.sync(item))

    (respondent,) = synced(item)
    assignment = respondent.assignments.get()
    assert result == {
        "index": 0,
        "uuid": item["uuid"],
        "result": "created",
        "errors": {},
    }
    assert (assignment.slot, assignment.arm) == (slots[0], slots[0].arm)
    assert assignment.item_order == slots[0].item_order
    assert assignment.response.status == "complete"
    assert assignment.response.count == 3
    assert respondent.interviewer == demo_interviewer()
    assert respondent.place.code == "almaty" and respondent.stratum.code == "almaty"
    assert respondent.answers == {"gender": "2", "age": 34}
    assert respondent.language == "ru" and respondent.mode == "tablet"
    assert respondent.late is False


def test_the_slot_is_marked_used_by_the_interviewer(tablet, slots):
    tablet.sync(response_for(slots[0], started_at="2024-05-02T10:00:00Z"))

    slot = AllocationSlot.objects.get(pk=slots[0].pk)
    assert slot.status == AllocationSlot.USED
    assert slot.allocated_by == demo_interviewer()
    assert slot.allocated_at.isoformat() == "2024-05-02T10:00:00+00:00"


def test_the_server_records_when_it_received_the_response(tablet, slots):
    before = timezone.now()
    item = response_for(slots[0])

    tablet.sync(item)

    (respondent,) = synced(item)
    assert before <= respondent.received_at <= timezone.now()
    assert respondent.finished_at.isoformat() == "2024-05-02T10:12:00+00:00"


def test_the_card_shown_time_is_kept_for_the_concealment_audit(tablet, slots):
    item = response_for(slots[0], card_shown_at="2024-05-02T10:03:30Z")

    tablet.sync(item)

    assignment = synced(item)[0].assignments.get()
    assert assignment.card_shown_at.isoformat() == "2024-05-02T10:03:30+00:00"


@pytest.mark.parametrize("status", ["refused", "dont_know", "broken_off"])
def test_a_response_without_a_count_is_created_with_its_status(tablet, slots, status):
    item = response_for(slots[0], status=status, count=None)

    result = only(tablet.sync(item))

    response = synced(item)[0].assignments.get().response
    assert result["result"] == "created"
    assert (response.status, response.count) == (status, None)


def test_a_refusal_may_leave_the_count_out_altogether(tablet, slots):
    item = response_for(slots[0], status="refused")
    del item["count"]

    assert only(tablet.sync(item))["result"] == "created"


def test_a_response_without_answers_or_language_is_created(tablet, slots):
    item = response_for(slots[0])
    del item["answers"], item["language"]

    result = only(tablet.sync(item))

    respondent = synced(item)[0]
    assert result["result"] == "created"
    assert (respondent.answers, respondent.language) == ({}, "")


def test_a_tablet_whose_interviewer_lost_the_role_may_still_send_its_interviews(
    tablet, slots
):
    tablet.token.user.groups.clear()

    assert only(tablet.sync(response_for(slots[0])))["result"] == "created"


def test_a_slot_reserved_long_ago_is_stored_and_flagged_late(tablet, slots, settings):
    settings.LATE_AFTER_DAYS = 14
    AllocationSlot.objects.filter(pk=slots[0].pk).update(
        reserved_at=timezone.now() - timedelta(days=15)
    )
    AllocationSlot.objects.filter(pk=slots[1].pk).update(
        reserved_at=timezone.now() - timedelta(days=13)
    )
    late, on_time = response_for(slots[0]), response_for(slots[1])

    results = tablet.sync(late, on_time)

    assert [r["result"] for r in results] == ["created", "created"]
    assert synced(late)[0].late is True
    assert synced(on_time)[0].late is False


# Exactly once


def test_resending_the_same_response_twice_is_a_duplicate_and_stores_nothing(
    tablet, slots
):
    item = response_for(slots[0])
    tablet.sync(item)
    after_first = stored_rows()

    second = only(tablet.sync(item))
    third = only(tablet.sync(item))

    assert second["result"] == third["result"] == "duplicate"
    assert second["errors"] == {}
    assert stored_rows() == after_first == (1, 1, 1)
    assert not HeldSubmission.objects.exists()


def test_a_resend_with_the_times_written_differently_is_still_a_duplicate(
    tablet, slots
):
    item = response_for(slots[0], started_at="2024-05-02T10:00:00Z")
    tablet.sync(item)

    again = {**item, "started_at": "2024-05-02T15:00:00+05:00"}

    assert only(tablet.sync(again))["result"] == "duplicate"


def test_the_same_uuid_with_another_count_is_a_conflict_and_the_first_stays(
    tablet, slots
):
    item = response_for(slots[0], count=1)
    tablet.sync(item)

    result = only(tablet.sync({**item, "count": 4}))

    (respondent,) = synced(item)
    held = HeldSubmission.objects.get()
    assert result["result"] == "conflict"
    assert "administrator" in result["errors"]["uuid"][0]
    assert respondent.assignments.get().response.count == 1
    assert (held.kind, str(held.uuid), held.payload["count"]) == (
        "conflict",
        item["uuid"],
        4,
    )
    assert held.wave == respondent.wave and held.token == tablet.token
    assert held.resolution == HeldSubmission.OPEN
    assert stored_rows() == (1, 1, 1)


def test_a_conflict_sent_twice_is_held_once(tablet, slots):
    item = response_for(slots[0], count=1)
    tablet.sync(item)
    changed = {**item, "count": 4}

    first = only(tablet.sync(changed))
    second = only(tablet.sync(changed))

    assert first["result"] == second["result"] == "conflict"
    assert HeldSubmission.objects.count() == 1


def test_each_distinct_conflicting_version_is_held(tablet, slots):
    item = response_for(slots[0], count=1)
    tablet.sync(item)

    tablet.sync({**item, "count": 4})
    tablet.sync({**item, "status": "refused", "count": None})

    assert HeldSubmission.objects.filter(kind="conflict").count() == 2


# Rejections


def test_a_response_without_a_uuid_is_rejected_with_an_error_on_uuid(tablet, slots):
    item = response_for(slots[0])
    del item["uuid"]

    result = only(tablet.sync(item))

    assert result["result"] == "rejected"
    assert result["uuid"] is None
    assert result["errors"]["uuid"] == ["This field is required."]
    assert stored_rows() == (0, 0, 0)


def test_a_uuid_that_is_not_a_uuid_is_rejected(tablet, slots):
    result = only(tablet.sync(response_for(slots[0], uuid="not-a-uuid")))

    assert result["result"] == "rejected"
    assert result["uuid"] == "not-a-uuid"
    assert "uuid" in result["errors"]


def test_a_slot_of_another_tablet_is_rejected(tablet, slots, demo_wave):
    other = tablet_for(demo_interviewer(), label="tablet 2")
    theirs = other.slots(demo_wave)[0]

    result = only(tablet.sync(response_for(theirs)))

    assert result["result"] == "rejected"
    assert result["errors"]["slot"] == ["This slot was not reserved by this tablet."]
    assert AllocationSlot.objects.get(pk=theirs.pk).status == AllocationSlot.RESERVED


def test_a_slot_never_reserved_or_unknown_is_rejected(tablet, slots, demo_wave):
    stratum = slots[0].stratum
    slots_extend(demo_wave, slots[0].experiment, stratum, upto=10)
    free = AllocationSlot.objects.filter(
        stratum=stratum, status=AllocationSlot.AVAILABLE
    ).first()

    results = tablet.sync(
        response_for(slots[0], slot=free.pk), response_for(slots[0], slot=10**9)
    )

    assert [r["result"] for r in results] == ["rejected", "rejected"]
    assert all("slot" in r["errors"] for r in results)
    assert stored_rows() == (0, 0, 0)


def test_a_slot_already_used_by_another_response_is_rejected(tablet, slots):
    tablet.sync(response_for(slots[0]))

    result = only(tablet.sync(response_for(slots[0])))

    assert result["result"] == "rejected"
    assert result["errors"]["slot"] == [
        "This slot is already used by another interview."
    ]
    assert stored_rows() == (1, 1, 1)


def test_a_released_slot_is_rejected_but_its_interview_is_kept(tablet, slots):
    slots_release(token=tablet.token)
    item = response_for(slots[0])

    result = only(tablet.sync(item))
    again = only(tablet.sync(item))

    assert result["result"] == again["result"] == "rejected"
    assert "released" in result["errors"]["slot"][0]
    assert AllocationSlot.objects.get(pk=slots[0].pk).status == AllocationSlot.SKIPPED
    held = HeldSubmission.objects.get()
    assert held.kind == HeldSubmission.SLOT_RELEASED and str(held.uuid) == item["uuid"]


def test_a_place_outside_the_slots_stratum_is_rejected(tablet, slots):
    result = only(tablet.sync(response_for(slots[0], place="astana")))

    assert result["result"] == "rejected"
    assert "outside the slot's stratum" in result["errors"]["place"][0]
    assert stored_rows() == (0, 0, 0)


def test_an_unknown_place_is_rejected(tablet, slots):
    result = only(tablet.sync(response_for(slots[0], place="atlantis")))

    assert result["errors"]["place"] == ["“atlantis” is not a known place code."]


def test_a_count_past_the_cards_items_is_rejected(tablet, slots):
    control = next(s for s in slots if s.arm == "control")
    treatment = next(s for s in slots if s.arm == "treatment")

    results = tablet.sync(
        response_for(control, count=5),
        response_for(treatment, count=6),
        response_for(control, count=4),
        response_for(treatment, count=5),
    )

    assert [r["result"] for r in results] == [
        "rejected",
        "rejected",
        "created",
        "created",
    ]
    assert results[0]["errors"]["count"] == [
        "The count must be a whole number from 0 to 4."
    ]
    assert "from 0 to 5" in results[1]["errors"]["count"][0]


@pytest.mark.parametrize("count", [-1, 101, 2.5, "two", True])
def test_a_count_that_is_not_a_whole_number_in_range_is_rejected(tablet, slots, count):
    result = only(tablet.sync(response_for(slots[0], count=count)))

    assert result["result"] == "rejected"
    assert "count" in result["errors"]


def test_a_complete_response_without_a_count_is_rejected(tablet, slots):
    result = only(tablet.sync(response_for(slots[0], count=None)))

    assert result["result"] == "rejected"
    assert "count" in result["errors"]


def test_a_count_beside_a_refusal_is_rejected(tablet, slots):
    result = only(tablet.sync(response_for(slots[0], status="refused", count=2)))

    assert result["result"] == "rejected"
    assert result["errors"]["count"] == ["Only a complete response has a count."]
    assert stored_rows() == (0, 0, 0)


def test_counts_of_a_double_list_are_rejected_for_a_single_list(tablet, slots):
    result = only(tablet.sync(response_for(slots[0], counts={"A": 1, "B": 2})))

    assert result["result"] == "rejected"
    assert "counts" in result["errors"]


def test_an_unknown_status_is_rejected(tablet, slots):
    result = only(tablet.sync(response_for(slots[0], status="maybe")))

    assert result["result"] == "rejected"
    assert "status" in result["errors"]


def test_a_language_the_survey_lacks_is_rejected(tablet, slots):
    result = only(tablet.sync(response_for(slots[0], language="de")))

    assert result["errors"]["language"] == ["The survey has no such language."]


@pytest.mark.parametrize(
    "answers",
    [
        {"shoe_size": "42"},
        {"gender": "3"},
        {"age": 7},
        {"age": "old"},
        {"gender": ["1"]},
    ],
)
def test_answers_with_an_unknown_question_or_code_are_rejected(tablet, slots, answers):
    result = only(tablet.sync(response_for(slots[0], answers=answers)))

    assert result["result"] == "rejected"
    assert "answers" in result["errors"]
    assert stored_rows() == (0, 0, 0)


@pytest.mark.parametrize(
    "changes",
    [
        {"answers": {"gender\x00": "1"}},
        {"answers": {"gender": ["\x00"]}},
        {"counts": {"A\x00": 1}},
        {"place": "alm\x00aty"},
    ],
)
def test_a_null_character_anywhere_is_rejected_even_in_a_conflict(
    tablet, slots, changes
):
    # PostgreSQL cannot keep U+0000 in JSON, so a held copy would fail the request.
    item = response_for(slots[0])
    tablet.sync(item)

    result = only(tablet.sync({**item, **changes}))

    (field,) = changes
    assert result["result"] == "rejected"
    assert result["errors"][field] == ["Null characters are not allowed."]
    assert not HeldSubmission.objects.exists()


def test_answers_that_are_not_a_mapping_are_rejected(tablet, slots):
    result = only(tablet.sync(response_for(slots[0], answers=["1", "2"])))

    assert result["result"] == "rejected"
    assert "answers" in result["errors"]


def future(**delta) -> str:
    return (timezone.now() + timedelta(**delta)).isoformat()


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        pytest.param(
            {"registered_at": "2020-01-01"}, "registered_at", "time zone", id="a-date"
        ),
        pytest.param(
            {"started_at": "2024-05-02T10:00:00"},
            "started_at",
            "time zone",
            id="no-zone",
        ),
        pytest.param(
            {"finished_at": "1999-01-01T00:00:00Z"},
            "finished_at",
            "before the interview started",
            id="end-before-start",
        ),
        pytest.param(
            {"registered_at": "2024-05-02T10:30:00Z"},
            "started_at",
            "before the respondent was registered",
            id="start-before-registration",
        ),
        pytest.param(
            {
                "registered_at": "2024-05-02T10:30:00Z",
                "started_at": None,
                "finished_at": "2024-05-02T10:20:00Z",
            },
            "finished_at",
            "before the respondent was registered",
            id="no-start-end-before-registration",
        ),
        pytest.param(
            {"card_shown_at": future(days=2)},
            "card_shown_at",
            "more than a day in the future",
            id="card-in-the-future",
        ),
        pytest.param(
            {"finished_at": future(days=400)},
            "finished_at",
            "more than a day in the future",
            id="end-next-year",
        ),
    ],
)
def test_an_impossible_time_is_rejected_naming_it_and_the_batch_goes_on(
    tablet, slots, changes, field, says
):
    bad = response_for(slots[0], **changes)
    good = response_for(slots[1])

    first, second = tablet.sync(bad, good)

    assert first["result"] == "rejected"
    assert list(first["errors"]) == [field]
    assert says in first["errors"][field][0]
    assert second["result"] == "created"
    assert synced(bad) == [] and len(synced(good)) == 1


def test_a_date_without_a_zone_and_an_end_last_century_are_refused(tablet, slots):
    item = response_for(
        slots[0], registered_at="2020-01-01", finished_at="1999-01-01T00:00:00Z"
    )

    result = only(tablet.sync(item))

    assert result["result"] == "rejected"
    assert "registered_at" in result["errors"]
    assert stored_rows() == (0, 0, 0)


def test_times_in_any_zone_in_order_and_a_tablet_clock_a_little_ahead_are_stored(
    tablet, slots
):
    item = response_for(
        slots[0],
        registered_at="2024-05-02T16:00:00+06:00",
        started_at="2024-05-02T10:00:00Z",
        finished_at=future(hours=20),
    )

    result = only(tablet.sync(item))

    assert result["result"] == "created", result["errors"]
    (respondent,) = synced(item)
    assert respondent.registered_at == respondent.started_at


def test_a_resend_of_an_impossible_time_is_rejected_again_not_stored(tablet, slots):
    item = response_for(slots[0], finished_at="1999-01-01T00:00:00Z")

    results = tablet.sync(item) + tablet.sync(item)

    assert [r["result"] for r in results] == ["rejected", "rejected"]
    assert stored_rows() == (0, 0, 0)


def test_a_response_for_a_wave_closed_meanwhile_is_rejected_and_held(
    tablet, slots, demo_wave
):
    item = response_for(slots[0])
    wave_close(wave=demo_wave)

    result = only(tablet.sync(item))

    held = HeldSubmission.objects.get()
    assert result["result"] == "rejected"
    assert result["errors"] == {"wave": ["wave closed"]}
    assert (held.kind, str(held.uuid), held.wave) == (
        HeldSubmission.WAVE_CLOSED,
        item["uuid"],
        demo_wave,
    )
    assert held.payload["count"] == item["count"]
    assert held.token == tablet.token
    assert stored_rows() == (0, 0, 0)


def test_a_wave_closed_between_the_checks_and_the_writes_still_holds_it(
    tablet, slots, demo_wave, monkeypatch
):
    checked = sync.checked_count

    def close_then_check(slot, item):
        Wave.objects.filter(pk=demo_wave.pk).update(status=Wave.CLOSED)
        return checked(slot, item)

    monkeypatch.setattr(sync, "checked_count", close_then_check)
    item = response_for(slots[0])

    result = only(tablet.sync(item))

    assert result["errors"] == {"wave": ["wave closed"]}
    assert HeldSubmission.objects.get().kind == HeldSubmission.WAVE_CLOSED
    assert stored_rows() == (0, 0, 0)


def test_a_response_for_a_closed_wave_sent_twice_is_held_once(tablet, slots, demo_wave):
    item = response_for(slots[0])
    wave_close(wave=demo_wave)

    first = only(tablet.sync(item))
    second = only(tablet.sync(item))

    assert first["result"] == second["result"] == "rejected"
    assert HeldSubmission.objects.filter(kind="wave_closed").count() == 1


def test_a_response_stored_before_its_wave_closed_is_a_duplicate_after(
    tablet, slots, demo_wave
):
    item = response_for(slots[0])
    tablet.sync(item)
    wave_close(wave=demo_wave)

    assert only(tablet.sync(item))["result"] == "duplicate"
    assert not HeldSubmission.objects.exists()


# Batches


def test_results_come_back_in_request_order_with_their_index(tablet, slots):
    items = [
        response_for(slots[0]),
        response_for(slots[1], place="astana"),
        "not an object",
        response_for(slots[2]),
    ]

    results = tablet.sync(*items)

    assert [r["index"] for r in results] == [0, 1, 2, 3]
    assert [r["uuid"] for r in results] == [
        items[0]["uuid"],
        items[1]["uuid"],
        None,
        items[3]["uuid"],
    ]
    assert [r["result"] for r in results] == [
        "created",
        "rejected",
        "rejected",
        "created",
    ]


def test_a_mixed_batch_stores_exactly_the_good_responses(tablet, slots):
    good = [response_for(slots[0]), response_for(slots[4]), response_for(slots[2])]
    bad = [
        response_for(slots[1], place="astana"),
        response_for(slots[3], count=9),
        response_for(slots[5], answers={"gender": "9"}),
    ]

    results = tablet.sync(good[0], bad[0], good[1], bad[1], good[2], bad[2])

    assert [r["result"] for r in results] == ["created", "rejected"] * 3
    assert {str(r.client_uuid) for r in synced(*good, *bad)} == {
        item["uuid"] for item in good
    }
    assert stored_rows() == (3, 3, 3)
    statuses = dict(
        AllocationSlot.objects.filter(device=tablet.token).values_list("pk", "status")
    )
    assert [statuses[s.pk] for s in slots] == [
        "used",
        "reserved",
        "used",
        "reserved",
        "used",
        "reserved",
    ]


def test_a_response_failing_a_late_check_leaves_no_respondent_behind(tablet, slots):
    # The answers are checked last, after the place and the count.
    item = response_for(slots[0], answers={"age": 250})

    result = only(tablet.sync(item))

    assert result["result"] == "rejected"
    assert stored_rows() == (0, 0, 0)
    assert not Respondent.objects.filter(interviewer=demo_interviewer()).exists()
    assert AllocationSlot.objects.get(pk=slots[0].pk).status == AllocationSlot.RESERVED


def test_a_failure_while_writing_leaves_no_respondent_without_its_response(
    tablet, slots, monkeypatch
):
    def refuse(*args, **kwargs):
        raise sync.Rejection({"count": ["Refused while writing."]})

    def race(*args, **kwargs):
        raise IntegrityError("stored meanwhile by another request")

    # The chunk's respondents are in when its responses fail; then the response
    # alone fails after its respondent was saved.
    monkeypatch.setattr(Response.objects, "bulk_create", race)
    monkeypatch.setattr(Response, "save", refuse)
    item = response_for(slots[0])

    result = only(tablet.sync(item))

    assert result["errors"] == {"count": ["Refused while writing."]}
    assert stored_rows() == (0, 0, 0)
    assert not Respondent.objects.filter(client_uuid=item["uuid"]).exists()
    assert AllocationSlot.objects.get(pk=slots[0].pk).status == AllocationSlot.RESERVED


def test_one_uuid_twice_in_a_batch_is_created_then_a_duplicate(tablet, slots):
    item = response_for(slots[0])

    results = tablet.sync(item, item)

    assert [r["result"] for r in results] == ["created", "duplicate"]
    assert stored_rows() == (1, 1, 1)


def test_a_batch_larger_than_the_maximum_is_refused(tablet, slots, settings):
    settings.SYNC_BATCH_MAX = 3
    items = [response_for(slot) for slot in slots[:4]]

    reply = tablet.send(*items)

    assert reply.status_code == 400
    assert reply.json()["responses"] == ["Send at most 3 responses in one request."]
    assert stored_rows() == (0, 0, 0)


def post_raw(tablet, body: str):
    return tablet.client.post(RESPONSES_URL, body, content_type="application/json")


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "",
        "[]",
        "[1, 2]",
        '"responses"',
        "null",
        "{}",
        '{"responses": "all of them"}',
        '{"responses": {"0": {}}}',
        '{"responses": []}',
        '{"responses": null}',
        '{"responses": [null]}',
    ],
)
def test_a_malformed_request_is_a_400_naming_the_problem(tablet, body):
    reply = post_raw(tablet, body)

    assert reply.status_code == 400
    assert reply.json()
    assert stored_rows() == (0, 0, 0)


def test_a_batch_refused_for_a_null_names_every_item_that_is_not_an_object(tablet):
    reply = post_raw(tablet, '{"responses": [1, "a", null, {"uuid": "x"}, []]}')

    assert reply.status_code == 400
    assert reply.json() == {
        "responses": {
            str(index): ["Each response is a JSON object."] for index in (0, 1, 2, 4)
        }
    }
    assert stored_rows() == (0, 0, 0)


@pytest.mark.parametrize("item", ["a string", 7, 2.5, True, [], [{}], {}])
def test_an_item_that_is_not_a_response_is_rejected_alone(tablet, slots, item):
    good = response_for(slots[0])

    results = tablet.sync(item, good)

    assert results[0]["result"] == "rejected"
    assert results[0]["errors"]
    assert results[1]["result"] == "created"


def test_a_body_in_another_format_is_refused(tablet):
    reply = tablet.client.post(RESPONSES_URL, "responses=1", content_type="text/plain")

    assert reply.status_code == 415


def test_a_response_with_odd_fields_never_fails_the_server(tablet, slots):
    odd = [
        response_for(slots[0], uuid=str(uuid.uuid4()).upper(), extra={"x": 1}),
        response_for(slots[1], slot=-5),
        response_for(slots[1], slot="first"),
        response_for(slots[1], slot=2**70),
        response_for(slots[1], place=""),
        response_for(slots[1], place="x" * 500),
        response_for(slots[1], language="русский"),
        response_for(slots[1], started_at="yesterday"),
        response_for(slots[1], answers={"gender": None, "age": ""}),
        response_for(slots[1], uuid={"nested": "uuid"}),
    ]

    results = tablet.sync(*odd)

    assert [r["result"] for r in results] == (
        ["created"] + ["rejected"] * 7 + ["created", "rejected"]
    )


# Concurrency


@pytest.mark.django_db(transaction=True)
def test_five_concurrent_sends_of_one_response_store_it_once(demo_wave):
    tablet = tablet_for(demo_interviewer())
    item = response_for(tablet.slots(demo_wave)[0])
    results, errors = [], []

    def send():
        try:
            reply = token_client(tablet.raw).post(
                RESPONSES_URL, {"responses": [item]}, content_type="application/json"
            )
            results.append(reply.json()["results"][0]["result"])
        except Exception as error:  # collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(results) == ["created"] + ["duplicate"] * 4
    assert stored_rows() == (1, 1, 1)
