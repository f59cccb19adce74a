"""``manage.py estimate`` on a file, checked against the R package ``list``."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import RACE_CSV

# R package list 9.2.6 and base R on race.csv (J = 3), as given in the project's issue.
RACE_OVERALL = {"estimate": 0.0677974402507511, "se": 0.049578289054338}
RACE_SOUTH = {
    "0": {"estimate": 0.00542800216002792, "se": 0.0560112332375167},
    "1": {"estimate": 0.258651286601597, "se": 0.105845908770363},
}
TOLERANCE = 1e-9


def estimate(*args) -> str:
    out = StringIO()
    call_command("estimate", *args, stdout=out)
    return out.getvalue()


def race_estimate(*args) -> str:
    return estimate(
        str(RACE_CSV), "--outcome", "y", "--treat", "treat", "--items", "3", *args
    )


def failing_estimate(tmp_path, content: str, *args) -> str:
    path = tmp_path / "input.csv"
    path.write_text(content, encoding="utf-8")
    err = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command(
            "estimate",
            str(path),
            "--outcome",
            "y",
            "--treat",
            "treat",
            "--items",
            "3",
            *args,
            stderr=err,
        )
    assert raised.value.returncode == 2
    return err.getvalue()


def test_it_matches_the_r_package_overall_and_by_south():
    result = json.loads(race_estimate("--by", "south", "--format", "json"))

    overall = result["overall"]
    assert overall["estimate"] == pytest.approx(RACE_OVERALL["estimate"], abs=TOLERANCE)
    assert overall["se"] == pytest.approx(RACE_OVERALL["se"], abs=TOLERANCE)
    assert (overall["n_treatment"], overall["n_control"]) == (624, 589)
    for group in result["groups"]:
        expected = RACE_SOUTH[group["level"]]
        assert group["variable"] == "south"
        assert group["estimate"] == pytest.approx(expected["estimate"], abs=TOLERANCE)
        assert group["se"] == pytest.approx(expected["se"], abs=TOLERANCE)


def test_it_gives_every_estimate_object_the_documented_keys():
    result = json.loads(race_estimate("--by", "south", "--format", "json"))

    keys = [
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "n_treatment",
        "n_control",
        "mean_treatment",
        "mean_control",
        "share",
        "note",
    ]
    assert list(result["overall"]) == keys
    assert all(list(g)[:2] == ["variable", "level"] for g in result["groups"])
    assert all(isinstance(g["level"], str) for g in result["groups"])


def test_it_writes_csv_with_variable_and_level_first():
    lines = race_estimate("--by", "south", "--format", "csv").splitlines()

    assert lines[0].startswith("variable,level,estimate,se,ci_low,ci_high")
    assert lines[1].startswith("overall,overall,0.0677974402507")
    assert lines[3].startswith("south,1,0.25865128660159")


def test_it_accepts_breakdowns_comma_separated_or_repeated():
    together = json.loads(race_estimate("--by", "south,male", "--format", "json"))
    repeated = json.loads(
        race_estimate("--by", "south", "--by", "male", "--format", "json")
    )

    assert together == repeated
    assert {g["variable"] for g in together["groups"]} == {"south", "male"}


def test_it_prints_a_table_by_default_with_the_interval_stated():
    text = race_estimate("--by", "south")

    assert "overall" in text and "0.068" in text
    assert "normal approximation" in text


def test_it_leaves_out_and_counts_empty_counts(tmp_path):
    path = tmp_path / "gaps.csv"
    rows = ["y,treat,g"] + ["1,0,a", "2,0,a", "2,1,a", "3,1,a", ",1,a", "1,0,"]
    path.write_text("\n".join(rows) + "\n")

    result = json.loads(
        estimate(
            str(path),
            "--outcome",
            "y",
            "--treat",
            "treat",
            "--items",
            "3",
            "--by",
            "g",
            "--format",
            "json",
        )
    )

    assert result["n_missing_count"] == 1
    assert result["overall"]["n_treatment"] == 2
    assert result["missing"]["g"] == 2


def test_it_names_line_and_column_of_a_count_out_of_range(tmp_path):
    err = failing_estimate(tmp_path, "y,treat\n1,0\n4,0\n5,1\n")

    assert "line 3" in err and "“y”" in err and "0 to 3" in err
    assert "line 4" in err and "0 to 4" in err


def test_it_refuses_a_treatment_value_other_than_0_or_1(tmp_path):
    err = failing_estimate(tmp_path, "y,treat\n1,0\n1,2\n")

    assert "line 3" in err and "“treat”" in err


def test_it_names_a_missing_column(tmp_path):
    err = failing_estimate(tmp_path, "y,treat\n1,0\n", "--by", "region")

    assert "“region”" in err and "no such column" in err


def test_it_reads_semicolons_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "\ufeffy;treat;аймақ\n1;0;Алматы\n2;0;Алматы\n2;1;Алматы\n3;1;Алматы\n".encode()
    )

    result = json.loads(
        estimate(
            str(path),
            "--outcome",
            "y",
            "--treat",
            "treat",
            "--items",
            "3",
            "--by",
            "аймақ",
            "--format",
            "json",
        )
    )

    assert result["groups"][0]["level"] == "Алматы"
    assert result["overall"]["estimate"] == pytest.approx(1.0)


def test_it_refuses_a_file_that_does_not_exist(tmp_path):
    with pytest.raises(CommandError) as raised:
        estimate(
            str(tmp_path / "nope.csv"), "--outcome", "y", "--treat", "t", "--items", "3"
        )

    assert raised.value.returncode == 2


def test_it_says_a_folder_is_a_folder(tmp_path):
    with pytest.raises(CommandError) as raised:
        estimate(str(tmp_path), "--outcome", "y", "--treat", "t", "--items", "3")

    assert raised.value.returncode == 2
    assert str(raised.value) == f"{tmp_path} is a folder; give the CSV file inside it."


def test_it_refuses_a_count_in_exponent_notation_naming_line_and_column(tmp_path):
    err = failing_estimate(tmp_path, "y,treat\n1,0\n2.0,1\n1e0,0\n")

    assert err == (
        "input.csv: line 4, column “y”: the count must be a whole number from 0 to 3 "
        "on the control list, not “1e0”.\n"
    )


def test_a_count_written_with_zero_decimals_is_the_whole_number(tmp_path):
    path = tmp_path / "decimals.csv"
    path.write_text("y,treat\n1.0,0\n2,0\n2,1\n3.00,1\n", encoding="utf-8")

    result = json.loads(
        estimate(
            str(path),
            "--outcome",
            "y",
            "--treat",
            "treat",
            "--items",
            "3",
            "--format",
            "json",
        )  # fmt: skip
    )

    assert result["overall"]["estimate"] == pytest.approx(1.0)
