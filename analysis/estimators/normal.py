"""The normal approximation every estimator here reports, and plain output values.

One place for the 95% quantile, the two-sided p-value and the conversion of numbers
to plain Python floats (None for anything missing or not finite), so every table in
the project rounds and reports them alike.
"""

from __future__ import annotations

import math

from scipy import stats

#: Two-sided 95% normal quantile used for every confidence interval.
Z95 = float(stats.norm.ppf(0.975))


def two_sided_p(estimate, se) -> float | None:
    """The two-sided normal p-value for estimate = 0; None when it is undefined."""
    if estimate is None or se is None or not se > 0:
        return None
    return float(2 * stats.norm.sf(abs(estimate) / se))


def plain_float(x) -> float | None:
    """`x` as a Python float, or None when it is missing or not finite."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None
