"""``manage.py export_wave``: a wave's microdata and its codebook, written to files."""

from io import StringIO

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from survey.models import AuditEvent
from tests.analysis.test_exports_microdata import KAZAKH, lettered_wave_create


@pytest.fixture
def lettered_wave(db):
    return lettered_wave_create()


def export(*args) -> str:
    out = StringIO()
    call_command("export_wave", *map(str, args), stdout=out)
    return out.getvalue()


def refused(*args) -> str:
    with pytest.raises(CommandError) as raised:
        export(*args)
    assert raised.value.returncode == 2
    return str(raised.value)


def test_it_writes_the_csv_and_its_codebook_beside_it(lettered_wave, tmp_path):
    output = tmp_path / "wave.csv"

    out = export(
        lettered_wave.pk, "--format", "csv", "--language", "kk", "--output", output
    )

    data = pd.read_csv(output, encoding="utf-8-sig", dtype=str)
    codebook = pd.read_csv(tmp_path / "wave-codebook.csv", encoding="utf-8-sig")
    assert output.read_bytes().startswith(b"\xef\xbb\xbf")
    assert "Wrote 4 rows" in out
    assert list(data["ұлт_тобы"].fillna("")) == ["басқа", "қазақ", "", ""]
    assert codebook.set_index("name").loc["nation", "label"] == "Ұлтыңыз"


def test_it_writes_the_xlsx_with_its_codebook_sheet(lettered_wave, tmp_path):
    output = tmp_path / "wave.xlsx"

    export(lettered_wave.pk, "--format", "xlsx", "--language", "ru", "--output", output)

    sheets = pd.read_excel(output, sheet_name=None)
    beside = pd.read_csv(tmp_path / "wave-codebook.csv", encoding="utf-8-sig")
    assert len(sheets["data"]) == 4
    assert sheets["codebook"].equals(beside)
    assert (
        beside.set_index("name").loc["жынысы", "values"] == "1 = Мужской; 2 = Женский"
    )


def test_it_writes_the_stata_file_with_the_codebook_of_its_codes(
    lettered_wave, tmp_path
):
    output = tmp_path / "wave.dta"

    out = export(
        lettered_wave.pk, "--format", "dta", "--language", "kk", "--output", output
    )

    frame = pd.read_stata(output)
    codebook = pd.read_csv(tmp_path / "wave-codebook.csv", encoding="utf-8-sig")
    values = codebook.set_index("name").loc["nation", "values"]
    assert "Wrote 4 rows" in out
    assert frame["nation"][0] == f"Басқа ({KAZAKH})"
    assert values == (
        f'1 = Қазақ [kazakh]; 2 = Басқа ({KAZAKH}) [other]; 3 = =HYPERLINK("x")'
    )


def test_without_an_output_it_writes_in_the_current_folder(
    lettered_wave, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)

    export(lettered_wave.pk, "--format", "csv")

    assert (tmp_path / f"wave{lettered_wave.pk}-microdata-en.csv").exists()
    assert (tmp_path / f"wave{lettered_wave.pk}-microdata-en-codebook.csv").exists()


def test_an_export_from_the_command_line_is_recorded_without_a_user(
    lettered_wave, tmp_path
):
    export(
        lettered_wave.pk,
        "--format",
        "dta",
        "--language",
        "ru",
        "--output",
        tmp_path / "w.dta",
    )

    event = AuditEvent.objects.get()
    assert (event.user, event.username) == (None, "")
    assert event.action == AuditEvent.EXPORTED
    assert event.description == "microdata dta ru"


def test_an_unknown_wave_is_refused(lettered_wave, tmp_path):
    message = refused(
        lettered_wave.pk + 9, "--format", "csv", "--output", tmp_path / "x"
    )

    assert "No wave with id" in message
    assert refused("abc", "--format", "csv")


def test_an_unknown_format_is_refused(lettered_wave, tmp_path):
    message = refused(lettered_wave.pk, "--format", "sav", "--output", tmp_path / "x")

    assert "Unknown format 'sav'" in message
    assert not AuditEvent.objects.exists()


def test_an_unknown_language_is_refused(lettered_wave, tmp_path):
    message = refused(
        lettered_wave.pk,
        "--format",
        "csv",
        "--language",
        "de",
        "--output",
        tmp_path / "x",
    )

    assert "Unknown language “de”" in message
    assert not (tmp_path / "x").exists()
    assert not AuditEvent.objects.exists()


def test_an_output_in_a_missing_folder_is_refused(lettered_wave, tmp_path):
    message = refused(
        lettered_wave.pk, "--format", "csv", "--output", tmp_path / "no" / "x.csv"
    )

    assert "No folder" in message
