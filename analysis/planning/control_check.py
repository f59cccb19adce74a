"""What a pilot's control list costs: counts at 0 and J, and its variance's price.

Two properties of the control list decide much of a list experiment's quality, and a
pilot's control arm shows both:

- **Floor and ceiling.** Respondents who hold none or all of the control items may
  hide the sensitive item, since a count of 1 or of J + 1 would give it away
  (Blair and Imai 2012, sec. 3.2). The shares of the control arm at 0 and at J say
  how many are in that position.
- **Variance.** The difference in means' variance grows with the control count's
  variance ``V_C`` (it enters both arms). Glynn (2013) shows that control items
  chosen to be negatively correlated shrink it: for a given mean count ``m`` the
  least a whole-number count can vary is ``f (1 - f)``, ``f`` the fractional part of
  ``m``, while independent items of equal probability give the binomial
  ``m (1 - m / J)``. The ratio of standard errors between the observed list and
  the least-varying one is the precision a better list could buy; its square is how
  many times the respondents the observed list needs to match it.

Everything here is a pure function of the counts: no Django, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from analysis.estimators.floor_ceiling import FLOOR_CEILING_LIMIT
from analysis.estimators.normal import plain_float
from analysis.planning.power import (
    PlanningError,
    SourceWave,
    control_moments,
    treatment_variance,
    variance_bounds,
)


@dataclass(frozen=True)
class ControlListCheck:
    """The control list of one stratum, as its pilot counts show it.

    Attributes
    ----------
    stratum : str
        The stratum's code.
    J : int
        Number of control items.
    n : int
        Control-arm respondents with a count.
    mean, variance : float or None
        Mean and sample variance (n - 1) of the control count.
    floor, ceiling : float or None
        Share of the control arm at 0 and at J.
    floor_warning, ceiling_warning : bool
        Whether the share is above `limit`.
    limit : float
        The threshold, `FLOOR_CEILING_LIMIT` (10%) unless given.
    variance_independent : float or None
        The variance were the items independent: ``sum p_j (1 - p_j)`` with the
        item probabilities when given, else the binomial ``m (1 - m / J)`` (items of
        equal probability, the most independent items with mean ``m`` can vary).
    variance_minimum : float or None
        The least variance of a whole-number count with the observed mean,
        ``f (1 - f)``.
    se_ratio_minimum : float or None
        SE of the difference in means with the observed variance over the SE with
        `variance_minimum`, same prevalence, ratio and n.
    se_ratio_independent : float or None
        The same against `variance_independent`; below 1 when the items are already
        negatively correlated.
    prevalence : float
        The prevalence assumed in the ratios.
    reading : str
        One or two sentences a survey researcher can act on.
    """

    stratum: str
    J: int
    n: int
    mean: float | None
    variance: float | None
    floor: float | None
    ceiling: float | None
    floor_warning: bool
    ceiling_warning: bool
    limit: float
    variance_independent: float | None
    variance_minimum: float | None
    se_ratio_minimum: float | None
    se_ratio_independent: float | None
    prevalence: float
    reading: str

    def to_dict(self) -> dict:
        out = {"stratum": self.stratum, "J": int(self.J), "n": int(self.n)}
        for name in (
            "mean",
            "variance",
            "floor",
            "ceiling",
            "variance_independent",
            "variance_minimum",
            "se_ratio_minimum",
            "se_ratio_independent",
        ):
            out[name] = plain_float(getattr(self, name))
        out.update(
            floor_warning=bool(self.floor_warning),
            ceiling_warning=bool(self.ceiling_warning),
            limit=float(self.limit),
            prevalence=float(self.prevalence),
            reading=self.reading,
        )
        return out


def check_control_list(
    control_counts,
    J: int,
    *,
    stratum: str = "all",
    prevalence: float = 0.5,
    ratio: Sequence[int] = (1, 1),
    item_probabilities: Sequence[float] | None = None,
    limit: float = FLOOR_CEILING_LIMIT,
) -> ControlListCheck:
    """Check one stratum's control list from its pilot control-arm counts.

    Parameters
    ----------
    control_counts : array_like of float
        The control arm's counts; NaN marks a missing count and is left out.
    J : int
        Number of control items.
    stratum : str
        The stratum's code, carried into the result.
    prevalence : float
        The prevalence assumed when pricing the variance, usually the pilot's
        estimate; 0.5 when unknown.
    ratio : (int, int)
        Allocation ratio treatment:control of the planned wave.
    item_probabilities : sequence of float, optional
        Each control item's probability, when known from elsewhere (asked directly
        in a pre-test, say); then the independence variance is theirs.
    limit : float
        Warn when the share at 0 or at J is above this.

    Returns
    -------
    ControlListCheck

    Raises
    ------
    PlanningError
        For a bad J, prevalence, limit or item probabilities, or a count outside
        0..J.

    Notes
    -----
    The SE ratios compare ``V_T / n_T + V_C / n_C`` with ``V_T = V_C + p (1 - p)``
    (no covariance) at the observed and the reference variance; the sample size
    cancels. The 10% threshold is the project's rule of thumb, as in
    `analysis.estimators.floor_ceiling`: the literature models floor and ceiling
    effects but gives no cut-off.

    References
    ----------
    .. [1] Blair, G. and Imai, K. (2012). "Statistical Analysis of List Experiments."
       Political Analysis 20(1), 47-77.
    .. [2] Glynn, A. N. (2013). "What Can We Learn with Statistical Truth Serum?
       Design and Analysis of the List Experiment." Public Opinion Quarterly 77(S1),
       159-172.
    """
    J = _checked_J(J)
    if not 0 <= prevalence <= 1:
        raise PlanningError(
            f"The prevalence is a share between 0 and 1; got {prevalence}.",
            field="prevalence",
            stratum=stratum,
        )
    if not 0 <= limit <= 1:
        raise PlanningError(
            f"The limit is a share between 0 and 1; got {limit}.", field="limit"
        )

    counts = np.asarray(control_counts, dtype=float)
    counts = counts[~np.isnan(counts)]
    bad = (counts != np.round(counts)) | (counts < 0) | (counts > J)
    if bad.any():
        raise PlanningError(
            f"Stratum {stratum!r}: a control count of {counts[bad][0]:g} is impossible "
            f"with J = {J}; counts are whole numbers from 0 to {J}.",
            field="source",
            stratum=stratum,
        )

    n = int(counts.size)
    if n < 2:
        return ControlListCheck(
            stratum, J, n, None, None, None, None, False, False, float(limit),
            None, None, None, None, float(prevalence),
            "Fewer than 2 control-arm counts: nothing to judge yet.",
        )  # fmt: skip

    mean, variance = float(counts.mean()), float(counts.var(ddof=1))
    floor, ceiling = float(np.mean(counts == 0)), float(np.mean(counts == J))
    v_minimum, v_binomial, _v_max = variance_bounds(J, mean)
    if item_probabilities is not None:
        v_independent = _independent_variance(item_probabilities, J, stratum)
    else:
        v_independent = v_binomial

    ratio_minimum = _se_ratio(variance, v_minimum, prevalence, ratio)
    ratio_independent = _se_ratio(variance, v_independent, prevalence, ratio)
    return ControlListCheck(
        stratum=stratum,
        J=J,
        n=n,
        mean=mean,
        variance=variance,
        floor=floor,
        ceiling=ceiling,
        floor_warning=floor > limit,
        ceiling_warning=ceiling > limit,
        limit=float(limit),
        variance_independent=v_independent,
        variance_minimum=v_minimum,
        se_ratio_minimum=ratio_minimum,
        se_ratio_independent=ratio_independent,
        prevalence=float(prevalence),
        reading=_reading(
            J,
            floor,
            ceiling,
            limit,
            ratio_minimum,
            ratio_independent,
            items_known=item_probabilities is not None,
        ),
    )


def check_control_lists(
    control_counts: Mapping[str, Sequence[float]],
    J: int,
    *,
    prevalence: Mapping[str, float] | float = 0.5,
    ratio: Sequence[int] = (1, 1),
    item_probabilities: Sequence[float] | None = None,
    limit: float = FLOOR_CEILING_LIMIT,
) -> list[ControlListCheck]:
    """`check_control_list` for every stratum: counts and prevalences by code."""
    return [
        check_control_list(
            counts,
            J,
            stratum=code,
            prevalence=prevalence.get(code, 0.5)
            if isinstance(prevalence, Mapping)
            else prevalence,
            ratio=ratio,
            item_probabilities=item_probabilities,
            limit=limit,
        )
        for code, counts in control_counts.items()
    ]


def check_source(
    source: SourceWave, ratio: Sequence[int] = (1, 1)
) -> list[ControlListCheck]:
    """`check_control_lists` for a source wave: each stratum at its own estimate.

    The SE ratios take each stratum's estimated prevalence (cut to [0, 1]) and the
    planned ratio, so they price the control list for the wave being planned.
    """
    return check_control_lists(
        source.control_counts,
        source.J,
        prevalence={code: s.prevalence for code, s in source.strata.items()},
        ratio=ratio,
    )


def _checked_J(J) -> int:
    if isinstance(J, bool) or not isinstance(J, int) or J < 1:
        raise PlanningError(
            f"J, the number of control items, must be a whole number of at least 1; "
            f"got {J}.",
            field="items",
        )
    return J


def _independent_variance(item_probabilities, J: int, stratum: str) -> float:
    probabilities = [float(p) for p in item_probabilities]
    if len(probabilities) != J or not all(0 <= p <= 1 for p in probabilities):
        raise PlanningError(
            f"Give {J} item probabilities, each between 0 and 1.",
            field="item_probabilities",
            stratum=stratum,
        )
    return control_moments(probabilities)[1]


def _se_ratio(observed: float, reference: float, prevalence: float, ratio) -> float:
    """SE at the observed control variance over the SE at the reference one."""
    treatment, control = ratio
    q = treatment / (treatment + control)

    def variance(v_c: float) -> float:
        return treatment_variance(v_c, prevalence) / q + v_c / (1 - q)

    reference_variance = variance(reference)
    if reference_variance <= 0:
        return math.inf if variance(observed) > 0 else 1.0
    return math.sqrt(variance(observed) / reference_variance)


def _reading(
    J, floor, ceiling, limit, ratio_minimum, ratio_independent, *, items_known
) -> str:
    sentences = []
    if floor > limit:
        sentences.append(
            f"{floor:.0%} of the control group report none of the {J} control "
            f"items, above the {limit:.0%} rule of thumb: respondents holding the "
            "sensitive item may hide it rather than report 1 (floor effect)."
        )
    if ceiling > limit:
        sentences.append(
            f"{ceiling:.0%} of the control group report all {J} control items, above "
            f"the {limit:.0%} rule of thumb: respondents holding the sensitive item "
            f"may hide it rather than report {J + 1} (ceiling effect)."
        )

    sentences.append(
        f"With this list the difference in means has {ratio_minimum:.2f} times the "
        "standard error of a list with the same mean and the least possible "
        f"variance ({ratio_minimum**2:.2f} times the respondents for the same "
        "precision)."
    )
    # Independent items vary at most as much as items of equal probability (the
    # binomial), so more than that proves positive correlation; less proves
    # negative correlation only against the items' own probabilities.
    if ratio_independent > 1.005:
        sentences.append(
            "The counts vary more than independent items could: the control items "
            "are positively correlated. Items chosen to be negatively correlated "
            "would cut the variance and the share at 0 or J."
        )
    elif ratio_independent < 0.995 and items_known:
        sentences.append(
            "The counts vary less than independent items with these probabilities "
            "would: the control items are negatively correlated."
        )
    elif ratio_independent < 0.995:
        sentences.append(
            "The counts vary less than independent items of equal probability "
            "would, from negatively correlated items or items of unequal "
            "probability."
        )
    return " ".join(sentences)
