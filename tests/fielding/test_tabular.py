"""Reading respondent-level CSV files: encodings, separators, shapes and problems."""

import pytest

from fielding.tabular import (
    TableError,
    parse_whole,
    read_arm_columns,
    read_list_columns,
    read_table,
)


def problems_in(data: bytes) -> list[str]:
    """The problems ``read_table`` reports for ``data``, as the user reads them:
    raised for a file it cannot read, kept on the table for rows it leaves out."""
    try:
        table = read_table(data)
    except TableError as error:
        return error.lines()
    return [str(problem) for problem in table.problems]


def test_it_reads_utf8_with_a_byte_order_mark():
    table = read_table("y,treat\n2,1\n".encode("utf-8-sig"))

    assert table.header == ["y", "treat"]
    assert table.rows == [["2", "1"]]


def test_it_reads_a_semicolon_separated_file_with_decimal_commas():
    table = read_table(b"y;treat;age\n2;1;3,5\n3;0;41\n")

    assert table.header == ["y", "treat", "age"]
    assert table.column("age") == ["3,5", "41"]


def test_it_keeps_kazakh_and_cyrillic_names_and_values_intact():
    data = "y;treat;жынысы;пол\n2;1;Әйел;Женский\n1;0;Ер;Мужской\n".encode("utf-8-sig")

    table = read_table(data)

    assert table.header == ["y", "treat", "жынысы", "пол"]
    assert table.column("жынысы") == ["Әйел", "Ер"]
    assert table.column("пол") == ["Женский", "Мужской"]


def test_it_refuses_a_file_that_is_not_utf8_and_says_how_to_save_it():
    data = b"y,treat,sex\n1,0,m\n2,1,f\n" + "3,1,Женский\n".encode("cp1251")

    [problem] = problems_in(data)

    assert problem.startswith("line 4: the file is not UTF-8 text")
    assert "Save it as “CSV UTF-8” and try again." in problem


def test_it_reports_a_ragged_line_with_its_line_number():
    assert problems_in(b"y,treat\n1,0\n2,1,9\n") == [
        "line 3: has 3 fields but the header has 2."
    ]


def test_it_reports_every_ragged_line_counting_blank_lines():
    data = b"y,treat\n1,0\n\n2,1,9\n3\n"

    assert problems_in(data) == [
        "line 4: has 3 fields but the header has 2.",
        "line 5: has 1 fields but the header has 2.",
    ]


def test_it_skips_blank_lines_and_keeps_each_rows_own_line():
    table = read_table(b"y,treat\n\n1,0\n   \n,\n2,1\n\n")

    assert table.rows == [["1", "0"], ["2", "1"]]
    assert table.lines == [3, 6]


def test_it_gives_a_row_after_a_multi_line_cell_its_own_line():
    data = b'y,treat,note\n1,0,"two\nlines"\n2,1,x,y\n'

    assert problems_in(data) == ["line 4: has 4 fields but the header has 3."]


def test_it_reads_windows_line_endings_and_trims_spaces_around_cells():
    table = read_table(b" y , treat \r\n 1 , 0 \r\n")

    assert table.header == ["y", "treat"]
    assert table.rows == [["1", "0"]]


def test_it_names_a_duplicated_column_and_the_position_of_an_unnamed_one():
    assert problems_in(b"y,,treat,y\n1,2,0,3\n") == [
        "line 1: column 2 has no name.",
        "line 1, column “y”: the column name appears twice.",
    ]


def test_a_bad_header_stops_the_reading_before_any_row():
    assert problems_in(b"y,y\n1\n") == [
        "line 1, column “y”: the column name appears twice.",
    ]


@pytest.mark.parametrize("data", [b"", b"\n  \n", "\ufeff".encode()])
def test_it_refuses_an_empty_file(data):
    assert problems_in(data) == ["line 1: the file is empty."]


def test_it_reads_a_header_without_rows_as_an_empty_table():
    table = read_table(b"y,treat\n", name="empty.csv")

    assert table.header == ["y", "treat"]
    assert table.rows == []
    assert table.name == "empty.csv"


def test_it_shows_the_first_200_problems_and_counts_the_rest():
    data = b"y,treat\n" + b"1,0,9\n" * 205

    shown = TableError(read_table(data).problems).lines()

    assert len(shown) == 201
    assert shown[0] == "line 2: has 3 fields but the header has 2."
    assert shown[199] == "line 201: has 3 fields but the header has 2."
    assert shown[200] == "… and 5 more problems."


def test_a_ragged_row_is_reported_together_with_every_other_bad_row():
    table = read_table(b"y,treat\n9,0\n1,0,extra\n1,7\n")

    columns = read_list_columns(table, outcome="y", treat="treat", items=3)

    assert [str(p) for p in columns.problems] == [
        "line 3: has 3 fields but the header has 2.",
        "line 2, column “y”: the count must be a whole number from 0 to 3 on the "
        "control list, not “9”.",
        "line 4, column “treat”: treatment must be 0 (control) or 1 (treatment), "
        "not “7”.",
    ]


def test_a_quote_that_never_closes_is_refused_instead_of_swallowing_rows():
    problems = problems_in(b'y,treat,note\n1,0,"hello\n2,1,x\n3,0,y\n')

    assert len(problems) == 1
    assert problems[0].startswith("line 2: this row cannot be read")


def test_the_count_and_the_treatment_must_be_two_columns():
    table = read_table(b"y,treat\n1,0\n")

    with pytest.raises(TableError, match="two different columns"):
        read_list_columns(table, outcome="treat", treat="treat", items=3)


@pytest.mark.parametrize(
    ("raw", "whole"),
    [("0", 0), ("3", 3), ("03", 3), ("2.0", 2), ("2,0", 2), ("1.00", 1)],
)
def test_a_whole_number_may_carry_zero_decimals_as_spreadsheets_save_it(raw, whole):
    assert parse_whole(raw) == whole


@pytest.mark.parametrize(
    "raw",
    ["1e0", "1E0", "0.1e1", "1.5", "2.", ".0", "-1", "-0", "+1", "nan", "inf", "١", ""],
)
def test_exponents_signs_and_other_spellings_are_not_whole_numbers(raw):
    assert parse_whole(raw) is None


def test_a_count_in_exponent_notation_is_a_problem_naming_line_and_column():
    table = read_table(b"y,treat\n1,0\n1e0,1\n2.0,0\n")

    columns = read_list_columns(table, outcome="y", treat="treat", items=3)

    assert [str(p) for p in columns.problems] == [
        "line 3, column “y”: the count must be a whole number from 0 to 4 on the "
        "treatment list, not “1e0”."
    ]
    assert columns.counts[2] == 2.0


def test_an_arm_in_exponent_notation_is_a_problem_naming_line_and_column():
    table = read_table(b"y,treat\n1,1e0\n")

    columns = read_list_columns(table, outcome="y", treat="treat", items=3)

    assert [str(p) for p in columns.problems] == [
        "line 2, column “treat”: treatment must be 0 (control) or 1 (treatment), "
        "not “1e0”."
    ]


def test_a_count_in_exponent_notation_is_a_problem_with_several_items_too():
    table = read_table(b"y,arm\n1,control\n2e0,a\n")

    columns = read_arm_columns(
        table, outcome="y", treat="arm", arms=["control", "a"], items=3
    )

    assert [str(p) for p in columns.problems] == [
        "line 3, column “y”: the count must be a whole number from 0 to 4 on the a "
        "list, not “2e0”."
    ]
