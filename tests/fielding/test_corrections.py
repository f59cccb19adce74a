"""Deciding on held responses: a conflict accepted as an audited correction, or
dismissed; in the service and through the admin's actions."""

import pytest
from django.contrib.messages import get_messages

from fielding.corrections import held_accept, held_dismiss
from fielding.errors import FieldingError
from fielding.models import HeldSubmission, Respondent
from survey.services import wave_close
from tests.fielding.test_device_views import interview, tablet

CHANGELIST = "/admin/fielding/heldsubmission/"


def send(client, raw: str, *items: dict) -> list[str]:
    """Post ``items`` as the tablet does; the result of each."""
    answer = client.post(
        "/api/v1/responses/",
        {"responses": list(items)},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {raw}",
    )
    assert answer.status_code == 200, answer.content
    return [result["result"] for result in answer.json()["results"]]


@pytest.fixture
def conflict(client, demo_wave, interviewer):
    """An interview stored with count 2, then a second version of it with count 3.

    Gives the held version, the tablet's raw token and the second version's item.
    """
    _token, raw, slots = tablet(demo_wave, interviewer, slots=1)
    first = interview(slots[0], count=2, answers={"gender": "1", "age": 40})
    second = {**first, "count": 3, "answers": {"gender": "2", "age": 41}}
    assert send(client, raw, first) == ["created"]
    assert send(client, raw, second) == ["conflict"]
    return HeldSubmission.objects.get(kind=HeldSubmission.CONFLICT), raw, second


def stored(held: HeldSubmission):
    respondent = Respondent.objects.get(client_uuid=held.uuid)
    assignment = respondent.assignments.get()
    return respondent, assignment, assignment.response


def test_accepting_a_conflict_applies_its_count_and_keeps_the_stored_version(
    conflict, administrator
):
    held, _raw, _second = conflict
    _respondent, assignment, _response = stored(held)
    arm, order = assignment.arm, assignment.item_order

    held_accept(held=held, by=administrator)

    respondent, assignment, response = stored(held)
    held.refresh_from_db()
    assert response.status == "complete" and response.count == 3
    assert respondent.answers == {"gender": "2", "age": 41}
    assert held.previous == {
        "status": "complete",
        "count": 2,
        "second_count": None,
        "answers": {"gender": "1", "age": 40},
    }
    assert held.resolution == HeldSubmission.ACCEPTED
    assert held.resolved_by == administrator and held.resolved_at is not None
    assert (assignment.arm, assignment.item_order) == (arm, order)


def test_a_resend_of_the_corrected_version_is_a_duplicate(
    client, conflict, administrator
):
    held, raw, second = conflict
    held_accept(held=held, by=administrator)

    results = send(client, raw, second)

    assert results == ["duplicate"]
    assert HeldSubmission.objects.count() == 1
    assert stored(held)[2].count == 3


def test_after_a_correction_the_first_version_is_a_conflict(
    client, conflict, administrator
):
    held, raw, second = conflict
    held_accept(held=held, by=administrator)

    results = send(client, raw, {**second, "count": 2, "answers": {"gender": "1"}})

    assert results == ["conflict"]
    assert stored(held)[2].count == 3


def test_accepting_is_refused_once_the_wave_is_closed(conflict, administrator):
    held, _raw, _second = conflict
    wave_close(wave=held.wave)

    with pytest.raises(FieldingError, match="is closed, so its data can no longer"):
        held_accept(held=held, by=administrator)

    held.refresh_from_db()
    assert held.resolution == HeldSubmission.OPEN and held.previous is None
    assert stored(held)[2].count == 2


def test_accepting_is_done_once(conflict, administrator):
    held, _raw, _second = conflict
    held_accept(held=held, by=administrator)

    with pytest.raises(FieldingError, match="decided already"):
        held_accept(held=held, by=administrator)

    held.refresh_from_db()
    assert held.previous["count"] == 2 and stored(held)[2].count == 3


@pytest.mark.parametrize(
    "change, message",
    [
        ({"count": 9}, "from 0 to 4"),
        ({"status": "refused", "count": 1}, "Only a complete response has a count"),
        ({"answers": {"gender": "9"}}, "is not an answer code of gender"),
        ({"counts": {"A": 1}}, "single list"),
    ],
)
def test_a_version_the_sync_would_refuse_is_not_accepted(
    client, demo_wave, interviewer, administrator, change, message
):
    _token, raw, slots = tablet(demo_wave, interviewer, slots=1)
    first = interview(slots[0])
    send(client, raw, first)
    send(client, raw, {**first, **change})
    held = HeldSubmission.objects.get()

    with pytest.raises(FieldingError, match=message):
        held_accept(held=held, by=administrator)

    assert stored(held)[2].count == first["count"]


def test_a_refusal_is_accepted_without_a_count(client, conflict, administrator):
    held, raw, second = conflict
    refusal = {**second, "status": "refused", "count": None}
    send(client, raw, refusal)
    held = HeldSubmission.objects.get(payload__status="refused")

    held_accept(held=held, by=administrator)

    response = stored(held)[2]
    assert (response.status, response.count) == ("refused", None)


def test_a_response_held_for_a_closed_wave_cannot_be_accepted(
    demo_wave, interviewer, administrator
):
    token, _raw, slots = tablet(demo_wave, interviewer, slots=1)
    wave_close(wave=demo_wave)
    item = interview(slots[0])
    # Made here as the sync makes it for a response that arrives after closing.
    held = HeldSubmission.objects.create(
        uuid=item["uuid"],
        kind=HeldSubmission.WAVE_CLOSED,
        wave=demo_wave,
        token=token,
        payload=item,
    )

    with pytest.raises(FieldingError, match="held because: wave closed"):
        held_accept(held=held, by=administrator)
    held_dismiss(held=held, by=administrator)

    held.refresh_from_db()
    assert held.kind == HeldSubmission.WAVE_CLOSED
    assert held.resolution == HeldSubmission.DISMISSED


def test_dismissing_keeps_the_stored_version(conflict, administrator):
    held, _raw, _second = conflict

    held_dismiss(held=held, by=administrator)

    held.refresh_from_db()
    assert held.resolution == HeldSubmission.DISMISSED
    assert held.resolved_by == administrator and held.previous is None
    assert stored(held)[2].count == 2


def test_the_admin_shows_the_sent_and_the_stored_version(admin_client, conflict):
    held, _raw, _second = conflict

    listing = admin_client.get(CHANGELIST)
    page = admin_client.get(f"{CHANGELIST}{held.pk}/change/")

    assert listing.status_code == 200 and str(held.uuid) in listing.text
    assert "Tablet 1" in listing.text
    assert page.status_code == 200
    assert "&quot;count&quot;: 3" in page.text and "&quot;count&quot;: 2" in page.text


def test_the_admin_accepts_a_conflict_with_its_action(admin_client, conflict):
    held, _raw, _second = conflict

    response = admin_client.post(
        CHANGELIST, {"action": "accept", "_selected_action": [held.pk]}
    )

    assert response.status_code == 302
    assert stored(held)[2].count == 3
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"{held.uuid}: accepted as a correction."
    ]


def test_the_admin_says_plainly_why_a_closed_wave_cannot_be_corrected(
    admin_client, conflict
):
    held, _raw, _second = conflict
    wave_close(wave=held.wave)

    response = admin_client.post(
        CHANGELIST, {"action": "accept", "_selected_action": [held.pk]}, follow=True
    )

    assert response.status_code == 200
    (message,) = [str(m) for m in response.context["messages"]]
    assert message == (
        f"{held.uuid}: Wave “{held.wave.name}” is closed, so its data can no longer "
        "be corrected; dismiss this version instead."
    )
    assert stored(held)[2].count == 2
