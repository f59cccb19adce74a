"""Blair and Imai's (2012) test for a design effect in a list experiment.

A design effect is present when adding the sensitive item changes how respondents
count the control items. Without one (and without liars), the two arms' count
distributions identify the share of each respondent type: pi(y, z) is the share whose
control count is y and who hold (z = 1) or do not hold (z = 0) the sensitive item.
Every such share must be nonnegative, so a clearly negative estimate is evidence of a
design effect. The test asks whether the estimates are further below zero than
sampling error allows, separately for z = 0 and z = 1, and combines the two p-values
with a Bonferroni correction.

For J <= 3 this is a port of `ict.test` in the R package `list` 9.2.6 and gives its
p-value. When four or more inequalities of one set are tested, which needs J >= 4,
the package's mixing weights are wrong, and this module uses the exact weights
instead (see `PACKAGE_MAX_MOMENTS` and docs/design-test.md).

Everything here is a pure function of its arrays: no Django, no I/O.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import integrate, stats

from analysis.estimators.arms import split_arms

MIN_ARM_SIZE = 2
"""Each arm needs at least this many respondents with a count.

With fewer there is no variance in an arm, and the one-sided Welch t-test the package
uses when a single inequality is left has no statistic.
"""

PACKAGE_MAX_MOMENTS = 3
"""The largest number of inequalities per set for which `ict.test`'s weights are right.

Up to three tested inequalities the package uses the closed-form mixing weights of
Kudo (1963), and this module gives the same p-value. With four it uses formulas that
give a negative weight and do not sum to 1; with five or more, a simulation that
changes from run to run, skips the projection of some draws and, after moment
selection, indexes its result by J instead of by the number of inequalities tested.
This module computes the weights exactly instead, so its p-value differs there.
"""


#: How the notes name the respondents of each set of inequalities.
_HOLD = {0: "do not hold", 1: "hold"}

#: Absolute error asked of the quasi-Monte Carlo orthant probabilities from six
#: dimensions on, and the seed that makes them reproducible.
_GENZ_ABSEPS = 1e-6
_GENZ_SEED = 20120101


@dataclass(frozen=True)
class DesignTest:
    """The result of the test for a design effect.

    Attributes
    ----------
    p_value : float
        The Bonferroni-corrected p-value the package reports: twice the smaller of
        the two sets' p-values (or twice the one set's, when only one was tested),
        capped at 1; 1 when no inequality was tested.
    rejected : bool
        True when `p_value` is below `alpha`: the counts show a design effect.
    alpha : float
        The level the p-value is compared with.
    gms : bool
        Whether generalized moment selection was used.
    proportions : list of dict
        The estimated share of each respondent type, as dicts with keys ``y`` (the
        control count, 0..J), ``z`` (1 holds the sensitive item, 0 does not),
        ``estimate`` and ``se``; first z = 1 for y = 0..J, then z = 0 for y = 0..J,
        as the package prints them. They are not rounded.
    p_values_by_z : dict of int to float or None
        The uncorrected p-value of each set of inequalities, keyed by z; None for a
        set in which no inequality was tested.
    tested : list of dict
        The inequalities that entered the test after moment selection, as dicts with
        keys ``y`` and ``z``.
    n_treatment, n_control : int
        Respondents with a count in each arm.
    note : str or None
        Plain sentences when the result needs a caveat.
    """

    p_value: float
    rejected: bool
    alpha: float
    gms: bool
    proportions: list[dict]
    p_values_by_z: dict[int, float | None]
    tested: list[dict]
    n_treatment: int
    n_control: int
    note: str | None = None

    def to_dict(self) -> dict:
        """Return the result as plain Python values, ready for JSON or a template.

        The keys of ``p_values_by_z`` become the strings "0" and "1", as JSON would
        make them anyway, so that a stored result reads back the same.
        """
        return {
            "p_value": float(self.p_value),
            "rejected": bool(self.rejected),
            "alpha": float(self.alpha),
            "gms": bool(self.gms),
            "proportions": [
                {
                    "y": int(row["y"]),
                    "z": int(row["z"]),
                    "estimate": float(row["estimate"]),
                    "se": float(row["se"]),
                }
                for row in self.proportions
            ],
            "p_values_by_z": {
                str(z): None if p is None else float(p)
                for z, p in sorted(self.p_values_by_z.items())
            },
            "tested": [{"y": int(row["y"]), "z": int(row["z"])} for row in self.tested],
            "n_treatment": int(self.n_treatment),
            "n_control": int(self.n_control),
            "note": self.note,
        }


@dataclass(frozen=True)
class _Inequalities:
    """One set of inequalities (one value of z) before moment selection.

    ``estimate[k]`` estimates pi(y[k], z); ``cdf_treatment[k]`` and ``cdf_control[k]``
    are the two arms' cumulative shares it is the difference of.
    """

    z: int
    y: np.ndarray
    estimate: np.ndarray
    cdf_treatment: np.ndarray
    cdf_control: np.ndarray


def design_effect_test(counts, treated, J, gms=True, alpha=0.05) -> DesignTest:
    """Test the null hypothesis of no design effect in a list experiment.

    Parameters
    ----------
    counts : array_like of float, shape (n,)
        The count each respondent reported: 0..J in the control arm, 0..J+1 in the
        treatment arm. NaN marks a missing count, and such respondents are left out.
    treated : array_like of bool or {0, 1}, shape (n,)
        True (1) for respondents shown the treatment list.
    J : int
        The number of items on the control list.
    gms : bool, default True
        Drop inequalities that are clearly slack before testing (generalized moment
        selection), as the package's ``gms = TRUE`` does. This raises the power.
    alpha : float, default 0.05
        The level for `DesignTest.rejected`. The p-value does not depend on it.

    Returns
    -------
    DesignTest
        The Bonferroni-corrected p-value, the estimated share of each respondent type
        with its standard error, and the p-value of each set of inequalities.

    Raises
    ------
    ValueError
        If the arrays are not one-dimensional and of the same length, `treated` holds
        anything but 0/1, `J` is not a positive whole number, a count is not a whole
        number in its arm's range, an arm has fewer than `MIN_ARM_SIZE` respondents
        with a count, or `alpha` is not strictly between 0 and 1.

    Notes
    -----
    Let F_t and F_c be the empirical distribution functions of the count in the
    treatment and control arms, with n_t and n_c respondents. Without a design effect,

        pi(y, 1) = F_c(y) - F_t(y),    pi(y, 0) = F_t(y) - F_c(y - 1),

    and the standard error of each is sqrt(F(1 - F) / n) summed over the two arms'
    terms. The null hypothesis is that all of them are nonnegative. pi(J, 1) and
    pi(0, 0) are nonnegative by construction, so each set z holds J inequalities:
    y = 0..J-1 for z = 1 and y = 1..J for z = 0. The two sets are tested separately.

    *Moment selection.* An inequality whose estimate is exactly zero is dropped. With
    ``gms=True`` an inequality is also dropped when sqrt(n) * pi / s > sqrt(log n),
    where n is the number of respondents and s is the sample standard deviation of
    the set's J estimates. This is the package's rule. Andrews and Soares (2010)
    divide by each moment's own standard deviation instead; the rule is kept as the
    package has it so that the p-values agree. With J = 1 the spread is undefined and
    no inequality is dropped for being slack (the package returns NA there).

    *One inequality left.* Its p-value is that of a one-sided Welch two-sample t-test
    of the two arms' indicators (count <= y against count <= y or y - 1), with the
    Welch-Satterthwaite degrees of freedom, as the package computes it with R's
    ``t.test``. This is a t distribution, not a normal one.

    *Two or more left.* The statistic is the distance from the estimates to the
    nonnegative orthant in the metric of their covariance V,

        lambda = min over pi >= 0 of (pi_hat - pi)' V^{-1} (pi_hat - pi),

    found exactly by trying every set of binding constraints. Under the least
    favourable null it follows a chi-bar-squared distribution, and the p-value is
    sum_k w_k P(chi2_k >= lambda), with w_k the probability that exactly k
    constraints bind (Kudo 1963; Shapiro 1985). The weights are sums of products of
    normal orthant probabilities; those are closed-form up to three dimensions,
    come from Plackett's (1954) one-dimensional integral reduction in four and five,
    and from Genz's (1992) quasi-Monte Carlo algorithm with a fixed seed (accurate
    to about 1e-6) in six or more (see `orthant_probability`). When no estimate is
    negative, lambda is 0 and the p-value is 1.

    For up to three tested inequalities per set these weights are exactly the
    package's closed forms, so for J <= 3 the result is the package's. With four or
    more they differ from the package, whose weights are wrong there: see
    `PACKAGE_MAX_MOMENTS` and docs/design-test.md.

    *Bonferroni.* The reported p-value is min(1, 2 * min(p_0, p_1)), or
    min(1, 2 * p) when only one set was tested, and 1 when neither was.

    *Degenerate counts*, where the package stops with an error or returns NA, are
    handled as follows: an inequality with a zero standard error is dropped when its
    estimate is positive and makes its set's p-value 0 when negative (every
    respondent in both arms sits on the same side of the cut-off, so there is no
    sampling error to allow for); two inequalities with the same pair of cumulative
    shares are the same inequality and are tested once.

    The package's ``ict.test`` takes no weights, so neither does this function. It
    handles one sensitive item; the package's loop over several treatment arms is
    not ported.

    References
    ----------
    .. [1] Blair, G. and Imai, K. (2012). "Statistical Analysis of List Experiments."
       Political Analysis 20(1), 47-77.
    .. [2] Blair, G., Chou, W., Imai, K., Park, B. and Coppock, A. R package `list`,
       version 9.2.6, function ``ict.test``.
    .. [3] Andrews, D. W. K. and Soares, G. (2010). "Inference for Parameters Defined
       by Moment Inequalities Using Generalized Moment Selection." Econometrica
       78(1), 119-157.
    .. [4] Kudo, A. (1963). "A Multivariate Analogue of the One-Sided Test."
       Biometrika 50(3/4), 403-418.
    .. [5] Shapiro, A. (1985). "Asymptotic Distribution of Test Statistics in the
       Analysis of Moment Structures under Inequality Constraints." Biometrika 72(1),
       133-144.
    .. [6] Plackett, R. L. (1954). "A Reduction Formula for Normal Multivariate
       Integrals." Biometrika 41(3/4), 351-360.
    .. [7] Genz, A. (1992). "Numerical Computation of Multivariate Normal
       Probabilities." Journal of Computational and Graphical Statistics 1(2),
       141-149.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1; got {alpha}.")
    control, treatment = _checked_arms(counts, treated, J)
    n_control, n_treatment = control.size, treatment.size
    n = n_control + n_treatment

    proportions = _proportions(control, treatment, J)
    sets = [_inequality_set(control, treatment, J, z) for z in (0, 1)]

    p_values, tested, notes = {}, [], []
    for ineq in sets:
        keep = _selected(ineq.estimate, n, gms)
        p, kept, note = _set_p_value(ineq, keep, n_treatment, n_control)
        p_values[ineq.z] = p
        tested += [{"y": int(y), "z": ineq.z} for y in ineq.y[kept]]
        if note:
            notes.append(note)

    done = [p for p in p_values.values() if p is not None]
    p_value = min(1.0, 2.0 * min(done)) if done else 1.0
    if not done:
        notes.append(
            "Every estimated proportion is zero or clearly positive, so no inequality "
            "was tested and the p-value is 1."
        )

    return DesignTest(
        p_value=p_value,
        rejected=p_value < alpha,
        alpha=float(alpha),
        gms=bool(gms),
        proportions=proportions,
        p_values_by_z=p_values,
        tested=sorted(tested, key=lambda row: (-row["z"], row["y"])),
        n_treatment=n_treatment,
        n_control=n_control,
        note=" ".join(notes) or None,
    )


def _checked_arms(counts, treated, J) -> tuple[np.ndarray, np.ndarray]:
    """Return the control and treatment counts, or raise a ValueError saying why."""
    control, treatment, _missing = split_arms(counts, treated, J)
    for name, arm in (("control", control), ("treatment", treatment)):
        if arm.size < MIN_ARM_SIZE:
            raise ValueError(
                f"The {name} arm has {arm.size} respondent(s) with a count; the test "
                f"needs at least {MIN_ARM_SIZE} in each arm."
            )
    return control, treatment


def _cdf(arm: np.ndarray, points) -> np.ndarray:
    """Return the share of `arm` at or below each of `points`."""
    points = np.asarray(points)
    return np.array([np.count_nonzero(arm <= p) / arm.size for p in points.ravel()])


def _inequality_set(control, treatment, J, z) -> _Inequalities:
    """Return the J inequalities of set z: pi(y, 1) for y < J, pi(y, 0) for y > 0."""
    if z == 1:
        y = np.arange(0, J)
        cdf_t, cdf_c = _cdf(treatment, y), _cdf(control, y)
        estimate = cdf_c - cdf_t
    else:
        y = np.arange(1, J + 1)
        cdf_t, cdf_c = _cdf(treatment, y), _cdf(control, y - 1)
        estimate = cdf_t - cdf_c
    return _Inequalities(z, y, estimate, cdf_t, cdf_c)


def _proportions(control, treatment, J) -> list[dict]:
    """Return pi(y, z) and its standard error for every y = 0..J, z = 1 then 0."""
    y = np.arange(0, J + 1)
    f_t = _cdf(treatment, y)
    f_c = _cdf(control, y)
    f_c_below = _cdf(control, y - 1)

    var_t = f_t * (1 - f_t) / treatment.size
    rows = []
    for z, estimate, f_c_used in ((1, f_c - f_t, f_c), (0, f_t - f_c_below, f_c_below)):
        se = np.sqrt(var_t + f_c_used * (1 - f_c_used) / control.size)
        rows += [
            {"y": int(y[k]), "z": z, "estimate": float(estimate[k]), "se": float(se[k])}
            for k in range(J + 1)
        ]
    return rows


def _selected(estimate: np.ndarray, n: int, gms: bool) -> np.ndarray:
    """Return a mask of the inequalities kept for testing.

    Follows the package: an exact zero is dropped, and with `gms` so is every
    estimate for which sqrt(n) * estimate / (sample SD of the set's estimates) exceeds
    sqrt(log n). A zero spread gives an infinite ratio, which drops positive estimates
    and keeps negative ones, as in R.
    """
    keep = estimate != 0
    if gms and estimate.size >= 2:
        # R's var() divides by J - 1, hence ddof=1.
        spread = float(np.std(estimate, ddof=1))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = math.sqrt(n) * estimate / spread
        keep &= ~(ratio > math.sqrt(math.log(n)))
    return keep


def _set_p_value(ineq: _Inequalities, keep, n_treatment, n_control):
    """Return (p-value or None, mask of inequalities tested, note or None) for a set."""
    cdf_t, cdf_c = ineq.cdf_treatment, ineq.cdf_control
    var_t = cdf_t * (1 - cdf_t) / n_treatment
    var_c = cdf_c * (1 - cdf_c) / n_control
    keep = keep.copy()

    # When every respondent of both arms is on the same side of its cut-off, the
    # estimate has no sampling error: positive cannot be a violation, negative is one.
    degenerate = keep & (var_t + var_c == 0)
    if (degenerate & (ineq.estimate < 0)).any():
        y = int(ineq.y[np.flatnonzero(degenerate & (ineq.estimate < 0))[0]])
        note = (
            f"The estimated share of respondents with a control count of {y} who "
            f"{_HOLD[ineq.z]} the sensitive item is negative without any sampling "
            "error: these counts cannot arise without a design effect."
        )
        return 0.0, keep, note
    keep &= ~degenerate

    # Two inequalities built from the same pair of cumulative shares are one.
    seen = set()
    for k in np.flatnonzero(keep):
        pair = (cdf_t[k], cdf_c[k])
        if pair in seen:
            keep[k] = False
        seen.add(pair)

    index = np.flatnonzero(keep)
    if index.size == 0:
        return None, keep, None
    if index.size == 1:
        k = index[0]
        p = _welch_less(ineq.estimate[k], cdf_t[k], n_treatment, cdf_c[k], n_control)
        return p, keep, None

    estimate = ineq.estimate[index]
    cov = _covariance(cdf_t[index], n_treatment) + _covariance(cdf_c[index], n_control)
    statistic = _distance_to_orthant(estimate, cov)
    if statistic <= 0.0:
        return 1.0, keep, None
    weights = chi_bar_squared_weights(cov)
    p = sum(weights[k] * stats.chi2.sf(statistic, k) for k in range(1, index.size + 1))

    note = None
    if index.size > PACKAGE_MAX_MOMENTS:
        note = (
            f"{index.size} inequalities were tested for respondents who "
            f"{_HOLD[ineq.z]} the sensitive item; with more than "
            f"{PACKAGE_MAX_MOMENTS} this p-value uses exact mixing weights and differs "
            "from R's list::ict.test (see docs/design-test.md)."
        )
    return float(min(1.0, max(0.0, p))), keep, note


def _welch_less(difference, share_a, n_a, share_b, n_b) -> float:
    """One-sided Welch t-test p-value that the difference of two shares is below 0.

    The two samples are 0/1 indicators with the given shares; their sample variances
    use n - 1, as R's ``t.test`` does.
    """
    # Sample variance n p (1 - p) / (n - 1), divided by n for the mean's variance.
    var_a = share_a * (1 - share_a) / (n_a - 1)
    var_b = share_b * (1 - share_b) / (n_b - 1)
    se = math.sqrt(var_a + var_b)
    df = (var_a + var_b) ** 2 / (var_a**2 / (n_a - 1) + var_b**2 / (n_b - 1))
    return float(stats.t.cdf(difference / se, df))


def _covariance(cdf: np.ndarray, n: int) -> np.ndarray:
    """Covariance of one arm's empirical distribution function at increasing points.

    Cov(F(a), F(b)) = F(a) (1 - F(b)) / n for a <= b.
    """
    low = np.minimum.outer(cdf, cdf)
    high = np.maximum.outer(cdf, cdf)
    return low * (1 - high) / n


def _distance_to_orthant(estimate: np.ndarray, cov: np.ndarray) -> float:
    """Return min over pi >= 0 of (estimate - pi)' cov^{-1} (estimate - pi).

    The minimiser lies on the face of the orthant where some set A of coordinates
    is zero and the rest are free. On that face the minimum is
    estimate_A' cov_AA^{-1} estimate_A, reached at
    pi_F = estimate_F - cov_FA cov_AA^{-1} estimate_A; the answer is the smallest
    such value over the faces where that point is nonnegative. Trying all 2^m faces
    is exact and cheap for the m <= J + 1 inequalities of a list experiment.
    """
    if (estimate >= 0).all():
        return 0.0

    m = estimate.size
    best = math.inf
    tolerance = 1e-12 * max(1.0, float(np.abs(estimate).max()))
    for size in range(1, m + 1):
        for active in itertools.combinations(range(m), size):
            a = list(active)
            f = [k for k in range(m) if k not in active]
            solved = np.linalg.solve(cov[np.ix_(a, a)], estimate[a])
            value = float(estimate[a] @ solved)
            if value >= best:
                continue
            free = estimate[f] - cov[np.ix_(f, a)] @ solved
            if (free >= -tolerance).all():
                best = value
    return best


def chi_bar_squared_weights(cov) -> np.ndarray:
    """Return the chi-bar-squared mixing weights for the nonnegative orthant.

    Parameters
    ----------
    cov : array_like, shape (m, m)
        Positive definite covariance of the estimates.

    Returns
    -------
    numpy.ndarray, shape (m + 1,)
        ``w[k]`` is the probability that exactly k of the m constraints bind when
        the projection of an N(0, cov) draw onto the orthant is taken in the metric
        of cov^{-1}; the distance statistic is then chi-squared with k degrees of
        freedom.

    Notes
    -----
    w_k is the sum over sets A of k coordinates of P_A(cov_AA^{-1}) times
    P_F(cov_FF.A), where F is the complement of A, cov_FF.A is the conditional
    covariance of the F coordinates given the A ones, and P(S) is the probability
    that an N(0, S) vector is positive in every coordinate (Shapiro 1985;
    Silvapulle and Sen 2005, section 3.6). For m = 2 and 3 this is term for term the
    closed form of Kudo (1963) that ``ict.test`` uses. The weights sum to 1, and
    those of even and of odd k each sum to 1/2.

    References
    ----------
    .. [1] Kudo, A. (1963). "A Multivariate Analogue of the One-Sided Test."
       Biometrika 50(3/4), 403-418.
    .. [2] Shapiro, A. (1985). "Asymptotic Distribution of Test Statistics in the
       Analysis of Moment Structures under Inequality Constraints." Biometrika 72(1),
       133-144.
    .. [3] Silvapulle, M. J. and Sen, P. K. (2005). Constrained Statistical
       Inference. Wiley.
    """
    cov = np.asarray(cov, dtype=float)
    m = cov.shape[0]
    weights = np.zeros(m + 1)
    for size in range(m + 1):
        for active in itertools.combinations(range(m), size):
            a = list(active)
            f = [k for k in range(m) if k not in active]
            if a:
                bound = orthant_probability(np.linalg.inv(cov[np.ix_(a, a)]))
                conditional = cov[np.ix_(f, f)] - cov[np.ix_(f, a)] @ np.linalg.solve(
                    cov[np.ix_(a, a)], cov[np.ix_(a, f)]
                )
            else:
                bound, conditional = 1.0, cov
            weights[size] += bound * orthant_probability(conditional)
    return np.clip(weights, 0.0, 1.0)


def orthant_probability(cov) -> float:
    """Return the probability that an N(0, cov) vector is positive in every coordinate.

    Parameters
    ----------
    cov : array_like, shape (d, d)
        Positive definite covariance; only its correlations matter.

    Returns
    -------
    float
        The orthant probability; 1 for d = 0.

    Notes
    -----
    Closed form for d <= 3: 1/2, 1/4 + asin(r)/(2 pi), and
    1/8 + (asin r12 + asin r13 + asin r23)/(4 pi). For d >= 4, Plackett's (1954)
    reduction: along R(t) = (1 - t) I + t R the derivative of the probability with
    respect to r_ij is the bivariate normal density at the origin times the
    (d - 2)-dimensional orthant probability of the other coordinates given
    x_i = x_j = 0, so

        P(R) = 2^{-d} + int_0^1 sum_{i<j} r_ij phi_2(0, 0; t r_ij) P(R(t)_{-ij.ij}) dt,

    integrated adaptively to about 1e-10; for d = 4 and 5 the inner probability is
    closed-form. From d = 6 the integrals would nest and take seconds each, so Genz's
    quasi-Monte Carlo algorithm (``scipy.stats.multivariate_normal.cdf``) is used
    with a fixed seed, accurate to about 1e-6. Six or more tested inequalities in
    one set need J >= 6.

    References
    ----------
    .. [1] Plackett, R. L. (1954). "A Reduction Formula for Normal Multivariate
       Integrals." Biometrika 41(3/4), 351-360.
    .. [2] Genz, A. (1992). "Numerical Computation of Multivariate Normal
       Probabilities." Journal of Computational and Graphical Statistics 1(2),
       141-149.
    """
    cov = np.asarray(cov, dtype=float)
    d = cov.shape[0]
    if d == 0:
        return 1.0
    scale = np.sqrt(np.diag(cov))
    corr = cov / np.outer(scale, scale)
    if d == 1:
        return 0.5
    if d == 2:
        return 0.25 + math.asin(_clipped(corr[0, 1])) / (2 * math.pi)
    if d == 3:
        total = sum(
            math.asin(_clipped(corr[i, j])) for i, j in ((0, 1), (0, 2), (1, 2))
        )
        return 0.125 + total / (4 * math.pi)
    if d <= 5:
        return _plackett(corr)
    value = stats.multivariate_normal.cdf(
        np.zeros(d),
        mean=np.zeros(d),
        cov=corr,
        abseps=_GENZ_ABSEPS,
        releps=0.0,
        maxpts=1_000_000 * d,
        rng=_GENZ_SEED,
    )
    return float(min(1.0, max(0.0, value)))


def _plackett(corr: np.ndarray) -> float:
    """Orthant probability of a d >= 4 correlation matrix by Plackett's reduction."""
    d = corr.shape[0]
    pairs = [(i, j) for i, j in itertools.combinations(range(d), 2) if corr[i, j] != 0]

    def slope(t):
        current = t * corr
        np.fill_diagonal(current, 1.0)
        total = 0.0
        for i, j in pairs:
            r = current[i, j]
            rest = [k for k in range(d) if k != i and k != j]
            given = current[np.ix_(rest, [i, j])]
            conditional = current[np.ix_(rest, rest)] - given @ np.linalg.solve(
                current[np.ix_([i, j], [i, j])], given.T
            )
            density = 1.0 / (2 * math.pi * math.sqrt(1 - r * r))
            total += corr[i, j] * density * orthant_probability(conditional)
        return total

    integral, _error = integrate.quad(
        slope, 0.0, 1.0, epsabs=1e-12, epsrel=1e-10, limit=200
    )
    return float(min(1.0, max(0.0, 2.0**-d + integral)))


def _clipped(r: float) -> float:
    """Return a correlation clipped to [-1, 1] against rounding."""
    return min(1.0, max(-1.0, float(r)))
