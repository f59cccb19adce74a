"""Closed forms for planning a list experiment's wave: standard error, MDE, power, n.

The difference in means estimates the share holding the sensitive item as the mean
count on the treatment list minus the mean count on the control list. With ``n_T``
and ``n_C`` respondents in the arms, its variance is

    Var = V_T / n_T + V_C / n_C,    V_T = V_C + p (1 - p) + 2 C,

where ``V_C`` is the variance of the control count, ``p`` the prevalence of the
sensitive item and ``C`` the covariance of the sensitive item with the control count
(Blair and Imai 2012; Glynn 2013): the treatment count is the control count plus the
sensitive item. Everything else here follows from that line and the standard normal
approximation:

- the minimum detectable effect at power ``1 - beta`` and two-sided level ``alpha``
  is ``(z_{1-alpha/2} + z_{1-beta}) SE``;
- a stratified wave's overall standard error is that of an equal-weight sample of the
  same size times the square root of Kish's design effect for unequal weights,
  ``deff = n sum(w^2) / (sum w)^2`` (Kish 1965; Kish 1992);
- the difference between two strata, or between two waves, adds the variances of two
  independent estimates.

A plan is plain data (`WavePlan`, one `StratumPlan` per stratum), typed in or made
from a source wave's data with `plan_from_source`. `plan_summary` gives everything
the planner shows, as plain values. No Django, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
from scipy import stats

from analysis.estimators.arms import split_arms
from analysis.estimators.difference import difference_by_level, difference_in_means
from analysis.estimators.normal import plain_float
from analysis.estimators.weighted import (
    weighted_difference_by_level,
    weighted_difference_in_means,
)

DEFAULT_ALPHA = 0.05
DEFAULT_POWER = 0.80

#: The name that stands for "every other stratum" in a contrast such as almaty-rest.
REST = "rest"

#: Each arm of each stratum needs this many respondents for a variance at all.
MIN_ARM = 2

#: A plan asking for more respondents than this is a typo or a target that cannot be
#: met; the sample-size search stops there rather than run for ever.
MAX_N = 100_000_000

#: Rounding slack when checking that shares add up to 1 or variances are feasible.
EPS = 1e-9


class PlanningError(ValueError):
    """An assumption that cannot make a plan, naming the input it concerns.

    Attributes
    ----------
    field : str
        The input at fault: ``items``, ``n``, ``control_var``, ``control_mean``,
        ``item_probabilities``, ``count_distribution``, ``prevalence``,
        ``change``, ``covariance``, ``weights``, ``ratio``, ``alpha``, ``power``, ``strata``,
        ``contrast``, ``target``, ``source``, ``draws``, ``seed``, ``deflators``,
        ``allocation`` or ``limit``. A form or a command line maps it to its own
        field or flag.
    stratum : str or None
        The stratum's code when the problem is in one stratum.
    """

    def __init__(self, message: str, *, field: str, stratum: str | None = None):
        super().__init__(message)
        self.field = field
        self.stratum = stratum


@dataclass(frozen=True)
class StratumPlan:
    """What is assumed about one stratum of the planned wave.

    Attributes
    ----------
    code : str
        The stratum's code.
    n : int
        Respondents planned in the stratum, both arms together.
    control_var : float
        Variance of the control count, V_C.
    prevalence : float
        Share holding the sensitive item, p.
    control_mean : float or None
        Mean control count; needed only to draw synthetic waves.
    covariance : float
        Covariance of the sensitive item with the control count, C (0 when the
        sensitive item is unrelated to the control items).
    weight : float or None
        Design weight of each respondent in the stratum (the population each one
        stands for); None when the plan has no weights.
    count_distribution : tuple of float or None
        Probability of each control count 0..J, for drawing synthetic waves; None to
        build one from the mean and variance (see `moments_distribution`).
    """

    code: str
    n: int
    control_var: float
    prevalence: float
    control_mean: float | None = None
    covariance: float = 0.0
    weight: float | None = None
    count_distribution: tuple[float, ...] | None = None

    @property
    def treatment_var(self) -> float:
        return treatment_variance(self.control_var, self.prevalence, self.covariance)


@dataclass(frozen=True)
class WavePlan:
    """A planned wave: the list's length, its strata, the allocation ratio, the test.

    Attributes
    ----------
    J : int
        Number of items on the control list.
    strata : tuple of StratumPlan
        One per stratum, codes unique; a wave without strata has one.
    ratio : (int, int)
        Allocation ratio **treatment:control**, as people say it: (2, 1) gives two
        treatment respondents for each control respondent.
    alpha : float
        Two-sided level of the test and of the MDE.
    power : float
        Power at which the MDE is given, 1 - beta.

    Raises
    ------
    PlanningError
        On creation, for any value that cannot be planned with, naming the input.
    """

    J: int
    strata: tuple[StratumPlan, ...]
    ratio: tuple[int, int] = (1, 1)
    alpha: float = DEFAULT_ALPHA
    power: float = DEFAULT_POWER

    def __post_init__(self):
        object.__setattr__(self, "strata", tuple(self.strata))
        object.__setattr__(self, "ratio", tuple(self.ratio))
        validate_plan(self)

    @property
    def codes(self) -> list[str]:
        return [s.code for s in self.strata]

    @property
    def weighted(self) -> bool:
        """Whether the plan carries design weights (then the overall is weighted)."""
        return self.strata[0].weight is not None

    @property
    def n(self) -> int:
        return sum(s.n for s in self.strata)

    def stratum(self, code: str) -> StratumPlan:
        for s in self.strata:
            if s.code == code:
                return s
        raise PlanningError(
            f"There is no stratum {code!r} in the plan; the strata are "
            f"{', '.join(self.codes)}.",
            field="strata",
        )

    def to_dict(self) -> dict:
        """The plan as plain values (for a job's stored specification)."""
        return {
            "J": self.J,
            "ratio": list(self.ratio),
            "alpha": self.alpha,
            "power": self.power,
            "strata": [
                {
                    **{f.name: getattr(s, f.name) for f in fields(s)},
                    "count_distribution": None
                    if s.count_distribution is None
                    else list(s.count_distribution),
                }
                for s in self.strata
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> WavePlan:
        """The plan that `to_dict` gave; PlanningError for anything malformed."""
        try:
            strata = [
                StratumPlan(
                    **{
                        **stratum,
                        "count_distribution": None
                        if stratum.get("count_distribution") is None
                        else tuple(stratum["count_distribution"]),
                    }
                )
                for stratum in data["strata"]
            ]
            return cls(
                J=data["J"],
                strata=tuple(strata),
                ratio=tuple(data.get("ratio", (1, 1))),
                alpha=data.get("alpha", DEFAULT_ALPHA),
                power=data.get("power", DEFAULT_POWER),
            )
        except (KeyError, TypeError) as error:
            raise PlanningError(
                f"The stored plan is malformed ({error}).", field="strata"
            ) from None

    def with_sizes(self, sizes: Mapping[str, int]) -> WavePlan:
        """The same plan with the respondents of some strata changed."""
        return replace(
            self,
            strata=tuple(
                replace(s, n=int(sizes.get(s.code, s.n))) for s in self.strata
            ),
        )


@dataclass(frozen=True)
class Contrast:
    """Strata ``a`` against strata ``b``: the estimate in one group minus the other."""

    a: tuple[str, ...]
    b: tuple[str, ...]
    label: str


@dataclass(frozen=True)
class Precision:
    """How precisely the planned wave estimates one quantity.

    Attributes
    ----------
    label : str
        ``overall``, a stratum's code, a contrast such as ``almaty-rest``, or
        ``change overall`` / ``change <code>``.
    se : float
        Standard error of the estimate.
    mde : float
        Minimum detectable effect at the plan's power and two-sided level.
    n_treatment, n_control : int
        Respondents in each arm that the estimate uses (both waves' new respondents
        only, for a change).
    effect : float or None
        The value assumed true: the prevalence, the difference between groups, or
        the change from the source wave.
    power : float or None
        Power to reject zero at `effect`.
    deff : float or None
        Kish's design effect of unequal weights, for groups of strata.
    se_strata : float or None
        For groups of strata, the standard error of the estimate combined stratum by
        stratum (see `group_precision`), against which Kish's approximation can be
        read.
    """

    label: str
    se: float
    mde: float
    n_treatment: int
    n_control: int
    effect: float | None = None
    power: float | None = None
    deff: float | None = None
    se_strata: float | None = None

    def to_dict(self) -> dict:
        out = {
            "label": self.label,
            "se": plain_float(self.se),
            "mde": plain_float(self.mde),
            "n_treatment": int(self.n_treatment),
            "n_control": int(self.n_control),
            "effect": plain_float(self.effect),
            "power": plain_float(self.power),
        }
        if self.deff is not None:
            out["deff"] = plain_float(self.deff)
            out["se_strata"] = plain_float(self.se_strata)
        return out


# -- The closed forms ---------------------------------------------------------------


def z_quantile(q: float) -> float:
    """The standard normal quantile at ``q``."""
    return float(stats.norm.ppf(q))


def mde_multiplier(alpha: float = DEFAULT_ALPHA, power: float = DEFAULT_POWER) -> float:
    """``z_{1-alpha/2} + z_{power}``: 2.8016 at 5% and 80% power."""
    return z_quantile(1 - alpha / 2) + z_quantile(power)


def minimum_detectable_effect(
    se: float, *, alpha: float = DEFAULT_ALPHA, power: float = DEFAULT_POWER
) -> float:
    """The smallest true value a two-sided test at ``alpha`` detects with ``power``.

    Notes
    -----
    The standard normal formula, ``(z_{1-alpha/2} + z_{power}) SE``, which neglects
    the chance of rejecting in the wrong direction (about 1e-6 at 5% and 80%).

    References
    ----------
    .. [1] Lachin, J. M. (1981). "Introduction to Sample Size Determination and
       Power Analysis for Clinical Trials." Controlled Clinical Trials 2(2), 93-113.
    """
    return mde_multiplier(alpha, power) * se


def power_at(effect: float, se: float, *, alpha: float = DEFAULT_ALPHA) -> float:
    """Power of the two-sided normal test of zero when the true value is ``effect``.

    Both rejection regions count: ``Phi(d / se - z) + Phi(-d / se - z)`` with
    ``z = z_{1-alpha/2}``, so the power at zero is ``alpha``.
    """
    if not se > 0:
        return 1.0 if effect != 0 else alpha
    z = z_quantile(1 - alpha / 2)
    shift = abs(effect) / se
    return float(stats.norm.cdf(shift - z) + stats.norm.cdf(-shift - z))


def treatment_variance(
    control_var: float, prevalence: float, covariance: float = 0.0
) -> float:
    """Variance of the treatment count, ``V_C + p (1 - p) + 2 C``.

    The treatment count is the control count plus the sensitive item, a Bernoulli(p)
    variable with covariance ``C`` with the control count.
    """
    return control_var + prevalence * (1 - prevalence) + 2 * covariance


def arm_sizes(n: int, ratio: Sequence[int] = (1, 1)) -> tuple[int, int]:
    """Split ``n`` respondents by the ratio treatment:control, as whole people.

    The treatment arm gets ``n T / (T + C)`` rounded half up, the control arm the
    rest; both never decrease as ``n`` grows.
    """
    treatment, control = ratio
    n_treatment = math.floor(n * treatment / (treatment + control) + 0.5)
    return n_treatment, n - n_treatment


def difference_se(
    control_var: float,
    prevalence: float,
    n_treatment: int,
    n_control: int,
    covariance: float = 0.0,
) -> float:
    """Standard error of the difference in means, ``sqrt(V_T / n_T + V_C / n_C)``.

    References
    ----------
    .. [1] Blair, G. and Imai, K. (2012). "Statistical Analysis of List Experiments."
       Political Analysis 20(1), 47-77.
    .. [2] Glynn, A. N. (2013). "What Can We Learn with Statistical Truth Serum?
       Design and Analysis of the List Experiment." Public Opinion Quarterly 77(S1),
       159-172.
    """
    v_t = treatment_variance(control_var, prevalence, covariance)
    return math.sqrt(v_t / n_treatment + control_var / n_control)


def control_moments(item_probabilities: Sequence[float]) -> tuple[float, float]:
    """Mean and variance of the control count when its items are independent.

    With item ``j`` held with probability ``p_j`` independently of the others, the
    count is a sum of Bernoulli variables: mean ``sum p_j``, variance
    ``sum p_j (1 - p_j)``.
    """
    p = np.asarray(item_probabilities, dtype=float)
    return float(p.sum()), float((p * (1 - p)).sum())


def kish_design_effect(sizes: Sequence[int], weights: Sequence[float]) -> float:
    """Kish's design effect of unequal weights, ``n sum w_i^2 / (sum w_i)^2``.

    ``sizes[h]`` respondents carry ``weights[h]`` each. It is 1 for equal weights and
    grows with their spread: ``1 + cv^2`` of the weights over respondents.

    References
    ----------
    .. [1] Kish, L. (1965). Survey Sampling. Wiley.
    .. [2] Kish, L. (1992). "Weighting for Unequal P_i." Journal of Official
       Statistics 8(2), 183-200.
    """
    n = np.asarray(sizes, dtype=float)
    w = np.asarray(weights, dtype=float)
    return float(n.sum() * (n * w * w).sum() / (n * w).sum() ** 2)


# -- Count distributions for the control list ---------------------------------------


def items_distribution(item_probabilities: Sequence[float]) -> np.ndarray:
    """Probability of each control count 0..J when the items are independent.

    The Poisson-binomial distribution, by convolving the items one at a time.
    """
    dist = np.ones(1)
    for p in item_probabilities:
        dist = np.convolve(dist, [1 - p, p])
    return dist


def moments_distribution(J: int, mean: float, variance: float) -> np.ndarray:
    """A distribution of the control count on 0..J with the given mean and variance.

    Notes
    -----
    Many distributions share a mean and a variance; this one is the binomial
    (``J`` independent items of equal probability ``mean / J``) mixed with the
    nearest extreme of the same mean. For a variance below the binomial's it mixes
    in the least spread distribution, on the two whole numbers around the mean
    (variance ``f (1 - f)``, ``f`` the mean's fractional part), which a list of
    negatively correlated items approaches; above it, the most spread one, on 0 and
    J (variance ``mean (J - mean)``), which positively correlated items approach.
    Mixtures of distributions with one mean have that mean and the mixed variance,
    so both moments are exact.
    """
    v_min, v_bin, v_max = variance_bounds(J, mean)
    binomial = stats.binom.pmf(np.arange(J + 1), J, mean / J)

    low = np.zeros(J + 1)
    base = min(math.floor(mean), J)
    fraction = mean - base
    low[base] += 1 - fraction
    if fraction > 0:
        low[base + 1] += fraction

    high = np.zeros(J + 1)
    high[0], high[J] = 1 - mean / J, mean / J

    if variance <= v_bin:
        share = 0.0 if v_bin - v_min <= EPS else (v_bin - variance) / (v_bin - v_min)
        dist = share * low + (1 - share) * binomial
    else:
        share = 0.0 if v_max - v_bin <= EPS else (variance - v_bin) / (v_max - v_bin)
        dist = share * high + (1 - share) * binomial
    dist = np.clip(dist, 0.0, None)
    return dist / dist.sum()


def variance_bounds(J: int, mean: float) -> tuple[float, float, float]:
    """The least, the binomial and the greatest variance of a count with this mean.

    A whole-number count on 0..J with mean ``m`` has variance at least ``f (1 - f)``
    (``f`` the fractional part of ``m``: all mass on the two whole numbers around
    ``m``) and at most ``m (J - m)`` (all mass on 0 and J). Independent items of
    equal probability give the binomial ``m (1 - m / J)`` in between.
    """
    fraction = mean - math.floor(mean)
    return fraction * (1 - fraction), mean * (1 - mean / J), mean * (J - mean)


def distribution_moments(dist: Sequence[float]) -> tuple[float, float]:
    """Mean and variance of a count with probabilities ``dist`` on 0..len - 1."""
    p = np.asarray(dist, dtype=float)
    k = np.arange(p.size)
    mean = float(p @ k)
    return mean, float(p @ (k - mean) ** 2)


# -- Plans --------------------------------------------------------------------------


def stratum_from_items(
    code: str,
    n: int,
    item_probabilities: Sequence[float],
    prevalence: float,
    *,
    covariance: float = 0.0,
    weight: float | None = None,
) -> StratumPlan:
    """A stratum whose control items are independent with the given probabilities."""
    probabilities = tuple(float(p) for p in item_probabilities)
    if not probabilities or not all(0 <= p <= 1 for p in probabilities):
        raise PlanningError(
            "Every item probability must lie between 0 and 1; got "
            f"{', '.join(f'{p:g}' for p in probabilities) or 'none'}.",
            field="item_probabilities",
            stratum=code,
        )
    mean, variance = control_moments(probabilities)
    return StratumPlan(
        code=code,
        n=n,
        control_var=variance,
        prevalence=prevalence,
        control_mean=mean,
        covariance=covariance,
        weight=weight,
        count_distribution=tuple(items_distribution(probabilities).tolist()),
    )


def validate_plan(plan: WavePlan) -> None:
    """Raise PlanningError, naming the input, for a plan that cannot be computed."""
    if isinstance(plan.J, bool) or not isinstance(plan.J, int) or plan.J < 1:
        raise PlanningError(
            f"J, the number of control items, must be a whole number of at least 1; "
            f"got {plan.J}.",
            field="items",
        )
    if len(plan.ratio) != 2 or not all(
        isinstance(share, int) and not isinstance(share, bool) and share >= 1
        for share in plan.ratio
    ):
        raise PlanningError(
            "The ratio is two whole numbers of at least 1, treatment:control, such "
            f"as 1:1 or 2:1; got {':'.join(str(s) for s in plan.ratio)}.",
            field="ratio",
        )
    if not 0 < plan.alpha < 1:
        raise PlanningError(
            f"alpha must lie strictly between 0 and 1; got {plan.alpha}.", field="alpha"
        )
    if not plan.alpha / 2 < plan.power < 1:
        raise PlanningError(
            f"Power must lie between alpha / 2 and 1; got {plan.power}.", field="power"
        )

    if not plan.strata:
        raise PlanningError("A plan needs at least one stratum.", field="strata")
    codes = [s.code for s in plan.strata]
    for code in codes:
        if not isinstance(code, str) or not code or code == REST:
            raise PlanningError(
                f"A stratum needs a code other than {REST!r}; got {code!r}.",
                field="strata",
            )
    if len(set(codes)) != len(codes):
        raise PlanningError(
            "A stratum is listed twice; list each once.", field="strata"
        )

    weighted = [s.weight is not None for s in plan.strata]
    if any(weighted) and not all(weighted):
        missing = [s.code for s in plan.strata if s.weight is None]
        raise PlanningError(
            "Give a design weight for every stratum or for none; missing for "
            f"{', '.join(missing)}.",
            field="weights",
            stratum=missing[0],
        )

    for stratum in plan.strata:
        validate_stratum(stratum, plan.J, plan.ratio)


def validate_stratum(s: StratumPlan, J: int, ratio: Sequence[int]) -> None:
    def fail(message: str, field: str):
        raise PlanningError(
            f"Stratum {s.code!r}: {message}", field=field, stratum=s.code
        )

    if isinstance(s.n, bool) or not isinstance(s.n, int) or s.n > MAX_N:
        fail(f"n must be a whole number up to {MAX_N:,}; got {s.n}.", "n")
    n_treatment, n_control = arm_sizes(s.n, ratio)
    if min(n_treatment, n_control) < MIN_ARM:
        fail(
            f"{s.n} respondents give {n_treatment} treatment and {n_control} control "
            f"respondents; each arm needs at least {MIN_ARM}.",
            "n",
        )

    for name, value in (
        ("control_var", s.control_var),
        ("prevalence", s.prevalence),
        ("covariance", s.covariance),
    ):
        if not isinstance(value, int | float) or not math.isfinite(value):
            fail(
                f"{name.replace('_', ' ')} must be a finite number; got {value}.", name
            )
    if s.weight is not None and not (
        isinstance(s.weight, int | float) and math.isfinite(s.weight) and s.weight > 0
    ):
        fail(f"the design weight must be a positive number; got {s.weight}.", "weights")

    if not 0 <= s.prevalence <= 1:
        fail(
            f"the prevalence is a share between 0 and 1; got {s.prevalence}.",
            "prevalence",
        )
    if not 0 <= s.control_var <= J * J / 4 + EPS:
        fail(
            f"the control count's variance must lie between 0 and J^2 / 4 = "
            f"{J * J / 4:g} (the most a count on 0..{J} can vary); got {s.control_var}.",
            "control_var",
        )
    if s.control_mean is not None:
        if not 0 <= s.control_mean <= J:
            fail(
                f"the control mean must lie between 0 and J = {J}; got {s.control_mean}.",
                "control_mean",
            )
        v_min, _v_bin, v_max = variance_bounds(J, s.control_mean)
        if not v_min - EPS <= s.control_var <= v_max + EPS:
            fail(
                f"with a control mean of {s.control_mean:g} on 0..{J} the variance "
                f"lies between {v_min:.4g} and {v_max:.4g}; got {s.control_var:g}.",
                "control_var",
            )

    bound = math.sqrt(max(s.control_var, 0.0) * s.prevalence * (1 - s.prevalence))
    if abs(s.covariance) > bound + EPS:
        fail(
            f"the covariance of the sensitive item with the control count is at most "
            f"sqrt(V_C p (1 - p)) = {bound:.4g} in size; got {s.covariance:g}.",
            "covariance",
        )

    if s.count_distribution is not None:
        dist = np.asarray(s.count_distribution, dtype=float)
        if dist.shape != (J + 1,) or (dist < 0).any() or abs(dist.sum() - 1) > 1e-6:
            fail(
                f"the count distribution needs {J + 1} probabilities (counts 0..{J}) "
                "that are not negative and add up to 1.",
                "count_distribution",
            )


def parse_contrast(text: str, codes: Sequence[str]) -> Contrast:
    """A contrast from text ``A-B``: stratum A minus stratum B, or B = ``rest``.

    Codes may hold hyphens themselves, so every split of the text at a hyphen is
    tried; exactly one must name two strata (or a stratum and ``rest``).
    """
    text = str(text).strip()
    found = []
    for at in range(len(text)):
        if text[at] != "-":
            continue
        a, b = text[:at], text[at + 1 :]
        if a in codes and (b in codes or b == REST) and a != b:
            found.append((a, b))

    if len(found) != 1:
        raise PlanningError(
            f"The contrast {text!r} is not A-B with A and B two of the strata "
            f"({', '.join(codes)}) or B = {REST}.",
            field="contrast",
        )
    a, b = found[0]
    others = tuple(code for code in codes if code != a) if b == REST else (b,)
    if not others:
        raise PlanningError(
            f"The contrast {text!r} has no other strata to compare with.",
            field="contrast",
        )
    return Contrast(a=(a,), b=others, label=f"{a}-{b}")


# -- Precision of each quantity -----------------------------------------------------


def stratum_precision(plan: WavePlan, code: str) -> Precision:
    """Standard error, MDE and power at the prevalence, within one stratum."""
    s = plan.stratum(code)
    n_treatment, n_control = arm_sizes(s.n, plan.ratio)
    se = difference_se(
        s.control_var, s.prevalence, n_treatment, n_control, s.covariance
    )
    return _precision(plan, code, se, n_treatment, n_control, s.prevalence)


def population_shares(plan: WavePlan, codes: Sequence[str]) -> dict[str, float]:
    """Each stratum's share of the population the group of strata stands for.

    With design weights, a stratum's share is its respondents times their weight
    over the group's total; without, the sample is taken as self-weighting and the
    share is the stratum's share of the respondents.
    """
    totals = {}
    for code in codes:
        s = plan.stratum(code)
        totals[code] = s.n * (s.weight if s.weight is not None else 1.0)
    whole = sum(totals.values())
    return {code: total / whole for code, total in totals.items()}


def group_truth(plan: WavePlan, codes: Sequence[str]) -> float:
    """The prevalence in a group of strata: the strata's, by population share."""
    shares = population_shares(plan, codes)
    return sum(shares[code] * plan.stratum(code).prevalence for code in codes)


def group_precision(
    plan: WavePlan, codes: Sequence[str], label: str | None = None
) -> Precision:
    """Standard error, MDE and power of the estimate over a group of strata.

    Parameters
    ----------
    plan : WavePlan
    codes : sequence of str
        The strata of the group; all of them for the overall estimate.
    label : str, optional
        The quantity's name; the codes joined by ``+`` when not given.

    Returns
    -------
    Precision
        ``se`` by Kish's approximation (used for the MDE and the power), ``deff``
        and ``se_strata``.

    Notes
    -----
    With population shares ``W_h`` (`population_shares`), the arms' variances
    averaged within strata are ``Vbar_a = sum W_h V_a,h`` and

        se = sqrt(deff (Vbar_T / n_T + Vbar_C / n_C)),

    with ``n_a`` the group's respondents in arm ``a`` and ``deff`` Kish's design
    effect of the strata's weights over the group's respondents (1 without weights).
    It is exact when the strata's variances are equal. ``se_strata`` is the
    standard error of the strata's estimates combined by population share,
    ``sqrt(sum W_h^2 se_h^2)``, which allows for strata that vary differently; it is
    the sampling variance of the weighted difference in means when every stratum's
    arms have their planned sizes, as permuted blocks give.

    The between-strata spread of the means does not enter: the strata's sizes are
    fixed by design and the treatment is allocated within each stratum.
    """
    codes = list(codes)
    strata = [plan.stratum(code) for code in codes]
    shares = population_shares(plan, codes)
    sizes = [arm_sizes(s.n, plan.ratio) for s in strata]
    n_treatment = sum(t for t, _c in sizes)
    n_control = sum(c for _t, c in sizes)

    weights = [s.weight if s.weight is not None else 1.0 for s in strata]
    deff = kish_design_effect([s.n for s in strata], weights)
    v_t = sum(shares[s.code] * s.treatment_var for s in strata)
    v_c = sum(shares[s.code] * s.control_var for s in strata)
    se = math.sqrt(deff * (v_t / n_treatment + v_c / n_control))

    se_strata = math.sqrt(
        sum(
            (
                shares[s.code]
                * difference_se(s.control_var, s.prevalence, t, c, s.covariance)
            )
            ** 2
            for s, (t, c) in zip(strata, sizes)
        )
    )
    precision = _precision(
        plan,
        label or "+".join(codes),
        se,
        n_treatment,
        n_control,
        group_truth(plan, codes),
    )
    return replace(precision, deff=deff, se_strata=se_strata)


def overall_precision(plan: WavePlan) -> Precision:
    """The overall estimate's precision: `group_precision` over every stratum."""
    return group_precision(plan, plan.codes, "overall")


def contrast_precision(plan: WavePlan, contrast: Contrast) -> Precision:
    """The difference between two groups of strata, ``sqrt(se_a^2 + se_b^2)``.

    The groups hold different respondents, so their estimates are independent.
    Each group's standard error is `group_precision`'s (the stratum's own for a
    single stratum).
    """
    a = group_precision(plan, contrast.a)
    b = group_precision(plan, contrast.b)
    return difference_precision(plan, contrast.label, a, b)


def difference_precision(
    plan: WavePlan, label: str, a: Precision, b: Precision
) -> Precision:
    """Estimate ``a`` minus independent estimate ``b``: variances add."""
    se = math.sqrt(a.se**2 + b.se**2)
    effect = None if a.effect is None or b.effect is None else a.effect - b.effect
    return _precision(
        plan,
        label,
        se,
        a.n_treatment + b.n_treatment,
        a.n_control + b.n_control,
        effect,
    )


def change_precision(
    plan: WavePlan,
    new: Precision,
    previous_estimate: float,
    previous_se: float,
    label: str | None = None,
) -> Precision:
    """The change from the source wave: new estimate minus the source's estimate.

    The two waves are independent samples, so ``se = sqrt(se_new^2 + se_old^2)``.
    The effect is the new wave's assumed value minus the source's estimate: zero
    when the plan keeps the source's prevalences.
    """
    se = math.sqrt(new.se**2 + previous_se**2)
    effect = None if new.effect is None else new.effect - previous_estimate
    return _precision(
        plan,
        label or f"change {new.label}",
        se,
        new.n_treatment,
        new.n_control,
        effect,
    )


def _precision(
    plan: WavePlan,
    label: str,
    se: float,
    n_treatment: int,
    n_control: int,
    effect: float | None,
) -> Precision:
    return Precision(
        label=label,
        se=se,
        mde=minimum_detectable_effect(se, alpha=plan.alpha, power=plan.power),
        n_treatment=n_treatment,
        n_control=n_control,
        effect=effect,
        power=None if effect is None else power_at(effect, se, alpha=plan.alpha),
    )


# -- Sample needed for a target -----------------------------------------------------


def target_se(
    *,
    se: float | None = None,
    mde: float | None = None,
    alpha: float = DEFAULT_ALPHA,
    power: float = DEFAULT_POWER,
) -> float:
    """The standard error to aim for: ``se`` itself, or ``mde / (z + z_power)``.

    Both are differences of proportions, so a target above 1 (one hundred points)
    is a typo, not a wave: it would plan for no respondents at all.
    """
    if (se is None) == (mde is None):
        raise PlanningError(
            "Give a target SE or a target MDE, not both.", field="target"
        )
    value = se if se is not None else mde
    if (
        not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= 1
    ):
        what = "SE" if se is not None else "MDE"
        raise PlanningError(
            f"A target {what} is a difference of proportions: it must be above 0 "
            f"and at most 1; got {value}.",
            field="target",
        )
    return float(se) if se is not None else float(mde) / mde_multiplier(alpha, power)


def target_words(target: float, mde: float | None) -> str:
    """The target as the user gave it, to begin a message: the MDE when one was
    typed (``target`` is then the SE worked out from it), else the SE."""
    if mde is not None:
        return f"An MDE of {mde:g}"
    return f"A standard error of {target:g}"


def stratum_n_for_se(
    plan: WavePlan, code: str, target: float, *, mde: float | None = None
) -> int:
    """The fewest respondents (both arms) for one stratum's SE to reach ``target``.

    ``mde``, when the target was typed as an MDE, only words the refusal.

    Notes
    -----
    With arm shares ``q = T / (T + C)`` and ``1 - q``, ``se(n)^2`` is about
    ``(V_T / q + V_C / (1 - q)) / n``; the search starts there and moves to the
    smallest whole ``n`` whose rounded arms reach the target. Arms never shrink as
    ``n`` grows (`arm_sizes`), so the SE never grows and the search is exact.
    """
    s = plan.stratum(code)

    def se_of(n: int) -> float:
        t, c = arm_sizes(n, plan.ratio)
        if min(t, c) < MIN_ARM:
            return math.inf
        return difference_se(s.control_var, s.prevalence, t, c, s.covariance)

    return _smallest(se_of, target, what=f"stratum {code!r}", mde=mde)


def plan_for_se(
    plan: WavePlan,
    target: float,
    quantity: str | Contrast = "overall",
    *,
    mde: float | None = None,
) -> WavePlan:
    """The plan scaled, all strata in proportion, until ``quantity`` reaches ``target``.

    Parameters
    ----------
    plan : WavePlan
        Its strata's sizes give the proportions to keep.
    target : float
        The standard error to reach.
    quantity : "overall", a stratum's code, or Contrast
        Whose standard error must reach the target. For a stratum only that
        stratum's size changes (`stratum_n_for_se`).
    mde : float, optional
        The MDE the target was worked out from, when one was typed: the refusal of
        a target beyond any sample names it rather than the SE.

    Returns
    -------
    WavePlan
        With each stratum's ``n`` the smallest whole number, ``ceil(k n_h)`` for the
        smallest factor ``k``, at which the quantity's standard error reaches the
        target.
    """
    if isinstance(quantity, str) and quantity != "overall":
        n = stratum_n_for_se(plan, quantity, target, mde=mde)
        return plan.with_sizes({quantity: n})

    def se_of_factor(k: float) -> float:
        sizes = {s.code: math.ceil(k * s.n - EPS) for s in plan.strata}
        if any(min(arm_sizes(n, plan.ratio)) < MIN_ARM for n in sizes.values()):
            return math.inf
        scaled = plan.with_sizes(sizes)
        if isinstance(quantity, Contrast):
            return contrast_precision(scaled, quantity).se
        return overall_precision(scaled).se

    low, high = 0.0, 1.0
    while se_of_factor(high) > target:
        low, high = high, high * 2
        if high * plan.n > MAX_N:
            raise PlanningError(
                f"{target_words(target, mde)} needs more than {MAX_N:,} "
                "respondents; choose a larger target.",
                field="target",
            )
    # The size of each stratum is a step function of k, so halving the interval
    # 60 times pins the smallest k to within the doubles.
    for _ in range(60):
        middle = (low + high) / 2
        if se_of_factor(middle) > target:
            low = middle
        else:
            high = middle
    return plan.with_sizes({s.code: math.ceil(high * s.n - EPS) for s in plan.strata})


def _smallest(
    se_of: Callable[[int], float],
    target: float,
    *,
    what: str,
    mde: float | None = None,
) -> int:
    """The smallest whole n with ``se_of(n) <= target``; ``se_of`` never increases."""
    high = 2 * MIN_ARM
    while se_of(high) > target:
        high *= 2
        if high > MAX_N:
            raise PlanningError(
                f"{target_words(target, mde)} in {what} needs more than "
                f"{MAX_N:,} respondents; choose a larger target.",
                field="target",
            )
    low = high // 2
    while high - low > 1:
        middle = (low + high) // 2
        if se_of(middle) > target:
            low = middle
        else:
            high = middle
    return high


# -- From a source wave -------------------------------------------------------------


@dataclass(frozen=True)
class SourceStratum:
    """One stratum of a source wave, as its counts describe it.

    ``control_var`` and ``treatment_var`` are sample variances (n - 1); the
    distribution is the control arm's shares at 0..J. ``prevalence`` is the
    estimate cut to [0, 1] for planning; ``estimate`` and ``se`` are as estimated.
    """

    code: str
    n_treatment: int
    n_control: int
    control_mean: float
    control_var: float
    treatment_var: float
    count_distribution: tuple[float, ...]
    estimate: float
    se: float
    prevalence: float


@dataclass(frozen=True)
class SourceWave:
    """A wave's data, summarised for planning the next one."""

    J: int
    strata: dict[str, SourceStratum]
    estimate: float
    se: float
    weighted: bool
    control_counts: dict[str, np.ndarray]

    def to_dict(self) -> dict:
        return {
            "J": self.J,
            "estimate": plain_float(self.estimate),
            "se": plain_float(self.se),
            "weighted": self.weighted,
            "strata": {
                code: {
                    "n_treatment": s.n_treatment,
                    "n_control": s.n_control,
                    "control_mean": plain_float(s.control_mean),
                    "control_var": plain_float(s.control_var),
                    "treatment_var": plain_float(s.treatment_var),
                    "estimate": plain_float(s.estimate),
                    "se": plain_float(s.se),
                    "prevalence": plain_float(s.prevalence),
                    "count_distribution": list(s.count_distribution),
                }
                for code, s in self.strata.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> SourceWave:
        """The summary `to_dict` gave, for the change from the source wave.

        The control arm's counts are not stored, so ``control_counts`` is empty: the
        result serves as ``previous`` for `plan_summary` and the rehearsal, not for
        checking the control list again.
        """
        try:
            strata = {
                code: SourceStratum(
                    code=code,
                    n_treatment=int(s["n_treatment"]),
                    n_control=int(s["n_control"]),
                    control_mean=float(s["control_mean"]),
                    control_var=float(s["control_var"]),
                    treatment_var=float(s["treatment_var"]),
                    count_distribution=tuple(s.get("count_distribution") or ()),
                    estimate=float(s["estimate"]),
                    se=float(s["se"]),
                    prevalence=float(
                        s.get("prevalence", min(max(float(s["estimate"]), 0.0), 1.0))
                    ),
                )
                for code, s in data["strata"].items()
            }
            return cls(
                J=int(data["J"]),
                strata=strata,
                estimate=float(data["estimate"]),
                se=float(data["se"]),
                weighted=bool(data.get("weighted", False)),
                control_counts={},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise PlanningError(
                f"The stored source wave is malformed ({error}).", field="source"
            ) from None


def source_summary(
    counts,
    treated,
    strata,
    J: int,
    *,
    weights=None,
    design_strata=None,
    clusters=None,
) -> SourceWave:
    """Summarise a wave's counts by stratum, for planning the next wave from it.

    Parameters
    ----------
    counts, treated : array_like, shape (n,)
        Each respondent's count (NaN when missing) and arm.
    strata : array_like of str, shape (n,)
        Each respondent's stratum code; when every one is None, all respondents
        form the stratum ``all``. Respondents without a stratum in a wave that has
        strata count overall only.
    J : int
        Number of control items.
    weights, design_strata, clusters : array_like, optional
        The wave's own design, as for
        `analysis.estimators.weighted.weighted_difference_in_means`; with weights
        the overall and per-stratum estimates are the weighted ones.

    Returns
    -------
    SourceWave

    Raises
    ------
    PlanningError
        With field ``source``, when a count is impossible, or a stratum has fewer
        than two respondents with a count in an arm.
    """
    try:
        split_arms(counts, treated, J)
    except ValueError as error:
        raise PlanningError(str(error), field="source") from None
    counts = np.asarray(counts, dtype=float)
    treated = np.asarray(treated, dtype=bool)
    strata = np.asarray(strata, dtype=object)
    if strata.size and np.equal(strata, None).all():
        # A wave imported without strata is one stratum, as an opened wave would be.
        strata = np.full(strata.size, "all", dtype=object)
    answered = ~np.isnan(counts)

    try:
        if weights is not None:
            overall = weighted_difference_in_means(
                counts, treated, weights, design_strata, clusters
            )
            levels = weighted_difference_by_level(
                counts, treated, weights, strata, design_strata, clusters
            ).levels
        else:
            overall = difference_in_means(counts, treated)
            levels = difference_by_level(counts, treated, strata).levels
    except ValueError as error:
        raise PlanningError(str(error), field="source") from None

    summary, control_counts = {}, {}
    for code, result in levels:
        if result.estimate is None:
            raise PlanningError(
                f"Stratum {code!r} of the source wave has too few respondents with a "
                f"count in an arm to plan from: {result.note}",
                field="source",
                stratum=code,
            )
        here = answered & (strata.astype(str) == code)
        control = counts[here & ~treated].astype(int)
        treatment = counts[here & treated]
        control_counts[code] = control
        summary[code] = SourceStratum(
            code=code,
            n_treatment=result.n_treatment,
            n_control=result.n_control,
            control_mean=float(control.mean()),
            control_var=float(control.var(ddof=1)),
            treatment_var=float(treatment.var(ddof=1)),
            count_distribution=tuple(
                (np.bincount(control, minlength=J + 1) / control.size).tolist()
            ),
            estimate=float(result.estimate),
            se=float(result.se),
            prevalence=min(max(float(result.estimate), 0.0), 1.0),
        )

    if overall.estimate is None:
        raise PlanningError(
            f"The source wave has no overall estimate: {overall.note}", field="source"
        )
    return SourceWave(
        J=int(J),
        strata=summary,
        estimate=float(overall.estimate),
        se=float(overall.se),
        weighted=weights is not None,
        control_counts=control_counts,
    )


#: A value for every stratum, or one per stratum's code.
PerStratum = float | Mapping[str, float]


def plan_from_assumptions(
    J: int,
    sizes: Mapping[str, int],
    *,
    prevalence: PerStratum,
    control_var: PerStratum | None = None,
    control_mean: PerStratum | None = None,
    item_probabilities: Sequence[float] | None = None,
    covariance: float = 0.0,
    weights: Mapping[str, float] | None = None,
    ratio: Sequence[int] = (1, 1),
    alpha: float = DEFAULT_ALPHA,
    power: float = DEFAULT_POWER,
) -> WavePlan:
    """A plan from assumptions typed in: the control list and prevalence by stratum.

    Parameters
    ----------
    J : int
        Number of control items.
    sizes : mapping of str to int
        Respondents planned per stratum (both arms), in the order to list them.
    prevalence : float or mapping
        The prevalence, one for all strata or one per stratum's code.
    control_var, control_mean : float or mapping, optional
        The control count's variance (needed unless `item_probabilities` are given)
        and mean (needed only to draw synthetic waves).
    item_probabilities : sequence of float, optional
        The control items' probabilities, taken as independent, instead of
        `control_var` and `control_mean`: mean ``sum p``, variance
        ``sum p (1 - p)``, the Poisson-binomial count distribution.
    covariance, weights, ratio, alpha, power
        As for `StratumPlan` and `WavePlan`.

    Raises
    ------
    PlanningError
        Naming the input that is missing, unknown or out of range.
    """
    codes = list(sizes)
    if item_probabilities is not None:
        if control_var is not None or control_mean is not None:
            raise PlanningError(
                "Give the control list's item probabilities or its mean and "
                "variance, not both.",
                field="item_probabilities",
            )
        if len(item_probabilities) != J:
            raise PlanningError(
                f"Give one probability per control item: J = {J}, got "
                f"{len(item_probabilities)}.",
                field="item_probabilities",
            )
    elif control_var is None:
        raise PlanningError(
            "Give the control count's variance or the items' probabilities.",
            field="control_var",
        )

    strata = []
    for code, n in sizes.items():
        p = _for_stratum(prevalence, code, codes, "prevalence")
        weight = (
            None if weights is None else _for_stratum(weights, code, codes, "weights")
        )
        if item_probabilities is not None:
            stratum = stratum_from_items(
                code, n, item_probabilities, p, covariance=covariance, weight=weight
            )
        else:
            stratum = StratumPlan(
                code=code,
                n=n,
                control_var=_for_stratum(control_var, code, codes, "control_var"),
                prevalence=p,
                control_mean=None
                if control_mean is None
                else _for_stratum(control_mean, code, codes, "control_mean"),
                covariance=covariance,
                weight=weight,
            )
        strata.append(stratum)
    return WavePlan(
        J=J, strata=tuple(strata), ratio=tuple(ratio), alpha=alpha, power=power
    )


def plan_from_source(
    source: SourceWave,
    sizes: Mapping[str, int],
    *,
    prevalence: PerStratum | None = None,
    control_var: PerStratum | None = None,
    control_mean: PerStratum | None = None,
    item_probabilities: Sequence[float] | None = None,
    covariance: float = 0.0,
    weights: Mapping[str, float] | None = None,
    ratio: Sequence[int] = (1, 1),
    alpha: float = DEFAULT_ALPHA,
    power: float = DEFAULT_POWER,
) -> WavePlan:
    """A plan whose strata take the source wave's control list and prevalence.

    Parameters
    ----------
    source : SourceWave
    sizes : mapping of str to int
        Respondents planned per stratum, in the order the plan should list them.
    prevalence, control_var, control_mean : float or mapping, optional
        Values that replace the source's, for every stratum or by code; a stratum
        the source wave does not have needs its control variance and prevalence.
    item_probabilities : sequence of float, optional
        Replace the source's control list by independent items (a new list).
    covariance, weights, ratio, alpha, power
        As for `StratumPlan` and `WavePlan`.

    Notes
    -----
    From the source each stratum takes its control arm's mean, sample variance and
    count distribution, and its estimated prevalence cut to [0, 1]. When the
    control mean or variance is replaced, the source's count distribution no longer
    fits and is dropped (a synthetic wave then builds one from the moments).
    """
    if item_probabilities is not None and (
        control_var is not None or control_mean is not None
    ):
        raise PlanningError(
            "Give the control list's item probabilities or its mean and variance, "
            "not both.",
            field="item_probabilities",
        )
    if item_probabilities is not None and len(item_probabilities) != source.J:
        raise PlanningError(
            f"Give one probability per control item: J = {source.J}, got "
            f"{len(item_probabilities)}.",
            field="item_probabilities",
        )

    codes = list(sizes)
    strata = []
    for code, n in sizes.items():
        known = source.strata.get(code)
        p = _for_stratum(prevalence, code, codes, "prevalence", optional=True)
        variance = _for_stratum(control_var, code, codes, "control_var", optional=True)
        mean = _for_stratum(control_mean, code, codes, "control_mean", optional=True)
        weight = (
            None if weights is None else _for_stratum(weights, code, codes, "weights")
        )
        if known is None and (
            p is None or (variance is None and not item_probabilities)
        ):
            raise PlanningError(
                f"Stratum {code!r} is not in the source wave (its strata are "
                f"{', '.join(source.strata)}); give its control variance and "
                "prevalence.",
                field="strata",
                stratum=code,
            )
        if p is None:
            p = known.prevalence

        if item_probabilities is not None:
            strata.append(
                stratum_from_items(
                    code, n, item_probabilities, p, covariance=covariance, weight=weight
                )
            )
            continue
        replaced = variance is not None or mean is not None
        if mean is None and known is not None:
            mean = known.control_mean
        strata.append(
            StratumPlan(
                code=code,
                n=n,
                control_var=known.control_var if variance is None else variance,
                prevalence=p,
                control_mean=mean,
                covariance=covariance,
                weight=weight,
                count_distribution=None if replaced else known.count_distribution,
            )
        )
    return WavePlan(
        J=source.J, strata=tuple(strata), ratio=tuple(ratio), alpha=alpha, power=power
    )


def _for_stratum(value, code: str, codes: Sequence[str], field: str, optional=False):
    """The value for stratum ``code``: the one value, or the mapping's entry.

    A mapping naming a stratum the plan does not have is refused, so a typo in a
    code is not silently ignored. With ``optional``, a stratum the mapping (or a
    None value) leaves out gives None.
    """
    if value is None:
        if optional:
            return None
        raise PlanningError(
            f"Stratum {code!r} needs a value.", field=field, stratum=code
        )
    if not isinstance(value, Mapping):
        return value

    unknown = [key for key in value if key not in codes]
    if unknown:
        raise PlanningError(
            f"Stratum {unknown[0]!r} is not in the plan; the strata are "
            f"{', '.join(codes)}.",
            field=field,
            stratum=unknown[0],
        )
    if code not in value:
        if optional:
            return None
        raise PlanningError(
            f"No value for stratum {code!r}; give one for every stratum "
            f"({', '.join(codes)}).",
            field=field,
            stratum=code,
        )
    return value[code]


def source_shares(source: SourceWave) -> dict[str, float]:
    """Each stratum's share of the source wave's respondents with a count."""
    sizes = {code: s.n_treatment + s.n_control for code, s in source.strata.items()}
    total = sum(sizes.values())
    return {code: size / total for code, size in sizes.items()}


def stratum_shares(codes: Sequence[str], source: SourceWave | None) -> dict[str, float]:
    """Shares to split a total over ``codes``: the source wave's, or equal ones.

    The source's shares of its respondents, renormalised over ``codes``, when the
    source has every one of them; equal shares otherwise.
    """
    codes = list(codes)
    if source is not None and codes and all(code in source.strata for code in codes):
        known = source_shares(source)
        whole = sum(known[code] for code in codes)
        return {code: known[code] / whole for code in codes}
    return {code: 1 / len(codes) for code in codes}


def shifted_prevalence(source: SourceWave, change: float) -> dict[str, float]:
    """Each source stratum's prevalence moved by ``change``, cut to [0, 1].

    The assumption "the share changes by ``change`` in every stratum": a stratum's
    planned prevalence is its estimate in the source wave plus the change. Where the
    cut bites, that stratum's change is smaller than ``change``.
    """
    if not isinstance(change, int | float) or not math.isfinite(change):
        raise PlanningError(
            f"The expected change must be a finite number; got {change}.",
            field="change",
        )
    if not -1 <= change <= 1:
        raise PlanningError(
            f"The expected change is a difference of shares, between -1 and 1; got "
            f"{change:g}.",
            field="change",
        )
    return {
        code: min(max(s.estimate + change, 0.0), 1.0)
        for code, s in source.strata.items()
    }


def split_total(total: int, shares: Mapping[str, float]) -> dict[str, int]:
    """Split ``total`` respondents over strata by shares, largest remainders first."""
    exact = {code: total * share for code, share in shares.items()}
    sizes = {code: math.floor(value) for code, value in exact.items()}
    left = total - sum(sizes.values())
    for code in sorted(exact, key=lambda c: sizes[c] - exact[c])[:left]:
        sizes[code] += 1
    return sizes


# -- Everything the planner shows ---------------------------------------------------


def plan_summary(
    plan: WavePlan,
    *,
    contrasts: Sequence[Contrast] = (),
    previous: SourceWave | None = None,
    target: float | None = None,
    target_mde: float | None = None,
) -> dict:
    """The plan's precision for every quantity, as plain values for a page or JSON.

    Parameters
    ----------
    plan : WavePlan
    contrasts : sequence of Contrast
        Differences between strata (or groups of strata) to plan for.
    previous : SourceWave, optional
        The source wave, for the change from it overall and in each stratum it has.
    target : float, optional
        A standard error to reach (see `target_se` for an MDE): adds the respondents
        needed overall (all strata in proportion), in each stratum on its own, and
        for each contrast.
    target_mde : float, optional
        The MDE ``target`` was worked out from, when one was typed: a target beyond
        any sample is refused in the words the user chose.

    Returns
    -------
    dict
        ``overall``, ``strata`` (by code), ``contrasts`` and ``changes`` (lists of
        `Precision.to_dict`), ``alpha``, ``power``, ``ratio``; with a target,
        ``needed``.
    """
    overall = overall_precision(plan)
    strata = {code: stratum_precision(plan, code) for code in plan.codes}
    out = {
        "alpha": plan.alpha,
        "power": plan.power,
        "ratio": list(plan.ratio),
        "overall": overall.to_dict(),
        "strata": {code: p.to_dict() for code, p in strata.items()},
        "contrasts": [contrast_precision(plan, c).to_dict() for c in contrasts],
        "changes": [],
    }

    if previous is not None:
        changes = [change_precision(plan, overall, previous.estimate, previous.se)]
        # With one stratum its change is the overall one; it is not listed twice.
        changes += [
            change_precision(plan, strata[code], s.estimate, s.se)
            for code, s in previous.strata.items()
            if code in strata and len(strata) > 1
        ]
        out["changes"] = [c.to_dict() for c in changes]

    if target is not None:
        out["needed"] = needed_summary(plan, target, contrasts, mde=target_mde)
    return out


def needed_summary(
    plan: WavePlan,
    target: float,
    contrasts: Sequence[Contrast],
    *,
    mde: float | None = None,
) -> dict:
    """Respondents needed for ``target``: overall, per stratum, per contrast."""

    def sizes(scaled: WavePlan) -> dict:
        arms = [arm_sizes(s.n, plan.ratio) for s in scaled.strata]
        return {
            "n": scaled.n,
            "n_treatment": sum(t for t, _c in arms),
            "n_control": sum(c for _t, c in arms),
            "strata": {s.code: s.n for s in scaled.strata},
        }

    overall = plan_for_se(plan, target, mde=mde)
    needed = {"target_se": target, "overall": sizes(overall)}
    needed["strata"] = {}
    for code in plan.codes:
        n = stratum_n_for_se(plan, code, target, mde=mde)
        t, c = arm_sizes(n, plan.ratio)
        needed["strata"][code] = {"n": n, "n_treatment": t, "n_control": c}
    needed["contrasts"] = {
        c.label: sizes(plan_for_se(plan, target, c, mde=mde)) for c in contrasts
    }
    return needed


def design_summary(plan: WavePlan, summary: Mapping) -> dict:
    """The overall estimate's design, from the plan and its `plan_summary`.

    Returns
    -------
    dict
        ``prevalence`` and ``power`` of the overall estimate, Kish's ``deff``,
        ``se_strata`` (see `group_precision`), whether the plan is ``weighted``, and
        each stratum's ``population_shares``.
    """
    overall = summary["overall"]
    return {
        "prevalence": overall["effect"],
        "power": overall["power"],
        "deff": overall["deff"],
        "se_strata": overall["se_strata"],
        "weighted": plan.weighted,
        "population_shares": population_shares(plan, plan.codes),
    }
