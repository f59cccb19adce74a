"""Tests for the list experiment combined with a direct question.

Reference values come from `combinedListDirect` in the R package `list` 9.2.6 (R
4.2.2), run as in the package's own example: combinedListExps.csv with every row
holding a missing value dropped, `directsfirst == 1`, list 1 (`list1N ~ list1treat`,
direct question `direct1`). They agree to 1e-6 absolute. The package reports no
sensitivity bias; its standard error is checked against a seeded bootstrap instead.
"""

import csv
import dataclasses
import functools
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from analysis.estimators.direct import MIN_ARM_SIZE, ListDirect, list_and_direct

DATA_CSV = Path(__file__).resolve().parents[1] / "data" / "combinedListExps.csv"

#: Tolerance for the R package's values, which it prints to 15 significant digits.
R_TOL = 1e-6

#: Tolerance for identities this module should hold to rounding error.
EXACT_TOL = 1e-12

Z = stats.norm.ppf(0.975)


@functools.cache
def reference_data():
    """Return (counts, treated, direct) for list 1 as in the package's example.

    Rows with any empty field are dropped first, as the example's `na.omit` does,
    then rows with `directsfirst == 1` are kept.
    """
    with DATA_CSV.open(newline="") as f:
        rows = [
            row
            for row in csv.DictReader(f)
            if all(value != "" for value in row.values()) and row["directsfirst"] == "1"
        ]

    counts = np.array([float(row["list1N"]) for row in rows])
    treated = np.array([float(row["list1treat"]) for row in rows])
    direct = np.array([float(row["direct1"]) for row in rows])
    return counts, treated, direct


@functools.cache
def reference_result() -> ListDirect:
    return list_and_direct(*reference_data(), J=4)


def walk(value):
    """Yield every leaf of a nested dict or list."""
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)
    else:
        yield value


def test_the_example_keeps_500_respondents():
    counts, _, _ = reference_data()
    result = reference_result()

    assert counts.size == 500  # the data README's count for the package's example
    assert result.n == 500
    assert result.n_missing == 0


def test_the_combined_estimate_matches_the_r_package():
    combined = reference_result().combined

    # R list 9.2.6, combinedListDirect(...)$comb.est and $comb.se
    assert combined.estimate == pytest.approx(0.665618421052632, abs=R_TOL)
    assert combined.se == pytest.approx(0.0484034315116962, abs=R_TOL)


def test_the_direct_share_matches_the_r_package():
    direct = reference_result().direct

    # R list 9.2.6, combinedListDirect(...)$direct.est and $direct.se
    assert direct.estimate == pytest.approx(0.656, abs=R_TOL)
    assert direct.se == pytest.approx(0.0212657580379788, abs=R_TOL)


def test_the_list_only_estimate_matches_the_r_package():
    list_only = reference_result().list_only

    # R list 9.2.6, combinedListDirect(...)$conv.est and $conv.se
    assert list_only.estimate == pytest.approx(0.747739095638258, abs=R_TOL)
    assert list_only.se == pytest.approx(0.084410100112213, abs=R_TOL)


def test_every_interval_is_the_normal_95_percent_interval():
    result = reference_result()

    for part in (
        result.direct,
        result.list_only,
        result.sensitivity_bias,
        result.combined,
    ):
        assert part.ci_low == pytest.approx(part.estimate - Z * part.se)
        assert part.ci_high == pytest.approx(part.estimate + Z * part.se)


def test_placebo_statistics_are_finite_with_p_values_between_0_and_1():
    result = reference_result()

    for test in (result.placebo_1, result.placebo_2):
        assert math.isfinite(test.estimate)
        assert math.isfinite(test.se) and test.se > 0
        assert math.isfinite(test.statistic)
        assert 0 <= test.p_value <= 1
        assert test.note is None
    assert result.placebo_1.n == result.n_direct_yes
    assert result.placebo_2.n == result.n


def test_placebo_statistics_agree_with_scipys_welch_statistic():
    counts, treated, direct = reference_data()
    result = reference_result()
    yes, arm = direct == 1, treated == 1

    # scipy.stats.ttest_ind(equal_var=False) has the same unpooled standard error;
    # its p-value uses the t distribution, the package's the normal.
    welch_1 = stats.ttest_ind(
        counts[yes & arm] - 1, counts[yes & ~arm], equal_var=False
    ).statistic
    welch_2 = stats.ttest_ind(direct[arm], direct[~arm], equal_var=False).statistic

    assert result.placebo_1.statistic == pytest.approx(welch_1, abs=EXACT_TOL)
    assert result.placebo_2.statistic == pytest.approx(welch_2, abs=EXACT_TOL)
    for test in (result.placebo_1, result.placebo_2):
        expected = 2 * stats.norm.cdf(-abs(test.statistic))  # the package's formula
        assert test.p_value == pytest.approx(expected, abs=EXACT_TOL)


def test_sensitivity_bias_is_direct_minus_list():
    result = reference_result()

    expected = result.direct.estimate - result.list_only.estimate
    assert result.sensitivity_bias.estimate == pytest.approx(expected, abs=EXACT_TOL)
    assert result.sensitivity_bias_p_value == pytest.approx(
        2 * stats.norm.sf(abs(expected / result.sensitivity_bias.se)), abs=EXACT_TOL
    )


def test_sensitivity_bias_se_equals_the_covariance_form():
    counts, treated, direct = reference_data()
    arm = treated == 1
    n, n_1, n_0 = counts.size, arm.sum(), (~arm).sum()

    var_direct = (n_1 * direct[arm].var(ddof=1) + n_0 * direct[~arm].var(ddof=1)) / n**2
    var_list = counts[arm].var(ddof=1) / n_1 + counts[~arm].var(ddof=1) / n_0
    cov_1 = np.cov(direct[arm], counts[arm])[0, 1]
    cov_0 = np.cov(direct[~arm], counts[~arm])[0, 1]
    expected = math.sqrt(var_direct + var_list - 2 * (cov_1 - cov_0) / n)

    se = reference_result().sensitivity_bias.se
    assert se == pytest.approx(expected, abs=EXACT_TOL)


def test_sensitivity_bias_se_agrees_with_a_bootstrap_within_arms():
    counts, treated, direct = reference_data()
    arm = treated == 1
    n = counts.size
    rng = np.random.default_rng(20150301)
    replicates = 20_000

    # Resample respondents within each arm, keeping the arm sizes fixed as the
    # formula does; 20,000 replicates put the bootstrap SE within about 0.5%.
    sums, means = [], []
    for in_arm in (arm, ~arm):
        y, d = counts[in_arm], direct[in_arm]
        draw = rng.integers(0, y.size, size=(replicates, y.size))
        sums.append(d[draw].sum(axis=1))
        means.append(y[draw].mean(axis=1))
    bias = (sums[0] + sums[1]) / n - (means[0] - means[1])
    bootstrap_se = bias.std(ddof=1)

    result = reference_result()
    assert result.sensitivity_bias.se == pytest.approx(bootstrap_se, rel=0.03)

    # Ignoring the covariance would overstate the SE by about 6% on these data,
    # which the bootstrap can tell apart.
    independent = math.hypot(result.direct.se, result.list_only.se)
    assert abs(independent - bootstrap_se) > abs(
        result.sensitivity_bias.se - bootstrap_se
    )


def test_missing_values_are_left_out_and_counted():
    counts, treated, direct = reference_data()
    counts, treated, direct = counts.copy(), treated.copy(), direct.copy()
    counts = np.append(counts, [np.nan, 2.0, 3.0, 1.0])
    treated = np.append(treated, [1.0, np.nan, 0.0, 1.0])
    direct = np.append(direct, [0.0, 1.0, np.nan, np.nan])

    result = list_and_direct(counts, treated, direct, J=4)

    assert result.n_missing == 4
    assert result.n == 500
    assert result.combined == reference_result().combined
    assert result.direct == reference_result().direct
    assert any("4 respondent(s) left out" in note for note in result.notes)


def test_none_marks_a_missing_arm_or_direct_answer():
    counts, treated, direct = reference_data()
    treated = list(treated) + [None]
    direct = list(direct) + [None]

    result = list_and_direct(np.append(counts, 2.0), treated, direct)

    assert result.n_missing == 1
    assert result.list_only == reference_result().list_only


@pytest.mark.parametrize("n_treatment", [0, 1])
def test_an_arm_with_fewer_than_two_respondents_is_refused(n_treatment):
    counts = [1.0] * 5 + [2.0] * n_treatment
    treated = [0] * 5 + [1] * n_treatment
    direct = [0, 1, 0, 1, 0] + [1] * n_treatment

    with pytest.raises(ValueError, match=f"at least {MIN_ARM_SIZE}") as caught:
        list_and_direct(counts, treated, direct)
    assert caught.value.args[0].startswith("The treatment arm has")
    assert caught.value.args[0].endswith(".")


def test_a_direct_answer_other_than_0_or_1_is_refused():
    with pytest.raises(ValueError, match=r"direct answer: 1 for yes.*got 2\.$"):
        list_and_direct([1, 2, 1, 2], [0, 1, 0, 1], [0, 1, 2, 0])


def test_an_arm_other_than_0_or_1_is_refused():
    with pytest.raises(ValueError, match="treatment list"):
        list_and_direct([1, 2, 1, 2], [0, 1, 0, 3], [0, 1, 1, 0])


def test_a_count_impossible_with_j_is_refused():
    with pytest.raises(ValueError, match="impossible with J = 2"):
        list_and_direct([1, 2, 3, 2], [0, 1, 0, 1], [0, 1, 1, 0], J=2)


def test_arrays_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="same length"):
        list_and_direct([1, 2, 1, 2], [0, 1, 0, 1], [0, 1, 1])


def test_to_dict_has_the_documented_shape_and_no_nan():
    result = reference_result().to_dict()

    assert set(result["direct"]) == {"estimate", "se", "ci_low", "ci_high", "n"}
    assert set(result["list"]) == {"estimate", "se", "ci_low", "ci_high"}
    assert set(result["sensitivity_bias"]) == {
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "p_value",
    }
    assert {"estimate", "se", "ci_low", "ci_high", "placebo_1", "placebo_2"} <= set(
        result["combined"]
    )
    for leaf in walk(result):
        assert not (isinstance(leaf, float) and not math.isfinite(leaf))
        assert not isinstance(leaf, np.generic)


def test_when_nobody_answers_yes_the_combined_estimate_is_the_list_estimate():
    counts, treated, _ = reference_data()

    result = list_and_direct(counts, treated, np.zeros(counts.size))

    assert result.combined.estimate == pytest.approx(
        result.list_only.estimate, abs=EXACT_TOL
    )
    assert result.combined.se == pytest.approx(result.list_only.se, abs=EXACT_TOL)
    assert result.placebo_1.estimate is None
    assert result.placebo_1.note.startswith("Fewer than 2 respondents")
    assert result.placebo_2.p_value is None
    assert "No variation" in result.placebo_2.note
    for leaf in walk(result.to_dict()):
        assert not (isinstance(leaf, float) and not math.isfinite(leaf))


def test_when_everybody_answers_yes_there_is_no_combined_estimate():
    counts, treated, _ = reference_data()

    result = list_and_direct(counts, treated, np.ones(counts.size))

    assert result.combined.estimate is None
    assert result.to_dict()["combined"]["se"] is None
    assert any("Every respondent answered yes" in note for note in result.notes)
    assert result.placebo_1.n == counts.size


def test_the_result_is_frozen():
    result = reference_result()

    with pytest.raises(dataclasses.FrozenInstanceError):
        result.n = 0  # type: ignore[misc]


def test_the_same_input_gives_the_same_result_twice():
    data = reference_data()

    assert list_and_direct(*data) == list_and_direct(*data)
