"""The change between two waves' estimates: later minus earlier, independent samples.

Reference values: race.csv split into two "waves" by ``south`` (south = 0 earlier,
south = 1 later). Each wave's estimate and SE are those of the R package list 9.2.6
(the same numbers as RACE_SOUTH in test_estimate_command.py); the change, its SE
and p-value were printed by R 4.2.2 from base R's difference in means with the
unpooled SE of each subset, combined as sqrt(se_1^2 + se_0^2), and 2 * pnorm(-|z|).
Tolerance 1e-12 absolute.
"""

import math

import pytest

from analysis.estimators.change import (
    CHANGE_KEYS,
    change_rows,
    change_table,
    estimate_change,
)
from analysis.estimators.normal import Z95
from tests.analysis.test_estimate_command import RACE_SOUTH

R_TOL = 1e-12
R_CHANGE = {
    "estimate": 0.253223284441569,
    "se": 0.119752305415017,
    "p_value": 0.0344675731022632,
}


def estimate(value, se, **extra):
    return {"estimate": value, "se": se, **extra}


def test_it_is_the_later_estimate_minus_the_earlier_one_with_r_values():
    change = estimate_change(RACE_SOUTH["0"], RACE_SOUTH["1"])

    assert change.estimate == pytest.approx(R_CHANGE["estimate"], abs=R_TOL)
    assert change.se == pytest.approx(R_CHANGE["se"], abs=R_TOL)
    assert change.p_value == pytest.approx(R_CHANGE["p_value"], abs=R_TOL)
    assert change.ci_low == pytest.approx(change.estimate - Z95 * change.se)
    assert change.ci_high == pytest.approx(change.estimate + Z95 * change.se)
    assert change.note is None


def test_swapping_the_waves_flips_the_sign_and_keeps_the_standard_error():
    forward = estimate_change(estimate(0.2, 0.03), estimate(0.5, 0.04))
    backward = estimate_change(estimate(0.5, 0.04), estimate(0.2, 0.03))

    assert forward.estimate == pytest.approx(0.3)
    assert backward.estimate == pytest.approx(-0.3)
    assert forward.se == backward.se == pytest.approx(0.05)
    assert forward.p_value == backward.p_value


def test_a_wave_without_an_estimate_gives_no_change_and_says_which():
    change = estimate_change(estimate(None, None), estimate(0.5, 0.04))

    assert change.to_dict() == {
        "estimate": None,
        "se": None,
        "ci_low": None,
        "ci_high": None,
        "p_value": None,
        "note": "No estimate in the earlier wave, so no change.",
    }


def test_two_exact_estimates_have_a_change_but_no_p_value():
    change = estimate_change(estimate(0.2, 0.0), estimate(0.2, 0.0))

    assert change.estimate == 0.0 and change.se == 0.0
    assert change.p_value is None


@pytest.mark.parametrize(
    "earlier, message",
    [
        (estimate(0.2, -0.01), "standard error is negative"),
        (estimate(math.nan, 0.01), "finite numbers"),
        (estimate(0.2, math.inf), "finite numbers"),
    ],
)
def test_it_refuses_numbers_that_are_not_an_estimate(earlier, message):
    with pytest.raises(ValueError, match=message):
        estimate_change(earlier, estimate(0.5, 0.04))


def table(overall, groups):
    return {
        "overall": overall,
        "groups": [
            {"variable": v, "level": level, **estimate(x, se)}
            for v, level, x, se in groups
        ],
    }


def test_the_table_keeps_levels_found_in_both_waves_in_the_later_order():
    earlier = table(
        estimate(0.5, 0.1),
        [("city", "almaty", 0.3, 0.1), ("city", "shymkent", 0.4, 0.1)],
    )
    later = table(
        estimate(0.6, 0.1),
        [("city", "astana", 0.5, 0.1), ("city", "almaty", 0.2, 0.1)],
    )

    result = change_table(earlier, later)

    assert [(g["variable"], g["level"]) for g in result["groups"]] == [
        ("city", "almaty")
    ]
    almaty = result["groups"][0]
    assert almaty["estimate"] == pytest.approx(-0.1)
    assert almaty["earlier"]["estimate"] == 0.3 and almaty["later"]["estimate"] == 0.2
    assert result["overall"]["estimate"] == pytest.approx(0.1)
    assert result["unmatched"] == [
        {"variable": "city", "level": "shymkent", "wave": "earlier"},
        {"variable": "city", "level": "astana", "wave": "later"},
    ]


def test_flat_rows_start_with_the_overall_change_and_carry_both_waves():
    result = change_table(
        table(estimate(0.5, 0.1, n_treatment=10, n_control=12), []),
        table(estimate(0.6, 0.1, n_treatment=20, n_control=22), []),
    )

    (row,) = change_rows(result)

    assert row["variable"] == row["level"] == "overall"
    assert (row["earlier_n_treatment"], row["later_n_control"]) == (10, 22)
    assert row["change_estimate"] == pytest.approx(0.1)
    assert {f"change_{key}" for key in CHANGE_KEYS} <= set(row)
