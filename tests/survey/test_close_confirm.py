"""Closing a wave in the admin asks first while tablets still hold unused slots."""

import re

from fielding.models import AllocationSlot
from survey.models import Wave
from tests.fielding.test_device_views import interview, tablet

CHANGELIST = "/admin/survey/wave/"


def close(client, *waves, **extra):
    data = {"action": "close_waves", "_selected_action": [w.pk for w in waves]}
    return client.post(CHANGELIST, {**data, **extra})


def status(wave) -> str:
    return Wave.objects.get(pk=wave.pk).status


def test_a_wave_without_held_slots_closes_at_once(admin_client, demo_wave):
    response = close(admin_client, demo_wave)

    assert response.status_code == 302
    assert status(demo_wave) == Wave.CLOSED


def test_closing_asks_first_when_tablets_hold_unused_slots(
    admin_client, demo_wave, interviewer
):
    tablet(demo_wave, interviewer, slots=3, label="Tablet 4")

    page = close(admin_client, demo_wave)

    assert page.status_code == 200
    assert "Yes, close" in page.text and 'name="confirmed"' in page.text
    table = page.text.split(f'id="held-slots-{demo_wave.pk}"', 1)[1]
    table = table.split("</table>", 1)[0]
    assert "<td>Tablet 4</td>" in table and "<td>ivan</td>" in table
    assert "<td>3</td>" in table
    assert status(demo_wave) == Wave.FIELDING


def test_the_wave_closes_only_after_confirming(admin_client, demo_wave, interviewer):
    tablet(demo_wave, interviewer, slots=2)
    page = close(admin_client, demo_wave)
    form = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', page.text))

    response = admin_client.post(CHANGELIST, form)

    assert response.status_code == 302
    assert status(demo_wave) == Wave.CLOSED
    reserved = AllocationSlot.objects.filter(status=AllocationSlot.RESERVED)
    assert reserved.count() == 2


def test_slots_the_tablets_have_used_do_not_ask(
    admin_client, client, demo_wave, interviewer
):
    _token, raw, slots = tablet(demo_wave, interviewer, slots=1)
    client.post(
        "/api/v1/responses/",
        {"responses": [interview(slots[0])]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {raw}",
    )

    response = close(admin_client, demo_wave)

    assert response.status_code == 302
    assert status(demo_wave) == Wave.CLOSED


def test_each_tablet_is_listed_with_its_own_count(admin_client, demo_wave, interviewer):
    tablet(demo_wave, interviewer, slots=2, label="Tablet 1")
    tablet(demo_wave, interviewer, slots=1, label="Tablet 2")

    page = close(admin_client, demo_wave)

    rows = page.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr>")[1:]
    cells = [[c.split("</td>")[0] for c in row.split("<td>")[1:]] for row in rows]
    assert cells == [["Tablet 1", "ivan", "2"], ["Tablet 2", "ivan", "1"]]


def test_an_interviewer_cannot_close_a_wave(interviewer_client, demo_wave):
    response = close(interviewer_client, demo_wave, confirmed="yes")

    assert response.status_code == 302 and "/admin/login/" in response.url
    assert status(demo_wave) == Wave.FIELDING
