"""Who may use the tablet API: device tokens, personal tokens, sessions, revocation."""

import hashlib

import pytest
from django.test import Client
from django.utils import timezone

from fielding.errors import FieldingError
from fielding.models import AccessToken, AllocationSlot
from fielding.tokens import slots_release, token_find, token_issue, token_revoke
from survey.roles import INTERVIEWER
from tests.conftest import client_for, make_user
from tests.fielding.tablets import (
    RESPONSES_URL,
    WAVES_URL,
    demo_interviewer,
    reservations_url,
    response_for,
    tablet_for,
    token_client,
)


@pytest.fixture
def tablet(demo_wave):
    return tablet_for(demo_interviewer())


def refusal(reply) -> str:
    return reply.json()["detail"]


def test_a_request_without_a_token_is_refused_with_a_sentence(db):
    reply = Client().get(WAVES_URL)

    assert reply.status_code == 401
    assert reply["WWW-Authenticate"] == "Token"
    assert refusal(reply) == "Authentication credentials were not provided."


def test_an_unknown_token_is_refused_as_not_known(db):
    reply = token_client("made-up-token").get(WAVES_URL)

    assert reply.status_code == 401
    assert "not known" in refusal(reply)


@pytest.mark.parametrize("header", ["Token", "Token two parts", "token  a b c"])
def test_a_malformed_header_is_refused_with_its_expected_form(db, header):
    reply = Client(headers={"Authorization": header}).get(WAVES_URL)

    assert reply.status_code == 401
    assert "Authorization: Token <token>" in refusal(reply)


def test_a_token_that_is_not_text_is_refused(db):
    reply = Client(HTTP_AUTHORIZATION="Token \xff\xfe").get(WAVES_URL)

    assert reply.status_code == 401
    assert "not valid text" in refusal(reply)


def test_a_revoked_token_is_refused_saying_it_was_revoked(tablet, demo_wave):
    assert tablet.waves().status_code == 200

    token_revoke(token=tablet.token)
    reply = tablet.reserve(demo_wave)

    assert reply.status_code == 401
    assert "revoked" in refusal(reply)
    assert tablet.waves().status_code == 401
    assert not AllocationSlot.objects.filter(device=tablet.token).exists()


def test_revoking_twice_keeps_the_first_time(tablet):
    token_revoke(token=tablet.token)
    first = AccessToken.objects.get(pk=tablet.token.pk).revoked_at

    token_revoke(token=tablet.token)

    assert AccessToken.objects.get(pk=tablet.token.pk).revoked_at == first


def test_a_token_of_a_switched_off_account_is_refused(tablet):
    user = tablet.token.user
    user.is_active = False
    user.save()

    reply = tablet.waves()

    assert reply.status_code == 401
    assert "switched off" in refusal(reply)


def test_only_the_hash_of_a_token_is_stored(tablet):
    stored = AccessToken.objects.get(pk=tablet.token.pk)

    assert stored.token_hash != tablet.raw
    assert stored.token_hash == hashlib.sha256(tablet.raw.encode()).hexdigest()
    assert not AccessToken.objects.filter(token_hash=tablet.raw).exists()
    assert token_find(tablet.raw) == stored


def test_using_a_token_records_when_it_was_last_used(tablet):
    before = timezone.now()

    tablet.waves()

    assert AccessToken.objects.get(pk=tablet.token.pk).last_used_at >= before


def test_a_personal_token_reads_waves_but_cannot_reserve_or_send(demo_wave):
    personal = tablet_for(demo_interviewer(), label="script", kind=AccessToken.PERSONAL)

    waves = personal.waves()
    reservation = personal.reserve(demo_wave)
    sending = personal.client.post(
        RESPONSES_URL, {"responses": [{}]}, content_type="application/json"
    )

    assert waves.status_code == 200 and len(waves.json()) == 1
    assert reservation.status_code == 403
    assert sending.status_code == 403
    assert "tablet's token" in refusal(reservation)


def test_a_logged_in_session_reads_waves_but_cannot_reserve_or_send(demo_wave):
    client = client_for(demo_interviewer())

    waves = client.get(WAVES_URL)
    reservation = client.post(
        reservations_url(demo_wave),
        {"place": "almaty", "count": 1},
        content_type="application/json",
    )
    sending = client.post(
        RESPONSES_URL, {"responses": [{}]}, content_type="application/json"
    )

    assert waves.status_code == 200
    assert reservation.status_code == 403
    assert sending.status_code == 403
    assert not AllocationSlot.objects.filter(device__isnull=False).exists()


def test_an_analyst_cannot_list_the_waves_for_tablets(demo_wave, analyst):
    personal = tablet_for(analyst, label="script", kind=AccessToken.PERSONAL)

    assert personal.waves().status_code == 403


def test_tablets_are_registered_to_interviewers_only(analyst):
    with pytest.raises(FieldingError, match="not an interviewer"):
        token_issue(user=analyst, label="tablet 7")

    assert not AccessToken.objects.exists()


def test_a_tablet_needs_a_name(interviewer):
    with pytest.raises(FieldingError, match="Give the tablet"):
        token_issue(user=interviewer, label="  ")


def test_two_tablets_of_one_interviewer_get_different_tokens(db):
    user = make_user("olga", INTERVIEWER)

    first = tablet_for(user, label="tablet 1")
    second = tablet_for(user, label="tablet 2")

    assert first.raw != second.raw
    assert first.token.token_hash != second.token.token_hash


def test_releasing_a_lost_tablets_slots_twice_releases_nothing_more(tablet, demo_wave):
    slots = tablet.slots(demo_wave, count=3)
    tablet.sync(response_for(slots[0]))

    first = slots_release(token=tablet.token)
    second = slots_release(token=tablet.token)

    statuses = AllocationSlot.objects.filter(device=tablet.token).values_list(
        "position", "status"
    )
    assert (first, second) == (2, 0)
    assert sorted(statuses) == [
        (slots[0].position, AllocationSlot.USED),
        (slots[1].position, AllocationSlot.SKIPPED),
        (slots[2].position, AllocationSlot.SKIPPED),
    ]
