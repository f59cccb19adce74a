"""Checks of fieldwork in progress: arm balance, many tests at once, interview length.

A wave's monitor asks whether each stratum and each interviewer has about the share of
treatment lists the plan promised. An interviewer who can see the arm before deciding
whether to go on with an interview would leave the arms unbalanced in their own
interviews, so a group whose split is improbable under the plan deserves a look.
With many interviewers some will look improbable by chance, so the p-values are
corrected for the number of groups tested.

Everything here is a pure function of its arguments: numpy and scipy, no Django, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy import stats


def arm_balance_p(n_treatment: int, n_total: int, treatment_share: float) -> float:
    """Two-sided exact binomial p-value of a group's number of treatment lists.

    Parameters
    ----------
    n_treatment : int
        Respondents of the group assigned a treatment list.
    n_total : int
        Respondents of the group assigned any list, at least 1.
    treatment_share : float
        The share of treatment lists the plan promised, strictly between 0 and 1.

    Returns
    -------
    float
        The probability, were every respondent's arm an independent draw with the
        planned share, of a split at most as probable as the one observed.

    Raises
    ------
    ValueError
        When ``n_total`` is below 1, ``n_treatment`` is outside ``[0, n_total]`` or
        ``treatment_share`` is not strictly between 0 and 1.

    Notes
    -----
    The two-sided p-value sums the binomial probabilities of every count no more
    probable than the observed one, as R's ``binom.test`` does; it is exact, so it
    holds for the small groups of the first days of fieldwork.

    Under a blocked or complete plan the arms of one stratum are balanced more tightly
    than independent draws would be, so for a whole stratum the test is conservative:
    a small p-value there points at a problem, not at chance.

    References
    ----------
    .. [1] Conover, W. J. (1971). *Practical Nonparametric Statistics*. New York:
       Wiley, pp. 97-104 (the binomial test; the reference of R's ``binom.test``).
    """
    if n_total < 1:
        raise ValueError(f"A group needs at least one respondent; got {n_total}.")
    if not 0 <= n_treatment <= n_total:
        raise ValueError(
            f"{n_treatment} treatment lists cannot come from {n_total} respondents."
        )
    if not 0 < treatment_share < 1:
        raise ValueError(
            f"The planned treatment share must be between 0 and 1; got "
            f"{treatment_share}."
        )
    result = stats.binomtest(int(n_treatment), int(n_total), float(treatment_share))
    return float(result.pvalue)


def holm_adjust(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of p-values for testing several groups at once.

    Parameters
    ----------
    p_values : sequence of float
        One p-value per group, each in ``[0, 1]``.

    Returns
    -------
    ndarray of float
        The adjusted p-values in the order given. A group is flagged at level
        ``alpha`` when its adjusted p-value is below ``alpha``; the chance of flagging
        any group whose arms are in fact balanced is then at most ``alpha``.

    Notes
    -----
    With ``m`` p-values sorted as ``p_(1) <= ... <= p_(m)``, the ``i``-th adjusted
    value is ``max over j <= i of min(1, (m - j + 1) p_(j))``. Holm's procedure keeps
    the family-wise error rate under any dependence between the tests, and rejects
    everything Bonferroni's does and often more. Ties keep their given order.

    References
    ----------
    .. [1] Holm, S. (1979). A simple sequentially rejective multiple test procedure.
       *Scandinavian Journal of Statistics*, 6(2), 65-70.
    """
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise ValueError("Give the p-values as a flat list.")
    m = p.size
    if m == 0:
        return p.copy()

    order = np.argsort(p, kind="stable")
    scaled = (m - np.arange(m)) * p[order]
    stepped = np.minimum(np.maximum.accumulate(scaled), 1.0)

    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted


def median_ignoring_none(values: Iterable[float | None]) -> float | None:
    """The median of the values that are there.

    Parameters
    ----------
    values : iterable of float or None
        Such as interview lengths, with None where an interview has no start or no
        end recorded.

    Returns
    -------
    float or None
        The median of the values other than None (the mean of the middle two for an
        even number); None when there are none.
    """
    present = [value for value in values if value is not None]
    if not present:
        return None
    return float(np.median(np.asarray(present, dtype=float)))
