"""Allocation: consent first, the next slot in order, once, and never a re-draw."""

import threading
from collections import Counter

import pytest
from django.db import connection

from fielding.allocation import respondent_register, slot_allocate, wave_plan
from fielding.errors import FieldingError
from fielding.models import AllocationSlot, Assignment, Respondent
from fielding.sequences import allocation_sequence
from survey.errors import SurveyError
from survey.models import Settlement, Stratum, Wave
from survey.services import wave_close, wave_open
from tests.conftest import import_csv


def interview(wave, place="almaty", user=None, **kwargs) -> Assignment:
    respondent = respondent_register(
        wave=wave,
        consented=True,
        interviewer=user,
        place=Settlement.objects.get(code=place),
        language="en",
        **kwargs,
    )
    return slot_allocate(respondent=respondent, user=user, device_label="tablet-7")


def test_without_consent_nothing_is_stored(demo_wave):
    before = Respondent.objects.count()

    with pytest.raises(FieldingError, match="No consent"):
        respondent_register(wave=demo_wave, consented=False)

    assert Respondent.objects.count() == before
    assert not AllocationSlot.objects.filter(status=AllocationSlot.USED).exists()


def test_slots_are_handed_out_in_the_order_of_the_filed_sequence(demo_wave):
    arms = [interview(demo_wave).arm for _unused in range(12)]

    stratum = demo_wave.strata.get(code="almaty")
    experiment = demo_wave.survey.experiments.get()
    plan = wave_plan(demo_wave, experiment, stratum)
    expected = [s.arm for s in allocation_sequence(demo_wave.seed, "almaty", plan, 12)]
    assert arms == expected
    used = AllocationSlot.objects.filter(stratum=stratum, status=AllocationSlot.USED)
    assert sorted(used.values_list("position", flat=True)) == list(range(1, 13))


def test_each_stratum_keeps_its_own_sequence(demo_wave):
    interview(demo_wave, "almaty")
    astana = interview(demo_wave, "astana")
    elsewhere = interview(demo_wave, "karaganda")

    assert astana.slot.stratum.code == "astana" and astana.slot.position == 1
    assert elsewhere.slot.stratum.code == "other" and elsewhere.slot.position == 1


def test_allocating_twice_gives_back_the_same_assignment(demo_wave):
    first = interview(demo_wave)

    again = slot_allocate(respondent=first.respondent)

    assert again.pk == first.pk and again.arm == first.arm
    assert AllocationSlot.objects.filter(status=AllocationSlot.USED).count() == 1


def test_every_allocation_records_who_which_device_and_when(demo_wave, interviewer):
    demo_wave.interviewers.add(interviewer)

    assignment = interview(demo_wave, user=interviewer)

    slot = assignment.slot
    assert slot.allocated_by == interviewer and slot.device_label == "tablet-7"
    assert slot.allocated_at is not None
    assert assignment.respondent.place.code == "almaty"
    assert assignment.source == Assignment.ALLOCATION
    assert assignment.item_order == slot.item_order


def test_completed_blocks_are_exactly_balanced(demo_wave):
    for _unused in range(40):
        interview(demo_wave)

    slots = AllocationSlot.objects.filter(status=AllocationSlot.USED)
    blocks: dict[int, Counter] = {}
    for block, arm in slots.values_list("block", "arm"):
        blocks.setdefault(block, Counter())[arm] += 1
    whole = [c for b, c in blocks.items() if b < max(blocks)]
    assert whole and all(c["control"] == c["treatment"] for c in whole)


def test_the_card_lists_the_sensitive_item_only_for_the_treatment_arm(demo_wave):
    assignments = [interview(demo_wave) for _unused in range(10)]

    for assignment in assignments:
        order = assignment.item_order["A"]
        assert ("csto" in order) == (assignment.arm == "treatment")
        assert len(order) == 4 + (assignment.arm == "treatment")


def test_items_can_be_shuffled_per_respondent_and_the_order_is_stored(db):
    wave = import_csv(b"y,treat\n1,0\n2,1\n", items=3, outcome="y", treat="treat").wave
    Wave.objects.filter(pk=wave.pk).update(plan={"kind": "blocked", "block_sizes": [2]})
    wave = wave_open(wave=Wave.objects.get(pk=wave.pk), seed=7)
    Wave.objects.filter(pk=wave.pk).update(
        plan={"kind": "blocked", "block_sizes": [2], "shuffle_items": True}
    )
    wave.refresh_from_db()
    Settlement.objects.create(
        code="village", name="Village", region=_region(), kind=Settlement.VILLAGE
    )

    orders = [tuple(interview(wave, "village").item_order["A"]) for _unused in range(8)]

    assert len(set(orders)) > 1
    assert all(set(o) >= {"item1", "item2", "item3"} for o in orders)


def _region():
    from survey.models import Region

    return Region.objects.get_or_create(code="r", defaults={"name": "Region"})[0]


def test_a_wave_not_in_fieldwork_hands_out_nothing(demo_wave):
    wave_close(wave=demo_wave)

    with pytest.raises(FieldingError, match="not in fieldwork"):
        interview(Wave.objects.get(pk=demo_wave.pk))


def test_opening_a_wave_without_strata_makes_one_for_every_place(db):
    wave = import_csv(b"y,treat\n1,0\n2,1\n", items=3, outcome="y", treat="treat").wave

    wave = wave_open(wave=wave, seed=1)

    assert list(wave.strata.values_list("code", "is_rest")) == [("all", True)]


def test_a_plan_that_cannot_be_drawn_stops_the_wave_from_opening(db):
    wave = import_csv(b"y,treat\n1,0\n2,1\n", items=3, outcome="y", treat="treat").wave
    Wave.objects.filter(pk=wave.pk).update(plan={"kind": "blocked", "block_sizes": [5]})

    with pytest.raises(SurveyError, match="Block size 5"):
        wave_open(wave=Wave.objects.get(pk=wave.pk))

    assert Wave.objects.get(pk=wave.pk).status == Wave.DRAFT
    assert not Stratum.objects.filter(wave=wave).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_interviewers_on_sqlite_never_share_or_skip_a_slot():
    from survey.demo import demo_load

    wave = demo_load()
    errors = []

    def work():
        try:
            for _unused in range(15):
                interview(wave)
        except Exception as error:  # collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _unused in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    used = AllocationSlot.objects.filter(status=AllocationSlot.USED)
    assert sorted(used.values_list("position", flat=True)) == list(range(1, 91))
    assert Assignment.objects.filter(source=Assignment.ALLOCATION).count() == 90
