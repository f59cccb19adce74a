"""``manage.py import_responses``: a file into a new survey or into a draft wave."""

from dataclasses import dataclass
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from fielding.forms import ImportForm
from fielding.importing import MAX_ITEMS
from fielding.models import Assignment, Respondent, Response
from fielding.tabular import TableError
from survey.models import (
    CardText,
    CovariateQuestion,
    Item,
    Region,
    Settlement,
    Survey,
    Wave,
)
from survey.services import wave_close, wave_open
from tests.conftest import RACE_CSV, RACE_SPEC, import_csv


@dataclass
class Refusal:
    problems: list[str]
    message: str


def arguments(path, flags, items) -> list[str]:
    columns = ["--items", str(items), "--outcome", "y", "--treat", "treat"]
    return [str(path), *columns, *map(str, flags)]


def imported(path, *flags, items=3) -> str:
    """Run the import (J = 3, count in ``y``, arm in ``treat``); returns its output."""
    out = StringIO()
    call_command("import_responses", *arguments(path, flags, items), stdout=out)
    return out.getvalue()


def refused(path, *flags, items=3) -> Refusal:
    """Run an import that must exit with status 2; returns what it told the user."""
    err = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("import_responses", *arguments(path, flags, items), stderr=err)
    assert raised.value.returncode == 2
    return Refusal(err.getvalue().splitlines(), str(raised.value))


def csv_file(tmp_path, text: str, name: str = "data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def almaty(db):
    region = Region.objects.create(code="almaty-city", name="Almaty (city)")
    return Settlement.objects.create(region=region, code="almaty", name="Almaty")


BAD_ROWS = """id,y,treat,weight,place
a1,3,0,1.5,Almaty
a2,4,0,1,
a3,4,1,1,
a4,5,1,1,
a5,2,2,1,
a6,two,0,1,
a1,1,0,1,
a8,1,0,0,
a9,1,0,-2,
a10,1,0,1,Atlantis
a11,-1,0,,
"""


def test_it_imports_race_csv_into_a_new_survey_and_draft_wave(db):
    output = imported(RACE_CSV, "--covariate", "south,male", "--numeric", "age")

    wave = Wave.objects.get()
    assert wave.name == "race.csv"
    assert wave.status == Wave.DRAFT
    assert wave.survey.code == "race"
    assert output == (
        f"Imported 1213 respondents (0 without a count) into wave {wave.pk} "
        "“race.csv”.\n"
    )

    assignments = Assignment.objects.filter(respondent__wave=wave)
    assert assignments.count() == 1213
    assert assignments.filter(arm="treatment").count() == 624
    assert set(assignments.values_list("source", flat=True)) == {Assignment.IMPORT}
    assert Response.objects.filter(status=Response.COMPLETE).count() == 1213


def test_it_makes_coded_and_numeric_questions_from_the_covariates(db):
    imported(RACE_CSV, "--covariate", "south,male", "--numeric", "age")

    questions = {q.code: q for q in CovariateQuestion.objects.all()}
    assert {code: q.kind for code, q in questions.items()} == {
        "south": CovariateQuestion.CODED,
        "male": CovariateQuestion.CODED,
        "age": CovariateQuestion.NUMERIC,
    }
    assert [c.code for c in questions["south"].choices.all()] == ["0", "1"]
    assert not questions["age"].choices.exists()

    first = Respondent.objects.order_by("id").first()
    assert first.answers == {"south": "1", "male": "0", "age": 7.2}


@pytest.mark.parametrize(
    "flags",
    [
        ["--covariate", "south,male"],
        ["--covariate", "south", "--covariate", "male"],
        ["--covariate", " south , male,", "--covariate", "south"],
    ],
    ids=["comma-separated", "repeated", "spaced-and-repeated"],
)
def test_it_takes_covariates_comma_separated_or_repeated(db, flags):
    imported(RACE_CSV, *flags)

    codes = CovariateQuestion.objects.values_list("code", flat=True)
    assert list(codes) == ["south", "male"]


def test_it_reports_every_bad_row_with_its_line_column_and_reason(
    tmp_path, almaty, stored_rows
):
    path = csv_file(tmp_path, BAD_ROWS, name="bad.csv")
    before = stored_rows()

    refusal = refused(path, "--id", "id", "--weight", "weight", "--place", "place")

    assert refusal.problems == [
        "bad.csv: line 3, column “y”: the count must be a whole number from 0 to 3 "
        "on the control list, not “4”.",
        "bad.csv: line 5, column “y”: the count must be a whole number from 0 to 4 "
        "on the treatment list, not “5”.",
        "bad.csv: line 6, column “treat”: treatment must be 0 (control) or "
        "1 (treatment), not “2”.",
        "bad.csv: line 7, column “y”: the count must be a whole number from 0 to 3 "
        "on the control list, not “two”.",
        "bad.csv: line 8, column “id”: id “a1” is already used on line 2.",
        "bad.csv: line 9, column “weight”: a weight must be a positive number, "
        "not “0”.",
        "bad.csv: line 10, column “weight”: a weight must be a positive number, "
        "not “-2”.",
        "bad.csv: line 11, column “place”: “Atlantis” is not a known settlement "
        "code or name; add it under Settlements first.",
        "bad.csv: line 12, column “y”: the count must be a whole number from 0 to 3 "
        "on the control list, not “-1”.",
    ]
    assert refusal.message == "Nothing was imported."
    assert stored_rows() == before


def test_it_reports_every_problem_of_a_row_in_one_pass(db, tmp_path):
    path = csv_file(tmp_path, "id,y,treat,w\nx,9,0,-1\nx,1,0,1\n")

    refusal = refused(path, "--id", "id", "--weight", "w")

    assert refusal.problems == [
        "data.csv: line 2, column “w”: a weight must be a positive number, not “-1”.",
        "data.csv: line 2, column “y”: the count must be a whole number from 0 to 3 "
        "on the control list, not “9”.",
        "data.csv: line 3, column “id”: id “x” is already used on line 2.",
    ]


def test_it_reads_a_place_by_its_code_or_its_name_in_any_case(tmp_path, almaty):
    path = csv_file(tmp_path, "y,treat,town\n1,0,ALMATY\n2,1,almaty\n3,1,\n")

    imported(path, "--place", "town")

    places = Respondent.objects.order_by("id").values_list("place", flat=True)
    assert list(places) == [almaty.pk, almaty.pk, None]


def test_it_stores_weights_and_ids(db, tmp_path):
    path = csv_file(tmp_path, "code,y,treat,w\nk-1,1,0,0.5\nk-2,2,1,2\n")

    imported(path, "--id", "code", "--weight", "w")

    stored = Respondent.objects.order_by("id").values_list("external_id", "weight")
    assert list(stored) == [("k-1", 0.5), ("k-2", 2.0)]


def test_it_names_the_header_when_a_column_is_missing(db, stored_rows):
    before = stored_rows()

    refusal = refused(RACE_CSV, "--covariate", "south,region")

    assert refusal.problems == [
        "race.csv: line 1, column “region”: no such column; the header has: "
        "y, treat, age, south, male, college, state"
    ]
    assert stored_rows() == before


def test_it_stores_an_empty_count_as_an_assignment_without_a_response(db, tmp_path):
    path = csv_file(tmp_path, "y,treat\n,1\nNA,0\n2,0\n")

    output = imported(path)

    assert "Imported 3 respondents (2 without a count)" in output
    assert Assignment.objects.count() == 3
    assert list(Response.objects.values_list("assignment__arm", "count")) == [
        ("control", 2)
    ]


def test_it_keeps_kazakh_column_names_and_values(db, tmp_path):
    text = "\ufeffy;treat;жынысы\n1;0;Әйел\n2;1;Ер\n3;1;Әйел\n"
    path = csv_file(tmp_path, text, name="сауалнама.csv")

    imported(path, "--covariate", "жынысы")

    question = CovariateQuestion.objects.get()
    assert question.code == "жынысы"
    assert sorted(question.choices.values_list("code", flat=True)) == ["Ер", "Әйел"]
    assert Wave.objects.get().name == "сауалнама.csv"


def test_it_refuses_a_covariate_name_that_cannot_be_a_question_code(db, tmp_path):
    path = csv_file(tmp_path, "y,treat,home town\n1,0,x\n")

    refusal = refused(path, "--covariate", "home town")

    assert refusal.problems == [
        "data.csv: line 1, column “home town”: a covariate's name may not hold "
        "spaces, commas or colons."
    ]


def test_it_refuses_a_numeric_covariate_that_is_not_a_number(db, tmp_path):
    path = csv_file(tmp_path, "y,treat,age\n1,0,41\n2,1,forty\n3,0,\n")

    refusal = refused(path, "--numeric", "age")

    assert refusal.problems == [
        "data.csv: line 3, column “age”: “forty” is not a number."
    ]


def test_it_refuses_a_file_with_a_header_and_no_rows(tmp_path, stored_rows):
    path = csv_file(tmp_path, "y,treat\n")
    before = stored_rows()

    refusal = refused(path)

    assert refusal.problems == ["data.csv: line 1: the file has a header but no rows."]
    assert stored_rows() == before


def test_it_refuses_a_file_that_does_not_exist(tmp_path, db):
    with pytest.raises(CommandError, match="No such file") as raised:
        call_command("import_responses", *arguments(tmp_path / "gone.csv", [], 3))

    assert raised.value.returncode == 2


def test_it_refuses_a_folder_saying_it_is_one(tmp_path, db):
    with pytest.raises(CommandError) as raised:
        call_command("import_responses", *arguments(tmp_path, [], 3))

    assert raised.value.returncode == 2
    assert str(raised.value) == f"{tmp_path} is a folder; give the CSV file inside it."


@pytest.mark.parametrize("items", [0, 51, 100_000])
def test_it_refuses_a_j_outside_the_web_forms_limits(items, stored_rows):
    before = stored_rows(), CardText.objects.count(), Item.objects.count()

    refusal = refused(RACE_CSV, items=items)

    assert refusal.message == (
        f"--items: J must be from 1 to 50 control items; got {items}."
    )
    assert refusal.problems == []
    assert (stored_rows(), CardText.objects.count(), Item.objects.count()) == before


@pytest.mark.parametrize("second_items", [-1, 51])
def test_it_refuses_a_second_lists_j_outside_the_web_forms_limits(
    second_items, stored_rows
):
    before = stored_rows()

    refusal = refused(
        RACE_CSV, "--second-list", "y2,treat2", "--second-items", second_items
    )

    assert refusal.message == (
        "--second-items: the second list's J must be from 1 to 50 (or left out); "
        f"got {second_items}."
    )
    assert stored_rows() == before


def test_the_limit_on_j_is_the_web_forms():
    form = ImportForm()

    assert form.fields["items"].max_value == MAX_ITEMS
    assert form.fields["second_items"].max_value == MAX_ITEMS


def test_the_import_itself_refuses_more_control_items_than_the_limit(stored_rows):
    before = stored_rows()

    with pytest.raises(TableError) as raised:
        import_csv(RACE_CSV.read_bytes(), **{**RACE_SPEC, "items": MAX_ITEMS + 1})

    assert raised.value.lines() == [
        "line 1: the number of control items J must be at most 50."
    ]
    assert stored_rows() == before


def test_it_refuses_an_arm_named_twice(tmp_path, stored_rows):
    path = csv_file(tmp_path, "y,treat\n1,control\n2,a\n")
    before = stored_rows()

    refusal = refused(path, "--arms", "control,a", "--arms", "a")

    assert refusal.message == "--arms: “a” is given twice; name each one once."
    assert stored_rows() == before


def test_it_refuses_a_count_in_exponent_notation_naming_line_and_column(
    tmp_path, stored_rows
):
    path = csv_file(tmp_path, "y,treat\n1,0\n1e0,1\n2.0,1\n")
    before = stored_rows()

    refusal = refused(path)

    assert refusal.problems == [
        "data.csv: line 3, column “y”: the count must be a whole number from 0 to 4 "
        "on the treatment list, not “1e0”."
    ]
    assert stored_rows() == before


def test_it_refuses_a_file_larger_than_the_import_limit(settings, stored_rows):
    settings.IMPORT_MAX_BYTES = RACE_CSV.stat().st_size - 1
    before = stored_rows()

    refusal = refused(RACE_CSV)

    assert "is larger than the import limit" in refusal.message
    assert stored_rows() == before


def test_it_states_a_limit_under_one_megabyte_truthfully(settings, db):
    settings.IMPORT_MAX_BYTES = 10_000  # race.csv is 22,860 bytes

    refusal = refused(RACE_CSV)

    assert "limit of 0 MB" not in refusal.message


def test_importing_the_same_file_twice_makes_a_second_survey(db):
    imported(RACE_CSV)
    imported(RACE_CSV)

    surveys = Survey.objects.order_by("id")
    assert [s.code for s in surveys] == ["race", "race-2"]
    assert [s.waves.get().respondents.count() for s in surveys] == [1213, 1213]


# Importing into a wave


def test_it_fills_a_draft_wave_of_an_existing_survey(tmp_path, race_wave):
    path = csv_file(tmp_path, "y,treat,south,male\n1,0,1,0\n4,1,0,1\n")

    output = imported(path, "--wave", race_wave.pk, "--covariate", "south,male")

    assert f"into wave {race_wave.pk} “race.csv”" in output
    assert Survey.objects.count() == 1
    assert race_wave.respondents.count() == 1215


def test_it_checks_codes_against_the_surveys_existing_choices(
    tmp_path, race_wave, stored_rows
):
    path = csv_file(tmp_path, "y,treat,south,male\n1,0,1,0\n2,1,2,1\n")
    before = stored_rows()

    refusal = refused(path, "--wave", race_wave.pk, "--covariate", "south,male")

    assert refusal.problems == [
        "data.csv: line 3, column “south”: “2” is not one of the question's codes "
        "(0, 1)."
    ]
    assert stored_rows() == before


def test_it_refuses_a_covariate_the_survey_does_not_ask_or_asks_differently(
    race_wave,
):
    refusal = refused(
        RACE_CSV, "--wave", race_wave.pk, "--covariate", "college", "--numeric", "male"
    )

    assert refusal.problems == [
        "race.csv: line 1, column “college”: the survey has no covariate question "
        "with this code.",
        "race.csv: line 1, column “male”: the survey's question is coded single "
        "choice.",
    ]


@pytest.mark.parametrize(
    "services, status", [([wave_open], "fielding"), ([wave_open, wave_close], "closed")]
)
def test_it_refuses_a_wave_that_is_not_a_draft(
    race_wave, stored_rows, services, status
):
    for service in services:
        service(wave=race_wave)
    before = stored_rows()

    refusal = refused(RACE_CSV, "--wave", race_wave.pk)

    assert refusal.problems == [
        f"race.csv: line 1: wave “race.csv” is {status}; data can be imported only "
        "into a draft wave."
    ]
    assert stored_rows() == before


def test_it_refuses_a_j_that_does_not_match_the_wave(race_wave, stored_rows):
    before = stored_rows()

    refusal = refused(RACE_CSV, "--wave", race_wave.pk, items=4)

    assert refusal.problems == [
        "race.csv: line 1: J is 4 but the wave's control list has 3 items."
    ]
    assert stored_rows() == before


def test_it_refuses_an_id_already_in_the_wave(tmp_path, race_wave, stored_rows):
    first = csv_file(tmp_path, "id,y,treat\nr1,1,0\nr2,2,1\n")
    imported(first, "--id", "id", "--wave", race_wave.pk)
    before = stored_rows()

    again = csv_file(tmp_path, "id,y,treat\nr3,1,0\nr2,2,1\n", name="again.csv")
    refusal = refused(again, "--id", "id", "--wave", race_wave.pk)

    assert refusal.problems == ["again.csv: line 3: id “r2” is already in this wave."]
    assert stored_rows() == before


def test_it_refuses_a_wave_that_does_not_exist(db):
    with pytest.raises(CommandError, match="No wave with id 999.") as raised:
        call_command("import_responses", *arguments(RACE_CSV, ["--wave", 999], 3))

    assert raised.value.returncode == 2
