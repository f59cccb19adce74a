"""Tests for the Blair-Imai test for design effects.

The two external reference values come from R 4.2.2 with the package `list` 9.2.6,
``ict.test(race$y, race$treat, J = 3, gms = TRUE)`` on race.csv, and are checked to
1e-6 absolute. Where R has no value to compare with (gms = FALSE, J >= 4), the
pieces are checked against independent computations named beside each assertion:
scipy's bounded least squares and multivariate normal integrals, closed-form weights
written out here from Kudo (1963), and simulations of the null distribution.
"""

import csv
import dataclasses
import functools
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import linalg, optimize, stats

from analysis.estimators.design_test import (
    MIN_ARM_SIZE,
    DesignTest,
    _distance_to_orthant,
    chi_bar_squared_weights,
    design_effect_test,
    orthant_probability,
)

RACE_CSV = Path(__file__).resolve().parents[1] / "data" / "race.csv"
R_TOL = 1e-6


@functools.cache
def race_rows():
    """Return race.csv's rows as dicts of text, read once per session."""
    with RACE_CSV.open(newline="") as f:
        return tuple(csv.DictReader(f))


def race():
    """Return (counts, treated) from race.csv."""
    counts = np.array([float(row["y"]) for row in race_rows()])
    treated = np.array([row["treat"] == "1" for row in race_rows()])
    return counts, treated


def four_item_list(seed=7, n=1500, effect=0.2):
    """Return (counts, treated) for a simulated J = 4 list experiment.

    Control counts are Binomial(4, 0.55) and 35% hold the sensitive item. The design
    effect: a share `effect` of treated respondents who hold exactly one control
    item and not the sensitive one report 0, which makes pi(0, 1) negative.
    """
    rng = np.random.default_rng(seed)
    control_count = rng.binomial(4, 0.55, size=2 * n)
    sensitive = rng.random(2 * n) < 0.35
    treated = np.arange(2 * n) < n

    counts = np.where(treated, control_count + sensitive, control_count).astype(float)
    drops = treated & (control_count == 1) & ~sensitive & (rng.random(2 * n) < effect)
    counts[drops] -= 1
    return counts, treated


def proportion(result: DesignTest, y, z):
    """Return the `proportions` row for (y, z)."""
    (row,) = [p for p in result.proportions if (p["y"], p["z"]) == (y, z)]
    return row


def random_covariance(m, seed):
    """Return a random positive definite m x m covariance."""
    a = np.random.default_rng(seed).normal(size=(m, m + 2))
    return a @ a.T


def distance_by_nnls(point, cov):
    """min over pi >= 0 of (point - pi)' cov^-1 (point - pi), via scipy's NNLS.

    With cov = L L', the distance is || L^-1 pi - L^-1 point ||^2, a nonnegative
    least-squares problem; this shares no code with the module's active-set search.
    """
    lower = np.linalg.cholesky(cov)
    a = linalg.solve_triangular(lower, np.eye(len(point)), lower=True)
    solution, residual = optimize.nnls(a, a @ point)
    return residual**2, solution


def project_draws(points, cov, sweeps=400):
    """Project each row of `points` onto the orthant in the metric of cov^-1.

    Cyclic coordinate descent on 1/2 (x - pi)' Q (x - pi) over pi >= 0, Q = cov^-1,
    run on every row at once; each step sets one coordinate to its best nonnegative
    value, so binding coordinates come out exactly 0. Returns (projections,
    distances). It shares no code with the module's active-set search.
    """
    precision = np.linalg.inv(cov)
    projection = np.maximum(points, 0.0)
    for _ in range(sweeps):
        for i in range(len(cov)):
            gradient = (projection - points) @ precision[:, i]
            step = projection[:, i] - gradient / precision[i, i]
            projection[:, i] = np.maximum(step, 0.0)
    residual = points - projection
    distances = np.einsum("ij,jk,ik->i", residual, precision, residual)
    return projection, distances


def null_draws(cov, draws=20_000, seed=1):
    """Return `draws` rows of N(0, cov) from a fixed seed."""
    rng = np.random.default_rng(seed)
    return rng.multivariate_normal(np.zeros(len(cov)), cov, size=draws)


def simulated_p_value(statistic, cov):
    """Share of null draws N(0, cov) whose distance to the orthant is >= statistic."""
    _, distances = project_draws(null_draws(cov), cov)
    return float(np.mean(distances >= statistic))


def set_covariance(counts, treated, ys, z):
    """Covariance of the estimates pi(y, z) for y in `ys`, written out directly."""
    control, treatment = counts[~treated], counts[treated]
    # The control arm's cut-offs: y for z = 1, y - 1 for z = 0.
    shifted = [y - (1 - z) for y in ys]
    cov = np.zeros((len(ys), len(ys)))
    for i, j in itertools.product(range(len(ys)), repeat=2):
        low_t = np.mean(treatment <= min(ys[i], ys[j]))
        high_t = np.mean(treatment <= max(ys[i], ys[j]))
        low_c = np.mean(control <= min(shifted[i], shifted[j]))
        high_c = np.mean(control <= max(shifted[i], shifted[j]))
        cov[i, j] = low_t * (1 - high_t) / treatment.size
        cov[i, j] += low_c * (1 - high_c) / control.size
    return cov


# Agreement with R on race.csv


def test_it_matches_r_on_the_race_p_value_with_moment_selection():
    counts, treated = race()

    result = design_effect_test(counts, treated, J=3, gms=True)

    # R 4.2.2, list 9.2.6: ict.test(race$y, race$treat, J = 3, gms = TRUE)$p
    assert result.p_value == pytest.approx(0.0443110858651332, abs=R_TOL, rel=0)
    assert result.rejected


def test_it_matches_r_on_the_share_at_zero_holding_the_sensitive_item():
    counts, treated = race()

    row = proportion(design_effect_test(counts, treated, J=3), y=0, z=1)

    # R 4.2.2, list 9.2.6: ict.test(...)'s pi(Y_i(0) = 0, Z_i = 1) before rounding
    assert row["estimate"] == pytest.approx(-0.0168663749945584, abs=R_TOL, rel=0)
    # R 4.2.2, list 9.2.6: its standard error before rounding
    assert row["se"] == pytest.approx(0.00837000849168938, abs=R_TOL, rel=0)


def test_it_tests_only_the_one_inequality_that_survives_moment_selection_on_race():
    counts, treated = race()

    result = design_effect_test(counts, treated, J=3)

    assert result.tested == [{"y": 0, "z": 1}]
    assert result.p_values_by_z[0] is None
    assert result.p_value == pytest.approx(2 * result.p_values_by_z[1], abs=1e-15)


def test_a_single_inequality_gets_the_one_sided_welch_t_test_p_value():
    counts, treated = race()
    control_at_zero = (counts[~treated] <= 0).astype(float)
    treated_at_zero = (counts[treated] <= 0).astype(float)

    result = design_effect_test(counts, treated, J=3)

    # scipy.stats.ttest_ind (Welch, one-sided), the counterpart of R's t.test
    welch = stats.ttest_ind(
        control_at_zero, treated_at_zero, equal_var=False, alternative="less"
    )
    assert result.p_values_by_z[1] == pytest.approx(welch.pvalue, abs=1e-12)


def test_without_moment_selection_the_p_value_is_at_least_the_selected_one():
    counts, treated = race()

    result = design_effect_test(counts, treated, J=3, gms=False)

    # This port's own value: no external reference is available for gms = FALSE.
    assert result.p_value == pytest.approx(0.153858917483711, abs=1e-9)
    assert result.p_value >= design_effect_test(counts, treated, J=3).p_value
    assert len(result.tested) == 6


def test_without_moment_selection_race_agrees_with_a_simulated_null_distribution():
    counts, treated = race()
    ys = [0, 1, 2]
    first = design_effect_test(counts, treated, J=3)
    estimate = np.array([proportion(first, y, 1)["estimate"] for y in ys])
    cov = set_covariance(counts, treated, ys, z=1)
    statistic, _ = distance_by_nnls(estimate, cov)

    result = design_effect_test(counts, treated, J=3, gms=False)

    # 20,000 null draws N(0, V) projected by coordinate descent; Monte Carlo SE about 0.002
    simulated = simulated_p_value(statistic, cov)
    assert result.p_values_by_z[1] == pytest.approx(simulated, abs=0.01)


# The pieces of the chi-bar-squared p-value


@pytest.mark.parametrize("z", [0, 1])
def test_the_covariance_used_matches_a_bootstrap_of_race(z):
    counts, treated = race()
    ys = [0, 1, 2] if z == 1 else [1, 2, 3]
    rng = np.random.default_rng(4)

    def cumulative(arm, top, draws):
        shares = np.bincount(arm.astype(int), minlength=top + 1) / arm.size
        tallies = rng.multinomial(arm.size, shares, size=draws)
        return np.cumsum(tallies, axis=1) / arm.size

    f_t = cumulative(counts[treated], 4, 4000)
    f_c = cumulative(counts[~treated], 3, 4000)
    if z == 1:
        estimates = f_c[:, ys] - f_t[:, ys]
    else:
        estimates = f_t[:, ys] - f_c[:, [y - 1 for y in ys]]

    # 4,000 multinomial bootstrap resamples of each arm; each entry's sampling
    # error is about 0.02 sd_i sd_j, so 0.08 sd_i sd_j is four of them.
    bootstrap = np.cov(estimates, rowvar=False)
    analytic = set_covariance(counts, treated, ys, z)
    scale = np.sqrt(np.outer(np.diag(analytic), np.diag(analytic)))
    assert (np.abs(analytic - bootstrap) <= 0.08 * scale).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_and_three_inequalities_get_kudos_closed_form_weights(seed):
    cov2 = random_covariance(2, seed)
    r = cov2[0, 1] / math.sqrt(cov2[0, 0] * cov2[1, 1])
    cov3 = random_covariance(3, seed)
    sd = np.sqrt(np.diag(cov3))
    r3 = cov3 / np.outer(sd, sd)

    def partial(a, b, c):
        return (r3[a, b] - r3[a, c] * r3[b, c]) / math.sqrt(
            (1 - r3[a, c] ** 2) * (1 - r3[b, c] ** 2)
        )

    # Kudo (1963), the closed forms ict.test uses for two and three inequalities
    kudo2 = [0.5 - math.acos(r) / (2 * math.pi), 0.5, math.acos(r) / (2 * math.pi)]
    w0 = 2 * math.pi - sum(math.acos(r3[a, b]) for a, b in [(0, 1), (0, 2), (1, 2)])
    w0 /= 4 * math.pi
    partials = [partial(0, 1, 2), partial(0, 2, 1), partial(1, 2, 0)]
    w1 = (3 * math.pi - sum(math.acos(p) for p in partials)) / (4 * math.pi)
    kudo3 = [w0, w1, 0.5 - w0, 0.5 - w1]

    assert chi_bar_squared_weights(cov2) == pytest.approx(kudo2, abs=1e-12)
    assert chi_bar_squared_weights(cov3) == pytest.approx(kudo3, abs=1e-12)


@pytest.mark.parametrize("m", [4, 5, 6])
def test_weights_sum_to_one_with_even_and_odd_halves(m):
    weights = chi_bar_squared_weights(random_covariance(m, seed=m))

    assert (weights >= 0).all()
    # Shapiro (1985): the weights sum to 1, and even and odd k each to 1/2
    assert weights.sum() == pytest.approx(1.0, abs=1e-5)
    assert weights[0::2].sum() == pytest.approx(0.5, abs=1e-5)
    assert weights[1::2].sum() == pytest.approx(0.5, abs=1e-5)


@pytest.mark.parametrize("m", [3, 4, 5])
def test_weights_match_the_simulated_share_of_binding_constraints(m):
    cov = random_covariance(m, seed=10 + m)
    projection, _ = project_draws(null_draws(cov, seed=5), cov)
    binding = np.count_nonzero(projection == 0.0, axis=1)

    weights = chi_bar_squared_weights(cov)

    # 20,000 projections of N(0, V) by coordinate descent; Monte Carlo SE below 0.004
    simulated = np.bincount(binding, minlength=m + 1) / len(binding)
    assert weights == pytest.approx(simulated, abs=0.015)


@pytest.mark.parametrize("d", [3, 4, 5, 6, 7])
def test_orthant_probabilities_match_scipys_multivariate_normal(d):
    cov = random_covariance(d, seed=20 + d)

    # scipy.stats.multivariate_normal.cdf (Genz), asked for 1e-7, seed fixed
    expected = stats.multivariate_normal.cdf(
        np.zeros(d), mean=np.zeros(d), cov=cov, abseps=1e-7, releps=0, rng=3
    )
    assert orthant_probability(cov) == pytest.approx(expected, abs=2e-6)


def test_the_distance_to_the_orthant_matches_nonnegative_least_squares():
    estimate = np.array([-0.03, 0.01, 0.02, -0.005])
    cov = random_covariance(4, seed=3) / 1000

    # scipy.optimize.nnls on the whitened problem
    expected, _ = distance_by_nnls(estimate, cov)
    assert _distance_to_orthant(estimate, cov) == pytest.approx(expected, rel=1e-9)


# J = 4 and beyond: the paper's exact weights, not the package's


def test_it_detects_a_simulated_design_effect_with_four_items():
    counts, treated = four_item_list(effect=0.9)

    result = design_effect_test(counts, treated, J=4)

    assert proportion(result, 0, 1)["estimate"] < 0
    assert result.p_value < 1e-10
    assert result.rejected


def test_it_does_not_reject_with_four_items_and_no_design_effect():
    counts, treated = four_item_list(effect=0.0)

    for gms in (True, False):
        result = design_effect_test(counts, treated, J=4, gms=gms)

        assert result.p_value == 1.0
        assert not result.rejected


def test_four_tested_inequalities_agree_with_a_simulated_null_distribution():
    counts, treated = four_item_list(effect=0.2)
    ys = [0, 1, 2, 3]
    first = design_effect_test(counts, treated, J=4)
    estimate = np.array([proportion(first, y, 1)["estimate"] for y in ys])
    cov = set_covariance(counts, treated, ys, z=1)
    statistic, _ = distance_by_nnls(estimate, cov)

    result = design_effect_test(counts, treated, J=4, gms=False)

    assert [row for row in result.tested if row["z"] == 1] == [
        {"y": y, "z": 1} for y in ys
    ]
    # 20,000 null draws N(0, V) projected by coordinate descent; Monte Carlo SE about 0.003
    simulated = simulated_p_value(statistic, cov)
    assert result.p_values_by_z[1] == pytest.approx(simulated, abs=0.015)
    # This port's own value on this simulated data, pinned against regressions.
    assert result.p_values_by_z[1] == pytest.approx(0.306991080646621, abs=1e-9)
    assert "differs from R's list::ict.test" in result.note


def test_it_gives_the_same_result_twice_with_six_tested_inequalities():
    rng = np.random.default_rng(11)
    n = 800
    treated = np.arange(2 * n) < n
    counts = rng.binomial(6, 0.5, size=2 * n) + (treated & (rng.random(2 * n) < 0.3))
    counts = counts.astype(float)
    counts[treated & (counts == 1)] = 0  # a design effect at the floor

    first = design_effect_test(counts, treated, J=6, gms=False)
    second = design_effect_test(counts, treated, J=6, gms=False)

    assert first == second
    assert 0.0 <= first.p_value <= 1.0


# Proportions


@pytest.mark.parametrize("J", [1, 2, 3, 4])
def test_the_proportions_of_respondent_types_sum_to_one(J):
    rng = np.random.default_rng(J)
    treated = rng.random(400) < 0.5
    counts = rng.integers(0, J + 1, size=400) + (treated & (rng.random(400) < 0.4))

    result = design_effect_test(counts, treated, J=J, gms=False)

    # Blair and Imai (2012): sum over y of pi(y, 0) + pi(y, 1) = 1
    assert sum(row["estimate"] for row in result.proportions) == pytest.approx(1.0)
    assert len(result.proportions) == 2 * (J + 1)


def test_the_proportions_are_differences_of_the_arms_cumulative_shares():
    counts, treated = race()
    control, treatment = counts[~treated], counts[treated]

    result = design_effect_test(counts, treated, J=3)

    for y in range(4):
        # Blair and Imai (2012), pi(y, 1) = F_c(y) - F_t(y), pi(y, 0) = F_t(y) - F_c(y-1)
        with_item = np.mean(control <= y) - np.mean(treatment <= y)
        without_item = np.mean(treatment <= y) - np.mean(control <= y - 1)
        assert proportion(result, y, 1)["estimate"] == pytest.approx(with_item)
        assert proportion(result, y, 0)["estimate"] == pytest.approx(without_item)


# Edge cases


def test_it_gives_a_p_value_of_one_when_nothing_is_left_to_test():
    counts = np.array([1.0] * 10 + [1.0] * 10)
    treated = np.array([False] * 10 + [True] * 10)

    result = design_effect_test(counts, treated, J=2)

    assert result.p_value == 1.0
    assert result.tested == []
    assert "no inequality was tested" in result.note


def test_a_certainly_negative_proportion_gives_a_p_value_of_zero():
    counts = np.array([2.0] * 10 + [0.0] * 10)
    treated = np.array([False] * 10 + [True] * 10)

    result = design_effect_test(counts, treated, J=2)

    assert result.p_value == 0.0
    assert result.rejected
    assert "cannot arise without a design effect" in result.note


def test_it_works_with_a_single_control_item():
    counts, treated = race()
    counts = np.minimum(counts, 1.0) + (treated & (counts >= 2))

    result = design_effect_test(counts, treated, J=1)

    assert 0.0 <= result.p_value <= 1.0
    assert len(result.proportions) == 4


def test_it_leaves_out_missing_counts():
    counts, treated = race()
    with_missing = np.concatenate([counts, [np.nan, np.nan]])
    treated_with_missing = np.concatenate([treated, [True, False]])

    result = design_effect_test(with_missing, treated_with_missing, J=3)

    assert result == design_effect_test(counts, treated, J=3)


def test_alpha_only_changes_whether_the_test_rejects():
    counts, treated = race()

    strict = design_effect_test(counts, treated, J=3, alpha=0.01)

    assert strict.p_value == design_effect_test(counts, treated, J=3).p_value
    assert not strict.rejected


# Errors


def test_it_refuses_an_arm_with_no_respondents():
    counts, treated = np.array([0.0, 1.0, 2.0]), np.array([True, True, True])

    with pytest.raises(ValueError, match="control arm has 0 respondent"):
        design_effect_test(counts, treated, J=3)


def test_it_refuses_an_arm_with_a_single_respondent():
    counts, treated = np.array([0.0, 1.0, 2.0]), np.array([True, True, False])

    with pytest.raises(ValueError, match=f"at least {MIN_ARM_SIZE} in each arm"):
        design_effect_test(counts, treated, J=3)


@pytest.mark.parametrize(
    ("bad", "arm"),
    [(4.0, False), (5.0, True), (-1.0, True), (1.5, False)],
)
def test_it_refuses_a_count_outside_its_arms_range(bad, arm):
    counts, treated = race()
    counts = np.append(counts, bad)
    treated = np.append(treated, arm)

    with pytest.raises(ValueError, match="is impossible with J = 3"):
        design_effect_test(counts, treated, J=3)


@pytest.mark.parametrize("J", [0, -1, 2.5, True])
def test_it_refuses_a_j_that_is_not_a_positive_whole_number(J):
    counts, treated = race()

    with pytest.raises(ValueError, match="number of control items"):
        design_effect_test(counts, treated, J=J)


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.5])
def test_it_refuses_an_alpha_outside_zero_and_one(alpha):
    counts, treated = race()

    with pytest.raises(ValueError, match="alpha"):
        design_effect_test(counts, treated, J=3, alpha=alpha)


# Serialisation


def test_to_dict_gives_plain_values_that_survive_json():
    counts, treated = race()
    result = design_effect_test(counts, treated, J=3)

    data = result.to_dict()

    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["p_value"] == result.p_value
    assert data["gms"] is True
    assert data["p_values_by_z"] == {"0": None, "1": result.p_values_by_z[1]}
    assert data["proportions"][0] == {
        "y": 0,
        "z": 1,
        "estimate": pytest.approx(-0.0168663749945584, abs=R_TOL),
        "se": pytest.approx(0.00837000849168938, abs=R_TOL),
    }


def test_the_result_is_frozen():
    counts, treated = race()
    result = design_effect_test(counts, treated, J=3)

    with pytest.raises(dataclasses.FrozenInstanceError):
        result.p_value = 0.5
