"""Tests for the difference-in-means estimator, overall and by level.

Reference values come from the R package `list` 9.2.6 and base R, run on race.csv
(the package's own `race` data exported unchanged). They agree to 1e-9 absolute.
"""

import csv
import dataclasses
import functools
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from analysis.estimators.difference import (
    MIN_ARM_SIZE,
    SMALL_ARM_SIZE,
    DiffInMeans,
    difference_by_level,
    difference_in_means,
)

RACE_CSV = Path(__file__).resolve().parents[1] / "data" / "race.csv"
TOL = 1e-9

FIELDS = [
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "n_treatment",
    "n_control",
    "mean_treatment",
    "mean_control",
    "share",
    "note",
]


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


def race_levels(column):
    """Return one race.csv column as an object array of level labels."""
    return np.array([row[column] for row in race_rows()], dtype=object)


def arms(n_treatment, n_control, *, spread=True):
    """Return (counts, treated) with the given number of respondents per arm.

    Counts cycle through 0-3 (plus one in the treatment arm) so both arms have a
    variance; with spread=False every count is 1.
    """
    counts_t = (np.arange(n_treatment) % 4 + 1.0) if spread else np.ones(n_treatment)
    counts_c = (np.arange(n_control) % 4 + 0.0) if spread else np.ones(n_control)
    counts = np.concatenate([counts_t, counts_c])
    treated = np.array([True] * n_treatment + [False] * n_control)
    return counts, treated


def as_levels(*values):
    """Return an object array of level labels, None for a missing level."""
    return np.array(values, dtype=object)


def assert_no_nan(result: DiffInMeans):
    """Assert that no field of `result.to_dict()` is a NaN."""
    for key, value in result.to_dict().items():
        assert not (isinstance(value, float) and math.isnan(value)), key


# Agreement with R on race.csv


def test_it_matches_r_on_the_overall_race_estimate():
    counts, treated = race()

    result = difference_in_means(counts, treated)

    # R package list 9.2.6 / base R on race.csv
    assert result.estimate == pytest.approx(0.0677974402507511, abs=TOL, rel=0)
    # R package list 9.2.6 / base R on race.csv
    assert result.se == pytest.approx(0.049578289054338, abs=TOL, rel=0)
    # R package list 9.2.6 / base R on race.csv
    assert (result.n_treatment, result.n_control) == (624, 589)
    assert result.share is None
    assert result.note is None


def test_it_matches_r_within_each_level_of_south():
    counts, treated = race()
    south = race_levels("south")

    breakdown = dict(difference_by_level(counts, treated, south).levels)

    # R package list 9.2.6 / base R on race.csv
    assert breakdown["0"].estimate == pytest.approx(0.00542800216002792, abs=TOL, rel=0)
    # R package list 9.2.6 / base R on race.csv
    assert breakdown["0"].se == pytest.approx(0.0560112332375167, abs=TOL, rel=0)
    # R package list 9.2.6 / base R on race.csv
    assert breakdown["1"].estimate == pytest.approx(0.258651286601597, abs=TOL, rel=0)
    # R package list 9.2.6 / base R on race.csv
    assert breakdown["1"].se == pytest.approx(0.105845908770363, abs=TOL, rel=0)


def test_it_gives_a_normal_95_percent_interval_around_the_estimate():
    counts, treated = race()
    z = stats.norm.ppf(0.975)

    result = difference_in_means(counts, treated)

    assert result.ci_low == pytest.approx(result.estimate - z * result.se, abs=TOL)
    assert result.ci_high == pytest.approx(result.estimate + z * result.se, abs=TOL)


# Small and empty arms


def test_it_gives_no_estimate_when_an_arm_has_fewer_than_two_respondents():
    counts, treated = arms(5, MIN_ARM_SIZE - 1)

    result = difference_in_means(counts, treated)

    assert (result.estimate, result.se, result.ci_low, result.ci_high) == (None,) * 4
    assert result.note == "Fewer than 2 respondents in the control arm; no estimate."
    assert result.mean_treatment == pytest.approx(np.mean(counts[treated]))
    assert result.mean_control == 0.0


def test_it_names_both_arms_when_both_are_too_small():
    counts, treated = arms(1, 1)

    result = difference_in_means(counts, treated)

    assert result.estimate is None
    assert "treatment and control arms" in result.note


def test_it_gives_no_estimate_and_no_nan_when_an_arm_has_no_respondents():
    counts, treated = arms(40, 0)

    result = difference_in_means(counts, treated)

    assert result.estimate is None
    assert result.mean_control is None
    assert result.n_control == 0
    assert "control arm" in result.note
    assert_no_nan(result)


def test_it_gives_no_estimate_and_no_nan_when_there_are_no_respondents_at_all():
    result = difference_in_means(np.array([]), np.array([], dtype=bool))

    assert result.estimate is None
    assert result.note is not None
    assert_no_nan(result)


def test_it_notes_a_small_sample_when_an_arm_has_fewer_than_thirty_respondents():
    counts, treated = arms(SMALL_ARM_SIZE, SMALL_ARM_SIZE - 1)

    result = difference_in_means(counts, treated)

    assert result.estimate is not None
    assert result.se is not None
    assert result.note == (
        "Fewer than 30 respondents in the control arm; the sample is small and "
        "the standard error is unreliable."
    )


def test_it_gives_no_note_from_thirty_respondents_per_arm():
    counts, treated = arms(SMALL_ARM_SIZE, SMALL_ARM_SIZE)

    assert difference_in_means(counts, treated).note is None


def test_it_gives_a_zero_standard_error_when_every_count_is_the_same():
    counts, treated = arms(40, 40, spread=False)

    result = difference_in_means(counts, treated)

    assert (result.estimate, result.se) == (0.0, 0.0)
    assert (result.ci_low, result.ci_high) == (0.0, 0.0)


# Missing counts


def test_it_leaves_out_missing_counts():
    counts, treated = arms(40, 40)
    with_missing = np.concatenate([counts, [np.nan, np.nan, np.nan]])
    treated_with_missing = np.concatenate([treated, [True, False, True]])

    result = difference_in_means(with_missing, treated_with_missing)

    assert result == difference_in_means(counts, treated)


def test_it_leaves_out_missing_counts_within_a_level():
    counts, treated = arms(40, 40)
    with_missing = np.concatenate([counts, [np.nan]])
    treated_with_missing = np.concatenate([treated, [True]])

    breakdown = difference_by_level(
        with_missing, treated_with_missing, as_levels(*["a"] * 81)
    )

    overall = dataclasses.replace(difference_in_means(counts, treated), share=1.0)
    assert breakdown.levels == [("a", overall)]
    assert breakdown.n_missing == 1


# Breakdown by level


def test_it_counts_rows_with_a_missing_level_or_count_as_missing():
    counts = np.array([1.0, 2.0, np.nan, 3.0, 0.0, np.nan])
    treated = np.array([1, 0, 1, 0, 1, 0])
    levels = as_levels("a", None, "a", "b", None, None)

    breakdown = difference_by_level(counts, treated, levels)

    assert breakdown.n_missing == 4
    assert [label for label, _ in breakdown.levels] == ["a", "b"]


def test_it_gives_level_shares_that_sum_to_one():
    counts, treated = race()
    states = race_levels("state")

    breakdown = difference_by_level(counts, treated, states)

    assert sum(row.share for _, row in breakdown.levels) == pytest.approx(1.0)


def test_it_gives_each_level_what_the_overall_estimator_gives_on_that_level():
    counts, treated = race()
    states = race_levels("state")

    breakdown = difference_by_level(counts, treated, states)

    for label, row in breakdown.levels:
        in_level = states == label
        alone = difference_in_means(counts[in_level], treated[in_level])
        assert row.n_treatment == alone.n_treatment
        assert row.n_control == alone.n_control
        assert row.note == alone.note
        if alone.estimate is None:
            assert row.estimate is None
        else:
            assert row.estimate == pytest.approx(alone.estimate, abs=TOL)
            assert row.se == pytest.approx(alone.se, abs=TOL)


def test_it_orders_numeric_levels_by_number():
    counts, treated = arms(3, 3)
    levels = as_levels("10", "2", "1.5", "10", "2", "1.5")

    breakdown = difference_by_level(counts, treated, levels)

    assert [label for label, _ in breakdown.levels] == ["1.5", "2", "10"]


def test_it_orders_text_levels_alphabetically():
    counts, treated = arms(3, 3)
    levels = as_levels("no", "10", "yes", "no", "10", "yes")

    breakdown = difference_by_level(counts, treated, levels)

    assert [label for label, _ in breakdown.levels] == ["10", "no", "yes"]


def test_it_lists_a_level_seen_in_one_arm_only_with_a_note_instead_of_an_estimate():
    counts = np.array([1.0, 2.0, 3.0, 0.0, 1.0, 2.0])
    treated = np.array([1, 1, 1, 0, 0, 0])
    levels = as_levels("a", "a", "b", "a", "a", None)

    breakdown = dict(difference_by_level(counts, treated, levels).levels)

    assert breakdown["b"].estimate is None
    assert breakdown["b"].n_control == 0
    assert "control arm" in breakdown["b"].note
    assert_no_nan(breakdown["b"])


def test_it_keeps_variances_accurate_when_counts_are_far_from_zero():
    counts, treated = arms(50, 50)
    offset = 1e9

    near_zero = difference_by_level(counts, treated, as_levels(*["a"] * 100))
    far = difference_by_level(counts + offset, treated, as_levels(*["a"] * 100))

    assert far.levels[0][1].se == pytest.approx(near_zero.levels[0][1].se, rel=1e-6)


# The result as plain data


def test_it_returns_exactly_the_fields_in_order_from_to_dict():
    counts, treated = race()

    assert list(difference_in_means(counts, treated).to_dict()) == FIELDS


def test_it_returns_plain_python_numbers_from_to_dict():
    counts, treated = race()
    south = race_levels("south")

    for _, row in difference_by_level(counts, treated, south).levels:
        values = row.to_dict()
        assert type(values["n_treatment"]) is int
        assert type(values["n_control"]) is int
        for key in ("estimate", "se", "ci_low", "ci_high", "share"):
            assert type(values[key]) is float, key


def test_it_turns_a_nan_into_none_in_to_dict():
    result = DiffInMeans(
        estimate=np.float64("nan"),
        se=None,
        ci_low=None,
        ci_high=None,
        n_treatment=np.int64(0),
        n_control=0,
        mean_treatment=None,
        mean_control=None,
    )

    values = result.to_dict()

    assert values["estimate"] is None
    assert type(values["n_treatment"]) is int


# Bad input


def test_it_rejects_a_treatment_indicator_other_than_zero_or_one():
    counts, _ = arms(3, 3)

    with pytest.raises(ValueError, match="treated"):
        difference_in_means(counts, np.array([1, 0, 2, 0, 1, 0]))


def test_it_rejects_arrays_of_different_lengths():
    counts, treated = arms(3, 3)

    with pytest.raises(ValueError, match="same length"):
        difference_in_means(counts, treated[:-1])
    with pytest.raises(ValueError, match="one level per respondent"):
        difference_by_level(counts, treated, as_levels("a"))


def test_text_levels_are_coded_the_same_whichever_path_codes_them():
    rng = np.random.default_rng(7)
    counts = rng.integers(0, 4, 400).astype(float)
    treated = rng.random(400) < 0.5
    texts = np.asarray(["б", "a", "Ә", None], dtype=object)[rng.integers(0, 4, 400)]
    with_nan = texts.copy()
    with_nan[0] = float("nan")

    hashed = difference_by_level(counts, treated, texts)
    sorted_ = difference_by_level(counts, treated, texts.astype(str))
    fallback = difference_by_level(counts, treated, with_nan)

    assert [level for level, _ in hashed.levels] == ["a", "б", "Ә"]
    assert [e.estimate for _, e in hashed.levels] == [
        e.estimate for level, e in sorted_.levels if level != "None"
    ]
    assert hashed.n_missing == int(np.equal(texts, None).sum())
    assert "nan" in [level for level, _ in fallback.levels]
