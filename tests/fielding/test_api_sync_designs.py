"""The tablet API with the other designs: a double list's counts per list, several
sensitive items, and the direct question's answer among the answers."""

import uuid

import pytest

from fielding.corrections import held_accept
from fielding.models import HeldSubmission, Respondent, Response
from tests.fielding.tablets import tablet_for


@pytest.fixture
def tablet(interviewer):
    return tablet_for(interviewer)


def item_for(slot, /, **changes) -> dict:
    """A complete double-list response for ``slot`` in Almaty; ``changes`` override."""
    item = {
        "uuid": str(uuid.uuid4()),
        "slot": slot.pk,
        "status": "complete",
        "counts": {"A": 1, "B": 2},
        "place": "almaty",
        "language": "en",
        "answers": {"gender": "1", "direct": "0"},
        "card_shown_at": "2024-05-02T10:03:00Z",
        "started_at": "2024-05-02T10:00:00Z",
        "finished_at": "2024-05-02T10:12:00Z",
    }
    item.update(changes)
    return item


def tops(slot) -> dict[str, int]:
    """Each list's highest count for the slot's arm: list A has 3 items, B 4."""
    return {"A": 3 + (slot.arm == "A"), "B": 4 + (slot.arm == "B")}


def only(results: list[dict]) -> dict:
    (result,) = results
    return result


@pytest.fixture
def slots(tablet, double_wave):
    """Four reserved slots of the double list, two of each arm (blocks of four)."""
    return tablet.slots(double_wave, count=4)


def test_a_reserved_slot_of_a_double_list_carries_the_order_of_both_lists(
    tablet, double_wave
):
    reply = tablet.reserve(double_wave, count=2)

    for slot in reply.json()["slots"]:
        assert set(slot["item_order"]) == {"A", "B"}
        assert slot["item_order"]["A"][:3] == ["a1", "a2", "a3"]


def test_the_tablet_learns_the_order_of_the_lists_from_the_waves_cards(
    tablet, double_wave
):
    (wave,) = tablet.waves().json()

    assert [card["code"] for card in wave["cards"]] == ["A", "B"]
    assert "direct" in [question["code"] for question in wave["questions"]]


def test_counts_per_list_are_stored_as_the_first_and_second_count(tablet, slots):
    items = [item_for(slot, counts=tops(slot)) for slot in slots]

    results = tablet.sync(*items)

    assert [r["result"] for r in results] == ["created"] * 4
    for slot, item in zip(slots, items):
        respondent = Respondent.objects.get(client_uuid=item["uuid"])
        assignment = respondent.assignments.get()
        assert assignment.arm == slot.arm
        assert assignment.item_order == slot.item_order
        response = assignment.response
        assert (response.count, response.second_count) == tuple(tops(slot).values())
        assert respondent.answers == {"gender": "1", "direct": "0"}


def test_a_list_past_its_range_is_refused_naming_counts_and_the_list(tablet, slots):
    on_a = next(slot for slot in slots if slot.arm == "A")
    on_b = next(slot for slot in slots if slot.arm == "B")

    results = tablet.sync(
        item_for(on_a, counts={"A": 4, "B": 5}),
        item_for(on_b, counts={"A": 4, "B": 5}),
    )

    assert results[0]["errors"] == {
        "counts": ["List “B”: the count must be a whole number from 0 to 4."]
    }
    assert results[1]["errors"] == {
        "counts": ["List “A”: the count must be a whole number from 0 to 3."]
    }
    assert not Response.objects.exists()


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"counts": {"A": 1}}, "counts", "List “B”: the count must be"),
        ({"counts": {"A": 1, "B": None}}, "counts", "List “B”: the count must be"),
        ({"counts": None, "count": 2}, "count", "send counts, one for each of A, B"),
        ({"counts": {"A": 1, "B": 2}, "count": 2}, "count", "send counts"),
        ({"counts": {"A": 1, "B": 2, "C": 0}}, "counts", "“C” is not a list"),
        ({"counts": {"A": -1, "B": 2}}, "counts", "greater than or equal to 0"),
        ({"status": "refused"}, "counts", "Only a complete response has a count."),
        ({"answers": {"direct": "2"}}, "answers", "not an answer code of direct"),
    ],
)
def test_a_double_list_response_that_is_not_whole_is_rejected(
    tablet, slots, changes, field, message
):
    result = only(tablet.sync(item_for(slots[0], **changes)))

    assert result["result"] == "rejected"
    assert message in str(result["errors"][field])
    assert not Respondent.objects.filter(client_uuid__isnull=False).exists()


def test_a_refusal_without_counts_is_stored_without_counts(tablet, slots):
    result = only(tablet.sync(item_for(slots[0], status="refused", counts=None)))

    response = Response.objects.get()
    assert result["result"] == "created"
    assert (response.status, response.count, response.second_count) == (
        "refused",
        None,
        None,
    )


def test_a_double_list_resent_is_a_duplicate_and_changed_counts_a_conflict(
    tablet, slots, administrator
):
    item = item_for(slots[0])
    changed = {**item, "counts": {"A": 0, "B": 0}}

    results = [only(tablet.sync(item)), only(tablet.sync(item))]
    results.append(only(tablet.sync(changed)))
    held_accept(held=HeldSubmission.objects.get(), by=administrator)

    assert [r["result"] for r in results] == ["created", "duplicate", "conflict"]
    response = Response.objects.get()
    assert (response.count, response.second_count) == (0, 0)
    assert HeldSubmission.objects.get().previous["second_count"] == 2
    assert only(tablet.sync(changed))["result"] == "duplicate"


def test_an_item_arms_count_is_checked_against_its_own_card(tablet, multi_wave):
    slots = tablet.slots(multi_wave, count=6)
    control = next(slot for slot in slots if slot.arm == "control")
    race = next(slot for slot in slots if slot.arm == "race")

    def single(slot, count):
        return item_for(slot, counts=None, count=count, answers={})

    results = tablet.sync(single(control, 4), single(race, 4), single(control, 3))

    assert [r["result"] for r in results] == ["rejected", "created", "created"]
    assert results[0]["errors"] == {
        "count": ["The count must be a whole number from 0 to 3."]
    }


def test_the_schema_documents_counts_and_the_second_lists_order(client):
    schema = client.get("/api/schema/?format=json").json()["components"]["schemas"]

    item = schema["SyncItem"]["properties"]
    assert item["counts"]["additionalProperties"]["type"] == "integer"
    assert '{"A": 2, "B": 3}' in item["counts"]["description"]
    assert "direct question" in item["answers"]["description"]
    assert "item_order_2" in schema["MicrodataRow"]["properties"]


def test_microdata_hold_both_lists_orders_and_counts(tablet, slots, analyst_client):
    tablet.sync(item_for(slots[0], counts=tops(slots[0])))

    reply = analyst_client.get(f"/api/v1/waves/{slots[0].wave_id}/responses/")

    (row,) = reply.json()["results"]
    assert row["item_order"] == ";".join(slots[0].item_order["A"])
    assert row["item_order_2"] == ";".join(slots[0].item_order["B"])
    assert (row["count"], row["second_count"]) == tuple(tops(slots[0]).values())
    assert row["direct"] == "0"


def test_microdata_of_a_single_list_leave_the_second_order_empty(
    demo_wave, analyst_client
):
    reply = analyst_client.get(f"/api/v1/waves/{demo_wave.pk}/responses/")

    row = reply.json()["results"][0]
    assert row["item_order_2"] == "" and row["second_count"] is None
