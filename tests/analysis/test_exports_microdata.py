"""A wave's microdata downloads: CSV, XLSX and Stata, their codebooks, identifiers,
the audit log, and every Cyrillic and Kazakh letter read back by pandas."""

import datetime as dt
import inspect
import io

import pandas as pd
import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from analysis.exports import microdata
from analysis.exports.microdata import csv_lines, microdata_plan
from fielding.models import Assignment, Respondent, Response
from fielding.selectors import MICRODATA_FIXED, interviewer_numbers
from survey.models import (
    AuditEvent,
    Choice,
    CovariateQuestion,
    Item,
    ItemList,
    ListExperiment,
    Recode,
    Region,
    Settlement,
    Stratum,
    Survey,
    Wave,
)
from survey.roles import INTERVIEWER
from tests.conftest import make_user

KAZAKH = "әғқңөұүһі"
REGISTERED = dt.datetime(2022, 9, 1, 10, 30, tzinfo=dt.UTC)


def lettered_wave_create() -> Wave:
    """A wave whose names, wording and labels hold Cyrillic and every Kazakh letter.

    Four respondents: two interviewers (the second one's first respondent comes
    later), a refusal, an answer the survey does not list and a text that a
    spreadsheet would run as a formula, and one web respondent with no response.
    """
    survey = Survey.objects.create(
        code="letters", name="Әріптер", languages=["en", "ru", "kk"]
    )
    experiment = ListExperiment.objects.create(survey=survey, code="list", name="Тізім")
    card = ItemList.objects.create(experiment=experiment, code="A")
    for n in range(1, 4):
        Item.objects.create(
            experiment=experiment, item_list=card, code=f"c{n}", kind=Item.CONTROL
        )
    Item.objects.create(experiment=experiment, code="csto", kind=Item.SENSITIVE)

    gender = CovariateQuestion.objects.create(
        survey=survey,
        code="жынысы",
        position=1,
        texts={"en": "Gender", "ru": "Пол респондента", "kk": "Респонденттің жынысы"},
    )
    Choice.objects.create(
        question=gender,
        code="1",
        position=1,
        labels={"en": "Male", "ru": "Мужской", "kk": "Ер"},
    )
    Choice.objects.create(
        question=gender,
        code="2",
        position=2,
        labels={"en": "Female", "ru": "Женский", "kk": "Әйел"},
    )
    nation = CovariateQuestion.objects.create(
        survey=survey,
        code="nation",
        position=2,
        texts={"en": "Nationality", "ru": "Национальность", "kk": "Ұлтыңыз"},
    )
    Choice.objects.create(
        question=nation,
        code="kazakh",
        position=1,
        labels={"en": "Kazakh", "ru": "Казах / казашка", "kk": "Қазақ"},
    )
    Choice.objects.create(
        question=nation,
        code="other",
        position=2,
        labels={"en": "Other", "ru": "Другая", "kk": f"Басқа ({KAZAKH})"},
    )
    CovariateQuestion.objects.create(
        survey=survey,
        code="age",
        kind=CovariateQuestion.NUMERIC,
        position=3,
        texts={"en": "Age", "ru": "Возраст", "kk": "Жасыңыз"},
    )
    Recode.objects.create(
        survey=survey,
        question=nation,
        name="ұлт_тобы",
        mapping={"kazakh": "қазақ", "other": "басқа"},
        labels={
            "қазақ": {"en": "Kazakhs", "ru": "Казахи", "kk": "Қазақтар"},
            "басқа": {"en": "Others", "ru": "Другие", "kk": f"Басқалар {KAZAKH}"},
        },
    )

    region = Region.objects.create(code="almaty-city", name="Алматы")
    place = Settlement.objects.create(
        region=region, code="almaty", name=f"Алматы қаласы {KAZAKH}"
    )
    wave = Wave.objects.create(survey=survey, name="Толқын ғ 2022")
    stratum = Stratum.objects.create(
        wave=wave, code="all", name="Барлығы", is_rest=True
    )
    nurlan = make_user("Нұрлан", INTERVIEWER)
    aigerim = make_user("Әйгерім", INTERVIEWER)

    people = [
        (
            "Ә-001",
            nurlan,
            {"жынысы": "2", "nation": "other", "age": 41},
            "treatment",
            3,
        ),
        (
            "Ә-002",
            aigerim,
            {"жынысы": "1", "nation": "kazakh", "age": 35},
            "control",
            "refused",
        ),
        ("=2+3", nurlan, {"nation": '=HYPERLINK("x")'}, "control", 0),
        (None, None, {}, "treatment", None),
    ]
    for external, interviewer, answers, arm, outcome in people:
        respondent = Respondent.objects.create(
            wave=wave,
            external_id=external,
            interviewer=interviewer,
            place=place if interviewer else None,
            stratum=stratum,
            mode=Wave.TABLET if interviewer else Wave.WEB,
            language="kk",
            answers=answers,
            registered_at=REGISTERED if interviewer else None,
        )
        assignment = Assignment.objects.create(
            respondent=respondent,
            experiment=experiment,
            arm=arm,
            item_order={"A": ["c2", "c1", "c3", "csto"]},
            source=Assignment.IMPORT,
        )
        if outcome == "refused":
            Response.objects.create(assignment=assignment, status=Response.REFUSED)
        elif outcome is not None:
            Response.objects.create(
                assignment=assignment, status=Response.COMPLETE, count=outcome
            )
    return wave


@pytest.fixture
def lettered_wave(db):
    return lettered_wave_create()


@pytest.fixture
def identified_wave(lettered_wave):
    Survey.objects.filter(pk=lettered_wave.survey_id).update(export_identifiers=True)
    lettered_wave.survey.refresh_from_db()
    return lettered_wave


def download(client, wave, **params):
    return client.get(reverse("analysis:microdata", args=[wave.pk]), params)


def body(reply) -> bytes:
    if isinstance(reply, StreamingHttpResponse):
        return b"".join(reply.streaming_content)
    return b"".join(reply) if hasattr(reply, "streaming_content") else reply.content


def read_csv(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str)


# CSV


def test_the_csv_is_streamed_by_a_generator(analyst_client, lettered_wave):
    reply = download(analyst_client, lettered_wave, format="csv", language="kk")
    export = microdata_plan(wave=lettered_wave, format="csv", language="kk")

    assert isinstance(reply, StreamingHttpResponse)
    assert inspect.isgenerator(csv_lines(export))
    assert reply["Content-Type"] == "text/csv; charset=utf-8"
    assert f"wave{lettered_wave.pk}-microdata-kk.csv" in reply["Content-Disposition"]


def test_the_csv_starts_with_a_byte_order_mark_and_keeps_the_columns_in_order(
    analyst_client, lettered_wave
):
    data = body(download(analyst_client, lettered_wave, format="csv"))

    frame = read_csv(data)
    fixed = [name for name in MICRODATA_FIXED if name != "external_id"]
    assert data.startswith(b"\xef\xbb\xbf")
    assert list(frame.columns) == [*fixed, "жынысы", "nation", "age", "ұлт_тобы"]
    assert len(frame) == 4


def test_the_csv_holds_counts_answers_recodes_and_kazakh_letters(
    analyst_client, lettered_wave
):
    frame = read_csv(body(download(analyst_client, lettered_wave, format="csv")))

    first = frame.iloc[0]
    assert (first["arm"], first["status"], first["count"]) == (
        "treatment",
        "complete",
        "3",
    )
    assert (first["жынысы"], first["nation"], first["age"]) == ("2", "other", "41")
    assert first["ұлт_тобы"] == "басқа"
    assert first["registered_at"] == "2022-09-01 10:30:00"
    assert frame.iloc[1]["ұлт_тобы"] == "қазақ"
    assert frame.iloc[1]["status"] == "refused" and pd.isna(frame.iloc[1]["count"])
    assert frame.iloc[3]["status"] == "no_response"


def test_a_text_that_would_run_as_a_formula_is_kept_as_text_in_the_csv(
    analyst_client, lettered_wave
):
    frame = read_csv(body(download(analyst_client, lettered_wave, format="csv")))

    assert frame.iloc[2]["nation"] == '\'=HYPERLINK("x")'
    assert pd.isna(frame.iloc[2]["ұлт_тобы"])


# Identifiers


def test_without_identifiers_interviewers_are_numbered_and_ids_left_out(
    analyst_client, lettered_wave
):
    data = body(download(analyst_client, lettered_wave, format="csv"))

    frame = read_csv(data)
    text = data.decode("utf-8-sig")
    assert "external_id" not in frame.columns
    assert list(frame["interviewer"].fillna("")) == ["1", "2", "1", ""]
    assert "Нұрлан" not in text and "Әйгерім" not in text and "Ә-001" not in text


def test_interviewer_numbers_stay_when_the_wave_grows(lettered_wave):
    before = interviewer_numbers(lettered_wave)
    newcomer = make_user("Ғалым", INTERVIEWER)
    Respondent.objects.create(wave=lettered_wave, interviewer=newcomer, answers={})

    after = interviewer_numbers(lettered_wave)

    assert before == {"Нұрлан": 1, "Әйгерім": 2}
    assert after == {"Нұрлан": 1, "Әйгерім": 2, "Ғалым": 3}


def test_with_identifiers_the_survey_allows_user_names_and_ids(
    analyst_client, identified_wave
):
    frame = read_csv(body(download(analyst_client, identified_wave, format="csv")))

    assert list(frame.columns[:3]) == ["respondent_id", "external_id", "wave_id"]
    assert list(frame["interviewer"].fillna("")) == ["Нұрлан", "Әйгерім", "Нұрлан", ""]
    assert list(frame["external_id"].fillna("")) == ["Ә-001", "Ә-002", "'=2+3", ""]


# XLSX


def test_the_xlsx_has_the_data_and_a_codebook_in_the_chosen_language(
    analyst_client, lettered_wave
):
    reply = download(analyst_client, lettered_wave, format="xlsx", language="kk")

    sheets = pd.read_excel(io.BytesIO(body(reply)), sheet_name=None)
    data, codebook = sheets["data"], sheets["codebook"].set_index("name")
    assert reply.status_code == 200
    assert list(sheets) == ["data", "codebook"]
    assert list(data["count"].fillna(-1)) == [3, -1, 0, -1]
    assert list(data["жынысы"].fillna(0)) == [2, 1, 0, 0]
    assert data.loc[0, "ұлт_тобы"] == "басқа"
    assert data.loc[2, "nation"] == '=HYPERLINK("x")'
    assert data.loc[0, "registered_at"] == pd.Timestamp("2022-09-01 10:30")
    assert codebook.loc["жынысы", "label"] == "Респонденттің жынысы"
    assert codebook.loc["жынысы", "values"] == "1 = Ер; 2 = Әйел"
    assert (
        codebook.loc["nation", "values"] == f"kazakh = Қазақ; other = Басқа ({KAZAKH})"
    )
    assert codebook.loc["ұлт_тобы", "values"] == (
        f"қазақ = Қазақтар; басқа = Басқалар {KAZAKH}"
    )
    assert codebook.loc["age", "type"] == "number"


def test_an_xlsx_larger_than_a_sheet_is_refused_with_a_pointer_to_csv(
    analyst_client, lettered_wave, monkeypatch
):
    monkeypatch.setattr(microdata, "XLSX_ROWS_MAX", 3)

    reply = download(analyst_client, lettered_wave, format="xlsx")
    page = analyst_client.get(reply.url)

    assert reply.status_code == 302 and reply.url == reverse("analysis:waves")
    assert "more than an Excel sheet holds" in page.text
    assert "Download it as CSV instead" in page.text
    assert not AuditEvent.objects.exists()


def test_an_xlsx_of_exactly_a_sheet_is_written(
    analyst_client, lettered_wave, monkeypatch
):
    monkeypatch.setattr(microdata, "XLSX_ROWS_MAX", 4)

    reply = download(analyst_client, lettered_wave, format="xlsx")

    assert reply.status_code == 200
    assert len(pd.read_excel(io.BytesIO(body(reply)), sheet_name="data")) == 4


# Stata


def stata(data: bytes):
    with pd.io.stata.StataReader(io.BytesIO(data)) as reader:
        frame = reader.read()
        return frame, reader.variable_labels(), reader.value_labels()


def test_the_stata_file_has_value_labels_in_the_chosen_language(
    analyst_client, lettered_wave
):
    reply = download(analyst_client, lettered_wave, format="dta", language="ru")

    frame, variables, values = stata(body(reply))
    assert reply.status_code == 200
    assert list(frame["жынысы"][:2]) == ["Женский", "Мужской"]
    assert frame["жынысы"][2:].isna().all()
    assert frame["nation"][0] == "Другая" and frame["nation"][1] == "Казах / казашка"
    assert frame["ұлт_тобы"][0] == "Другие"
    assert variables["жынысы"] == "Пол респондента"
    assert variables["age"] == "Возраст"


def test_the_stata_file_keeps_kazakh_letters_in_labels_and_levels(
    analyst_client, lettered_wave
):
    reply = download(analyst_client, lettered_wave, format="dta", language="kk")

    frame, variables, values = stata(body(reply))
    assert variables["жынысы"] == "Респонденттің жынысы"
    assert values["nation"][2] == f"Басқа ({KAZAKH})"
    assert frame["ұлт_тобы"][0] == f"Басқалар {KAZAKH}"
    assert frame["place"][0] == f"Алматы қаласы {KAZAKH}"
    assert frame["жынысы"][0] == "Әйел"


def test_the_stata_file_keeps_codes_numbers_and_times(analyst_client, lettered_wave):
    reply = download(analyst_client, lettered_wave, format="dta", language="en")

    with pd.io.stata.StataReader(io.BytesIO(body(reply))) as reader:
        frame = reader.read(convert_categoricals=False)
        values = reader.value_labels()
    assert list(frame["жынысы"].fillna(0)) == [2, 1, 0, 0]
    assert list(frame["count"].fillna(-1)) == [3, -1, 0, -1]
    assert list(frame["age"].fillna(0)) == [41, 35, 0, 0]
    assert list(frame["interviewer"].fillna(0)) == [1, 2, 1, 0]
    assert frame["registered_at"][0] == pd.Timestamp("2022-09-01 10:30")
    # A value the survey does not list gets the next free code, labelled by itself.
    assert frame["nation"][2] == 3
    assert values["nation"] == {1: "Kazakh", 2: "Other", 3: '=HYPERLINK("x")'}
    assert values["status"][1] == "complete"
    assert values["arm"] == {
        1: "control list",
        2: "treatment list (with the sensitive item)",
    }
    assert list(frame["arm"]) == [2, 1, 1, 2]


def test_the_stata_names_are_valid_identifiers(analyst_client, lettered_wave):
    survey = lettered_wave.survey
    CovariateQuestion.objects.create(
        survey=survey, code="mex.male", kind=CovariateQuestion.NUMERIC, position=9
    )
    CovariateQuestion.objects.create(
        survey=survey,
        code="1st_" + "x" * 40,
        kind=CovariateQuestion.NUMERIC,
        position=10,
    )

    frame, _variables, _values = stata(
        body(download(analyst_client, lettered_wave, format="dta"))
    )

    assert "mex_male" in frame.columns
    assert "v1st_" + "x" * 27 in frame.columns
    assert all(len(name) <= 32 for name in frame.columns)


# Codebook


def test_the_codebook_download_lists_every_column_in_the_chosen_language(
    analyst_client, lettered_wave
):
    reply = analyst_client.get(
        reverse("analysis:microdata-codebook", args=[lettered_wave.pk]),
        {"language": "kk"},
    )

    codebook = read_csv(reply.content).set_index("name")
    assert reply.content.startswith(b"\xef\xbb\xbf")
    assert list(codebook.columns) == ["label", "type", "values"]
    assert "external_id" not in codebook.index
    assert codebook.loc["nation", "label"] == "Ұлтыңыз"
    assert codebook.loc["ұлт_тобы", "values"].endswith(f"басқа = Басқалар {KAZAKH}")
    assert codebook.loc["registered_at", "type"] == "datetime"
    assert codebook.loc["interviewer", "type"] == "integer"
    assert (
        codebook.loc["language", "values"] == "en = English; ru = Русский; kk = Қазақша"
    )


def test_the_stata_codebook_gives_the_numbers_the_file_holds(
    analyst_client, lettered_wave
):
    reply = analyst_client.get(
        reverse("analysis:microdata-codebook", args=[lettered_wave.pk]),
        {"language": "kk", "format": "dta"},
    )

    codebook = read_csv(reply.content).set_index("name")
    assert codebook.loc["nation", "values"] == (
        f"1 = Қазақ [kazakh]; 2 = Басқа ({KAZAKH}) [other]"
    )
    assert codebook.loc["жынысы", "values"] == "1 = Ер; 2 = Әйел"


# Audit, language, access


def test_every_download_is_recorded_in_the_audit_log(
    analyst_client, analyst, lettered_wave
):
    body(download(analyst_client, lettered_wave, format="xlsx", language="ru"))
    body(download(analyst_client, lettered_wave, format="csv", language="kk"))

    events = AuditEvent.objects.order_by("id")
    assert [e.description for e in events] == ["microdata xlsx ru", "microdata csv kk"]
    assert {e.action for e in events} == {AuditEvent.EXPORTED}
    assert {e.user for e in events} == {analyst}
    assert events[0].object_type == "survey.wave"
    assert events[0].object_id == str(lettered_wave.pk)


def test_without_a_language_the_page_language_is_used(analyst_client, lettered_wave):
    analyst_client.cookies["django_language"] = "ru"

    reply = download(analyst_client, lettered_wave, format="dta")

    _frame, variables, _values = stata(body(reply))
    assert "microdata-ru.dta" in reply["Content-Disposition"]
    assert variables["жынысы"] == "Пол респондента"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"format": "sav"}, "Unknown format"),
        ({"format": "csv", "language": "de"}, "Unknown language"),
    ],
)
def test_an_unknown_format_or_language_is_refused_with_a_message(
    analyst_client, lettered_wave, params, message
):
    reply = download(analyst_client, lettered_wave, **params)

    assert reply.status_code == 302
    assert message in analyst_client.get(reply.url).text
    assert not AuditEvent.objects.exists()


def test_an_interviewer_may_not_download_microdata(interviewer_client, lettered_wave):
    assert download(interviewer_client, lettered_wave).status_code == 403


def test_the_waves_page_offers_the_download_with_format_and_language(
    analyst_client, lettered_wave
):
    page = analyst_client.get(reverse("analysis:waves"))

    assert "Download microdata" in page.text
    assert reverse("analysis:microdata", args=[lettered_wave.pk]) in page.text
    assert 'value="dta"' in page.text and 'value="kk"' in page.text
    assert reverse("analysis:microdata-codebook", args=[lettered_wave.pk]) in page.text
