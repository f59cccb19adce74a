"""``manage.py estimate`` with the options beyond the plain difference in means."""

import csv
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import DATA, RACE_CSV


def estimate_json(path, *args) -> dict:
    out = StringIO()
    call_command("estimate", str(path), *args, "--format", "json", stdout=out)
    return json.loads(out.getvalue())


def race(*args) -> dict:
    return estimate_json(
        RACE_CSV, "--outcome", "y", "--treat", "treat", "--items", "3", *args
    )


def refused(path, *args) -> str:
    err = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("estimate", str(path), *args, stderr=err)
    assert raised.value.returncode == 2
    return str(raised.value) + err.getvalue()


def test_it_gives_the_south_difference_of_the_r_package():
    result = race("--by", "south", "--compare", "south:1,0")

    (difference,) = result["differences"]
    # R package list 9.2.6 / base R on race.csv, south 1 minus 0.
    assert difference["estimate"] == pytest.approx(0.253223284441569, abs=1e-9)
    assert difference["se"] == pytest.approx(0.119752305415017, abs=1e-9)
    assert difference["p_value"] == pytest.approx(0.0344675731022632, abs=1e-9)


def test_it_runs_the_design_test_and_both_models():
    result = race(
        "--design-test",
        "--model",
        "ml",
        "--covariates",
        "south,age,male,college",
        "--predict-by",
        "south",
    )

    # R package list 9.2.6: ict.test(gms = TRUE) and ictreg(method = "ml") on race.csv.
    assert result["design_test"]["p_value"] == pytest.approx(
        0.0443110858651332, abs=1e-6
    )
    assert result["model"]["log_likelihood"] == pytest.approx(
        -1444.39417155846, abs=1e-6
    )
    assert result["model_linear"]["sensitive"]["coef"]["south"] == pytest.approx(
        0.201975118144536, abs=1e-6
    )
    assert {row["level"] for row in result["model"]["predicted_by"]} == {"0", "1"}


def test_weighted_results_use_the_same_keys():
    plain = race("--by", "south")
    weighted = race("--by", "south", "--weight", "age", "--strata", "south")

    assert weighted["weighted"] is True and plain["weighted"] is False
    assert set(weighted["overall"]) == set(plain["overall"])


def test_several_items_share_the_control_arm(tmp_path):
    result = estimate_json(
        DATA / "multi.csv",
        "--outcome",
        "y",
        "--treat",
        "treat",
        "--items",
        "3",
        "--arms",
        "control,race,affirm",
    )

    race_arm = next(arm for arm in result["arms"] if arm["arm"] == "race")
    # R package list 9.2.6 / base R on race.csv: the race item with the same controls.
    assert race_arm["estimate"] == pytest.approx(0.0677974402507511, abs=1e-9)
    assert [(d["a"], d["b"]) for d in result["differences"]] == [("race", "affirm")]


def test_a_double_list_gives_each_list_and_the_combined_estimate(tmp_path):
    path = tmp_path / "double.csv"
    path.write_text("a,ta,b,tb\n1,1,2,0\n2,1,1,0\n0,0,3,1\n1,0,2,1\n2,1,2,0\n1,0,3,1\n")

    result = estimate_json(
        path, "--outcome", "a", "--treat", "ta", "--items", "3", "--second-list", "b,tb"
    )

    assert [item["list"] for item in result["lists"]] == ["A", "B"]
    assert result["combined"]["n"] == 6


def test_list_plus_direct_matches_the_r_package(tmp_path):
    rows = list(csv.DictReader((DATA / "combinedListExps.csv").open()))
    kept = [
        r
        for r in rows
        if r["directsfirst"] == "1" and all(v not in ("", "NA") for v in r.values())
    ]
    path = tmp_path / "list1.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)

    result = estimate_json(
        path,
        "--outcome",
        "list1N",
        "--treat",
        "list1treat",
        "--items",
        "4",
        "--direct",
        "direct1",
    )

    # R package list 9.2.6, combinedListDirect on list 1, directsfirst == 1.
    assert result["combined"]["estimate"] == pytest.approx(0.665618421052632, abs=1e-6)
    assert result["combined"]["se"] == pytest.approx(0.0484034315116962, abs=1e-6)
    assert result["direct"]["estimate"] == pytest.approx(0.656, abs=1e-6)
    assert "placebo_1" in result["combined"] and "sensitivity_bias" in result


@pytest.mark.parametrize(
    "args, words",
    [
        (["--compare", "south"], "VAR:A,B"),
        (["--covariates", "age"], "needs --model"),
        (["--weight", "neg"], "weight"),
        (["--arms", "control,elsewhere"], "not one of"),
    ],
)
def test_bad_options_are_refused_in_words(tmp_path, args, words):
    path = tmp_path / "data.csv"
    path.write_text("y,treat,neg\n1,0,-1\n2,0,1\n2,1,1\n3,1,1\n")

    message = refused(path, "--outcome", "y", "--treat", "treat", "--items", "3", *args)

    assert words in message


def test_an_arm_named_twice_is_refused(tmp_path):
    message = refused(
        DATA / "multi.csv", "--outcome", "y", "--treat", "treat", "--items", "3",
        "--arms", "control,race", "--arms", "race",
    )  # fmt: skip

    assert message == "--arms: “race” is given twice; name each one once."


def test_a_count_in_exponent_notation_is_refused_with_several_items(tmp_path):
    path = tmp_path / "arms.csv"
    path.write_text("y,treat\n1,control\n2,control\n1e0,a\n2.0,a\n3,a\n")

    message = refused(
        path, "--outcome", "y", "--treat", "treat", "--items", "3",
        "--arms", "control,a",
    )  # fmt: skip

    assert "arms.csv: line 4, column “y”: the count must be 0 to 4 on “a”." in message
    assert "line 5" not in message


def race_text(*args) -> str:
    out = StringIO()
    call_command(
        "estimate", str(RACE_CSV), "--outcome", "y", "--treat", "treat",
        "--items", "3", *args, stdout=out,
    )  # fmt: skip
    return out.getvalue()


def test_the_table_gives_the_predicted_share_in_each_level_asked_for():
    args = ["--model", "ml", "--covariates", "south,age,male,college"]
    args += ["--predict-by", "south"]

    text = race_text(*args)
    result = race(*args)

    for key in ("model", "model_linear"):
        for group in result[key]["predicted_by"]:
            line = (
                f"    south = {group['level']}: {group['estimate']:.3f} "
                f"(SE {group['se']:.3f})"
            )
            assert line in text.splitlines()
    # The same fit as the JSON: south 0 about 0.105, south 1 about 0.319 (ml).
    assert "    south = 0: 0.105 (SE 0.024)" in text
    assert "    south = 1: 0.319 (SE 0.078)" in text


def far_apart_csv(path):
    """Group 1's treatment list holds the item for all; x nearly gives the arm."""
    rows = [
        f"{i % 3 + (treat and g)},{treat},{g},{treat if i % 4 else 1 - treat}"
        for g in (0, 1)
        for treat in (0, 1)
        for i in range(60)
    ]
    path.write_text("y,treat,g,x\n" + "\n".join(rows) + "\n")
    return path


def test_the_table_prints_a_tiny_p_value_as_below_0_001_and_json_keeps_it(tmp_path):
    path = far_apart_csv(tmp_path / "far.csv")
    args = ["--outcome", "y", "--treat", "treat", "--items", "3", "--by", "g"]
    args += ["--compare", "g:1,0", "--balance", "x"]
    out = StringIO()

    call_command("estimate", str(path), *args, stdout=out)
    result = estimate_json(path, *args)

    text = out.getvalue()
    assert "p 0.000" not in text and "p = 0.000" not in text
    assert text.startswith("WARNING: the arms differ in the covariates (p < 0.001)")
    assert "g 1 minus 0: 1.000 (SE 0.213, 95% CI [0.583, 1.417], p < 0.001)" in text
    assert "x: Welch 79.333, df 1 and 238.0, p < 0.001 (0 missing)" in text
    assert "(standardized 1.150, p < 0.001)" in text
    assert 0 < result["differences"][0]["p_value"] < 0.001
    assert 0 < result["balance"]["joint"]["p_value"] < 0.001
