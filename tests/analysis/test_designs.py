"""Tests for designs with more than one list: several items, and the double list.

Several sensitive items are checked on multi.csv (the R package `list` 9.2.6's `multi`
data, J = 3). The race item is checked against the R package `list` 9.2.6 / base R
value on race.csv, to 1e-9; the affirm item and the difference between the items
against plain Python loops written here, to 1e-12, and against base R 4.2.2 on
multi.csv, to 1e-9; the difference's standard error also against a seeded bootstrap.

The double list has no R reference here. It is checked on a seeded synthetic data set
with a known prevalence, against plain loops for each list, against the Neyman
standard error of the per-respondent half difference D = (A - B) / 2 (an algebraically
equivalent route, to 1e-12), and against a seeded bootstrap.
"""

import csv
import functools
import itertools
import math
import statistics
from pathlib import Path

import numpy as np
import pytest

from analysis.estimators.designs import (
    DoubleList,
    ItemDifference,
    double_list_estimates,
    multi_item_estimates,
)
from analysis.estimators.difference import (
    MIN_ARM_SIZE,
    SMALL_ARM_SIZE,
    difference_in_means,
)

DATA = Path(__file__).resolve().parents[1] / "data"
TOL = 1e-9
LOOP_TOL = 1e-12
Z = 1.959963984540054

# A bootstrap standard deviation from B draws has a relative Monte Carlo error of
# about 1 / sqrt(2 B), 1.1% for B = 4000, so 5% is more than four of them.
BOOTSTRAP_DRAWS = 4000
BOOTSTRAP_REL = 0.05


@functools.cache
def csv_rows(name):
    """Return one of tests/data's CSV files as dicts of text, read once per session."""
    with (DATA / name).open(newline="") as f:
        return tuple(csv.DictReader(f))


def multi():
    """Return (counts, arms) from multi.csv."""
    rows = csv_rows("multi.csv")
    return np.array([float(row["y"]) for row in rows]), np.array(
        [row["treat"] for row in rows]
    )


def arm_counts(arm):
    """Return the counts of one arm of multi.csv as a list of Python floats."""
    return [float(row["y"]) for row in csv_rows("multi.csv") if row["treat"] == arm]


def loop_mean_and_variance(values):
    """Return the mean and the variance of the mean (n - 1), by plain loops."""
    n = len(values)
    mean = math.fsum(values) / n
    sum_sq = math.fsum((value - mean) ** 2 for value in values)
    return mean, sum_sq / (n - 1) / n


def three_items(sizes=(40, 40, 40, 40)):
    """Return (counts, arms) with a control arm and items "x", "y", "z" of the sizes.

    Counts cycle through 0-3 in the control arm and 0-3 plus a per-item shift in the
    item arms, so every arm has a variance and the items differ.
    """
    counts, arms = [], []
    for arm, size, shift in zip(
        ["control", "x", "y", "z"], sizes, [0, 1, 0, 1], strict=True
    ):
        counts.extend((k % 4) + (shift if k % 3 == 0 else 0) for k in range(size))
        arms.extend([arm] * size)
    return np.array(counts, dtype=float), np.array(arms)


def assert_no_nan(values):
    """Assert that no number in a nested to_dict() result is a NaN."""
    if isinstance(values, dict):
        for value in values.values():
            assert_no_nan(value)
    elif isinstance(values, list):
        for value in values:
            assert_no_nan(value)
    else:
        assert not (isinstance(values, float) and math.isnan(values))


# Several sensitive items sharing one control arm: agreement with references


def test_the_race_item_matches_r_on_race_csv():
    counts, arms = multi()

    race = multi_item_estimates(counts, arms, J=3).arms[1]

    assert race.arm == "race"
    # R package list 9.2.6 / base R on race.csv (the same control rows as multi.csv)
    assert race.estimate == pytest.approx(0.0677974402507511, abs=TOL, rel=0)
    # R package list 9.2.6 / base R on race.csv
    assert race.se == pytest.approx(0.049578289054338, abs=TOL, rel=0)
    assert race.n == 624
    assert race.ci_low == pytest.approx(race.estimate - Z * race.se, abs=TOL)
    assert race.note is None


def test_the_race_item_equals_difference_in_means_on_race_csv():
    rows = csv_rows("race.csv")
    on_race_csv = difference_in_means(
        [float(row["y"]) for row in rows], [row["treat"] == "1" for row in rows]
    )
    counts, arms = multi()

    race = multi_item_estimates(counts, arms, J=3).arms[1]

    # This project's difference_in_means, itself checked against R to 1e-9
    assert race.estimate == pytest.approx(on_race_csv.estimate, abs=LOOP_TOL, rel=0)
    assert race.se == pytest.approx(on_race_csv.se, abs=LOOP_TOL, rel=0)
    assert race.n == on_race_csv.n_treatment


def test_the_affirm_item_matches_a_plain_loop_and_base_r():
    mean_affirm, var_affirm = loop_mean_and_variance(arm_counts("affirm"))
    mean_control, var_control = loop_mean_and_variance(arm_counts("control"))
    counts, arms = multi()

    affirm = multi_item_estimates(counts, arms, J=3).arms[0]

    assert affirm.arm == "affirm"
    # Plain loop over multi.csv above
    assert affirm.estimate == pytest.approx(
        mean_affirm - mean_control, abs=LOOP_TOL, rel=0
    )
    assert affirm.se == pytest.approx(
        math.sqrt(var_affirm + var_control), abs=LOOP_TOL, rel=0
    )
    # Base R 4.2.2 on multi.csv: mean(y[affirm]) - mean(y[control])
    assert affirm.estimate == pytest.approx(0.494740342709117, abs=TOL, rel=0)
    # Base R 4.2.2: sqrt(var(y[affirm]) / n_affirm + var(y[control]) / n_control)
    assert affirm.se == pytest.approx(0.0542519176228079, abs=TOL, rel=0)
    assert affirm.n == 582


def test_the_difference_between_items_matches_a_direct_computation():
    mean_affirm, var_affirm = loop_mean_and_variance(arm_counts("affirm"))
    mean_race, var_race = loop_mean_and_variance(arm_counts("race"))
    counts, arms = multi()

    (difference,) = multi_item_estimates(counts, arms, J=3).differences

    assert (difference.a, difference.b) == ("affirm", "race")
    # Plain loop: mean_a - mean_b and var_a / n_a + var_b / n_b
    se = math.sqrt(var_affirm + var_race)
    estimate = mean_affirm - mean_race
    assert difference.estimate == pytest.approx(estimate, abs=LOOP_TOL, rel=0)
    assert difference.se == pytest.approx(se, abs=LOOP_TOL, rel=0)
    assert difference.p_value == pytest.approx(
        math.erfc(abs(estimate) / se / math.sqrt(2)), rel=1e-9
    )
    # Base R 4.2.2 on multi.csv, the same formula
    assert difference.estimate == pytest.approx(0.426942902458366, abs=TOL, rel=0)
    assert difference.se == pytest.approx(0.0566084596227379, abs=TOL, rel=0)
    # Base R 4.2.2: 2 * pnorm(-abs(estimate / se))
    assert difference.p_value == pytest.approx(4.62698615392247e-14, rel=1e-6)


def test_the_difference_se_matches_a_bootstrap_of_multi():
    counts, arms = multi()
    rng = np.random.default_rng(20240611)

    def resampled_means(arm):
        values = counts[arms == arm]
        draws = rng.integers(0, values.size, size=(BOOTSTRAP_DRAWS, values.size))
        return values[draws].mean(axis=1)

    # Each arm resampled on its own, as it was randomized; both items' estimates
    # subtract the same resampled control mean.
    control = resampled_means("control")
    d_affirm = resampled_means("affirm") - control
    d_race = resampled_means("race") - control
    bootstrap_se = float(np.std(d_affirm - d_race, ddof=1))

    result = multi_item_estimates(counts, arms, J=3)
    (difference,) = result.differences

    assert difference.se == pytest.approx(bootstrap_se, rel=BOOTSTRAP_REL)
    # Treating the items' estimates as independent would overstate it by far more.
    independent = math.hypot(result.arms[0].se, result.arms[1].se)
    assert independent > (1 + 4 * BOOTSTRAP_REL) * bootstrap_se


# Several sensitive items: how the estimates relate


def test_the_difference_is_the_difference_of_the_items_estimates():
    counts, arms = multi()

    result = multi_item_estimates(counts, arms, J=3)

    affirm, race = result.arms
    assert result.differences[0].estimate == pytest.approx(
        affirm.estimate - race.estimate, abs=1e-15
    )


def test_it_lists_the_items_in_the_order_given_and_every_pair_in_that_order():
    counts, arms = three_items()

    result = multi_item_estimates(counts, arms, items=["z", "x", "y"], J=3)

    assert [item.arm for item in result.arms] == ["z", "x", "y"]
    assert [(pair.a, pair.b) for pair in result.differences] == [
        ("z", "x"),
        ("z", "y"),
        ("x", "y"),
    ]


def test_by_default_it_lists_the_items_present_in_alphabetical_order():
    arms = np.array(["z", "control", "y", "x"] * 40)
    counts = np.resize([0.0, 1.0, 2.0, 3.0, 1.0], arms.size)

    result = multi_item_estimates(counts, arms, J=3)

    assert [item.arm for item in result.arms] == ["x", "y", "z"]
    assert [(pair.a, pair.b) for pair in result.differences] == list(
        itertools.combinations(["x", "y", "z"], 2)
    )


def test_swapping_two_items_changes_the_sign_but_not_the_standard_error():
    counts, arms = multi()

    forward = multi_item_estimates(counts, arms, items=["affirm", "race"], J=3)
    backward = multi_item_estimates(counts, arms, items=["race", "affirm"], J=3)

    (ab,), (ba,) = forward.differences, backward.differences
    assert ba.estimate == pytest.approx(-ab.estimate, abs=1e-15)
    assert ba.se == ab.se
    assert ba.p_value == pytest.approx(ab.p_value, rel=1e-12)
    assert ba.ci_low == pytest.approx(-ab.ci_high, abs=1e-15)


def test_it_names_the_control_arm_as_told():
    counts, arms = multi()
    renamed = np.where(arms == "control", "none", arms)

    result = multi_item_estimates(counts, renamed, control="none", J=3)

    reference = multi_item_estimates(counts, arms, J=3)
    assert result.to_dict() == reference.to_dict()


def test_it_leaves_out_missing_counts_and_counts_them():
    counts, arms = multi()
    counts = counts.copy()
    counts[[0, 1, 5]] = np.nan

    result = multi_item_estimates(counts, arms, J=3)

    kept = ~np.isnan(counts)
    expected = multi_item_estimates(counts[kept], arms[kept], J=3)
    assert result.n_missing == 3
    assert result.arms == expected.arms
    assert result.differences == expected.differences
    assert result.n_control == expected.n_control


# Several sensitive items: small and empty arms


def test_an_item_with_too_few_respondents_has_no_estimate_and_no_differences():
    counts, arms = three_items(sizes=(40, 40, MIN_ARM_SIZE - 1, 40))

    result = multi_item_estimates(counts, arms, J=3)

    x, y, z = result.arms
    assert y.estimate is None and y.se is None and y.n == MIN_ARM_SIZE - 1
    assert y.note == (
        f"Fewer than {MIN_ARM_SIZE} respondents with a count in the 'y' arm; "
        "no estimate."
    )
    assert x.estimate is not None and z.estimate is not None
    xy, xz, yz = result.differences
    assert xy.estimate is None and yz.estimate is None and xy.p_value is None
    assert xz.estimate is not None
    assert_no_nan(result.to_dict())


def test_an_item_given_but_absent_has_no_estimate():
    counts, arms = three_items()

    result = multi_item_estimates(counts, arms, items=["x", "y", "z", "w"], J=3)

    assert result.arms[3].arm == "w"
    assert result.arms[3].n == 0
    assert result.arms[3].estimate is None
    assert all(pair.estimate is None for pair in result.differences if pair.b == "w")
    assert_no_nan(result.to_dict())


def test_without_a_control_arm_items_have_no_estimate_but_differences_do():
    counts, arms = three_items(sizes=(0, 40, 40, 40))

    result = multi_item_estimates(counts, arms, items=["x", "y", "z"], J=3)

    assert all(item.estimate is None for item in result.arms)
    assert "'control' arm" in result.arms[0].note
    # The control mean cancels from a difference, so it needs only the items' arms.
    assert all(pair.estimate is not None for pair in result.differences)


def test_it_notes_a_small_item_arm():
    counts, arms = three_items(sizes=(40, SMALL_ARM_SIZE - 1, 40, 40))

    result = multi_item_estimates(counts, arms, J=3)

    assert result.arms[0].note == (
        f"Fewer than {SMALL_ARM_SIZE} respondents with a count in the 'x' arm; the "
        "sample is small and the standard error of the estimate is unreliable."
    )
    assert result.arms[1].note is None
    assert result.differences[0].note.startswith(f"Fewer than {SMALL_ARM_SIZE}")
    assert result.differences[2].note is None


def test_a_difference_with_no_spread_has_no_p_value():
    counts = np.array([1.0, 1.0, 2.0, 2.0, 2.0, 2.0])
    arms = np.array(["control", "control", "x", "x", "y", "y"])

    (difference,) = multi_item_estimates(counts, arms, J=3).differences

    assert difference.estimate == 0.0
    assert difference.se == 0.0
    assert difference.p_value is None


# Several sensitive items: what it refuses


@pytest.mark.parametrize(
    ("arm", "count", "message"),
    [
        ("control", 4.0, "A count of 4 in the 'control' arm is impossible"),
        ("race", 5.0, "A count of 5 in the 'race' arm is impossible"),
        ("affirm", -1.0, "A count of -1 in the 'affirm' arm is impossible"),
        ("affirm", 1.5, "A count of 1.5 in the 'affirm' arm is impossible"),
    ],
)
def test_it_refuses_a_count_out_of_range_for_its_arm(arm, count, message):
    counts, arms = multi()
    counts = counts.copy()
    counts[np.flatnonzero(arms == arm)[0]] = count

    with pytest.raises(ValueError, match=message):
        multi_item_estimates(counts, arms, J=3)


def test_it_accepts_j_plus_one_in_an_item_arm():
    counts, arms = multi()
    counts = counts.copy()
    counts[np.flatnonzero(arms == "race")[0]] = 4.0

    assert multi_item_estimates(counts, arms, J=3).arms[1].n == 624


def test_it_refuses_an_arm_that_is_neither_control_nor_an_item():
    counts, arms = multi()
    arms = arms.astype(object)
    arms[7] = "other"

    with pytest.raises(ValueError, match="arm is 'other', which is neither"):
        multi_item_estimates(counts, arms, items=["affirm", "race"], J=3)


def test_it_refuses_an_arm_left_out_of_items():
    counts, arms = multi()

    with pytest.raises(ValueError, match="arm is 'race', which is neither"):
        multi_item_estimates(counts, arms, items=["affirm"], J=3)


def test_it_refuses_a_control_arm_name_that_no_respondent_has():
    counts, arms = multi()

    with pytest.raises(ValueError, match="No respondent is in the control arm 'none'"):
        multi_item_estimates(counts, arms, control="none", J=3)


def test_it_refuses_a_respondent_without_an_arm():
    counts, arms = multi()
    arms = arms.astype(object)
    arms[0] = None

    with pytest.raises(ValueError, match="A respondent has no arm"):
        multi_item_estimates(counts, arms, J=3)


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["race", "control"], "'control' is the control arm"),
        (["race", "affirm", "race"], "items lists 'race' more than once"),
    ],
)
def test_it_refuses_a_bad_list_of_items(items, message):
    counts, arms = multi()

    with pytest.raises(ValueError, match=message):
        multi_item_estimates(counts, arms, items=items, J=3)


@pytest.mark.parametrize("J", [0, 2.5, "3", True, None])
def test_it_refuses_a_j_that_is_not_a_whole_number_of_items(J):
    counts, arms = multi()

    with pytest.raises(ValueError, match="J is a number of control items"):
        multi_item_estimates(counts, arms, J=J)


def test_it_refuses_arrays_of_different_lengths_and_infinite_counts():
    counts, arms = multi()

    with pytest.raises(ValueError, match="give one arm per respondent"):
        multi_item_estimates(counts, arms[:-1], J=3)
    with pytest.raises(ValueError, match="infinite"):
        multi_item_estimates(np.append(counts[:-1], np.inf), arms, J=3)


def test_it_returns_the_multi_item_fields_from_to_dict():
    counts, arms = multi()

    values = multi_item_estimates(counts, arms, J=3).to_dict()

    assert list(values) == ["arms", "differences", "n_control", "n_missing"]
    assert list(values["arms"][0]) == [
        "arm",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "n",
        "note",
    ]
    assert list(values["differences"][0]) == [
        "a",
        "b",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "p_value",
        "note",
    ]
    assert type(values["arms"][0]["estimate"]) is float
    assert type(values["differences"][0]["p_value"]) is float
    assert (values["n_control"], values["n_missing"]) == (589, 0)


def test_it_turns_a_nan_into_none_in_to_dict():
    pair = ItemDifference("a", "b", float("nan"), None, None, None, np.float64("nan"))

    assert pair.to_dict()["estimate"] is None
    assert pair.to_dict()["p_value"] is None


# The double list


PREVALENCE = 0.3


def simulated_double_list(n=2000, seed=1):
    """Return (count_a, count_b, treated_on_a) for a double list with J_a = J_b = 3.

    A latent trait raises the chance of holding every control item on both lists, so
    the two lists' counts are positively correlated, as Glynn (2013) advises. The
    sensitive item is held with probability PREVALENCE, independently of the trait,
    and added to list A for a random half of exactly n / 2 and to list B for the rest.
    `seed` is anything `np.random.default_rng` takes.
    """
    rng = np.random.default_rng(seed)
    trait = rng.normal(size=n)
    items_a = trait[:, None] + rng.normal(size=(n, 3)) > [-0.5, 0.0, 0.6]
    items_b = trait[:, None] + rng.normal(size=(n, 3)) > [-0.3, 0.2, 0.8]
    sensitive = rng.random(n) < PREVALENCE
    on_a = rng.permutation(n) < n // 2

    count_a = items_a.sum(axis=1) + (sensitive & on_a)
    count_b = items_b.sum(axis=1) + (sensitive & ~on_a)
    return count_a.astype(float), count_b.astype(float), on_a


@functools.cache
def synthetic_double_list():
    """Return the fixed synthetic double list the tests share (seed 1, n = 2000)."""
    return simulated_double_list()


def double(count_a=None, count_b=None, treated_on_a=None):
    """Return double_list_estimates on the synthetic data, with any array replaced."""
    a, b, on_a = synthetic_double_list()
    return double_list_estimates(
        a if count_a is None else count_a,
        b if count_b is None else count_b,
        on_a if treated_on_a is None else treated_on_a,
        3,
        3,
    )


def test_the_combined_estimate_is_near_the_true_prevalence():
    result = double()

    # Fixed seed: the truth is the simulation's PREVALENCE.
    assert abs(result.estimate - PREVALENCE) < 3 * result.se
    assert result.ci_low < PREVALENCE < result.ci_high
    assert result.ci_low == pytest.approx(result.estimate - Z * result.se)
    assert (result.n, result.n_missing, result.note) == (2000, 0, None)


def test_the_interval_covers_the_true_prevalence_in_about_95_percent_of_samples():
    replicates = 1000
    covered = 0
    for k in range(replicates):
        a, b, on_a = simulated_double_list(seed=(99, k))
        result = double_list_estimates(a, b, on_a, 3, 3)
        covered += result.ci_low < PREVALENCE < result.ci_high

    # 1,000 seeded samples: the Monte Carlo SE of a 95% coverage is about 0.007,
    # so 0.93 to 0.97 allows about three of them either side.
    assert 0.93 <= covered / replicates <= 0.97


def test_each_list_is_a_difference_in_means_matching_a_plain_loop():
    a, b, on_a = synthetic_double_list()

    result = double()

    # Plain loops: list A with G1 as its treatment arm, list B with G2
    mean_a1, var_a1 = loop_mean_and_variance(a[on_a].tolist())
    mean_a2, var_a2 = loop_mean_and_variance(a[~on_a].tolist())
    mean_b1, var_b1 = loop_mean_and_variance(b[on_a].tolist())
    mean_b2, var_b2 = loop_mean_and_variance(b[~on_a].tolist())
    assert result.list_a.estimate == pytest.approx(mean_a1 - mean_a2, abs=LOOP_TOL)
    assert result.list_a.se == pytest.approx(math.sqrt(var_a1 + var_a2), abs=LOOP_TOL)
    assert result.list_b.estimate == pytest.approx(mean_b2 - mean_b1, abs=LOOP_TOL)
    assert result.list_b.se == pytest.approx(math.sqrt(var_b1 + var_b2), abs=LOOP_TOL)
    assert (result.list_a.n_treatment, result.list_b.n_treatment) == (1000, 1000)


def test_the_combined_estimate_is_the_average_of_the_two_lists():
    result = double()

    assert result.estimate == pytest.approx(
        (result.list_a.estimate + result.list_b.estimate) / 2, abs=1e-15
    )


def test_the_se_is_the_neyman_se_of_the_half_difference_of_the_lists():
    a, b, on_a = synthetic_double_list()
    half_difference = (a - b) / 2

    result = double()

    # Second route: (d_A + d_B) / 2 is the difference in means of D = (A - B) / 2
    # between the groups, so its SE is that difference's Neyman SE.
    d1, d2 = half_difference[on_a], half_difference[~on_a]
    estimate = d1.mean() - d2.mean()
    se = math.sqrt(d1.var(ddof=1) / d1.size + d2.var(ddof=1) / d2.size)
    assert result.estimate == pytest.approx(estimate, abs=1e-12, rel=0)
    assert result.se == pytest.approx(se, abs=1e-12, rel=0)


def test_the_se_matches_a_bootstrap_of_the_synthetic_double_list():
    a, b, on_a = synthetic_double_list()
    rng = np.random.default_rng(7)

    def resampled_means(group):
        rows = np.flatnonzero(group)
        draws = rows[rng.integers(0, rows.size, size=(BOOTSTRAP_DRAWS, rows.size))]
        return a[draws].mean(axis=1), b[draws].mean(axis=1)

    # Each randomized group resampled on its own, keeping each respondent's two
    # counts together.
    a1, b1 = resampled_means(on_a)
    a2, b2 = resampled_means(~on_a)
    bootstrap_se = float(np.std(((a1 - a2) + (b2 - b1)) / 2, ddof=1))

    result = double()

    assert result.se == pytest.approx(bootstrap_se, rel=BOOTSTRAP_REL)
    # Leaving out the covariance of the two lists would overstate it by far more.
    independent = math.hypot(result.list_a.se, result.list_b.se) / 2
    assert independent > (1 + 4 * BOOTSTRAP_REL) * bootstrap_se


def test_the_correlation_is_the_pooled_within_group_correlation():
    a, b, on_a = synthetic_double_list()

    result = double()

    # Plain loop over the deviations from each group's means
    cross, sum_sq_a, sum_sq_b = [], [], []
    for group in (on_a, ~on_a):
        mean_a, mean_b = statistics.fmean(a[group]), statistics.fmean(b[group])
        for x, y in zip(a[group], b[group], strict=True):
            cross.append((x - mean_a) * (y - mean_b))
            sum_sq_a.append((x - mean_a) ** 2)
            sum_sq_b.append((y - mean_b) ** 2)
    expected = math.fsum(cross) / math.sqrt(math.fsum(sum_sq_a) * math.fsum(sum_sq_b))
    assert result.correlation == pytest.approx(expected, abs=LOOP_TOL)
    assert result.correlation > 0.2


def test_positively_correlated_lists_make_the_combined_estimate_more_precise():
    result = double()

    assert result.se < min(result.list_a.se, result.list_b.se)


def test_a_respondent_missing_one_count_is_left_out_of_the_combined_estimate_only():
    a, b, on_a = synthetic_double_list()
    a, b = a.copy(), b.copy()
    a[[0, 1, 2]] = np.nan
    b[[2, 3]] = np.nan

    result = double(count_a=a, count_b=b)

    complete = ~np.isnan(a) & ~np.isnan(b)
    on_complete = double_list_estimates(a[complete], b[complete], on_a[complete], 3, 3)
    assert (result.n, result.n_missing) == (1996, 4)
    assert result.estimate == on_complete.estimate
    assert result.se == on_complete.se
    assert result.correlation == on_complete.correlation
    assert result.list_a == difference_in_means(a, on_a)
    assert result.list_a.n_treatment + result.list_a.n_control == 1997
    assert result.list_b.n_treatment + result.list_b.n_control == 1998
    assert result.note == (
        "The combined estimate leaves out 4 respondent(s) without a count on both "
        "lists."
    )


def test_it_gives_no_combined_estimate_with_too_few_respondents_in_a_group():
    a = np.array([1.0, 2.0, 3.0, 0.0, 1.0])
    b = np.array([1.0, 0.0, 2.0, 3.0, 2.0])
    on_a = np.array([True, False, False, False, False])

    result = double_list_estimates(a, b, on_a, 3, 3)

    assert result.estimate is None and result.se is None
    assert result.note == (
        f"Fewer than {MIN_ARM_SIZE} respondents with both counts in the group with "
        "the sensitive item on list A; no combined estimate."
    )
    assert result.list_a.estimate is None
    assert_no_nan(result.to_dict())


def test_the_correlation_is_none_when_a_list_does_not_vary_within_groups():
    on_a = np.array([True, True, True, False, False, False])
    a = np.array([2.0, 2.0, 2.0, 1.0, 1.0, 1.0])
    b = np.array([0.0, 1.0, 2.0, 1.0, 2.0, 3.0])

    result = double_list_estimates(a, b, on_a, 3, 3)

    assert result.correlation is None
    assert result.se is not None
    assert_no_nan(result.to_dict())


@pytest.mark.parametrize(
    ("list_", "in_group_1", "count", "message"),
    [
        ("a", False, 4.0, "A count of 4 on a list A that was the control list"),
        ("a", True, 5.0, "A count of 5 on a list A that carried the sensitive item"),
        ("b", True, 4.0, "A count of 4 on a list B that was the control list"),
        ("b", False, 5.0, "A count of 5 on a list B that carried the sensitive item"),
        ("b", False, 0.5, "A count of 0.5 on a list B"),
    ],
)
def test_it_refuses_a_count_out_of_range_for_its_list(
    list_, in_group_1, count, message
):
    a, b, on_a = synthetic_double_list()
    counts = (a if list_ == "a" else b).copy()
    counts[np.flatnonzero(on_a == in_group_1)[0]] = count
    replaced = {f"count_{list_}": counts}

    with pytest.raises(ValueError, match=message):
        double(**replaced)


def test_it_accepts_j_plus_one_on_the_list_that_carried_the_sensitive_item():
    a, b, on_a = synthetic_double_list()
    a = a.copy()
    a[np.flatnonzero(on_a)[0]] = 4.0

    assert double(count_a=a).n == 2000


def test_it_refuses_bad_arrays_and_a_bad_j():
    a, b, on_a = synthetic_double_list()

    with pytest.raises(ValueError, match="same length"):
        double(count_b=b[:-1])
    with pytest.raises(ValueError, match="True/False or 1/0"):
        double(treated_on_a=np.where(on_a, 1, 2))
    with pytest.raises(ValueError, match="J_b is a number of control items"):
        double_list_estimates(a, b, on_a, 3, 0)


def test_it_returns_the_double_list_fields_from_to_dict():
    values = double().to_dict()

    assert list(values) == ["lists", "combined", "correlation"]
    assert [entry["list"] for entry in values["lists"]] == ["A", "B"]
    assert list(values["lists"][1]) == [
        "list",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "n_treatment",
        "n_control",
        "note",
    ]
    assert list(values["combined"]) == [
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "n",
        "n_missing",
        "note",
    ]
    assert type(values["combined"]["se"]) is float
    assert type(values["correlation"]) is float
    assert isinstance(double(), DoubleList)
