"""``manage.py estimate`` with --balance, and several items or a double list by group.

The joint balance test on race.csv is checked against R 4.2.2's glm deviances, as
printed by tests/analysis/balance_reference.R, to 1e-8.
"""

import csv
import io
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.analysis.test_estimate_command_options import estimate_json, race, refused
from tests.conftest import DATA


def test_balance_of_race_matches_glm():
    result = race("--balance", "south,male", "--balance", "college,age")

    joint = result["balance"]["joint"]
    # R 4.2.2, glm(treat ~ factor(south) + factor(male) + factor(college) + age)
    # against glm(treat ~ 1): deviance difference and p.
    assert joint["statistic"] == pytest.approx(3.07731311201496, abs=1e-8)
    assert joint["p_value"] == pytest.approx(0.544971635918445, abs=1e-8)
    assert [c["name"] for c in result["balance"]["covariates"]] == [
        "south",
        "male",
        "college",
        "age",
    ]
    assert result["list_design"] == "single"


def test_the_strata_column_gives_stratum_fixed_effects():
    joint = race("--balance", "south,male,college,age", "--strata", "south")["balance"][
        "joint"
    ]

    # R 4.2.2: the same full model against glm(treat ~ factor(south)).
    assert joint["statistic"] == pytest.approx(1.71609908038135, abs=1e-8)
    assert joint["df"] == 3 and joint["dropped"] == ["south"]


def test_missing_counts_are_the_nonresponse_by_arm(tmp_path):
    path = tmp_path / "gaps.csv"
    lines = ["y,treat,g"]
    lines += [f"{i % 4},0,{'ab'[i % 2]}" for i in range(40)]
    lines += [f"{i % 5},1,{'ab'[i % 2]}" for i in range(30)]
    lines += [",1,a"] * 10
    path.write_text("\n".join(lines) + "\n")

    result = estimate_json(
        path, "--outcome", "y", "--treat", "treat", "--items", "3", "--balance", "g"
    )

    nonresponse = result["balance"]["nonresponse"]
    treatment = nonresponse["arms"][1]
    assert treatment["counts"] == {"complete": 30, "missing": 10}
    assert nonresponse["p_value"] < 0.05 and result["balance"]["imbalanced"]
    assert result["balance"]["covariates"][0]["n"] == 70


def test_the_text_output_warns_and_has_a_balance_section(tmp_path):
    path = tmp_path / "gaps.csv"
    rows = [f"{i % 4},0,{i % 3}" for i in range(40)]
    rows += [f"{i % 5},1,{i % 3}" for i in range(30)] + [",1,1"] * 12
    path.write_text("y,treat,g\n" + "\n".join(rows) + "\n")
    out = StringIO()

    call_command(
        "estimate",
        str(path),
        "--outcome",
        "y",
        "--treat",
        "treat",
        "--items",
        "3",
        "--balance",
        "g",
        stdout=out,
    )

    text = out.getvalue()
    assert text.startswith("WARNING: the arms differ in nonresponse (p < 0.001)")
    assert "Balance across arms (control, treatment):" in text


def multi(*args):
    return (
        DATA / "multi.csv",
        "--outcome",
        "y",
        "--treat",
        "treat",
        "--items",
        "3",
        "--arms",
        "control,race,affirm",
        *args,
    )


def test_several_items_by_group_and_balance():
    result = estimate_json(*multi("--by", "south", "--balance", "south,age"))

    south_1 = next(g for g in result["groups"] if g["level"] == "1")
    race_item = next(a for a in south_1["arms"] if a["arm"] == "race")
    # R package list 9.2.6 on race.csv, south = 1 (the race arm and the controls).
    assert race_item["estimate"] == pytest.approx(0.2587, abs=5e-5)
    assert result["balance"]["joint"]["model"] == "multinomial logit"
    assert result["balance"]["arms"] == ["control", "race", "affirm"]


def test_several_items_as_csv():
    out = StringIO()
    call_command(
        "estimate", *map(str, multi("--by", "south")), "--format", "csv", stdout=out
    )

    rows = list(csv.DictReader(io.StringIO(out.getvalue())))

    assert rows[0]["kind"] == "item" and rows[0]["term"] == "race"
    assert {(r["variable"], r["kind"]) for r in rows} == {
        ("overall", "item"),
        ("overall", "difference"),
        ("south", "item"),
        ("south", "difference"),
    }


def test_a_double_list_by_group(tmp_path):
    path = tmp_path / "double.csv"
    body = "\n".join(
        f"{(i + 1) % 4},{i % 2},{i % 3},{1 - i % 2},{'xy'[i % 2 == 0 and i % 3 == 0]}"
        for i in range(60)
    )
    path.write_text("a,ta,b,tb,g\n" + body + "\n")

    result = estimate_json(
        path,
        "--outcome",
        "a",
        "--treat",
        "ta",
        "--items",
        "3",
        "--second-list",
        "b,tb",
        "--by",
        "g",
        "--balance",
        "g",
    )

    assert {g["level"] for g in result["groups"]} == {"x", "y"}
    assert all("combined" in g for g in result["groups"])
    assert result["balance"]["arms"] == ["A", "B"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["--weight", "age"], "--weight and --cluster are for a single list"),
        (["--design-test"], "not the design-effect test"),
        (["--balance", "nowhere"], "nowhere"),
    ],
)
def test_other_designs_refuse_single_list_options(args, words):
    message = refused(*multi(*args))

    assert words in message


def test_balance_on_a_missing_column_is_refused():
    with pytest.raises(CommandError):
        race("--balance", "nowhere")
