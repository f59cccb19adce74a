"""``manage.py allocation_table``: the table a seed and a plan give, as CSV or JSON."""

import csv
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from fielding.management.commands.allocation_table import Command
from fielding.sequences import Plan, allocation_sequence

SEED = "20240611"


def table(*flags) -> str:
    """Run the command with ``--seed 20240611`` and the flags given; its output."""
    out = StringIO()
    call_command("allocation_table", "--seed", SEED, *map(str, flags), stdout=out)
    return out.getvalue()


def rows(*flags) -> list[dict]:
    return list(csv.DictReader(StringIO(table(*flags))))


def refused(*flags) -> str:
    """Run a command that must exit with status 2; the sentence it gave the user."""
    with pytest.raises(CommandError) as raised:
        table(*flags)
    assert raised.value.returncode == 2
    return str(raised.value)


def test_it_prints_a_csv_table_with_a_header_row():
    # The rows pin the stream of stratum "all", as a filed table would.
    output = table("--plan", "blocked", "--block-sizes", "4", "--n", "5")

    lines = output.splitlines()
    assert lines[0] == "stratum,position,block,arm"
    assert lines[1:] == [
        "all,1,1,treatment",
        "all,2,1,control",
        "all,3,1,control",
        "all,4,1,treatment",
        "all,5,2,treatment",
    ]


def test_it_prints_the_engines_sequence_for_each_stratum():
    found = rows("--plan", "complete", "--n", "10", "--strata", "almaty")

    expected = allocation_sequence(int(SEED), "almaty", Plan("complete", chunk=10), 10)
    assert [row["arm"] for row in found] == [slot.arm for slot in expected]
    assert {row["block"] for row in found} == {"1"}


def test_it_prints_json_as_a_list_of_objects_with_whole_numbers():
    output = table("--plan", "simple", "--p", "0.5", "--n", "3", "--format", "json")

    data = json.loads(output)
    assert [list(item) for item in data] == [
        ["stratum", "position", "block", "arm"]
    ] * 3
    assert [(item["position"], item["block"]) for item in data] == [
        (1, 1),
        (2, 1),
        (3, 1),
    ]
    assert {item["stratum"] for item in data} == {"all"}
    assert {item["arm"] for item in data} <= {"control", "treatment"}


def test_it_uses_the_stratum_all_and_arms_control_and_treatment_by_default():
    found = rows("--plan", "blocked", "--block-sizes", "4", "--n", "8")

    assert {row["stratum"] for row in found} == {"all"}
    assert sorted(row["arm"] for row in found) == ["control"] * 4 + ["treatment"] * 4


@pytest.mark.parametrize(
    "flags",
    [
        ["--strata", "almaty,astana,other"],
        ["--strata", "almaty", "--strata", "astana", "--strata", "other"],
        ["--strata", "almaty, astana", "--strata", "other,almaty"],
    ],
    ids=["comma-separated", "repeated", "both"],
)
def test_it_takes_strata_comma_separated_or_repeated(flags):
    found = rows("--plan", "simple", "--n", "2", *flags)

    assert [row["stratum"] for row in found] == [
        *["almaty"] * 2,
        *["astana"] * 2,
        *["other"] * 2,
    ]


def test_a_strata_rows_do_not_depend_on_the_other_strata_listed():
    flags = ["--plan", "blocked", "--block-sizes", "4,6", "--n", "20"]

    alone = rows(*flags, "--strata", "almaty")
    among = rows(*flags, "--strata", "other,almaty,astana")
    assert [row for row in among if row["stratum"] == "almaty"] == alone


def test_it_gives_the_same_table_twice_and_another_for_another_seed():
    flags = ["--plan", "blocked", "--block-sizes", "4", "--block-sizes", "6"]
    flags += ["--n", "40", "--strata", "almaty,astana"]

    first = table(*flags)
    assert table(*flags) == first

    out = StringIO()
    call_command("allocation_table", "--seed", "7", *flags, stdout=out)
    assert out.getvalue() != first


def test_it_takes_named_arms_with_a_ratio_in_their_order():
    found = rows(
        "--plan",
        "blocked",
        "--arms",
        "control,a",
        "--arms",
        "b",
        "--ratio",
        "1:1:1",
        "--block-sizes",
        "6",
        "--n",
        "12",
    )

    arms = [row["arm"] for row in found]
    each_block = ["a", "a", "b", "b", "control", "control"]
    assert sorted(arms[:6]) == sorted(arms[6:]) == each_block


def test_without_arms_the_ratio_reads_treatment_to_control():
    found = rows(
        "--plan", "blocked", "--ratio", "2:1", "--block-sizes", "3", "--n", "9"
    )

    assert [row["arm"] for row in found].count("treatment") == 6


def test_complete_counts_the_shares_over_all_n_slots():
    found = rows("--plan", "complete", "--n", "10", "--strata", "almaty,astana")

    for stratum in ("almaty", "astana"):
        arms = [row["arm"] for row in found if row["stratum"] == stratum]
        assert arms.count("treatment") == arms.count("control") == 5


@pytest.mark.parametrize(
    "flags, message",
    [
        (
            ["--plan", "blocked", "--block-sizes", "5", "--n", "10"],
            "Block size 5 is not a multiple of 2, the sum of the ratio 1:1",
        ),
        (
            ["--plan", "blocked", "--block-sizes", "4,x", "--n", "10"],
            "Block size 'x' is not a whole number",
        ),
        (
            ["--plan", "simple", "--ratio", "2:x", "--n", "10"],
            "The ratio '2:x' is not whole numbers separated by colons",
        ),
        (
            ["--plan", "blocked", "--p", "0.5", "--block-sizes", "4", "--n", "10"],
            "p applies only to the simple plan",
        ),
        (["--plan", "blocked", "--n", "10"], "needs at least one block size"),
        (["--plan", "simple", "--p", "1.5", "--n", "10"], "strictly between 0 and 1"),
        (["--plan", "simple", "--n", "0"], "--n must be at least 1 slot per stratum"),
        (
            ["--plan", "simple", "--arms", "a,b,c", "--ratio", "1:1", "--n", "4"],
            "has 2 shares but there are 3 arms",
        ),
    ],
    ids=[
        "size-not-multiple",
        "size-not-number",
        "bad-ratio",
        "p-for-blocked",
        "no-block-size",
        "p-out-of-range",
        "n-zero",
        "ratio-arms-mismatch",
    ],
)
def test_it_refuses_bad_input_with_status_two_and_a_sentence(flags, message):
    assert message in refused(*flags)


@pytest.mark.parametrize(
    "flags",
    [
        ["--plan", "simple"],
        ["--plan", "blocked", "--block-sizes", "4"],
        ["--plan", "complete"],
    ],
    ids=["simple", "blocked", "complete"],
)
def test_it_refuses_an_n_above_the_limit_before_drawing_anything(flags):
    message = refused(*flags, "--n", "10000000000")

    assert message == (
        "--n must be at most 1000000 slots per stratum; got 10000000000."
    )


def test_it_refuses_a_seed_out_of_range_with_status_two():
    with pytest.raises(CommandError) as raised:
        call_command("allocation_table", "--seed", "-1", "--plan", "simple", "--n", "4")

    assert raised.value.returncode == 2
    assert "The seed must lie between 0 and 2**63 - 1" in str(raised.value)


def test_an_unknown_plan_is_refused_by_the_argument_parser():
    with pytest.raises(CommandError, match="invalid choice: 'stratified'"):
        call_command(
            "allocation_table", "--seed", "1", "--plan", "stratified", "--n", "4"
        )


def test_an_unknown_plan_exits_with_status_two_from_the_command_line(capsys):
    command = Command()
    command._called_from_command_line = True
    parser = command.create_parser("manage.py", "allocation_table")

    with pytest.raises(SystemExit) as raised:
        parser.parse_args(["--seed", "1", "--plan", "stratified", "--n", "4"])
    assert raised.value.code == 2
    assert "invalid choice: 'stratified'" in capsys.readouterr().err


@pytest.mark.parametrize("ratio", ["1:0", "0:1", "0:3"])
def test_a_share_below_one_is_refused_with_the_ratio_as_typed(ratio):
    message = refused("--plan", "simple", "--ratio", ratio, "--n", "4")

    assert message == (
        f"Every share of the ratio {ratio} (treatment:control) must be a whole "
        "number of at least 1."
    )


def test_a_block_that_cannot_hold_the_ratio_is_refused_with_the_ratio_as_typed():
    message = refused(
        "--plan", "blocked", "--ratio", "2:1", "--block-sizes", "6,4", "--n", "4"
    )

    assert message == (
        "Block size 4 is not a multiple of 3, the sum of the ratio 2:1 "
        "(treatment:control)."
    )


def test_an_arm_named_twice_is_refused_not_dropped():
    message = refused(
        "--plan", "simple", "--arms", "control,a", "--arms", "a", "--n", "4"
    )

    assert message == "--arms: “a” is given twice; name each one once."
