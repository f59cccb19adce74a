"""The Tablets page at /fielding/devices/: register, revoke, release unused slots.

``tablet`` and ``interview`` are the builders the other tablet tests use as well.
"""

import hashlib
import uuid

import pytest
import segno
from django.contrib.messages import get_messages

from fielding.models import AccessToken, AllocationSlot
from fielding.reservations import slots_reserve
from fielding.tokens import token_issue

URL = "/fielding/devices/"


def tablet(wave, interviewer, slots: int = 0, label: str = "Tablet 1"):
    """A tablet registered to ``interviewer`` in ``wave``, holding ``slots`` reserved
    slots of Almaty; returns the token row, its raw token and the slots."""
    wave.interviewers.add(interviewer)
    token, raw = token_issue(user=interviewer, label=label)
    reserved = []
    if slots:
        reserved, _over = slots_reserve(
            token=token, wave=wave, place="almaty", count=slots
        )
    return token, raw, reserved


def interview(slot: AllocationSlot, **changes) -> dict:
    """One response exactly as the tablet posts it to /api/v1/responses/."""
    item = {
        "uuid": str(uuid.uuid4()),
        "slot": slot.pk,
        "status": "complete",
        "count": 2,
        "answers": {"gender": "1", "age": 40},
        "place": "almaty",
        "language": "ru",
        "started_at": "2022-09-05T10:00:00+06:00",
        "finished_at": "2022-09-05T10:12:00+06:00",
    }
    return {**item, **changes}


def api_get(client, raw: str, path: str = "/api/v1/waves/"):
    return client.get(path, HTTP_AUTHORIZATION=f"Token {raw}")


def register(client, interviewer, label="Tablet 7"):
    """Register through the form and follow the redirect to the one-time token page."""
    return client.post(
        URL, {"interviewer": interviewer.pk, "label": label}, follow=True
    )


def test_reloading_the_token_page_shows_the_list_not_a_second_token(
    admin_client, interviewer
):
    register(admin_client, interviewer)

    reloaded = admin_client.get(URL)

    assert AccessToken.objects.count() == 1
    assert "Register a tablet" in reloaded.text and "#token=" not in reloaded.text


def test_an_administrator_sees_the_tablets_and_the_form(
    admin_client, demo_wave, interviewer
):
    tablet(demo_wave, interviewer, slots=2, label="Tablet 3")

    page = admin_client.get(URL)

    assert page.status_code == 200
    assert "Register a tablet" in page.text
    row = page.text.split("Tablet 3", 1)[1].split("</tr>", 1)[0]
    assert "ivan" in row and '<td class="text-end">2</td>' in row


def test_registering_shows_the_token_once_and_stores_only_its_hash(
    admin_client, interviewer
):
    page = register(admin_client, interviewer)

    token = AccessToken.objects.get()
    raw = page.text.split('id="raw-token" class="user-select-all">', 1)[1]
    raw = raw.split("</code>", 1)[0]
    assert page.status_code == 200
    assert "The token is shown only now." in page.text
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert token.label == "Tablet 7" and token.user == interviewer
    assert token.created_by.username == "ada"
    assert "no-store" in page["Cache-Control"]
    assert raw not in admin_client.get(URL).text


def test_the_result_page_has_a_qr_code_of_the_enrolment_address(
    admin_client, interviewer
):
    page = register(admin_client, interviewer)

    raw = page.text.split('id="raw-token" class="user-select-all">', 1)[1]
    raw = raw.split("</code>", 1)[0]
    url = "http://testserver/fielding/tablet/#token=" + raw
    qr = page.text.split('<div class="col-auto" id="enrolment-qr">', 1)[1]
    assert qr.startswith("<svg")
    assert qr.startswith(segno.make(url, micro=False).svg_inline(scale=5))
    assert url in page.text


def test_a_tablet_is_registered_only_to_an_interviewer(admin_client, analyst):
    page = register(admin_client, analyst)

    assert page.status_code == 200
    assert "Select a valid choice" in page.text
    assert not AccessToken.objects.exists()


def test_revoking_asks_first_and_changes_nothing_until_confirmed(
    admin_client, demo_wave, interviewer
):
    token, _raw, _slots = tablet(demo_wave, interviewer)

    page = admin_client.get(f"{URL}{token.pk}/revoke/")

    assert page.status_code == 200 and "Yes, revoke" in page.text
    token.refresh_from_db()
    assert not token.is_revoked


def test_a_revoked_tablet_is_refused_at_its_next_request(
    admin_client, client, demo_wave, interviewer
):
    token, raw, _slots = tablet(demo_wave, interviewer)
    before = api_get(client, raw)

    response = admin_client.post(f"{URL}{token.pk}/revoke/")
    after = api_get(client, raw)

    assert before.status_code == 200
    assert response.status_code == 302 and response.url == URL
    assert after.status_code == 401
    assert "revoked" in after.json()["detail"]


def test_revoking_twice_says_it_was_revoked_already(
    admin_client, demo_wave, interviewer
):
    token, _raw, _slots = tablet(demo_wave, interviewer)
    admin_client.post(f"{URL}{token.pk}/revoke/")
    token.refresh_from_db()
    first = token.revoked_at

    response = admin_client.post(f"{URL}{token.pk}/revoke/")

    token.refresh_from_db()
    assert token.revoked_at == first
    assert [str(m) for m in get_messages(response.wsgi_request)][-1] == (
        "“Tablet 1” was revoked already."
    )


def test_releasing_skips_the_reserved_slots_and_no_reservation_gets_them_again(
    admin_client, demo_wave, interviewer
):
    token, _raw, slots = tablet(demo_wave, interviewer, slots=3)
    other, _raw, _none = tablet(demo_wave, interviewer, label="Tablet 2")

    response = admin_client.post(f"{URL}{token.pk}/release/")
    later, _over = slots_reserve(token=other, wave=demo_wave, place="almaty", count=3)

    released = AllocationSlot.objects.filter(pk__in=[s.pk for s in slots])
    assert response.status_code == 302
    assert set(released.values_list("status", flat=True)) == {AllocationSlot.SKIPPED}
    assert {s.pk for s in later}.isdisjoint(s.pk for s in slots)
    assert min(s.position for s in later) > max(s.position for s in slots)
    assert "Released 3 unused slots of “Tablet 1”" in str(
        list(get_messages(response.wsgi_request))[-1]
    )


def test_releasing_leaves_used_slots_alone(
    admin_client, client, demo_wave, interviewer
):
    token, raw, slots = tablet(demo_wave, interviewer, slots=2)
    client.post(
        "/api/v1/responses/",
        {"responses": [interview(slots[0])]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {raw}",
    )

    admin_client.post(f"{URL}{token.pk}/release/")

    statuses = dict(
        AllocationSlot.objects.filter(device=token).values_list("pk", "status")
    )
    assert statuses == {
        slots[0].pk: AllocationSlot.USED,
        slots[1].pk: AllocationSlot.SKIPPED,
    }


@pytest.mark.parametrize("who", ["interviewer_client", "analyst_client"])
def test_the_tablet_pages_are_for_administrators_only(
    request, who, demo_wave, interviewer
):
    browser = request.getfixturevalue(who)
    token, _raw, _slots = tablet(demo_wave, interviewer, slots=1)

    answers = [
        browser.get(URL),
        browser.post(URL, {"interviewer": interviewer.pk, "label": "Mine"}),
        browser.post(f"{URL}{token.pk}/revoke/"),
        browser.post(f"{URL}{token.pk}/release/"),
        browser.get(f"{URL}upload/"),
    ]

    assert [a.status_code for a in answers] == [403] * 5
    token.refresh_from_db()
    assert not token.is_revoked and AccessToken.objects.count() == 1
    assert token.slots.get().status == AllocationSlot.RESERVED
