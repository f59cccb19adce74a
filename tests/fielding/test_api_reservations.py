"""POST /api/v1/waves/{id}/reservations/: the next slots of a stratum, for one tablet."""

import pytest

from fielding.allocation import respondent_register, slot_allocate
from fielding.models import AllocationSlot
from fielding.tokens import slots_release
from survey.models import Settlement, Stratum, Survey, Wave
from survey.roles import INTERVIEWER, groups_ensure
from survey.services import wave_close, wave_open
from tests.conftest import make_user
from tests.fielding.tablets import demo_interviewer, tablet_for


@pytest.fixture
def tablet(demo_wave):
    return tablet_for(demo_interviewer())


@pytest.fixture
def second_tablet(demo_wave):
    return tablet_for(demo_interviewer(), label="tablet 2")


def positions(slots) -> list[int]:
    return [slot.position for slot in slots]


def test_it_gives_the_slots_in_order_of_position(tablet, demo_wave):
    reply = tablet.reserve(demo_wave, place="astana", count=4)

    body = reply.json()
    assert reply.status_code == 201
    assert [slot["position"] for slot in body["slots"]] == [1, 2, 3, 4]
    assert {slot["stratum"] for slot in body["slots"]} == {"astana"}
    assert {slot["arm"] for slot in body["slots"]} <= {"control", "treatment"}
    assert body["over_quota"] is False
    for slot in body["slots"]:
        (order,) = slot["item_order"].values()
        assert len(order) == 4 + (slot["arm"] == "treatment")


def test_the_slots_are_recorded_as_the_tablets(tablet, demo_wave):
    slots = tablet.slots(demo_wave, count=2)

    for slot in AllocationSlot.objects.filter(pk__in=[s.pk for s in slots]):
        assert slot.status == AllocationSlot.RESERVED
        assert slot.device == tablet.token
        assert slot.device_label == "tablet 1"
        assert slot.reserved_at is not None


def test_two_tablets_reserving_in_turn_get_disjoint_consecutive_slots(
    tablet, second_tablet, demo_wave
):
    first = tablet.slots(demo_wave, count=3)
    second = second_tablet.slots(demo_wave, count=3)
    third = tablet.slots(demo_wave, count=2)

    assert positions(first) == [1, 2, 3]
    assert positions(second) == [4, 5, 6]
    assert positions(third) == [7, 8]
    assert {slot.device_id for slot in second} == {second_tablet.token.pk}


def test_reserving_twice_never_hands_a_slot_out_again(tablet, demo_wave):
    first = tablet.slots(demo_wave, count=5)
    second = tablet.slots(demo_wave, count=5)

    assert not {s.pk for s in first} & {s.pk for s in second}
    assert AllocationSlot.objects.filter(device=tablet.token).count() == 10


def test_each_stratum_has_its_own_sequence(tablet, demo_wave):
    almaty = tablet.slots(demo_wave, place="almaty", count=2)
    other = tablet.slots(demo_wave, place="talgar", count=2)

    assert positions(almaty) == positions(other) == [1, 2]
    assert {slot.stratum.code for slot in other} == {"other"}


def test_released_slots_are_never_handed_out_again(tablet, demo_wave):
    tablet.slots(demo_wave, count=2)
    slots_release(token=tablet.token)

    again = tablet.slots(demo_wave, count=2)

    assert positions(again) == [3, 4]


def test_online_allocation_skips_the_slots_a_tablet_holds(tablet, demo_wave):
    tablet.slots(demo_wave, count=3)
    respondent = respondent_register(
        wave=demo_wave, consented=True, place=Settlement.objects.get(code="almaty")
    )

    assignment = slot_allocate(respondent=respondent)

    assert assignment.slot.position == 4


@pytest.mark.parametrize("count", [0, -1])
def test_a_count_below_one_is_refused_with_a_sentence(tablet, demo_wave, count):
    reply = tablet.reserve(demo_wave, count=count)

    assert reply.status_code == 400
    assert "greater than or equal to 1" in reply.json()["count"][0]
    assert not AllocationSlot.objects.filter(device=tablet.token).exists()


def test_a_count_above_the_maximum_is_refused_with_a_sentence(
    tablet, demo_wave, settings
):
    settings.RESERVATION_MAX = 5

    reply = tablet.reserve(demo_wave, count=6)

    assert reply.status_code == 400
    assert reply.json()["detail"] == "Reserve between 1 and 5 slots at a time."
    assert tablet.reserve(demo_wave, count=5).status_code == 201


@pytest.mark.parametrize("count", ["many", None, 2.5, [1]])
def test_a_count_that_is_not_a_whole_number_is_refused(tablet, demo_wave, count):
    reply = tablet.reserve(demo_wave, count=count)

    assert reply.status_code == 400
    assert "count" in reply.json()


def test_an_unknown_place_is_refused(tablet, demo_wave):
    reply = tablet.reserve(demo_wave, place="atlantis")

    assert reply.status_code == 400
    assert reply.json()["detail"] == "“atlantis” is not a known place code."


def test_a_request_without_a_place_is_refused(tablet, demo_wave):
    reply = tablet.client.post(
        f"/api/v1/waves/{demo_wave.pk}/reservations/",
        {"count": 1},
        content_type="application/json",
    )

    assert reply.status_code == 400
    assert reply.json()["place"] == ["This field is required."]


def test_a_wave_not_assigned_to_the_interviewer_is_not_found(demo_wave):
    stranger = tablet_for(make_user("olga", INTERVIEWER))

    reply = stranger.reserve(demo_wave)

    assert reply.status_code == 404
    assert not AllocationSlot.objects.filter(device=stranger.token).exists()


def test_an_unknown_wave_is_not_found(tablet, demo_wave):
    missing = Wave(pk=demo_wave.pk + 1000)

    assert tablet.reserve(missing).status_code == 404


def test_going_past_the_quota_is_allowed_and_flagged(tablet, demo_wave):
    Stratum.objects.filter(wave=demo_wave, code="almaty").update(quota=3)

    within = tablet.reserve(demo_wave, count=3)
    past = tablet.reserve(demo_wave, count=1)

    assert within.json()["over_quota"] is False
    assert past.status_code == 201
    assert past.json()["over_quota"] is True
    assert [slot["position"] for slot in past.json()["slots"]] == [4]


def test_a_closed_wave_gives_no_slots(tablet, demo_wave):
    wave_close(wave=demo_wave)

    reply = tablet.reserve(demo_wave)

    assert reply.status_code == 404
    assert not AllocationSlot.objects.filter(device=tablet.token).exists()


def test_a_draft_wave_gives_no_slots(tablet, demo_wave):
    draft = Wave.objects.create(survey=demo_wave.survey, name="Second wave")
    draft.interviewers.add(demo_interviewer())

    reply = tablet.reserve(draft)

    assert reply.status_code == 404
    assert not AllocationSlot.objects.filter(wave=draft).exists()


def test_a_tablet_whose_interviewer_lost_the_role_gets_no_slots(tablet, demo_wave):
    tablet.token.user.groups.remove(groups_ensure()[INTERVIEWER])

    reply = tablet.reserve(demo_wave)

    assert reply.status_code == 403
    assert not AllocationSlot.objects.filter(device=tablet.token).exists()


def test_a_wave_without_a_list_experiment_is_refused_with_a_sentence(tablet):
    survey = Survey.objects.create(code="no-list", name="No list", languages=["en"])
    wave = wave_open(wave=Wave.objects.create(survey=survey, name="Bare"), seed=1)
    wave.interviewers.add(demo_interviewer())

    reply = tablet.reserve(wave)

    assert reply.status_code == 400
    assert reply.json()["detail"] == "The wave's survey has no list experiment."
