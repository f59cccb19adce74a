"""A batch of new, valid responses is stored a chunk at a time; anything else in a
chunk sends that chunk one response at a time, with the same answers."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from fielding import sync
from fielding.models import AllocationSlot, Respondent, Response
from tests.fielding.tablets import demo_interviewer, response_for, tablet_for


def batch(demo_wave, n: int):
    tablet = tablet_for(demo_interviewer())
    slots = tablet.slots(demo_wave, place="almaty", count=n)
    return tablet, [response_for(slot, count=1) for slot in slots]


def test_sixty_new_responses_are_stored_in_three_chunks(demo_wave):
    tablet, items = batch(demo_wave, 60)

    with CaptureQueriesContext(connection) as queries:
        results = tablet.sync(*items)

    assert [r["result"] for r in results] == ["created"] * 60
    assert len(queries) < 40, [q["sql"][:80] for q in queries]
    stored = Respondent.objects.filter(client_uuid__in=[i["uuid"] for i in items])
    assert stored.count() == 60
    assert Response.objects.filter(assignment__respondent__in=stored).count() == 60
    assert set(
        AllocationSlot.objects.filter(pk__in=[i["slot"] for i in items]).values_list(
            "status", flat=True
        )
    ) == {AllocationSlot.USED}


def test_a_bad_response_sends_only_its_own_chunk_one_at_a_time(demo_wave):
    tablet, items = batch(demo_wave, 60)
    items[30]["count"] = 99

    results = tablet.sync(*items)

    assert [r["result"] for r in results] == ["created"] * 30 + ["rejected"] + [
        "created"
    ] * 29
    assert "count" in results[30]["errors"]
    assert [r["uuid"] for r in results] == [i["uuid"] for i in items]


def test_a_resend_mixed_with_new_responses_stores_each_once(demo_wave):
    tablet, items = batch(demo_wave, 30)
    tablet.sync(*items[:10])

    results = tablet.sync(*items)

    assert [r["result"] for r in results] == ["duplicate"] * 10 + ["created"] * 20
    assert Respondent.objects.filter(client_uuid__isnull=False).count() == 30


def test_the_chunk_size_keeps_a_cut_off_request_from_losing_much():
    assert 10 <= sync.CHUNK <= 50
