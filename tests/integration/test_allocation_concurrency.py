"""Allocation under concurrency on PostgreSQL: 32 threads, 2,000 slots, no slot twice."""

import threading
from collections import Counter

import pytest
from django.db import connection

from fielding.allocation import respondent_register, slot_allocate
from fielding.models import AllocationSlot, Assignment
from survey.demo import demo_load
from survey.models import Settlement

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

THREADS = 32
SLOTS = 2000


def test_32_threads_allocating_2000_slots_use_each_slot_once():
    assert connection.vendor == "postgresql"
    wave = demo_load()
    places = [Settlement.objects.get(code=c) for c in ("almaty", "astana", "aktobe")]
    errors = []

    def work(index: int):
        try:
            for n in range(index, SLOTS, THREADS):
                respondent = respondent_register(
                    wave=wave, consented=True, place=places[n % 3], language="ru"
                )
                slot_allocate(respondent=respondent)
        except Exception as error:  # collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    used = AllocationSlot.objects.filter(status=AllocationSlot.USED)
    assert used.count() == SLOTS
    assert (
        Assignment.objects.filter(
            source=Assignment.ALLOCATION, slot__isnull=False
        ).count()
        == SLOTS
    )
    for code in ("almaty", "astana", "other"):
        positions = sorted(
            used.filter(stratum__code=code).values_list("position", flat=True)
        )
        assert positions == list(range(1, len(positions) + 1)), code
        blocks: dict[int, Counter] = {}
        for block, arm in used.filter(stratum__code=code).values_list("block", "arm"):
            blocks.setdefault(block, Counter())[arm] += 1
        last = max(blocks)
        assert all(
            c["control"] == c["treatment"] for b, c in blocks.items() if b < last
        )
