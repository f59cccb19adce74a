"""Tests for differences between two levels of a covariate.

Without a design the reference is the R package `list` 9.2.6 / base R on race.csv
(J = 3), to 1e-9. With a design the references come from R 4.2.2 with survey 4.1.1,
printed by tests/data/weighted_reference.R, to 1e-8: the interaction coefficient of
``svyglm(y ~ treat * factor(male), design)`` (and, for design (c), svycontrast on
``svyby(..., covmat = TRUE)``, which agrees to 1e-15).
"""

import math

import numpy as np
import pytest

from analysis.estimators.contrasts import GroupDifference, group_difference
from analysis.estimators.weighted import weighted_difference_by_level
from tests.analysis.test_weighted import (
    race,
    race_columns,
    race_with_uneven_allocation,
    small_design,
)

TOL = 1e-9
R_TOL = 1e-8

FIELDS = [
    "variable",
    "a",
    "b",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "p_value",
    "note",
]


def male_contrast(design):
    """Return male 1 minus male 0 under one of the reference designs of race.csv."""
    return group_difference(
        levels=race_columns()["male"], variable="male", a="1", b="0", **race(design)
    )


def south_contrast(**kwargs):
    """Return south 1 minus south 0 on race.csv without a design."""
    data = race_columns()
    return group_difference(
        data["y"], data["treat"], data["south"], variable="south", **kwargs
    )


def assert_no_nan(result: GroupDifference):
    """Assert that no field of `result.to_dict()` is a NaN."""
    for key, value in result.to_dict().items():
        assert not (isinstance(value, float) and math.isnan(value)), key


# Agreement with R


def test_it_matches_r_on_south_against_the_rest_without_a_design():
    result = south_contrast(a="1", b="0")

    # R package list 9.2.6 / base R on race.csv
    assert result.estimate == pytest.approx(0.253223284441569, abs=TOL, rel=0)
    # R package list 9.2.6 / base R on race.csv
    assert result.se == pytest.approx(0.119752305415017, abs=TOL, rel=0)
    # R package list 9.2.6 / base R on race.csv
    assert result.p_value == pytest.approx(0.0344675731022632, abs=TOL, rel=0)
    assert (result.variable, result.a, result.b) == ("south", "1", "0")
    assert result.note is None


@pytest.mark.parametrize(
    ("design", "estimate", "se", "p_value"),
    [
        # R 4.2.2, survey 4.1.1, design (a): weights only
        ("a", 0.136951259702123, 0.102979395000855, 0.183554542018469),
        # R 4.2.2, survey 4.1.1, design (b): weights and strata
        ("b", 0.136951259702123, 0.102700999616201, 0.182369446476256),
        # R 4.2.2, survey 4.1.1, design (c): weights, strata and clusters
        ("c", 0.136951259702123, 0.111704326597216, 0.220192761771783),
    ],
)
def test_it_matches_the_svyglm_interaction_under_each_design(
    design, estimate, se, p_value
):
    result = male_contrast(design)

    assert result.estimate == pytest.approx(estimate, abs=R_TOL, rel=0)
    assert result.se == pytest.approx(se, abs=R_TOL, rel=0)
    assert result.p_value == pytest.approx(p_value, abs=R_TOL, rel=0)
    assert result.ci_low == pytest.approx(estimate - 1.959963984540054 * se)
    assert result.ci_high == pytest.approx(estimate + 1.959963984540054 * se)


def test_it_matches_r_when_the_levels_are_estimated_within_strata():
    kwargs, male = race_with_uneven_allocation()

    result = group_difference(levels=male, variable="male", a="1", b="0", **kwargs)

    # R 4.2.2, survey 4.1.1: svycontrast on a cell-means svyglm of data set (e),
    # with each level's weight shares by stratum as fixed coefficients
    assert result.estimate == pytest.approx(0.162301121571692, abs=R_TOL, rel=0)
    # R 4.2.2, survey 4.1.1
    assert result.se == pytest.approx(0.109663364039805, abs=R_TOL, rel=0)
    # R 4.2.2: 2 * pnorm(-abs(estimate / se))
    assert result.p_value == pytest.approx(0.138874846016359, abs=R_TOL, rel=0)
    assert result.note == (
        "Within each level the difference is estimated within each stratum and "
        "combined by the strata's weight totals."
    )


# How the contrast relates to the estimates of each level


def test_it_takes_the_difference_of_the_estimates_of_each_level():
    rows = dict(
        weighted_difference_by_level(levels=race_columns()["male"], **race("c")).levels
    )

    result = male_contrast("c")

    assert result.estimate == pytest.approx(
        rows["1"].estimate - rows["0"].estimate, abs=1e-12
    )


def test_it_accounts_for_the_covariance_of_levels_that_share_clusters():
    rows = dict(
        weighted_difference_by_level(levels=race_columns()["male"], **race("c")).levels
    )
    independent = math.hypot(rows["1"].se, rows["0"].se)

    result = male_contrast("c")

    # 0.1085 if the levels were independent; R gives 0.1117 (see above)
    assert result.se != pytest.approx(independent, abs=1e-3)


def test_it_changes_sign_but_not_its_standard_error_when_the_levels_swap():
    forward = male_contrast("c")
    backward = group_difference(
        levels=race_columns()["male"], variable="male", a="0", b="1", **race("c")
    )

    assert backward.estimate == pytest.approx(-forward.estimate, abs=1e-15)
    assert backward.se == pytest.approx(forward.se, abs=1e-15)
    assert backward.p_value == pytest.approx(forward.p_value, abs=1e-15)


def test_it_compares_levels_as_text():
    data = race_columns()
    as_numbers = data["south"].astype(int)

    result = group_difference(
        data["y"], data["treat"], as_numbers, variable="south", a=1, b="0"
    )

    assert result == south_contrast(a="1", b="0")


# Levels that are missing or small


def test_it_gives_no_estimate_when_a_level_has_no_respondents():
    result = south_contrast(a="1", b="2")

    assert result.estimate is None
    assert result.p_value is None
    assert result.note == "No respondents with a count in level '2'; no estimate."
    assert_no_nan(result)


def test_it_gives_no_estimate_when_a_level_has_too_few_in_an_arm():
    kwargs = small_design()
    levels = np.array(["big"] * 60, dtype=object)
    levels[[0, 1, 3]] = "tiny"

    result = group_difference(
        levels=levels, variable="group", a="big", b="tiny", **kwargs
    )

    assert result.estimate is None
    assert result.note == (
        "Too few respondents in an arm of level 'tiny' to estimate (at least 2 are "
        "needed in each arm); no estimate."
    )
    assert_no_nan(result)


def test_it_notes_a_small_sample_in_either_level():
    data = race_columns()

    result = group_difference(
        data["y"], data["treat"], data["state"], variable="state", a="CA", b="AL"
    )

    assert result.estimate is not None
    assert result.note == (
        "Fewer than 30 respondents in an arm of level 'AL'; the sample is small and "
        "the standard error is unreliable."
    )


def test_it_leaves_out_respondents_with_a_missing_level_or_count():
    data = race_columns()
    counts = np.append(data["y"], [np.nan, 3.0])
    treated = np.append(data["treat"], [True, False])
    south = np.append(data["south"], ["1", None])

    result = group_difference(counts, treated, south, variable="south", a="1", b="0")

    assert result == south_contrast(a="1", b="0")


# Bad input and plain data


def test_it_rejects_a_comparison_of_a_level_with_itself():
    with pytest.raises(ValueError, match="two different levels"):
        south_contrast(a="1", b=1)


def test_it_needs_strata_to_estimate_within_strata():
    with pytest.raises(ValueError, match="needs strata"):
        south_contrast(a="1", b="0", by_stratum=True)


def test_it_returns_exactly_the_fields_in_order_from_to_dict():
    values = male_contrast("c").to_dict()

    assert list(values) == FIELDS
    for key in ("estimate", "se", "ci_low", "ci_high", "p_value"):
        assert type(values[key]) is float, key


def test_it_turns_a_nan_into_none_in_to_dict():
    result = GroupDifference(
        variable="v",
        a="1",
        b="0",
        estimate=np.float64("nan"),
        se=None,
        ci_low=None,
        ci_high=None,
        p_value=float("nan"),
    )

    values = result.to_dict()

    assert values["estimate"] is None
    assert values["p_value"] is None
