"""Differences between two levels of a covariate in the estimated share.

A list experiment's breakdown gives one difference in means per level of a covariate;
the question readers usually ask next is whether two levels differ, for example the
south against the rest. This module estimates that contrast with its standard error,
a normal confidence interval and a two-sided p-value, for a simple random sample and
for a weighted, stratified or clustered design.

Everything here is a pure function of its arrays: no Django, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analysis.estimators.difference import (
    _Z,
    MIN_ARM_SIZE,
    SMALL_ARM_SIZE,
    DiffInMeans,
    _checked_arrays,
    _plain_float,
    difference_by_level,
)
from analysis.estimators.normal import two_sided_p
from analysis.estimators.weighted import (
    _checked_weights,
    _design,
    _domain_variances,
    _fit_domains,
    _level_codes,
    _quoted,
)


@dataclass(frozen=True)
class GroupDifference:
    """The estimate in one level of a covariate minus that in another.

    Attributes
    ----------
    variable : str
        Name of the covariate, as the caller gave it.
    a, b : str
        The two levels; the difference is `a` minus `b`.
    estimate : float or None
        Estimate in level `a` minus estimate in level `b`; None when either level has
        no estimate.
    se : float or None
        Standard error of `estimate`.
    ci_low, ci_high : float or None
        Bounds of the normal 95% confidence interval.
    p_value : float or None
        Two-sided normal p-value for no difference; None without an estimate or when
        the standard error is zero.
    note : str or None
        A plain sentence when the numbers need a caveat or are missing.
    """

    variable: str
    a: str
    b: str
    estimate: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    note: str | None = None

    def to_dict(self) -> dict[str, float | str | None]:
        """Return the fields as plain Python values, with None for any NaN."""
        return {
            "variable": str(self.variable),
            "a": str(self.a),
            "b": str(self.b),
            "estimate": _plain_float(self.estimate),
            "se": _plain_float(self.se),
            "ci_low": _plain_float(self.ci_low),
            "ci_high": _plain_float(self.ci_high),
            "p_value": _plain_float(self.p_value),
            "note": None if self.note is None else str(self.note),
        }


def group_difference(
    counts,
    treated,
    levels,
    *,
    variable: str,
    a,
    b,
    weights=None,
    strata=None,
    clusters=None,
    by_stratum=None,
) -> GroupDifference:
    """Estimate the difference between two levels in the share holding the item.

    Parameters
    ----------
    counts : array_like of float, shape (n,)
        The count each respondent reported; NaN marks a missing count.
    treated : array_like of bool or {0, 1}, shape (n,)
        True (1) for respondents shown the treatment list.
    levels : array_like, shape (n,)
        Each respondent's level of the covariate; None marks a missing level. Levels
        are compared as text, so 1 and "1" are the same level.
    variable : str
        Name of the covariate, carried into the result.
    a, b
        The two levels to compare (as text); the difference is `a` minus `b`.
    weights, strata, clusters, by_stratum : optional
        The sample design, as for
        `analysis.estimators.weighted.weighted_difference_in_means`. When all are
        None the sample is taken as a simple random one.

    Returns
    -------
    GroupDifference
        The difference with its standard error, normal 95% interval and two-sided
        normal p-value.

    Raises
    ------
    ValueError
        If `a` and `b` are the same level, and as for the estimators of each level.

    Notes
    -----
    Without a design, each level's estimate is `difference_by_level`'s, the two
    levels are independent samples, and the standard error is
    :math:`\\sqrt{se_a^2 + se_b^2}`.

    With a design (weights, strata or clusters), each level is a domain of the whole
    design and its estimate is `weighted_difference_by_level`'s. Two domains share
    PSUs and strata, so their estimates are correlated; the standard error is the
    linearization one of the contrast itself: each respondent's influence value is
    taken with a plus sign in level `a` and a minus sign in level `b`, totalled within
    PSUs, and the with-replacement variance formula applied. This equals
    :math:`\\sqrt{V_a + V_b - 2 C_{ab}}` as ``svycontrast`` gives it on
    ``svyby(..., covmat = TRUE)``, or as the coefficient of ``treat`` times level
    `a` in ``svyglm(y ~ treat * group, design)`` with `b` as the reference level.
    Whether to estimate within strata is decided on all respondents with a count, as
    for the breakdown.

    The p-value is :math:`2 (1 - \\Phi(|d| / se))`. There is no estimate when either
    level has fewer than `MIN_ARM_SIZE` respondents in an arm, and a note when either
    has fewer than `SMALL_ARM_SIZE`, as for the estimates of each level.

    References
    ----------
    .. [1] Blair, G. and Imai, K. (2012). "Statistical Analysis of List Experiments."
       Political Analysis 20(1), 47-77.
    .. [2] Lumley, T. (2010). Complex Surveys: A Guide to Analysis Using R. Wiley,
       sec. 2.3 and 5.2.
    """
    a, b = str(a), str(b)
    if a == b:
        raise ValueError(f"Both levels are '{a}'; choose two different levels.")
    counts, treated = _checked_arrays(counts, treated)
    code, labels = _level_codes(levels, counts.size)
    in_a = code == labels.index(a) if a in labels else np.zeros(counts.size, bool)
    in_b = code == labels.index(b) if b in labels else np.zeros(counts.size, bool)

    if weights is None and strata is None and clusters is None:
        if by_stratum:
            raise ValueError("Estimating within strata needs strata.")
        pair = in_a | in_b
        results = dict(
            difference_by_level(
                counts[pair], treated[pair], np.where(in_a[pair], a, b)
            ).levels
        )
        missing = DiffInMeans(None, None, None, None, 0, 0, None, None)
        result_a, result_b = results.get(a, missing), results.get(b, missing)
        variance = None
        if result_a.se is not None and result_b.se is not None:
            variance = result_a.se**2 + result_b.se**2
        return _contrast(variable, a, b, result_a, result_b, variance, False)

    if weights is None:
        weights = np.ones(counts.size)
    weights = _checked_weights(weights, counts.size)
    design = _design(counts.size, strata, clusters)
    domain = np.select([in_a, in_b], [0, 1], default=-1).astype(np.intp)

    fit = _fit_domains(counts, treated, weights, domain, 2, design, by_stratum)
    result_a, result_b = fit.results
    signed = np.where(fit.domain == 0, fit.influence, -fit.influence)
    same_domain = np.zeros(fit.rows.size, dtype=np.intp)
    variance = _domain_variances(signed, same_domain, 1, design, fit.rows)[0]
    return _contrast(
        variable, a, b, result_a, result_b, float(variance), fit.by_stratum
    )


def _contrast(
    variable: str,
    a: str,
    b: str,
    result_a: DiffInMeans,
    result_b: DiffInMeans,
    variance: float | None,
    within_strata: bool,
) -> GroupDifference:
    """Build the `GroupDifference` from each level's result and the variance."""
    labels = {"variable": variable, "a": a, "b": b}

    absent = [
        level
        for level, result in ((a, result_a), (b, result_b))
        if result.n_treatment + result.n_control == 0
    ]
    if absent:
        note = f"No respondents with a count in {_levels_phrase(absent)}; no estimate."
        return _without_estimate(labels, note)

    failed = [
        level
        for level, result in ((a, result_a), (b, result_b))
        if result.estimate is None
    ]
    if failed:
        note = (
            f"Too few respondents in an arm of {_levels_phrase(failed)} to estimate "
            f"(at least {MIN_ARM_SIZE} are needed in each arm); no estimate."
        )
        return _without_estimate(labels, note)

    estimate = result_a.estimate - result_b.estimate
    se = math.sqrt(max(variance, 0.0))
    p_value = two_sided_p(estimate, se)

    small = [
        level
        for level, result in ((a, result_a), (b, result_b))
        if min(result.n_treatment, result.n_control) < SMALL_ARM_SIZE
    ]
    notes = []
    if within_strata:
        notes.append(
            "Within each level the difference is estimated within each stratum and "
            "combined by the strata's weight totals."
        )
    if small:
        notes.append(
            f"Fewer than {SMALL_ARM_SIZE} respondents in an arm of "
            f"{_levels_phrase(small)}; the sample is small and the standard error is "
            "unreliable."
        )

    return GroupDifference(
        **labels,
        estimate=estimate,
        se=se,
        ci_low=estimate - _Z * se,
        ci_high=estimate + _Z * se,
        p_value=p_value,
        note=" ".join(notes) or None,
    )


def _without_estimate(labels: dict[str, str], note: str) -> GroupDifference:
    """Return a `GroupDifference` with every number None and the note."""
    return GroupDifference(
        **labels,
        estimate=None,
        se=None,
        ci_low=None,
        ci_high=None,
        p_value=None,
        note=note,
    )


def _levels_phrase(levels: list[str]) -> str:
    """Return "level 'a'" or "levels 'a' and 'b'" for use in a note."""
    if len(levels) == 1:
        return f"level {_quoted(levels)}"
    return f"levels {_quoted(levels)}"
