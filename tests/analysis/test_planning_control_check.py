"""The control-list check from pilot counts, against hand computations."""

import math

import numpy as np
import pytest

from analysis.estimators.floor_ceiling import FLOOR_CEILING_LIMIT
from analysis.planning.control_check import check_control_list, check_control_lists
from analysis.planning.power import PlanningError

# J = 4. n = 10, mean 24 / 10 = 2.4; squared deviations 2 * 5.76 + 1.96 + 2 * 0.16
# + 0.36 + 4 * 2.56 = 24.4, so the sample variance is 24.4 / 9.
PILED_UP = [0, 0, 1, 2, 2, 3, 4, 4, 4, 4]


def test_shares_at_zero_and_j_are_read_from_the_control_counts():
    check = check_control_list(PILED_UP, 4)

    assert (check.n, check.floor, check.ceiling) == (10, 0.2, 0.4)
    assert check.mean == pytest.approx(2.4)
    assert check.variance == pytest.approx(24.4 / 9)
    assert check.floor_warning and check.ceiling_warning
    assert check.limit == FLOOR_CEILING_LIMIT == 0.10
    assert "floor effect" in check.reading and "ceiling effect" in check.reading


def test_the_variance_is_priced_against_the_least_and_the_independent_list():
    # Mean 2.4: least variance f (1 - f) = 0.4 * 0.6 = 0.24; binomial 2.4 * 0.4.
    # 1:1 and p = 0.5: Var is proportional to (V + 0.25) / 0.5 + V / 0.5.
    check = check_control_list(PILED_UP, 4, prevalence=0.5)
    observed = 24.4 / 9

    def arms(v):
        return (v + 0.25) / 0.5 + v / 0.5

    assert check.variance_minimum == pytest.approx(0.24)
    assert check.variance_independent == pytest.approx(0.96)
    assert check.se_ratio_minimum == pytest.approx(
        math.sqrt(arms(observed) / arms(0.24)), abs=1e-12
    )
    assert check.se_ratio_independent == pytest.approx(
        math.sqrt(arms(observed) / arms(0.96)), abs=1e-12
    )
    assert "positively correlated" in check.reading


def test_given_item_probabilities_the_independent_variance_is_theirs():
    check = check_control_list(PILED_UP, 4, item_probabilities=[0.8, 0.7, 0.6, 0.3])
    assert check.variance_independent == pytest.approx(0.16 + 0.21 + 0.24 + 0.21)


def test_the_ratio_changes_with_the_allocation_ratio_and_prevalence():
    # 2:1, q = 2/3: Var is proportional to (V + p(1 - p)) / q + V / (1 - q).
    check = check_control_list(PILED_UP, 4, prevalence=0.2, ratio=(2, 1))
    observed = 24.4 / 9

    def arms(v):
        return (v + 0.16) / (2 / 3) + v / (1 / 3)

    assert check.se_ratio_minimum == pytest.approx(
        math.sqrt(arms(observed) / arms(0.24)), abs=1e-12
    )


def test_a_list_of_negatively_correlated_items_raises_no_warning():
    # Every count is 2 or 3: no floor, no ceiling, variance close to the least.
    counts = np.array([2, 3] * 20 + [2] * 10, dtype=float)
    check = check_control_list(counts, 4)

    assert not check.floor_warning and not check.ceiling_warning
    assert check.se_ratio_independent < 1
    assert "negatively correlated items or items of unequal" in check.reading

    items = check_control_list(counts, 4, item_probabilities=[0.9, 0.7, 0.5, 0.3])
    assert "the control items are negatively correlated" in items.reading


def test_missing_counts_are_left_out_and_too_few_give_nothing_to_judge():
    check = check_control_list([np.nan, 1, 2, np.nan], 4)
    assert check.n == 2

    empty = check_control_list([np.nan, 3], 4)
    assert empty.n == 1 and empty.variance is None
    assert not empty.floor_warning


def test_every_stratum_is_checked_with_its_own_prevalence():
    checks = check_control_lists(
        {"almaty": PILED_UP, "other": [1, 2, 2, 3]},
        4,
        prevalence={"almaty": 0.27, "other": 0.64},
    )
    assert [c.stratum for c in checks] == ["almaty", "other"]
    assert [c.prevalence for c in checks] == [0.27, 0.64]
    assert checks[1].to_dict()["floor"] == 0.0


def test_impossible_counts_and_values_are_refused():
    with pytest.raises(PlanningError) as raised:
        check_control_list([1, 5], 4)
    assert raised.value.field == "source"
    with pytest.raises(PlanningError) as raised:
        check_control_list([1, 2], 4, prevalence=2)
    assert raised.value.field == "prevalence"
    with pytest.raises(PlanningError) as raised:
        check_control_list([1, 2], 0)
    assert raised.value.field == "items"
