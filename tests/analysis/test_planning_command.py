"""``manage.py plan_wave``: the plan's precision on the command line."""

import json
import math
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from analysis.planning.power import (
    parse_contrast,
    plan_from_assumptions,
    plan_summary,
)
from analysis.selectors import default_experiment, wave_list_data

MINIMAL = ["--items", "4", "--control-var", "0.9", "--prevalence", "0.5", "--n", "1000"]
STRATA = [
    "--items", "4", "--control-var", "0.9", "--control-mean", "2.76",
    "--prevalence", "almaty=0.27,astana=0.29,other=0.64",
    "--strata", "almaty=1000,astana=800,other=1200",
    "--weights", "almaty=0.5,astana=0.4,other=1.8",
]  # fmt: skip


def plan_wave(*args) -> str:
    out = StringIO()
    call_command("plan_wave", *args, stdout=out)
    return out.getvalue()


def plan_json(*args) -> dict:
    return json.loads(plan_wave(*args, "--format", "json"))


def refused(*args) -> str:
    with pytest.raises(CommandError) as raised:
        plan_wave(*args)
    assert raised.value.returncode == 2
    return str(raised.value)


def test_the_minimal_form_gives_exactly_the_overall_se_mde_and_arms():
    # 500 per arm; SE = sqrt((0.9 + 0.25) / 500 + 0.9 / 500) = sqrt(0.0041);
    # MDE = (z_0.975 + z_0.80) SE.
    result = plan_json(*MINIMAL)

    assert list(result) == ["overall"]
    assert set(result["overall"]) == {"se", "mde", "n_treatment", "n_control"}
    assert result["overall"]["se"] == pytest.approx(math.sqrt(0.0041), abs=1e-12)
    assert result["overall"]["mde"] == pytest.approx(
        (1.959963984540054 + 0.8416212335729143) * math.sqrt(0.0041), abs=1e-12
    )
    assert (result["overall"]["n_treatment"], result["overall"]["n_control"]) == (
        500,
        500,
    )


def test_the_ratio_and_covariance_flags_enter_the_se():
    # 2:1 -> 667 and 333; V_T = 0.9 + 0.25 + 2 * 0.05 = 1.25.
    result = plan_json(*MINIMAL, "--ratio", "2:1", "--covariance", "0.05")
    assert result["overall"]["n_treatment"] == 667
    assert result["overall"]["se"] == pytest.approx(
        math.sqrt(1.25 / 667 + 0.9 / 333), abs=1e-12
    )


def test_the_table_shows_the_same_numbers():
    text = plan_wave(*MINIMAL)
    assert "overall" in text and "se=0.06403" in text and "n_treatment=500" in text


def test_strata_weights_contrasts_and_targets_match_the_planning_functions():
    result = plan_json(*STRATA, "--contrast", "almaty-rest", "--target-se", "0.03")

    plan = plan_from_assumptions(
        4,
        {"almaty": 1000, "astana": 800, "other": 1200},
        prevalence={"almaty": 0.27, "astana": 0.29, "other": 0.64},
        control_var=0.9,
        control_mean=2.76,
        weights={"almaty": 0.5, "astana": 0.4, "other": 1.8},
    )
    contrast = parse_contrast("almaty-rest", plan.codes)
    summary = plan_summary(plan, contrasts=[contrast], target=0.03)

    assert result["overall"]["se"] == summary["overall"]["se"]
    assert result["design"]["deff"] == pytest.approx(3000 * 4266 / 8880400)
    assert result["strata"]["astana"]["se"] == summary["strata"]["astana"]["se"]
    assert result["strata"]["astana"]["n"] == 800
    assert result["contrasts"] == summary["contrasts"]
    assert result["needed"] == json.loads(json.dumps(summary["needed"]))


def test_a_target_mde_is_turned_into_the_se_it_needs():
    result = plan_json(*MINIMAL, "--target-mde", "0.1")
    target = 0.1 / (1.959963984540054 + 0.8416212335729143)
    assert result["needed"]["target_se"] == pytest.approx(target, abs=1e-12)
    # n = (2.3 + 1.8) / target^2 rounded up to a whole respondent.
    assert result["needed"]["overall"]["n"] == math.ceil(4.1 / target**2)


def test_the_rehearsal_is_the_same_twice_with_one_seed():
    args = (*STRATA, "--contrast", "almaty-rest", "--simulate", "40", "--seed", "3")
    first = plan_json(*args)
    second = plan_json(*args)

    assert first["simulation"] == second["simulation"]
    labels = [q["label"] for q in first["simulation"]["quantities"]]
    assert labels == [
        "overall",
        "overall (unweighted)",
        "almaty",
        "astana",
        "other",
        "almaty-rest",
    ]
    assert first["simulation"]["seed"] == 3


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (MINIMAL[2:], "--items"),
        ([*MINIMAL[:5], "1.5", *MINIMAL[6:]], "--prevalence"),
        ([*MINIMAL[:7], "x"], "--n"),
        ([*MINIMAL[:3], "9", *MINIMAL[4:]], "--control-var"),
        ([*MINIMAL, "--ratio", "1-1"], "--ratio"),
        ([*MINIMAL, "--covariance", "0.9"], "--covariance"),
        ([*MINIMAL, "--target-se", "-1"], "--target-se"),
        ([*MINIMAL, "--target-se", "1.5"], "--target-se"),
        ([*MINIMAL, "--target-mde", "1e308"], "--target-mde"),
        ([*MINIMAL, "--target-mde", "0"], "--target-mde"),
        ([*MINIMAL, "--prevalence", "0.4"], "--prevalence"),
        ([*MINIMAL, "--simulate", "1"], "--simulate"),
        ([*MINIMAL, "--simulate", "10"], "--control-mean"),
        ([*MINIMAL, "--change"], "--change"),
        ([*MINIMAL[:4], "--prevalence", "a=0.1,a=0.2", "--n", "10"], "--prevalence"),
        ([*STRATA, "--contrast", "almaty-nowhere"], "--contrast"),
        ([*STRATA[:-1], "almaty=0.5,astana=0.4"], "--weights"),
        ([*STRATA, "--n", "100"], "--n"),
        ([*STRATA[:9], "almaty=1000,astana=1,other=1200", *STRATA[10:]], "--strata"),
    ],
)
def test_bad_input_exits_2_naming_the_flag(args, flag):
    message = refused(*args)
    assert message.startswith(flag + ":"), message


@pytest.mark.parametrize(
    ("flag", "what"),
    [("--target-se", "A target SE"), ("--target-mde", "A target MDE")],
)
def test_a_target_above_one_is_refused_as_a_difference_of_proportions(flag, what):
    message = refused(*MINIMAL, flag, "2")

    assert message == (
        f"{flag}: {what} is a difference of proportions: it must be above 0 and at "
        "most 1; got 2.0."
    )


@pytest.mark.parametrize(
    ("flag", "words"),
    [("--target-se", "A standard error of 1e-06"), ("--target-mde", "An MDE of 1e-06")],
)
def test_a_target_beyond_any_sample_is_refused_as_it_was_typed(flag, words):
    message = refused(*MINIMAL, flag, "1e-6")

    assert message == (
        f"{flag}: {words} needs more than 100,000,000 respondents; choose a larger "
        "target."
    )


def test_repeated_item_probabilities_are_read_together():
    # Four items at 0.5 over two flags, as test_item_probabilities_keep_their_repeats
    # gives them in one: control variance 1, SE = sqrt((1 + 0.25) / 500 + 1 / 500).
    result = plan_json(
        "--items", "4", "--item-probs", "0.5,0.5", "--item-probs", "0.5,0.5",
        "--prevalence", "0.5", "--n", "1000",
    )  # fmt: skip

    assert result["overall"]["se"] == pytest.approx(math.sqrt(2.25 / 500), abs=1e-12)


def test_repeated_strata_weights_and_prevalences_are_read_together():
    split = [
        "--items", "4", "--control-var", "0.9", "--control-mean", "2.76",
        "--prevalence", "almaty=0.27,astana=0.29", "--prevalence", "other=0.64",
        "--strata", "almaty=1000", "--strata", "astana=800,other=1200",
        "--weights", "almaty=0.5,astana=0.4", "--weights", "other=1.8",
    ]  # fmt: skip

    assert plan_json(*split) == plan_json(*STRATA)


def test_repeated_block_sizes_are_read_together():
    rehearsal = ["--simulate", "20", "--seed", "3", "--control-mean", "2"]

    split = plan_json(*MINIMAL, *rehearsal, "--block-sizes", "4", "--block-sizes", "6")
    joined = plan_json(*MINIMAL, *rehearsal, "--block-sizes", "4,6")

    assert split == joined


def test_item_probabilities_keep_their_repeats():
    # Four independent items at 0.5: control variance 4 * 0.25 = 1, so with 500 per
    # arm SE = sqrt((1 + 0.25) / 500 + 1 / 500).
    result = plan_json(
        "--items", "4", "--item-probs", "0.5,0.5,0.5,0.5", "--prevalence", "0.5",
        "--n", "1000",
    )  # fmt: skip

    assert result["overall"]["se"] == pytest.approx(math.sqrt(2.25 / 500), abs=1e-12)


def test_item_probabilities_are_read_in_order_across_repeated_flags():
    # Probabilities 0.1, 0.9, 0.9 and 0.5: control variance 0.09 + 0.09 + 0.09 + 0.25.
    args = ["--items", "4", "--prevalence", "0.2", "--n", "1000"]
    result = plan_json(*args, "--item-probs", "0.1, 0.9,0.9,0.5")

    variance = 0.09 * 3 + 0.25
    expected = math.sqrt((variance + 0.16) / 500 + variance / 500)
    assert result["overall"]["se"] == pytest.approx(expected, abs=1e-12)


def test_more_item_probabilities_than_items_are_refused_not_cut():
    message = refused(
        "--items", "4", "--item-probs", "0.5,0.5,0.5,0.9,0.1,0.2", "--prevalence",
        "0.5", "--n", "1000",
    )  # fmt: skip

    assert message.startswith("--item-probs:")
    assert "J = 4, got 6" in message


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        ([*MINIMAL[:4], "--prevalence", "a=0.1,a=0.1", "--n", "10"], "--prevalence"),
        ([*MINIMAL, "--strata", "almaty=500,almaty=500"], "--strata"),
        ([*MINIMAL[:6], "--strata", "almaty,almaty", "--n", "10"], "--strata"),
    ],
    ids=["prevalence", "sized-strata", "strata"],
)
def test_a_stratum_given_twice_with_the_same_value_is_refused_not_merged(args, flag):
    message = refused(*args)

    assert message.startswith(f"{flag}: stratum “")
    assert message.endswith("” is given twice.")


def test_a_ratio_is_refused_as_it_was_typed():
    message = refused(*MINIMAL, "--ratio", "1:0")

    assert message == (
        "--ratio: both shares of “1:0” (treatment:control) must be at least 1."
    )


@pytest.mark.django_db
def test_an_unknown_source_wave_is_refused():
    assert refused("--source-wave", "999999", "--n", "100").startswith("--source-wave:")


def test_a_source_wave_gives_its_strata_control_variance_and_prevalence(demo_wave):
    data = wave_list_data(demo_wave, default_experiment(demo_wave), ["stratum"])
    strata = data.variables["stratum"]
    result = plan_json(
        "--source-wave", str(demo_wave.pk), "--n", "3000", "--prevalence", "0.45",
        "--change", "--contrast", "almaty-rest",
    )  # fmt: skip

    assert list(result["strata"]) == ["almaty", "astana", "other"]
    assert sum(s["n"] for s in result["strata"].values()) == 3000
    for code, stratum in result["strata"].items():
        control = data.counts[(strata == code) & ~data.treated]
        control = control[~np.isnan(control)]
        source = result["source"]["strata"][code]
        assert source["control_var"] == pytest.approx(control.var(ddof=1), abs=1e-12)
        assert stratum["prevalence"] == 0.45

    source = result["source"]
    assert source["n_simulated"] == source["n_used"] > 0
    change = result["changes"][0]
    assert change["label"] == "change overall"
    assert change["effect"] == pytest.approx(0.45 - source["estimate"])
    assert change["se"] == pytest.approx(
        math.sqrt(result["overall"]["se"] ** 2 + source["se"] ** 2)
    )
    assert [c["stratum"] for c in result["control_check"]] == [
        "almaty",
        "astana",
        "other",
    ]
    assert "--items:" in refused(
        "--source-wave", str(demo_wave.pk), "--n", "10", "--items", "3"
    )


def test_a_wave_imported_without_strata_is_planned_as_one(race_wave):
    # The source's estimate is the R package list 9.2.6 value on race.csv (J = 3).
    result = plan_json("--source-wave", str(race_wave.pk), "--n", "2000", "--change")

    assert list(result["strata"]) == ["all"]
    assert result["source"]["estimate"] == pytest.approx(0.0677974402507511, abs=1e-9)
    assert result["source"]["se"] == pytest.approx(0.049578289054338, abs=1e-9)
    assert [c["label"] for c in result["changes"]] == ["change overall"]
    # 39% of race.csv's control group report all 3 items (docs/design-test.md).
    assert result["control_check"][0]["ceiling_warning"]
    assert result["control_check"][0]["ceiling"] == pytest.approx(227 / 589)
