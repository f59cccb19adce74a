"""Arm balance tests, Holm's correction and the median of interview lengths.

Reference values are exact fractions worked out by hand from the definitions, so
they are independent of scipy; the tolerance is 1e-12 (floating-point rounding).
"""

import numpy as np
import pytest

from fielding.balance import arm_balance_p, holm_adjust, median_ignoring_none

TOLERANCE = 1e-12


def test_seven_treatment_lists_in_ten_at_half_give_p_0_34375():
    # P(X <= 3) + P(X >= 7) for X ~ Binomial(10, 1/2): 2 * 176 / 1024.
    assert arm_balance_p(7, 10, 0.5) == pytest.approx(352 / 1024, abs=TOLERANCE)


def test_an_unequal_plan_sums_every_split_no_more_probable_than_the_observed_one():
    # X ~ Binomial(10, 2/3), observed 10: P(10) = 1024 / 3**10 and P(0..3), each
    # smaller, add 1 + 20 + 180 + 960; P(4) = 3360 / 3**10 is larger and left out.
    assert arm_balance_p(10, 10, 2 / 3) == pytest.approx(2185 / 59049, abs=TOLERANCE)


def test_a_perfect_split_has_p_one():
    assert arm_balance_p(15, 30, 0.5) == pytest.approx(1.0, abs=TOLERANCE)


@pytest.mark.parametrize(
    ("n_treatment", "n_total", "share"),
    [(0, 0, 0.5), (11, 10, 0.5), (-1, 10, 0.5), (5, 10, 0.0), (5, 10, 1.0)],
)
def test_an_impossible_group_or_share_is_refused(n_treatment, n_total, share):
    with pytest.raises(ValueError):
        arm_balance_p(n_treatment, n_total, share)


def test_holm_multiplies_the_sorted_p_values_by_m_minus_rank_and_keeps_them_rising():
    # By hand: 5 * 0.01, 4 * 0.02, 3 * 0.03, then 2 * 0.04 = 0.08 and 1 * 0.05
    # are raised to the running maximum 0.09.
    adjusted = holm_adjust([0.03, 0.01, 0.05, 0.02, 0.04])

    np.testing.assert_allclose(
        adjusted, [0.09, 0.05, 0.09, 0.08, 0.09], rtol=0, atol=TOLERANCE
    )


def test_holm_never_goes_above_one():
    adjusted = holm_adjust([0.5, 0.6, 0.001])

    np.testing.assert_allclose(adjusted, [1.0, 1.0, 0.003], rtol=0, atol=TOLERANCE)


def test_holm_of_one_p_value_is_the_p_value_and_of_none_is_empty():
    assert holm_adjust([0.2]).tolist() == [0.2]
    assert holm_adjust([]).size == 0


def test_the_median_leaves_out_missing_lengths():
    assert median_ignoring_none([30.0, None, 10.0, 20.0, None, 40.0]) == 25.0


def test_the_median_of_nothing_is_none():
    assert median_ignoring_none([None, None]) is None
    assert median_ignoring_none([]) is None
