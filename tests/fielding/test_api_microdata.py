"""A wave's microdata for analysts: paginated JSON and a CSV download."""

import csv
import io

import pytest

from fielding.models import Respondent
from survey.roles import INTERVIEWER
from tests.conftest import client_for, make_user
from tests.fielding.tablets import demo_interviewer, response_for, tablet_for

QUESTIONS = ["gender", "education", "ethnicity", "age"]


def json_url(wave) -> str:
    return f"/api/v1/waves/{wave.pk}/responses/"


def csv_url(wave) -> str:
    return f"/api/v1/waves/{wave.pk}/responses.csv"


def read_csv(reply) -> tuple[bytes, list[dict]]:
    data = b"".join(reply.streaming_content)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    return data, rows


@pytest.fixture
def synced(demo_wave):
    """One response sent by a tablet of an interviewer with a Kazakh name, in a
    survey whose exports carry identifiers."""
    demo_wave.survey.export_identifiers = True
    demo_wave.survey.save(update_fields=["export_identifiers"])
    aigerim = make_user("Әйгерім", INTERVIEWER)
    demo_wave.interviewers.add(aigerim)
    tablet = tablet_for(aigerim)
    item = response_for(
        tablet.slots(demo_wave, place="astana")[0],
        language="kk",
        count=1,
        answers={"gender": "2", "ethnicity": "kazakh", "age": 41},
    )
    assert tablet.sync(item)[0]["result"] == "created"
    return Respondent.objects.get(client_uuid=item["uuid"])


def test_an_analyst_gets_the_microdata_a_page_at_a_time(demo_wave, analyst_client):
    reply = analyst_client.get(json_url(demo_wave), {"page_size": 50})

    body = reply.json()
    assert reply.status_code == 200
    assert body["count"] == 1000
    assert len(body["results"]) == 50
    assert body["next"].endswith("page=2&page_size=50")
    assert set(QUESTIONS) <= set(body["results"][0])
    assert body["results"][0]["wave_id"] == demo_wave.pk


def test_the_last_page_holds_the_rest(demo_wave, analyst_client):
    reply = analyst_client.get(json_url(demo_wave), {"page": 10})

    assert reply.json()["next"] is None
    assert len(reply.json()["results"]) == 100


def test_a_page_past_the_end_is_not_found(demo_wave, analyst_client):
    assert analyst_client.get(json_url(demo_wave), {"page": 11}).status_code == 404


def test_a_synced_response_appears_with_its_count_answers_and_times(
    synced, demo_wave, analyst_client
):
    reply = analyst_client.get(json_url(demo_wave), {"page": 11, "page_size": 100})

    (row,) = reply.json()["results"]
    assert row["respondent_id"] == synced.pk
    assert (row["stratum"], row["place"], row["mode"]) == ("astana", "astana", "tablet")
    assert (row["status"], row["count"], row["language"]) == ("complete", 1, "kk")
    assert (row["gender"], row["ethnicity"], row["age"]) == ("2", "kazakh", 41)
    assert row["education"] is None
    assert row["interviewer"] == "Әйгерім"
    assert row["source"] == "allocation" and row["simulated"] == 0
    assert row["late"] == 0
    assert row["received_at"] is not None


def test_an_administrator_may_read_the_microdata(demo_wave, admin_client):
    assert admin_client.get(json_url(demo_wave)).status_code == 200


def test_an_interviewer_may_not_read_the_microdata(demo_wave):
    client = client_for(demo_interviewer())

    assert client.get(json_url(demo_wave)).status_code == 403
    assert client.get(csv_url(demo_wave)).status_code == 403


def test_a_tablet_may_not_read_the_microdata(demo_wave):
    tablet = tablet_for(demo_interviewer())

    assert tablet.client.get(json_url(demo_wave)).status_code == 403


def test_an_unknown_wave_is_not_found(demo_wave, analyst_client):
    assert (
        analyst_client.get(f"/api/v1/waves/{demo_wave.pk + 9}/responses/").status_code
        == 404
    )
    assert (
        analyst_client.get(
            f"/api/v1/waves/{demo_wave.pk + 9}/responses.csv"
        ).status_code
        == 404
    )


def test_the_csv_starts_with_a_byte_order_mark_and_names_the_questions(
    demo_wave, analyst_client
):
    reply = analyst_client.get(csv_url(demo_wave))

    data, rows = read_csv(reply)
    header = data.decode("utf-8-sig").splitlines()[0].split(",")
    assert reply.status_code == 200
    assert reply["Content-Type"] == "text/csv; charset=utf-8"
    assert f"wave{demo_wave.pk}-responses.csv" in reply["Content-Disposition"]
    assert data.startswith(b"\xef\xbb\xbf")
    assert header[:3] == ["respondent_id", "wave_id", "experiment"]
    assert header[-4:] == QUESTIONS


def test_without_identifiers_interviewers_are_numbers_and_ids_are_left_out(
    synced, demo_wave, analyst_client
):
    demo_wave.survey.export_identifiers = False
    demo_wave.survey.save(update_fields=["export_identifiers"])

    page = analyst_client.get(json_url(demo_wave), {"page": 11, "page_size": 100})
    data, rows = read_csv(analyst_client.get(csv_url(demo_wave)))

    (row,) = page.json()["results"]
    assert "external_id" not in row and row["interviewer"] == 1
    assert "Әйгерім".encode() not in data
    assert "external_id" not in rows[0]


def test_the_csv_has_one_row_per_respondent(synced, demo_wave, analyst_client):
    _data, rows = read_csv(analyst_client.get(csv_url(demo_wave)))

    ids = [row["respondent_id"] for row in rows]
    assert len(rows) == 1001
    assert len(set(ids)) == len(ids)
    assert Respondent.objects.filter(wave=demo_wave).count() == 1001


def test_the_csv_keeps_kazakh_and_cyrillic_text_intact(
    synced, demo_wave, analyst_client
):
    _data, rows = read_csv(analyst_client.get(csv_url(demo_wave)))

    row = next(row for row in rows if row["respondent_id"] == str(synced.pk))
    assert row["interviewer"] == "Әйгерім"
    assert (row["count"], row["gender"], row["ethnicity"], row["age"]) == (
        "1",
        "2",
        "kazakh",
        "41",
    )
    assert row["education"] == ""


def test_the_csv_is_given_to_a_client_that_accepts_only_csv(demo_wave, analyst_client):
    reply = analyst_client.get(csv_url(demo_wave), headers={"Accept": "text/csv"})

    _data, rows = read_csv(reply)
    assert reply.status_code == 200
    assert len(rows) == 1000


def test_a_refused_csv_download_says_why_in_json(demo_wave):
    client = client_for(demo_interviewer())

    reply = client.get(csv_url(demo_wave), headers={"Accept": "text/csv"})

    assert reply.status_code == 403
    assert reply.json()["detail"]
