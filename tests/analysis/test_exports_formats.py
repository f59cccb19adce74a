"""Stata's and Excel's rules (names, labels, sheets, cells), and the demo wave in
every format."""

import datetime as dt
import io

import pandas as pd
import pytest

from analysis.exports.microdata import (
    csv_lines,
    microdata_dta,
    microdata_plan,
    microdata_xlsx,
)
from analysis.exports.sheets import cell_value, sheet_title, text_cell
from analysis.exports.stata import distinct_labels, stata_label, stata_names
from survey.models import Wave
from tests.analysis.test_exports_microdata import lettered_wave_create


def test_valid_names_are_kept_and_cyrillic_and_kazakh_letters_allowed():
    names = ["count", "жынысы", "ұлт_тобы", "Q1"]

    assert stata_names(names) == {name: name for name in names}


@pytest.mark.parametrize(
    ("name", "stata"),
    [
        ("mex.male", "mex_male"),
        ("1st", "v1st"),
        ("", "v"),
        ("in", "_in"),
        ("_n", "__n"),
        ("str12", "_str12"),
        ("a" * 40, "a" * 32),
        ("age²", "age_"),
        ("жас (толық)", "жас__толық_"),
    ],
)
def test_invalid_names_are_made_valid(name, stata):
    assert stata_names([name])[name] == stata


def test_names_made_alike_are_told_apart_within_32_characters():
    names = stata_names(["a.b", "a_b", "x" * 40, "x" * 33])

    assert list(names.values()) == ["a_b", "a_b_2", "x" * 32, "x" * 30 + "_2"]


def test_labels_are_one_line_of_at_most_80_characters():
    assert stata_label("Сіздің\nбіліміңіз  қандай?") == "Сіздің біліміңіз қандай?"
    assert len(stata_label("ә" * 100)) == 80
    assert stata_label("ә" * 100).endswith("…")


def test_repeated_value_labels_get_their_code():
    assert distinct_labels({1: "Жоғары", 2: "Жоғары", 3: "Орта"}) == {
        1: "Жоғары (1)",
        2: "Жоғары (2)",
        3: "Орта",
    }


def test_sheet_titles_are_valid_and_unique():
    taken = set()

    titles = [sheet_title(n, taken) for n in ["a/b", "a:b", "x" * 40, "x" * 31]]

    assert titles == ["a_b", "a_b_2", "x" * 31, "x" * 29 + "_2"]


def test_a_formula_stays_text_and_control_characters_are_dropped():
    cell = text_cell(None, "=1+1")

    assert (cell.value, cell.data_type) == ("=1+1", "s")
    assert text_cell(None, "ә\x01ғ") == "әғ"


def test_times_are_written_in_utc_without_a_zone():
    almaty = dt.timezone(dt.timedelta(hours=5))

    value = cell_value(dt.datetime(2022, 9, 1, 15, 30, tzinfo=almaty))

    assert value == dt.datetime(2022, 9, 1, 10, 30)


def test_the_demo_wave_exports_in_every_format(demo_wave):
    xlsx, dta = io.BytesIO(), io.BytesIO()

    rows = microdata_xlsx(
        microdata_plan(wave=demo_wave, format="xlsx", language="kk"), xlsx
    )
    n, codebook = microdata_dta(
        microdata_plan(wave=demo_wave, format="dta", language="kk"), dta
    )

    sheet = pd.read_excel(io.BytesIO(xlsx.getvalue()), sheet_name="data")
    dta.seek(0)
    frame = pd.read_stata(dta)
    assert rows == n == len(sheet) == len(frame) == 1000
    assert set(frame["university"].dropna()) == {"Орта және одан төмен", "Жоғары"}
    assert set(frame["ethnicity"].dropna()) <= {"Қазақ", "Орыс", "Басқа"}
    assert set(frame["simulated"]) == {"иә"}
    assert (sheet["simulated"] == 1).all()
    entries = {entry["name"]: entry for entry in codebook}
    assert entries["gender"]["values"] == "1 = Ер; 2 = Әйел"


def test_a_wave_without_respondents_exports_its_columns(db):
    wave = lettered_wave_create()
    empty = Wave.objects.create(survey=wave.survey, name="Бос толқын")
    xlsx, dta = io.BytesIO(), io.BytesIO()

    lines = list(csv_lines(microdata_plan(wave=empty, format="csv", language="kk")))
    microdata_xlsx(microdata_plan(wave=empty, format="xlsx", language="kk"), xlsx)
    rows, _codebook = microdata_dta(
        microdata_plan(wave=empty, format="dta", language="kk"), dta
    )

    dta.seek(0)
    frame = pd.read_stata(dta)
    sheet = pd.read_excel(io.BytesIO(xlsx.getvalue()), sheet_name="data")
    assert len(lines) == 1 and lines[0].startswith("\ufeffrespondent_id,wave_id")
    assert rows == len(frame) == len(sheet) == 0
    assert list(frame.columns) == list(sheet.columns)
