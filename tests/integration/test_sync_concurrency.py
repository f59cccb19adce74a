"""Tablet sync under concurrency on PostgreSQL: every response stored exactly once."""

import threading

import pytest
from django.db import connection

from fielding.models import AllocationSlot, HeldSubmission, Respondent, Response
from survey.demo import demo_load
from tests.fielding.tablets import (
    RESPONSES_URL,
    demo_interviewer,
    response_for,
    tablet_for,
    token_client,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def send_all(jobs: list[tuple[str, list[dict]]]) -> list[dict]:
    """Post each (token, batch) from its own thread at once; the results, flattened."""
    results, errors = [], []
    start = threading.Barrier(len(jobs))

    def send(raw: str, batch: list[dict]):
        try:
            client = token_client(raw)
            start.wait(timeout=30)
            reply = client.post(
                RESPONSES_URL, {"responses": batch}, content_type="application/json"
            )
            results.extend(reply.json()["results"])
        except Exception as error:  # collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def test_five_threads_sending_one_response_store_it_once():
    assert connection.vendor == "postgresql"
    wave = demo_load()
    tablet = tablet_for(demo_interviewer())
    item = response_for(tablet.slots(wave)[0])

    results = send_all([(tablet.raw, [item])] * 5)

    assert sorted(r["result"] for r in results) == ["created"] + ["duplicate"] * 4
    assert Respondent.objects.filter(client_uuid=item["uuid"]).count() == 1
    assert Response.objects.filter(
        assignment__respondent__client_uuid=item["uuid"]
    ).exists()
    assert not HeldSubmission.objects.exists()


def test_sixteen_threads_sending_distinct_responses_store_each_once():
    wave = demo_load()
    tablets = [tablet_for(demo_interviewer(), label=f"tablet {n}") for n in range(4)]
    jobs = []
    for n, tablet in enumerate(tablets):
        place = ["almaty", "astana", "aktobe", "talgar"][n]
        for slot in tablet.slots(wave, place=place, count=4):
            jobs.append((tablet.raw, [response_for(slot, count=n % 4)]))

    results = send_all(jobs)

    uuids = [batch[0]["uuid"] for _raw, batch in jobs]
    assert len(jobs) == 16
    assert [r["result"] for r in results] == ["created"] * 16
    assert Respondent.objects.filter(client_uuid__in=uuids).count() == 16
    assert AllocationSlot.objects.filter(status=AllocationSlot.USED).count() == 16


def test_one_uuid_sent_for_five_slots_at_once_is_stored_once_and_the_rest_held():
    wave = demo_load()
    tablet = tablet_for(demo_interviewer())
    slots = tablet.slots(wave, count=5)
    first = response_for(slots[0])
    # The same uuid on other slots: other content, and other slot locks to race past.
    items = [{**first, "slot": slot.pk} for slot in slots]

    results = send_all([(tablet.raw, [item]) for item in items])

    assert sorted(r["result"] for r in results) == ["conflict"] * 4 + ["created"]
    assert Respondent.objects.filter(client_uuid=first["uuid"]).count() == 1
    assert AllocationSlot.objects.filter(status=AllocationSlot.USED).count() == 1
    assert HeldSubmission.objects.filter(kind=HeldSubmission.CONFLICT).count() == 4


def test_a_changed_resend_with_a_null_character_is_refused_not_a_server_error():
    wave = demo_load()
    tablet = tablet_for(demo_interviewer())
    item = response_for(tablet.slots(wave)[0])
    tablet.sync(item)

    result = tablet.sync({**item, "answers": {"gender\x00": "1"}})[0]

    assert result["result"] == "rejected"
    assert not HeldSubmission.objects.exists()
