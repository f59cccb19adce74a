"""Tests for the floor and ceiling diagnostics.

The race.csv figures are counted here by a plain loop over the file's rows, not with
numpy, and compared exactly: they are whole numbers and shares of whole numbers.
"""

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from analysis.estimators.floor_ceiling import (
    FLOOR_CEILING_LIMIT,
    FloorCeiling,
    count_distribution,
    floor_ceiling,
)

RACE_CSV = Path(__file__).resolve().parents[1] / "data" / "race.csv"


def race():
    """Return (counts, treated) from race.csv."""
    with RACE_CSV.open(newline="") as f:
        rows = list(csv.DictReader(f))
    counts = np.array([float(row["y"]) for row in rows])
    treated = np.array([row["treat"] == "1" for row in rows])
    return counts, treated


def race_tally():
    """Count race.csv's rows per (arm, count) with a plain loop over the file."""
    tally = {}
    with RACE_CSV.open(newline="") as f:
        for row in csv.DictReader(f):
            key = (row["treat"], int(row["y"]))
            tally[key] = tally.get(key, 0) + 1
    return tally


def control_list(at_zero, at_j, in_between, J=3):
    """Return (counts, treated): a control arm with the given numbers at 0, J, 1.

    The treatment arm gets ten respondents with a count of 1.
    """
    control = [0.0] * at_zero + [float(J)] * at_j + [1.0] * in_between
    counts = np.array(control + [1.0] * 10)
    treated = np.array([False] * len(control) + [True] * 10)
    return counts, treated


# race.csv


def test_it_counts_each_arm_of_race_as_a_plain_loop_does():
    counts, treated = race()
    tally = race_tally()

    table = count_distribution(counts, treated, J=3)

    control = [row["respondents"] for row in table["control"]["rows"]]
    treatment = [row["respondents"] for row in table["treatment"]["rows"]]
    assert control == [tally.get(("0", k), 0) for k in range(4)]
    assert treatment == [tally.get(("1", k), 0) for k in range(5)]
    # Pinned from race.csv (the R package list 9.2.6's race data)
    assert control == [8, 132, 222, 227]
    assert treatment == [19, 123, 229, 219, 34]
    assert (table["control"]["n"], table["treatment"]["n"]) == (589, 624)


def test_it_gives_each_counts_share_of_its_arm():
    counts, treated = race()

    table = count_distribution(counts, treated, J=3)

    for arm in ("control", "treatment"):
        rows = table[arm]["rows"]
        assert [row["count"] for row in rows] == list(range(len(rows)))
        for row in rows:
            assert row["share"] == row["respondents"] / table[arm]["n"]


def test_it_warns_of_a_ceiling_effect_on_race():
    counts, treated = race()

    result = floor_ceiling(counts, treated, J=3)

    assert result.control_floor == 8 / 589
    assert result.control_ceiling == 227 / 589
    assert result.treatment_floor == 19 / 624
    assert result.treatment_ceiling == 34 / 624
    assert (result.floor_warning, result.ceiling_warning) == (False, True)
    assert result.reading.startswith("39% of the control group report all 3 control")
    assert "(ceiling effect)" in result.reading
    assert "negatively correlated" in result.reading


# Synthetic control lists


def test_it_warns_of_a_floor_effect_when_many_report_no_control_item():
    counts, treated = control_list(at_zero=15, at_j=5, in_between=80)

    result = floor_ceiling(counts, treated, J=3)

    assert (result.floor_warning, result.ceiling_warning) == (True, False)
    assert result.reading.startswith("15% of the control group report none")
    assert "(floor effect)" in result.reading


def test_it_warns_of_both_when_both_ends_are_crowded():
    counts, treated = control_list(at_zero=20, at_j=30, in_between=50)

    result = floor_ceiling(counts, treated, J=3)

    assert result.floor_warning and result.ceiling_warning
    assert "20% of the control group report none" in result.reading
    assert "30% report all 3" in result.reading
    assert "(floor and ceiling effects)" in result.reading


def test_it_gives_no_warning_at_exactly_the_limit():
    counts, treated = control_list(at_zero=10, at_j=10, in_between=80)

    result = floor_ceiling(counts, treated, J=3)

    assert result.control_floor == FLOOR_CEILING_LIMIT
    assert not (result.floor_warning or result.ceiling_warning)
    assert "no sign of a floor or ceiling effect" in result.reading


def test_a_stricter_limit_turns_a_quiet_list_into_a_warning():
    counts, treated = control_list(at_zero=8, at_j=2, in_between=90)

    assert not floor_ceiling(counts, treated, J=3).floor_warning
    assert floor_ceiling(counts, treated, J=3, limit=0.05).floor_warning


def test_it_reads_the_ceiling_at_j_not_at_three():
    counts = np.array([4.0] * 30 + [3.0] * 70 + [5.0] * 10)
    treated = np.array([False] * 100 + [True] * 10)

    result = floor_ceiling(counts, treated, J=4)

    assert result.control_ceiling == 0.3
    assert result.treatment_ceiling == 1.0
    assert "with a count of 5" in result.reading


def test_it_judges_nothing_without_control_counts():
    counts, treated = np.array([1.0, 2.0]), np.array([True, True])

    result = floor_ceiling(counts, treated, J=3)

    assert result.control_floor is None
    assert result.control_ceiling is None
    assert not (result.floor_warning or result.ceiling_warning)
    assert "no control-list counts yet" in result.reading
    assert count_distribution(counts, treated, J=3)["control"]["rows"][0] == {
        "count": 0,
        "respondents": 0,
        "share": None,
    }


def test_it_leaves_out_missing_counts_and_says_how_many():
    counts, treated = race()
    counts = np.append(counts, [np.nan, np.nan, np.nan])
    treated = np.append(treated, [True, False, False])

    table = count_distribution(counts, treated, J=3)

    assert table["n_missing"] == 3
    assert table["control"]["n"] == 589
    assert floor_ceiling(counts, treated, J=3).control_ceiling == 227 / 589


# Errors


@pytest.mark.parametrize(("bad", "arm"), [(4.0, False), (5.0, True), (-1.0, True)])
def test_it_refuses_a_count_outside_its_arms_range(bad, arm):
    counts, treated = race()

    with pytest.raises(ValueError, match="is impossible with J = 3"):
        count_distribution(np.append(counts, bad), np.append(treated, arm), J=3)


def test_it_refuses_a_count_that_is_not_a_whole_number():
    with pytest.raises(ValueError, match="whole numbers from 0 to 3"):
        floor_ceiling(np.array([1.5, 1.0]), np.array([False, True]), J=3)


def test_it_refuses_a_limit_that_is_not_a_share():
    counts, treated = race()

    with pytest.raises(ValueError, match="limit"):
        floor_ceiling(counts, treated, J=3, limit=10)


# Serialisation


def test_to_dict_gives_plain_values_that_survive_json():
    counts, treated = race()
    result = floor_ceiling(counts, treated, J=3)

    data = result.to_dict()

    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert [field.name for field in dataclasses.fields(FloorCeiling)] == list(data)
    assert data["ceiling_warning"] is True
    assert data["limit"] == FLOOR_CEILING_LIMIT


def test_to_dict_gives_none_not_nan_for_an_empty_arm():
    result = floor_ceiling(np.array([1.0, 2.0]), np.array([True, True]), J=3)

    data = result.to_dict()

    assert data["control_floor"] is None
    assert json.dumps(data, allow_nan=False)
