"""The web import at /fielding/import/, for administrators only."""

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.html import escape

from survey.models import Wave
from survey.services import wave_open
from tests.conftest import RACE_CSV

URL = "/fielding/import/"


def upload(client, data: bytes, name: str = "race.csv", **fields):
    """Post ``data`` as the form's file, with race.csv's columns unless overridden."""
    form = {
        "items": 3,
        "outcome": "y",
        "treat": "treat",
        "covariates": "south, male",
        "numeric": "age",
        **fields,
        "file": SimpleUploadedFile(name, data, content_type="text/csv"),
    }
    return client.post(URL, form)


def test_an_administrator_sees_the_form(admin_client):
    response = admin_client.get(URL)

    assert response.status_code == 200
    assert b'enctype="multipart/form-data"' in response.content


def test_an_administrator_imports_race_csv_and_is_sent_home_with_a_message(
    admin_client,
):
    response = upload(admin_client, RACE_CSV.read_bytes())

    assert response.status_code == 302
    assert response.url == "/"
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Imported 1213 respondents into wave “race.csv”."
    ]

    wave = Wave.objects.get()
    assert wave.respondents.count() == 1213
    assert "by ada" in wave.description
    assert list(wave.survey.questions.values_list("code", flat=True)) == [
        "south",
        "male",
        "age",
    ]


def test_an_administrator_fills_a_draft_wave(admin_client, race_wave):
    data = b"y,treat,south,male\n1,0,1,0\n4,1,0,1\n"

    response = upload(
        admin_client, data, name="more.csv", wave=race_wave.pk, numeric=""
    )

    assert response.status_code == 302
    assert race_wave.respondents.count() == 1215


def test_a_bad_file_shows_every_problem_on_the_page_and_stores_nothing(
    admin_client, stored_rows
):
    data = b"y,treat,south,male,age\n4,0,1,0,30\n1,0,1,0,old\n2,7,0,0,40\n1,1,0,1,50\n"
    before = stored_rows()

    response = upload(admin_client, data, name="bad.csv")

    assert response.status_code == 200
    problems = [
        "line 2, column “y”: the count must be a whole number from 0 to 3 on the "
        "control list, not “4”.",
        "line 3, column “age”: “old” is not a number.",
        "line 4, column “treat”: treatment must be 0 (control) or 1 (treatment), "
        "not “7”.",
    ]
    assert response.context["problems"] == problems
    content = response.content.decode()
    assert "Nothing was imported." in content
    for problem in problems:
        assert escape(problem) in content
    assert stored_rows() == before


def test_a_file_that_is_not_utf8_is_refused_with_how_to_save_it(
    admin_client, stored_rows
):
    data = "y,treat,sex\n1,0,Женский\n".encode("cp1251")
    before = stored_rows()

    response = upload(admin_client, data, covariates="sex", numeric="")

    assert response.status_code == 200
    [problem] = response.context["problems"]
    assert problem.startswith("line 2: the file is not UTF-8 text")
    assert escape("Save it as “CSV UTF-8”") in response.content.decode()
    assert stored_rows() == before


def test_a_file_over_the_import_limit_is_refused(admin_client, settings, stored_rows):
    settings.IMPORT_MAX_BYTES = 1000
    before = stored_rows()

    response = upload(admin_client, RACE_CSV.read_bytes())

    assert response.status_code == 200
    assert "larger than the import limit" in response.context["form"].errors["file"][0]
    assert stored_rows() == before


def test_the_form_offers_only_draft_waves(admin_client, race_wave, stored_rows):
    wave_open(wave=race_wave)
    before = stored_rows()

    response = upload(admin_client, RACE_CSV.read_bytes(), wave=race_wave.pk)

    assert response.status_code == 200
    assert "wave" in response.context["form"].errors
    assert stored_rows() == before


@pytest.mark.parametrize("persona", ["analyst_client", "interviewer_client"])
def test_analysts_and_interviewers_may_not_import(request, persona, stored_rows):
    client = request.getfixturevalue(persona)
    before = stored_rows()

    assert client.get(URL).status_code == 403
    assert upload(client, RACE_CSV.read_bytes()).status_code == 403
    assert stored_rows() == before


def test_an_anonymous_visitor_is_sent_to_log_in(client, stored_rows):
    before = stored_rows()

    response = upload(client, RACE_CSV.read_bytes())

    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/fielding/import/"
    assert stored_rows() == before


def test_an_arm_typed_twice_is_refused_on_its_field_and_nothing_is_stored(
    admin_client, stored_rows
):
    data = b"y,treat\n1,control\n2,race\n"
    before = stored_rows()

    response = upload(
        admin_client, data, covariates="", numeric="", arms="control, race, race"
    )

    assert response.status_code == 200
    assert response.context["form"].errors["arms"] == [
        "Arms (several sensitive items): “race” is given twice; name each one once."
    ]
    assert escape("“race” is given twice") in response.content.decode()
    assert stored_rows() == before


def test_a_covariate_column_named_twice_is_one_covariate(admin_client):
    response = upload(
        admin_client, RACE_CSV.read_bytes(), covariates="south, male, south"
    )

    assert response.status_code == 302
    questions = Wave.objects.get().survey.questions.values_list("code", flat=True)
    assert list(questions) == ["south", "male", "age"]
