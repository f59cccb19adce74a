"""Uploading a tablet's file of unsent interviews at /fielding/devices/upload/."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from fielding.allocation import respondent_register, slot_allocate
from fielding.models import AllocationSlot, Respondent
from fielding.tokens import token_revoke
from survey.models import Settlement
from tests.fielding.test_device_views import interview, tablet

URL = "/fielding/devices/upload/"


def unsent_file(*items, **fields) -> bytes:
    export = {
        "format": "listexp-unsent-v1",
        "exported_at": "2022-09-05T18:00:00+06:00",
        "device_label": "Tablet 1",
        "responses": list(items),
        **fields,
    }
    return json.dumps(export, ensure_ascii=False).encode()


def upload(client, data: bytes, name: str = "unsent.json"):
    return client.post(URL, {"file": SimpleUploadedFile(name, data)})


def results(page) -> list[str]:
    """The result of each row of the results table, in file order."""
    return [row.result for row in page.context["rows"]]


@pytest.fixture
def two_interviews(demo_wave, interviewer):
    token, _raw, slots = tablet(demo_wave, interviewer, slots=2)
    items = [interview(slots[0], count=1), interview(slots[1], status="refused")]
    items[1].pop("count")
    return token, items


def test_an_administrator_sees_the_upload_form(admin_client):
    page = admin_client.get(URL)

    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text


def test_the_interviews_in_the_file_are_stored_as_their_tablet_would_send_them(
    admin_client, two_interviews, interviewer
):
    token, items = two_interviews

    page = upload(admin_client, unsent_file(*items))

    assert page.status_code == 200 and results(page) == ["created", "created"]
    stored = Respondent.objects.filter(client_uuid__in=[i["uuid"] for i in items])
    assert stored.count() == 2
    assert {r.interviewer for r in stored} == {interviewer}
    assert set(token.slots.values_list("status", flat=True)) == {AllocationSlot.USED}
    assert 'data-result="created"' in page.text and items[0]["uuid"] in page.text


def test_uploading_the_same_file_twice_stores_nothing_new(
    admin_client, two_interviews, stored_rows
):
    _token, items = two_interviews
    data = unsent_file(*items)
    upload(admin_client, data)
    after_first = stored_rows()

    page = upload(admin_client, data)

    assert results(page) == ["duplicate", "duplicate"]
    assert stored_rows() == after_first


def test_interviews_the_tablet_sent_itself_are_duplicates_in_the_file(
    admin_client, client, demo_wave, interviewer, stored_rows
):
    _token, raw, slots = tablet(demo_wave, interviewer, slots=1)
    item = interview(slots[0])
    client.post(
        "/api/v1/responses/",
        {"responses": [item]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {raw}",
    )
    before = stored_rows()

    page = upload(admin_client, unsent_file(item))

    assert results(page) == ["duplicate"]
    assert stored_rows() == before


def test_the_file_of_a_revoked_tablet_is_still_stored(admin_client, two_interviews):
    token, items = two_interviews
    token_revoke(token=token)

    page = upload(admin_client, unsent_file(*items))

    assert results(page) == ["created", "created"]


def test_each_bad_interview_is_rejected_with_its_reason_and_the_rest_stored(
    admin_client, two_interviews, demo_wave
):
    _token, items = two_interviews
    online = respondent_register(
        wave=demo_wave,
        consented=True,
        place=Settlement.objects.get(code="almaty"),
    )
    online_slot = slot_allocate(respondent=online).slot
    no_place = interview(online_slot)
    no_place.pop("place")

    page = upload(
        admin_client,
        unsent_file(
            interview(online_slot),
            {**interview(online_slot), "slot": 999_999},
            no_place,
            "not an object",
            {**items[0], "count": 7},
            items[1],
        ),
    )

    rows = page.context["rows"]
    no_tablet = ["slot: No tablet reserved this slot, so nobody could have used it."]
    assert results(page) == ["rejected"] * 5 + ["created"]
    assert rows[0].errors == rows[1].errors == no_tablet
    assert rows[2].errors == ["place: This field is required."]
    assert rows[3].errors == ["Each response is a JSON object."]
    assert rows[4].errors == ["count: The count must be a whole number from 0 to 4."]
    assert [row.index for row in rows] == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "data, message",
    [
        (b'{"format": "something-else", "responses": []}', "not a file of unsent"),
        (b'{"format": "listexp-unsent-v1"}', "no list of responses"),
        (b"[1, 2, 3]", "not a file of unsent"),
        (b'{"format": "listexp-unsent-v1", "responses": [', "not valid JSON"),
        ("уникальный".encode("cp1251"), "not UTF-8"),
    ],
)
def test_a_file_that_is_not_an_export_is_refused_and_nothing_is_stored(
    admin_client, two_interviews, stored_rows, data, message
):
    before = stored_rows()

    page = upload(admin_client, data)

    assert page.status_code == 200
    assert message in page.text and "upload-results" not in page.text
    assert stored_rows() == before


def test_a_file_larger_than_the_import_limit_is_refused(
    admin_client, two_interviews, stored_rows, settings
):
    _token, items = two_interviews
    settings.IMPORT_MAX_BYTES = 100
    before = stored_rows()

    page = upload(admin_client, unsent_file(*items))

    assert "larger than the import limit" in page.text
    assert stored_rows() == before
