"""Benchmark 5: allocation under 32 concurrent clients.

Each client is a thread with its own database connection that registers a consenting
respondent (`respondent_register`) and gives them the next slot of their stratum
(`slot_allocate`), over and over, in places spread over the pilot wave's three
strata: the work of an interviewer's tablet starting an online interview. Slots of
one stratum are handed out under a lock on its row, so the clients of one stratum
queue behind each other.

What is measured is allocations per second and each allocation's latency. The
baseline is one client alone doing the same, so the ratio shows what 32 clients gain
(or lose) to the locking. After the run every allocation's slot is checked: no slot
handed out twice, no respondent given two, and every slot used by the run marked
used once.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from tests.benchmarks.common import all_at_once, say

CLIENTS = 32
PER_CLIENT = 25
ALONE = 150
PLACES = ["almaty", "astana", "aktobe", "talgar", "karaganda", "pavlodar"]


def allocate_all(wave, places, clients: int, per_client: int) -> dict:
    """``clients`` threads each allocating ``per_client`` slots, all at once."""
    from django.db import connection

    from fielding.allocation import respondent_register, slot_allocate

    latencies, slots, errors = [], [], []

    def client(index: int):
        try:
            for n in range(per_client):
                began = time.perf_counter()
                respondent = respondent_register(
                    wave=wave,
                    consented=True,
                    place=places[(index + n) % len(places)],
                    language="ru",
                )
                assignment = slot_allocate(respondent=respondent)
                latencies.append(time.perf_counter() - began)
                slots.append((assignment.slot_id, respondent.pk))
        except Exception as error:  # reported below, after every thread ends
            errors.append(repr(error))
        finally:
            connection.close()

    elapsed = all_at_once(client, [(i,) for i in range(clients)])
    if errors:
        raise AssertionError(f"{len(errors)} clients failed, first: {errors[0]}")
    return {"seconds": elapsed, "latencies": latencies, "slots": slots}


def check_no_duplicates(slots: list[tuple[int, int]]) -> dict:
    """Every slot once, every respondent once, each slot used by its assignment."""
    from fielding.models import AllocationSlot, Assignment

    slot_ids = [slot for slot, _respondent in slots]
    respondents = [respondent for _slot, respondent in slots]
    stored = Assignment.objects.filter(slot_id__in=slot_ids)
    checks = {
        "allocations": len(slots),
        "distinct_slots": len(set(slot_ids)),
        "distinct_respondents": len(set(respondents)),
        "assignments_on_the_slots": stored.count(),
        "slots_marked_used": AllocationSlot.objects.filter(
            pk__in=slot_ids, status=AllocationSlot.USED
        ).count(),
    }
    if len(set(checks.values())) != 1:
        raise AssertionError(f"duplicates or gaps in the allocation: {checks}")
    return checks


def run() -> dict:
    from survey.models import Settlement
    from tests.benchmarks.ingest import pilot_wave

    wave = pilot_wave()
    places = list(Settlement.objects.filter(code__in=PLACES).order_by("code"))
    allocate_all(wave, places, 2, 5)  # connections and caches warm

    alone = allocate_all(wave, places, 1, ALONE)
    many = allocate_all(wave, places, CLIENTS, PER_CLIENT)
    checks = check_no_duplicates(alone["slots"] + many["slots"])

    alone_rate = ALONE / alone["seconds"]
    rate = CLIENTS * PER_CLIENT / many["seconds"]
    p95 = float(np.percentile(many["latencies"], 95))
    say(
        f"  allocation: {CLIENTS} clients {rate:.0f} allocations/s (p95 latency "
        f"{p95 * 1000:.0f} ms), one client {alone_rate:.0f}/s, ratio "
        f"{rate / alone_rate:.2f}; {checks['allocations']} allocations, "
        "no duplicates"
    )
    return {
        "target": "no slot handed out twice (checked); allocations per second",
        "met": True,
        "clients": CLIENTS,
        "allocations": CLIENTS * PER_CLIENT,
        "allocations_per_s": round(rate, 1),
        "one_client_allocations_per_s": round(alone_rate, 1),
        "ratio": round(rate / alone_rate, 2),
        "latency_median_ms": round(statistics.median(many["latencies"]) * 1000, 1),
        "latency_p95_ms": round(p95 * 1000, 1),
        "checks": checks,
    }
