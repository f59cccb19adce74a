"""``manage.py export_wave``: a wave's microdata and its codebook, written to files."""

import errno
from io import StringIO

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from analysis.management.commands import export_wave
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
    codebook = pd.read_csv(tmp_path / "wave-csv-codebook.csv", encoding="utf-8-sig")
    assert output.read_bytes().startswith(b"\xef\xbb\xbf")
    assert "Wrote 4 rows" in out
    assert list(data["ұлт_тобы"].fillna("")) == ["басқа", "қазақ", "", ""]
    assert codebook.set_index("name").loc["nation", "label"] == "Ұлтыңыз"


def test_it_writes_the_xlsx_with_its_codebook_sheet(lettered_wave, tmp_path):
    output = tmp_path / "wave.xlsx"

    export(lettered_wave.pk, "--format", "xlsx", "--language", "ru", "--output", output)

    sheets = pd.read_excel(output, sheet_name=None)
    beside = pd.read_csv(tmp_path / "wave-xlsx-codebook.csv", encoding="utf-8-sig")
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
    codebook = pd.read_csv(tmp_path / "wave-dta-codebook.csv", encoding="utf-8-sig")
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
    assert (tmp_path / f"wave{lettered_wave.pk}-microdata-en-csv-codebook.csv").exists()


def test_each_format_keeps_its_own_codebook_in_the_same_folder(
    lettered_wave, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)

    for format in ("csv", "xlsx", "dta"):
        out = export(lettered_wave.pk, "--format", format, "--language", "ru")
        assert f"-ru-{format}-codebook.csv" in out

    name = f"wave{lettered_wave.pk}-microdata-ru"
    csv_book = pd.read_csv(tmp_path / f"{name}-csv-codebook.csv", dtype=str)
    dta_book = pd.read_csv(tmp_path / f"{name}-dta-codebook.csv", dtype=str)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        f"{name}-csv-codebook.csv",
        f"{name}-dta-codebook.csv",
        f"{name}-xlsx-codebook.csv",
        f"{name}.csv",
        f"{name}.dta",
        f"{name}.xlsx",
    ]
    assert not csv_book.equals(dta_book)


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


def test_an_output_ending_in_a_separator_for_a_missing_folder_is_refused(
    lettered_wave, tmp_path
):
    message = refused(
        lettered_wave.pk, "--format", "csv", "--output", f"{tmp_path / 'dir'}/"
    )

    assert message == (
        f"--output {tmp_path / 'dir'}/ names a folder, and there is no folder "
        f"{tmp_path / 'dir'}; create it or give a file name, such as "
        f"{tmp_path / 'dir' / f'wave{lettered_wave.pk}-microdata-en.csv'}."
    )
    assert list(tmp_path.iterdir()) == []
    assert not AuditEvent.objects.exists()


def test_an_output_that_is_a_folder_is_refused_naming_it(lettered_wave, tmp_path):
    message = refused(lettered_wave.pk, "--format", "csv", "--output", tmp_path)

    assert message == (
        f"--output {tmp_path} is a folder; give a file name, such as "
        f"{tmp_path / f'wave{lettered_wave.pk}-microdata-en.csv'}."
    )
    assert list(tmp_path.iterdir()) == []
    assert not AuditEvent.objects.exists()


def test_standard_output_is_refused_as_the_export_is_two_files(
    lettered_wave, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)

    message = refused(lettered_wave.pk, "--format", "csv", "--output", "-")

    assert message.startswith("--output -: the export is two files")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("format", "name"),
    [("csv", "a.xlsx"), ("xlsx", "a.CSV"), ("dta", "a.csv"), ("xlsx", "a.xls")],
)
def test_a_file_named_for_another_format_is_refused(
    lettered_wave, tmp_path, format, name
):
    message = refused(lettered_wave.pk, "--format", format, "--output", tmp_path / name)

    assert message.startswith(f"--output {name} ends in .")
    assert f"but --format is {format}" in message
    assert list(tmp_path.iterdir()) == []


def test_a_codebook_name_taken_by_a_folder_is_refused(lettered_wave, tmp_path):
    (tmp_path / "wave-csv-codebook.csv").mkdir()

    message = refused(
        lettered_wave.pk, "--format", "csv", "--output", tmp_path / "wave.csv"
    )

    assert "which is a folder" in message
    assert not (tmp_path / "wave.csv").exists()


def test_a_file_that_cannot_be_written_is_refused_in_words(
    lettered_wave, tmp_path, monkeypatch
):
    output = tmp_path / "wave.csv"

    def disk_full(export):
        raise OSError(errno.ENOSPC, "No space left on device", str(output))

    monkeypatch.setattr(export_wave, "csv_lines", disk_full)

    message = refused(lettered_wave.pk, "--format", "csv", "--output", output)

    assert message == f"Cannot write {output}: No space left on device."
