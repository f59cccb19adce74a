"""A list experiment asked together with a direct question about the sensitive item.

When every respondent answers the list experiment and also the direct question ("Do
you ...? yes/no"), three estimates of the share holding the sensitive item are
available: the share answering yes directly, the list experiment's difference in
means, and the combined estimator of Aronow, Coppock, Crawford and Green (2015),
which trusts a direct "yes" and runs the list experiment only among those who said
"no". The gap between the direct share and the list estimate measures sensitivity
bias, and two placebo tests check the assumptions the combined estimator needs.

This is a port of `combinedListDirect` in the R package `list` 9.2.6 without
covariates, and gives its numbers. Everything here is a pure function of its arrays:
no Django, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from analysis.estimators.normal import Z95
from analysis.estimators.normal import plain_float as _plain_float
from analysis.estimators.normal import two_sided_p as _two_sided_p

#: An arm needs at least this many respondents for a variance; fewer is an error
#: for the whole sample and gives no estimate within a subgroup.
MIN_ARM_SIZE = 2

#: Below this many respondents in an arm the normal interval is not trustworthy; the
#: estimates are still reported, with a note saying so.
SMALL_ARM_SIZE = 30

#: Two-sided 95% normal quantile used for every confidence interval here.
_Z = Z95


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its standard error and normal 95% interval.

    Attributes
    ----------
    estimate, se, ci_low, ci_high : float or None
        None when the data cannot give the estimate; the reason is in a note.
    """

    estimate: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None

    def to_dict(self) -> dict[str, float | None]:
        """Return the fields as plain Python floats, None for anything missing."""
        return {
            "estimate": _plain_float(self.estimate),
            "se": _plain_float(self.se),
            "ci_low": _plain_float(self.ci_low),
            "ci_high": _plain_float(self.ci_high),
        }


@dataclass(frozen=True)
class PlaceboTest:
    """A difference in means tested against the value its assumption implies.

    Attributes
    ----------
    estimate, se : float or None
        The difference in means and its unpooled standard error.
    null : float
        The value of `estimate` under the assumptions being checked.
    statistic : float or None
        (estimate - null) / se.
    p_value : float or None
        Two-sided normal p-value for `statistic`.
    n : int
        Respondents the test uses.
    note : str or None
        A plain sentence when the test cannot be run.
    """

    estimate: float | None
    se: float | None
    null: float
    statistic: float | None
    p_value: float | None
    n: int
    note: str | None = None

    def to_dict(self) -> dict[str, float | int | str | None]:
        """Return the fields as plain Python values, None for anything missing."""
        return {
            "estimate": _plain_float(self.estimate),
            "se": _plain_float(self.se),
            "null": float(self.null),
            "statistic": _plain_float(self.statistic),
            "p_value": _plain_float(self.p_value),
            "n": int(self.n),
            "note": self.note,
        }


@dataclass(frozen=True)
class ListDirect:
    """The direct, list-only and combined estimates, with the placebo tests.

    Attributes
    ----------
    direct : Estimate
        Share answering yes to the direct question.
    list_only : Estimate
        Difference in means between the arms, using every respondent.
    sensitivity_bias : Estimate
        `direct` minus `list_only`: negative when respondents hide the sensitive
        item when asked directly.
    sensitivity_bias_p_value : float or None
        Two-sided normal p-value for no sensitivity bias.
    combined : Estimate
        The combined estimator of Aronow et al. (2015).
    placebo_1 : PlaceboTest
        Difference in means among those answering yes directly, against 1.
    placebo_2 : PlaceboTest
        Difference between the arms in the share answering yes directly, against 0.
    n, n_treatment, n_control : int
        Respondents used, in all and in each arm.
    n_direct_yes : int
        Respondents used who answered yes to the direct question.
    n_missing : int
        Respondents left out because their count, arm or direct answer is missing.
    notes : tuple of str
        Plain sentences for caveats and for any estimate that is missing.
    """

    direct: Estimate
    list_only: Estimate
    sensitivity_bias: Estimate
    sensitivity_bias_p_value: float | None
    combined: Estimate
    placebo_1: PlaceboTest
    placebo_2: PlaceboTest
    n: int
    n_treatment: int
    n_control: int
    n_direct_yes: int
    n_missing: int
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """Return nested plain Python values, ready for JSON or a template.

        Numpy scalars become Python numbers and a missing or non-finite number
        becomes None, so a caller never has to special-case NaN.
        """
        return {
            "direct": {**self.direct.to_dict(), "n": int(self.n)},
            "list": self.list_only.to_dict(),
            "sensitivity_bias": {
                **self.sensitivity_bias.to_dict(),
                "p_value": _plain_float(self.sensitivity_bias_p_value),
            },
            "combined": {
                **self.combined.to_dict(),
                "placebo_1": self.placebo_1.to_dict(),
                "placebo_2": self.placebo_2.to_dict(),
            },
            "n_treatment": int(self.n_treatment),
            "n_control": int(self.n_control),
            "n_direct_yes": int(self.n_direct_yes),
            "n_missing": int(self.n_missing),
            "notes": list(self.notes),
        }


def list_and_direct(counts, treated, direct, J=None) -> ListDirect:
    """Estimate the share holding the sensitive item from a list and a direct question.

    Parameters
    ----------
    counts : array_like of float, shape (n,)
        The count each respondent reported on their list; NaN marks a missing count.
    treated : array_like of bool or {0, 1}, shape (n,)
        True (1) for respondents shown the treatment list; NaN or None marks a
        missing arm.
    direct : array_like of {0, 1}, shape (n,)
        1 for respondents who answered yes to the direct question about the
        sensitive item, 0 for no; NaN or None marks a missing answer.
    J : int, optional
        Number of control items. When given, every count must be a whole number
        from 0 to J in the control arm and from 0 to J + 1 in the treatment arm.

    Returns
    -------
    ListDirect
        The direct share, the list-only estimate, the sensitivity bias, the combined
        estimate and the two placebo tests, with counts of respondents and notes.

    Raises
    ------
    ValueError
        If the arrays are not one-dimensional and of the same length, a count is
        infinite or impossible with `J`, `treated` or `direct` holds anything but
        0/1 or a missing value, `J` is not a whole number >= 1, or an arm has fewer
        than `MIN_ARM_SIZE` respondents once missing values are left out.

    Notes
    -----
    A respondent missing any of count, arm or direct answer is left out of every
    figure, as the package does with its list-wise deletion. Let N be the
    respondents left, n_1 and n_0 those in the treatment and control arms, d the
    direct answers and y the counts. Each figure but the sensitivity bias is the
    package's, standard error included. The package fits each difference in means
    by least squares with only the arm as regressor, which gives the plain
    difference in means and, from its residuals, the arms' own variances (n - 1).

    The direct share p is the mean of d, with standard error sqrt(var(d) / N), var
    with N - 1.

    The list-only estimate is the difference in mean count between the arms on all
    N respondents, with the unpooled standard error sqrt(s_1^2 / n_1 + s_0^2 / n_0).

    The combined estimate is mu = p + (1 - p) * b, where b is the difference in
    means among respondents who answered no. With gamma = n_1 / N the share treated
    overall and v_1, v_0 the count variances in each arm among those who answered
    no, its variance is

        ((1 - mu)^2 * p / (1 - p) + (1 - p) * (v_1 / gamma + v_0 / (1 - gamma))) / N,

    exactly as the package has it. It needs some respondents who answered no, and
    at least `MIN_ARM_SIZE` of them in each arm; otherwise it is None with a note.
    It rests on two assumptions beyond the list experiment's own (no design effect,
    no liars): nobody answers yes directly without holding the item
    (monotonicity), and the list shown does not change the direct answer
    (treatment independence).

    Placebo test I takes the difference in means among those who answered yes
    directly. If they all hold the item and the list experiment works, it is 1;
    the statistic is (estimate - 1) / se with the unpooled standard error.
    Placebo test II takes the difference in the share answering yes between the
    arms, which is 0 under treatment independence; statistic estimate / se. Both
    p-values are two-sided normal, 2 * Phi(-|statistic|), as in the package. A
    test without `MIN_ARM_SIZE` respondents in each arm of its subgroup, or with a
    standard error of zero, gives None with a note.

    The sensitivity bias is not in the package. It is delta = p - L, with L the
    list-only estimate, following Blair, Coppock and Moor (2020). p and L come from
    the same respondents, so they are correlated. Write p = w_1 * p_1 + w_0 * p_0
    with w_k = n_k / N and p_k the arm's direct share; then

        delta = mean over treated of (w_1 * d - y) - mean over controls of
                (-w_0 * d - y),

    a difference in means of a per-respondent quantity that differs by arm.
    Treating the arm sizes as fixed (complete random assignment) and the arms as
    independent samples, its variance is var_1(w_1 * d - y) / n_1 + var_0(y + w_0 *
    d) / n_0, each var within its arm with n - 1. Expanding gives the same thing as

        Var(p) + Var(L) - 2 * Cov(p, L),  Cov(p, L) = (c_1 - c_0) / N,

    where c_k is the covariance of d and y within arm k and Var(p) = (n_1 *
    var_1(d) + n_0 * var_0(d)) / N^2. Only in the treatment arm does the count
    include the sensitive item, so d and y usually covary more there, c_1 > c_0,
    and the standard error is smaller than if p and L were independent. This
    Var(p) is taken within the arms, so it differs from the package's var(d) / N
    for the direct share by the spread between the arms' direct shares, which is
    small when placebo test II passes. The tests check the formula against a
    bootstrap that resamples within each arm.

    The package also accepts covariates and then uses regression-adjusted
    estimates; this function takes none, so it matches the package's
    covariate-free call only.

    References
    ----------
    .. [1] Aronow, P. M., Coppock, A., Crawford, F. W. and Green, D. P. (2015).
       "Combining List Experiment and Direct Question Estimates of Sensitive
       Behavior Prevalence." Journal of Survey Statistics and Methodology 3(1),
       43-66.
    .. [2] Blair, G., Chou, W., Imai, K., Park, B. and Coppock, A. (2023). list:
       Statistical Methods for the Item Count Technique and List Experiment. R
       package version 9.2.6, function `combinedListDirect`.
    .. [3] Blair, G., Coppock, A. and Moor, M. (2020). "When to Worry about
       Sensitivity Bias: A Social Reference Theory and Evidence from 30 Years of
       List Experiments." American Political Science Review 114(4), 1297-1315.
    """
    y, t, d, n_missing = _complete_cases(counts, treated, direct, J)
    n, n_treatment = y.size, int(np.count_nonzero(t))
    n_control = n - n_treatment
    notes = _sample_notes(n_treatment, n_control, n_missing)

    p = float(d.mean())
    direct_se = math.sqrt(d.var(ddof=1) / n)
    list_est, list_se = _difference_in_means(y, t)

    # The direct share and the list estimate come from the same respondents; writing
    # their difference as one difference in means carries their covariance.
    bias = p - list_est
    w_1, w_0 = n_treatment / n, n_control / n
    _, bias_se = _difference_in_means(np.where(t, w_1 * d - y, -w_0 * d - y), t)

    said_yes = d == 1
    combined, combined_note = _combined(y[~said_yes], t[~said_yes], p, t.mean(), n)
    if combined_note:
        notes.append(combined_note)

    return ListDirect(
        direct=_normal(p, direct_se),
        list_only=_normal(list_est, list_se),
        sensitivity_bias=_normal(bias, bias_se),
        sensitivity_bias_p_value=_two_sided_p(bias, bias_se),
        combined=combined,
        placebo_1=_placebo(
            y[said_yes],
            t[said_yes],
            null=1.0,
            cannot="among respondents who answered yes to the direct question",
        ),
        placebo_2=_placebo(d, t, null=0.0, cannot="on the direct answers"),
        n=n,
        n_treatment=n_treatment,
        n_control=n_control,
        n_direct_yes=int(np.count_nonzero(said_yes)),
        n_missing=n_missing,
        notes=tuple(notes),
    )


def _complete_cases(counts, treated, direct, J):
    """Validate the arrays and keep respondents with a count, an arm and an answer.

    Returns counts (float), treated (bool), direct (float 0/1) for the kept
    respondents and the number left out.
    """
    counts = np.asarray(counts, dtype=float)
    treated = _as_indicator(
        treated,
        "treated",
        "the arm: 1 (or True) for the treatment list, 0 for the control list",
    )
    direct = _as_indicator(direct, "direct", "the direct answer: 1 for yes, 0 for no")
    if (
        counts.ndim != 1
        or treated.shape != counts.shape
        or direct.shape != counts.shape
    ):
        raise ValueError(
            "counts, treated and direct must be one-dimensional and of the same "
            f"length; got shapes {counts.shape}, {treated.shape} and {direct.shape}."
        )
    if np.isinf(counts).any():
        raise ValueError("counts holds an infinite value; use NaN for a missing count.")

    kept = ~(np.isnan(counts) | np.isnan(treated) | np.isnan(direct))
    y, t, d = counts[kept], treated[kept] == 1, direct[kept]

    if J is not None:
        _check_range(y, t, J)

    return y, t, d, int(counts.size - np.count_nonzero(kept))


def _sample_notes(n_treatment, n_control, n_missing) -> list[str]:
    """Raise ValueError if an arm is too small; return notes on the sample."""
    sizes = {"treatment": n_treatment, "control": n_control}
    for arm, size in sizes.items():
        if size < MIN_ARM_SIZE:
            raise ValueError(
                f"The {arm} arm has {size} respondent(s) with a count, an arm and a "
                f"direct answer; each arm needs at least {MIN_ARM_SIZE}."
            )

    notes = []
    if n_missing:
        notes.append(
            f"{n_missing} respondent(s) left out because their count, arm or direct "
            "answer is missing."
        )
    small = [arm for arm, size in sizes.items() if size < SMALL_ARM_SIZE]
    if small:
        arms = " and ".join(small) + (" arms" if len(small) > 1 else " arm")
        notes.append(
            f"Fewer than {SMALL_ARM_SIZE} respondents in the {arms}; the standard "
            "errors are unreliable."
        )
    return notes


def _as_indicator(x, name, meaning) -> np.ndarray:
    """Return `x` as floats that are 0, 1 or NaN (missing), or raise ValueError."""
    try:
        x = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold {meaning}, or a missing value.") from None

    present = x[~np.isnan(x)]
    bad = present[(present != 0) & (present != 1)]
    if bad.size:
        raise ValueError(
            f"{name} must hold {meaning}, or a missing value; got {bad[0]:g}."
        )
    return x


def _check_range(y, t, J) -> None:
    """Raise ValueError unless every count is possible on its list with J items."""
    if isinstance(J, bool) or not float(J).is_integer() or J < 1:
        raise ValueError(
            f"J is the number of control items, a whole number >= 1; got {J}."
        )
    J = int(J)

    for arm, in_arm, top in (("control", ~t, J), ("treatment", t, J + 1)):
        arm_counts = y[in_arm]
        bad = (
            (arm_counts != np.round(arm_counts)) | (arm_counts < 0) | (arm_counts > top)
        )
        if bad.any():
            raise ValueError(
                f"A count of {arm_counts[bad][0]:g} in the {arm} arm is impossible "
                f"with J = {J}: counts there are whole numbers from 0 to {top}."
            )


def _difference_in_means(x, t) -> tuple[float, float] | tuple[None, None]:
    """Return the treatment-minus-control difference in means and its unpooled SE.

    (None, None) when an arm has fewer than `MIN_ARM_SIZE` respondents.
    """
    x_1, x_0 = x[t], x[~t]
    if x_1.size < MIN_ARM_SIZE or x_0.size < MIN_ARM_SIZE:
        return None, None

    estimate = float(x_1.mean() - x_0.mean())
    se = math.sqrt(x_1.var(ddof=1) / x_1.size + x_0.var(ddof=1) / x_0.size)
    return estimate, se


def _combined(y_no, t_no, p, gamma, n) -> tuple[Estimate, str | None]:
    """Return the combined estimate from the respondents who answered no directly.

    `p` is the direct share, `gamma` the share treated and `n` the respondents
    used, all over the whole sample, as the package's variance formula takes them.
    """
    missing = Estimate(None, None, None, None)
    if y_no.size == 0:
        return missing, (
            "Every respondent answered yes to the direct question, so there is no "
            "combined estimate: it runs the list experiment among those who said no."
        )

    b, _ = _difference_in_means(y_no, t_no)
    if b is None:
        return missing, (
            f"Fewer than {MIN_ARM_SIZE} respondents in an arm among those who "
            "answered no to the direct question; no combined estimate."
        )

    mu = p + (1 - p) * b
    v_1 = y_no[t_no].var(ddof=1)
    v_0 = y_no[~t_no].var(ddof=1)
    variance = (1 - mu) ** 2 / (1 - p) * p + (1 - p) * (v_1 / gamma + v_0 / (1 - gamma))
    return _normal(mu, math.sqrt(variance / n)), None


def _placebo(x, t, *, null, cannot) -> PlaceboTest:
    """Test a difference in means of `x` between the arms against `null`."""
    n = int(x.size)
    estimate, se = _difference_in_means(x, t)
    if estimate is None:
        return PlaceboTest(
            estimate=None,
            se=None,
            null=null,
            statistic=None,
            p_value=None,
            n=n,
            note=(
                f"Fewer than {MIN_ARM_SIZE} respondents in an arm {cannot}; the test "
                "cannot be run."
            ),
        )
    if se == 0:
        return PlaceboTest(
            estimate=estimate,
            se=se,
            null=null,
            statistic=None,
            p_value=None,
            n=n,
            note=f"No variation within the arms {cannot}; the test cannot be run.",
        )

    statistic = (estimate - null) / se
    return PlaceboTest(
        estimate=estimate,
        se=se,
        null=null,
        statistic=statistic,
        p_value=float(2 * stats.norm.sf(abs(statistic))),
        n=n,
    )


def _normal(estimate, se) -> Estimate:
    """Return `estimate` with its normal 95% interval; all None if either is None."""
    if estimate is None or se is None:
        return Estimate(None, None, None, None)
    return Estimate(
        estimate=float(estimate),
        se=float(se),
        ci_low=float(estimate - _Z * se),
        ci_high=float(estimate + _Z * se),
    )
