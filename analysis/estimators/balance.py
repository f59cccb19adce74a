"""Balance of covariates across arms: did randomization give comparable arms?

Random assignment makes the arms alike in expectation, not in every sample, and a
fault in fieldwork (a tablet that always showed one card, a stratum allocated by
hand) or nonresponse that differs by arm can make the arms compared by the
estimates different in who they hold. This module describes each covariate by arm
with a test of no difference, tests all covariates together with one likelihood-ratio
test of arm on the covariates, and compares the refusal and don't-know rates of the
arms.

A p-value here is a screen, not a verdict: with many covariates one in twenty is
below 0.05 by chance, which is why the joint test is the one to read first.

Everything here is a pure function of its arrays: no Django, no I/O.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg, stats
from scipy.special import logsumexp

from analysis.estimators.normal import plain_float as _plain_float

#: Below this p-value a test is reported as a sign of imbalance.
ALPHA = 0.05

#: A chi-square test is trusted when every expected count is at least this.
MIN_EXPECTED = 5

#: Newton's method stops when the log-likelihood gains less than this, relative.
TOLERANCE = 1e-12
MAX_ITERATIONS = 100

#: A fitted probability this close to 0 or 1 means the data separate the arms.
SEPARATION = 1e-8


@dataclass(frozen=True)
class Test:
    """A test of no difference between the arms.

    Attributes
    ----------
    method : str
        "chi-square", "Fisher", "Welch" (Welch's one-way analysis of variance, the
        Welch t-test when there are two arms) or "likelihood ratio".
    statistic : float or None
        The test statistic: Pearson's X^2, Welch's F, the likelihood-ratio
        statistic; for Fisher's exact test the sample odds ratio.
    df, df2 : float or None
        Degrees of freedom; `df2` is the denominator's for Welch's F.
    p_value : float or None
        None when the test cannot be run; `note` says why.
    note : str or None
        A plain sentence for a caveat or the reason there is no test.
    """

    method: str
    statistic: float | None = None
    df: float | None = None
    df2: float | None = None
    p_value: float | None = None
    note: str | None = None

    @property
    def small(self) -> bool:
        return bool(self.p_value is not None and self.p_value < ALPHA)

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "statistic": _plain_float(self.statistic),
            "df": _plain_float(self.df),
            "df2": _plain_float(self.df2),
            "p_value": _plain_float(self.p_value),
            "small": self.small,
            "note": self.note,
        }


@dataclass(frozen=True)
class CodedBalance:
    """A coded covariate's levels by arm.

    Attributes
    ----------
    name : str
    arms : list of str
        The arms, in the order of the columns of `counts`.
    levels : list of str
        The levels present, in natural order.
    counts : list of list of int
        Respondents by level (rows) and arm (columns).
    n_missing : int
        Respondents without a level.
    test : Test
        Pearson's chi-square test of independence of level and arm.
    """

    name: str
    arms: list[str]
    levels: list[str]
    counts: list[list[int]]
    n_missing: int
    test: Test

    def to_dict(self) -> dict:
        totals = [sum(row[k] for row in self.counts) for k in range(len(self.arms))]
        levels = []
        for level, row in zip(self.levels, self.counts):
            levels.append(
                {
                    "level": level,
                    "arms": [
                        {
                            "arm": arm,
                            "n": int(count),
                            "share": count / total if total else None,
                        }
                        for arm, count, total in zip(self.arms, row, totals)
                    ],
                }
            )
        return {
            "name": self.name,
            "kind": "coded",
            "n": int(sum(totals)),
            "n_missing": int(self.n_missing),
            "arms": [{"arm": a, "n": int(t)} for a, t in zip(self.arms, totals)],
            "levels": levels,
            "test": self.test.to_dict(),
        }


@dataclass(frozen=True)
class ArmSummary:
    arm: str
    n: int
    mean: float | None
    sd: float | None

    def to_dict(self) -> dict:
        return {
            "arm": self.arm,
            "n": int(self.n),
            "mean": _plain_float(self.mean),
            "sd": _plain_float(self.sd),
        }


@dataclass(frozen=True)
class MeanDifference:
    """An arm's mean minus the first arm's, with Welch's t-test.

    `std_difference` is the difference over sqrt((sd^2 + sd_first^2) / 2), the
    standardized difference balance tables usually show; 0.1 or more in absolute
    value is commonly read as a visible imbalance.
    """

    arm: str
    versus: str
    difference: float | None
    se: float | None
    std_difference: float | None
    statistic: float | None
    df: float | None
    p_value: float | None

    def to_dict(self) -> dict:
        return {
            "arm": self.arm,
            "versus": self.versus,
            "difference": _plain_float(self.difference),
            "se": _plain_float(self.se),
            "std_difference": _plain_float(self.std_difference),
            "statistic": _plain_float(self.statistic),
            "df": _plain_float(self.df),
            "p_value": _plain_float(self.p_value),
            "small": bool(self.p_value is not None and self.p_value < ALPHA),
        }


@dataclass(frozen=True)
class NumericBalance:
    """A numeric covariate's mean and SD by arm, each arm against the first."""

    name: str
    arms: list[ArmSummary]
    differences: list[MeanDifference]
    n_missing: int
    test: Test

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": "numeric",
            "n": int(sum(arm.n for arm in self.arms)),
            "n_missing": int(self.n_missing),
            "arms": [arm.to_dict() for arm in self.arms],
            "differences": [d.to_dict() for d in self.differences],
            "test": self.test.to_dict(),
        }


@dataclass(frozen=True)
class JointTest:
    """The likelihood-ratio test of arm on every covariate at once.

    Attributes
    ----------
    test : Test
        The statistic 2 (l_full - l_null), chi-square with `test.df` degrees of
        freedom.
    model : str
        "logistic" for two arms, "multinomial logit" for more.
    log_likelihood, log_likelihood_null : float or None
        Maximized log-likelihoods of the model with the covariates and of the model
        with the strata only (or the intercept only).
    n, n_missing : int
        Respondents used (every covariate, the arm and any stratum present) and
        left out.
    strata : bool
        Whether both models have stratum fixed effects.
    dropped : list of str
        Covariate columns left out because the strata or other columns already
        determine them; they add no degrees of freedom.
    """

    test: Test
    model: str
    log_likelihood: float | None
    log_likelihood_null: float | None
    n: int
    n_missing: int
    strata: bool
    dropped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            **self.test.to_dict(),
            "model": self.model,
            "log_likelihood": _plain_float(self.log_likelihood),
            "log_likelihood_null": _plain_float(self.log_likelihood_null),
            "n": int(self.n),
            "n_missing": int(self.n_missing),
            "strata": bool(self.strata),
            "dropped": list(self.dropped),
        }


@dataclass(frozen=True)
class Nonresponse:
    """Respondents by arm and status, the nonresponse rates and a test.

    Attributes
    ----------
    arms, statuses : list of str
        Rows and columns of `counts`; the first status is the complete one.
    counts : list of list of int
    test : Test
        Of independence of status and arm.
    """

    arms: list[str]
    statuses: list[str]
    counts: list[list[int]]
    test: Test

    def to_dict(self) -> dict:
        rows = []
        for arm, row in zip(self.arms, self.counts):
            total = sum(row)
            rows.append(
                {
                    "arm": arm,
                    "n": int(total),
                    "counts": dict(zip(self.statuses, (int(c) for c in row))),
                    "rates": {
                        status: (count / total if total else None)
                        for status, count in zip(self.statuses[1:], row[1:])
                    },
                    "nonresponse": (1 - row[0] / total) if total else None,
                }
            )
        return {"statuses": list(self.statuses), "arms": rows, **self.test.to_dict()}


@dataclass(frozen=True)
class Balance:
    """Every covariate by arm, the joint test and nonresponse by arm."""

    arms: list[str]
    covariates: list[CodedBalance | NumericBalance]
    joint: JointTest | None
    nonresponse: Nonresponse | None

    @property
    def imbalanced(self) -> bool:
        """True when the joint test or the nonresponse test has a small p-value."""
        return any(
            part is not None and part.test.small
            for part in (self.joint, self.nonresponse)
        )

    def to_dict(self) -> dict:
        return {
            "arms": list(self.arms),
            "alpha": ALPHA,
            "covariates": [c.to_dict() for c in self.covariates],
            "joint": None if self.joint is None else self.joint.to_dict(),
            "nonresponse": None
            if self.nonresponse is None
            else self.nonresponse.to_dict(),
            "imbalanced": self.imbalanced,
        }


def covariate_balance(
    columns: Mapping[str, Sequence],
    arms,
    *,
    coded: Collection[str] = (),
    arm_names: Sequence[str] | None = None,
    strata=None,
    statuses: Mapping[str, Mapping[str, int]] | None = None,
) -> Balance:
    """Describe and test the balance of covariates across arms.

    Parameters
    ----------
    columns : mapping of str to array_like, each of shape (n,)
        The covariates, in the order to report them. A coded covariate holds text
        (None where missing); a numeric one holds numbers (NaN where missing).
    arms : array_like of str, shape (n,)
        Each respondent's arm.
    coded : collection of str
        The names in `columns` that are coded; the others are numeric.
    arm_names : sequence of str, optional
        The arms in the order to report them, the control arm first; every arm in
        `arms` must be one of them. By default the arms present, "control" first.
    strata : array_like of str, shape (n,), optional
        The stratum within which each respondent was randomized; the joint test
        then compares models with stratum fixed effects.
    statuses : mapping of arm to mapping of status to int, optional
        Respondents by arm and status, the complete status first (for instance
        complete, refused, don't know); gives the nonresponse comparison.

    Returns
    -------
    Balance

    Raises
    ------
    ValueError
        For arrays of different lengths, an arm missing or not in `arm_names`, or a
        numeric covariate that does not hold numbers.

    Notes
    -----
    The joint test is described in `joint_balance_test`, the nonresponse test in
    `nonresponse_by_arm`. Each covariate's own table uses every respondent with a
    value for it; the joint test uses only respondents with every covariate (and
    their stratum) present, and reports how many it left out.
    """
    labels = np.asarray(arms, dtype=object)
    if labels.ndim != 1:
        raise ValueError(f"arms must be one-dimensional; got shape {labels.shape}.")
    if any(label is None for label in labels):
        raise ValueError("A respondent has no arm; balance needs every arm.")
    labels = labels.astype(str)
    names = _arm_names(labels, arm_names)

    checked = {}
    for name, values in columns.items():
        values = np.asarray(values, dtype=object if name in coded else float)
        if values.shape != labels.shape:
            raise ValueError(
                f"{name} has {values.size} values but there are {labels.size} arms."
            )
        checked[name] = values

    covariates = [
        coded_balance(values, labels, names, name=name)
        if name in coded
        else numeric_balance(values, labels, names, name=name)
        for name, values in checked.items()
    ]
    joint = (
        joint_balance_test(checked, labels, coded=coded, arm_names=names, strata=strata)
        if checked
        else None
    )
    nonresponse = (
        None if statuses is None else nonresponse_by_arm(statuses, arm_names=names)
    )
    return Balance(names, covariates, joint, nonresponse)


def coded_balance(values, arms, arm_names, *, name: str = "") -> CodedBalance:
    """Levels of a coded covariate by arm, with Pearson's chi-square test.

    The test is the usual one of independence on the level-by-arm table, without a
    continuity correction (R's ``chisq.test(correct = FALSE)``); levels and arms
    without respondents are left out of it. A note says when an expected count is
    below `MIN_EXPECTED`, where the chi-square approximation is rough.
    """
    values = np.asarray(values, dtype=object)
    present = np.array([v is not None and v == v for v in values], dtype=bool)
    texts = np.array([str(v) for v in values[present]], dtype=object)
    levels = _natural([str(v) for v in np.unique(texts)]) if texts.size else []
    in_arms = arms[present]
    counts = [
        [
            int(np.count_nonzero((texts == level) & (in_arms == arm)))
            for arm in arm_names
        ]
        for level in levels
    ]
    test = _independence_test(
        np.array(counts, dtype=int).reshape(len(levels), len(arm_names))
    )
    return CodedBalance(
        name=name,
        arms=list(arm_names),
        levels=levels,
        counts=counts,
        n_missing=int(values.size - np.count_nonzero(present)),
        test=test,
    )


def numeric_balance(values, arms, arm_names, *, name: str = "") -> NumericBalance:
    """Mean and SD of a numeric covariate by arm, with Welch's tests.

    Each arm after the first is compared with the first by Welch's t-test (unequal
    variances, Welch-Satterthwaite degrees of freedom), as R's ``t.test`` does by
    default. The covariate's own test is Welch's one-way analysis of variance over
    every arm with at least two values (R's ``oneway.test(var.equal = FALSE)``),
    which with two arms is the Welch t-test: F = t^2 on (1, df).
    """
    values = np.asarray(values, dtype=float)
    present = ~np.isnan(values)
    summaries = []
    for arm in arm_names:
        x = values[present & (arms == arm)]
        summaries.append(
            ArmSummary(
                arm=arm,
                n=int(x.size),
                mean=float(x.mean()) if x.size else None,
                sd=float(x.std(ddof=1)) if x.size >= 2 else None,
            )
        )

    first = summaries[0]
    differences = [_welch_t(summary, first) for summary in summaries[1:]]
    return NumericBalance(
        name=name,
        arms=summaries,
        differences=differences,
        n_missing=int(values.size - np.count_nonzero(present)),
        test=_welch_anova(summaries),
    )


def joint_balance_test(
    columns: Mapping[str, Sequence],
    arms,
    *,
    coded: Collection[str] = (),
    arm_names: Sequence[str] | None = None,
    strata=None,
) -> JointTest:
    """Test all covariates together: does anything in them predict the arm?

    Parameters
    ----------
    columns, coded, arm_names, strata
        As for `covariate_balance`.
    arms : array_like of str, shape (n,)

    Returns
    -------
    JointTest

    Notes
    -----
    The arm is regressed on the covariates, a coded covariate entering as one
    indicator per level but its first, a numeric one as it is. With two arms the
    model is a logistic regression of the second arm against the first; with more
    it is a multinomial logit with the first arm (the control arm) as the base, so
    that one test covers every arm at once rather than one test per item arm,
    which would need a correction for multiple testing. With two arms the
    multinomial logit is the logistic regression, so one fitting routine serves
    both.

    Under random assignment nothing but the strata predicts the arm. The model with
    the covariates is compared with the model without them by the likelihood-ratio
    statistic 2 (l_full - l_null), referred to a chi-square distribution with
    (arms - 1) times (covariate columns) degrees of freedom. When `strata` are
    given both models have an indicator per stratum (stratum fixed effects), since
    randomization within strata may give each stratum its own arm shares;
    otherwise the null model has the intercept only.

    Respondents missing any covariate, or their stratum, are left out of both fits
    (list-wise deletion), and `n_missing` counts them. A column that the strata and
    the earlier columns already determine (a level present in one stratum only, a
    covariate constant in the sample) is dropped and named in `dropped`, as R's
    ``glm`` gives it an NA coefficient; it adds no degrees of freedom.

    Both models are fitted by Newton's method with step halving, from the arms'
    overall shares, until the log-likelihood gains less than `TOLERANCE` relative.
    When a covariate level or a stratum holds a single arm the fitted
    probabilities go to 0 or 1 and the estimates diverge (separation); the
    log-likelihood still converges, and a note says the test is approximate.
    """
    labels = np.asarray(arms, dtype=object).astype(str)
    names = _arm_names(labels, arm_names)
    n_all = labels.size

    keep = np.ones(n_all, dtype=bool)
    prepared = {}
    for name, values in columns.items():
        if name in coded:
            values = np.asarray(values, dtype=object)
            ok = np.array([v is not None and v == v for v in values], dtype=bool)
            values = np.array([str(v) for v in values], dtype=object)
        else:
            values = np.asarray(values, dtype=float)
            ok = ~np.isnan(values)
        keep &= ok
        prepared[name] = values
    if strata is not None:
        strata = np.asarray(strata, dtype=object)
        keep &= np.array([s is not None for s in strata], dtype=bool)

    n = int(np.count_nonzero(keep))
    labels = labels[keep]
    present = [arm for arm in names if np.any(labels == arm)]
    model = "logistic" if len(present) <= 2 else "multinomial logit"

    def without(note: str) -> JointTest:
        return JointTest(
            test=Test("likelihood ratio", note=note),
            model=model,
            log_likelihood=None,
            log_likelihood_null=None,
            n=n,
            n_missing=n_all - n,
            strata=strata is not None,
        )

    if len(present) < 2:
        return without(
            "Fewer than two arms have respondents with every covariate; no joint test."
        )

    base = [np.ones(n)]
    base_names = ["(intercept)"]
    if strata is not None:
        kept = np.array([str(s) for s in strata[keep]], dtype=object)
        for level in _natural([str(v) for v in np.unique(kept)])[1:]:
            base.append((kept == level).astype(float))
            base_names.append(f"stratum={level}")

    extra, extra_names = [], []
    for name, values in prepared.items():
        values = values[keep]
        if name in coded:
            for level in _natural([str(v) for v in np.unique(values)])[1:]:
                extra.append((values == level).astype(float))
                extra_names.append(f"{name}={level}")
        else:
            spread = values.std()
            centred = values - values.mean()
            extra.append(centred / spread if spread > 0 else centred)
            extra_names.append(name)

    x = np.column_stack(base + extra)
    null_columns = _independent_columns(x, range(len(base)))
    full_columns = _independent_columns(x, range(x.shape[1]), start=null_columns)
    dropped = [
        extra_names[j - len(base)]
        for j in range(len(base), x.shape[1])
        if j not in full_columns
    ]

    y = np.array([present.index(label) for label in labels], dtype=np.intp)
    df = (len(present) - 1) * (len(full_columns) - len(null_columns))
    if df == 0:
        result = without(
            "The covariates add nothing the strata do not already determine; no joint "
            "test."
        )
        return dataclasses.replace(result, dropped=dropped)

    null_fit = multinomial_logit(x[:, null_columns], y, len(present))
    full_fit = multinomial_logit(x[:, full_columns], y, len(present))
    statistic = max(0.0, 2 * (full_fit.log_likelihood - null_fit.log_likelihood))

    notes = []
    if len(present) < len(names):
        missing = [arm for arm in names if arm not in present]
        notes.append(
            f"No respondent in the {', '.join(missing)} arm(s) has every covariate; "
            "the test compares the other arms."
        )
    if full_fit.separated or null_fit.separated:
        notes.append(
            "Some fitted probabilities are 0 or 1: a covariate level or a stratum "
            "holds a single arm, so the test is approximate."
        )
    if not (full_fit.converged and null_fit.converged):
        notes.append("The model fit did not converge; the test is unreliable.")
    if dropped:
        notes.append(
            f"Left out of the model as already determined: {', '.join(dropped)}."
        )

    return JointTest(
        test=Test(
            "likelihood ratio",
            statistic=statistic,
            df=df,
            p_value=float(stats.chi2.sf(statistic, df)),
            note=" ".join(notes) or None,
        ),
        model=model,
        log_likelihood=full_fit.log_likelihood,
        log_likelihood_null=null_fit.log_likelihood,
        n=n,
        n_missing=n_all - n,
        strata=strata is not None,
        dropped=dropped,
    )


@dataclass(frozen=True)
class LogitFit:
    """A fitted multinomial logit (a logistic regression with two categories).

    `coef` has one column per category after the first (the base).
    """

    coef: np.ndarray
    log_likelihood: float
    iterations: int
    converged: bool
    separated: bool


def multinomial_logit(x, y, n_categories: int) -> LogitFit:
    """Fit a multinomial logit of category `y` on the columns of `x` by Newton's method.

    Parameters
    ----------
    x : ndarray, shape (n, p)
        The design, intercept included; its columns must be linearly independent.
    y : ndarray of int, shape (n,)
        Each respondent's category, 0 to `n_categories` - 1; 0 is the base.
    n_categories : int

    Returns
    -------
    LogitFit

    Notes
    -----
    With eta_ik = x_i' b_k for k >= 1 and eta_i0 = 0, the log-likelihood is
    sum_i [eta_{i,y_i} - log sum_k exp(eta_ik)]. Its gradient in b_k is
    X' (1[y = k] - p_k) and its Hessian block (j, k) is -X' diag(p_j (1[j = k] -
    p_k)) X, which is negative definite for independent columns, so each Newton
    step solves one symmetric system. A step that lowers the log-likelihood is
    halved until it does not. Starting values are the log odds of each category's
    overall share against the base's, on the intercept (the first column), which
    is the maximum when no other column matters.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=np.intp)
    n, p = x.shape
    k = n_categories - 1
    indicator = np.zeros((n, n_categories))
    indicator[np.arange(n), y] = 1.0

    coef = np.zeros((p, k))
    shares = np.maximum(indicator.mean(axis=0), 0.5 / n)
    coef[0] = np.log(shares[1:] / shares[0])

    def log_likelihood(b):
        eta = np.column_stack([np.zeros(n), x @ b])
        return float(np.sum(eta[np.arange(n), y]) - np.sum(logsumexp(eta, axis=1)))

    def probabilities(b):
        eta = np.column_stack([np.zeros(n), x @ b])
        return np.exp(eta - logsumexp(eta, axis=1, keepdims=True))

    current = log_likelihood(coef)
    converged = False
    iterations = 0
    while iterations < MAX_ITERATIONS:
        iterations += 1
        prob = probabilities(coef)
        gradient = (x.T @ (indicator[:, 1:] - prob[:, 1:])).T.reshape(-1)
        information = np.empty((p * k, p * k))
        for a in range(k):
            for b in range(a, k):
                w = prob[:, a + 1] * ((a == b) - prob[:, b + 1])
                block = x.T @ (w[:, None] * x)
                information[a * p : (a + 1) * p, b * p : (b + 1) * p] = block
                information[b * p : (b + 1) * p, a * p : (a + 1) * p] = block.T
        try:
            step = linalg.solve(information, gradient, assume_a="sym")
        except (linalg.LinAlgError, ValueError):
            step = linalg.lstsq(information, gradient)[0]
        step = step.reshape(k, p).T

        scale = 1.0
        value = log_likelihood(coef + step)
        while value < current and scale > 1e-10:
            scale /= 2
            value = log_likelihood(coef + scale * step)
        if value < current:
            # No step along Newton's direction gains: the maximum, to rounding.
            converged = True
            break
        gain = value - current
        coef, current = coef + scale * step, value
        if gain <= TOLERANCE * (abs(current) + 1):
            converged = True
            break

    prob = probabilities(coef)
    separated = bool(np.any(prob[np.arange(n), y] > 1 - SEPARATION))
    return LogitFit(
        coef=coef,
        log_likelihood=current,
        iterations=iterations,
        converged=converged,
        separated=separated,
    )


def nonresponse_by_arm(
    statuses: Mapping[str, Mapping[str, int]],
    *,
    arm_names: Sequence[str] | None = None,
    complete: str = "complete",
) -> Nonresponse:
    """Refusal, don't-know and other nonresponse rates by arm, with a test.

    Parameters
    ----------
    statuses : mapping of arm to mapping of status to int
        Respondents by arm and status. Every status named in any arm is a column;
        `complete` is the one that gave a count.
    arm_names : sequence of str, optional
        The arms in order; by default those in `statuses`.
    complete : str
        The status of a response with a count.

    Returns
    -------
    Nonresponse

    Notes
    -----
    The test is Pearson's chi-square test of independence on the arm-by-status
    table, statuses and arms without respondents left out. When an expected count
    is below `MIN_EXPECTED` and the table is 2 x 2 (two arms, complete or not),
    Fisher's exact test is used instead (two-sided, as R's ``fisher.test``); for a
    larger table the chi-square p-value is kept with a note that it is rough.
    Nonresponse that differs by arm matters more than the level of nonresponse: the
    treatment list is longer and holds the sensitive item, and if it makes more
    people refuse, the arms compared by the estimate are no longer alike.
    """
    arms = list(arm_names) if arm_names is not None else list(statuses)
    columns = [complete]
    for arm in arms:
        for status in statuses.get(arm, {}):
            if status not in columns:
                columns.append(status)
    counts = [
        [int(statuses.get(arm, {}).get(status, 0)) for status in columns]
        for arm in arms
    ]
    table = np.array(counts, dtype=int).reshape(len(arms), len(columns))
    rows = table.sum(axis=1) > 0
    if np.count_nonzero(rows) >= 2 and not table[rows][:, 1:].any():
        test = Test(
            "chi-square",
            note="Every respondent in these arms gave a count; nothing to test.",
        )
    else:
        test = _independence_test(table, exact_2x2=True)
    return Nonresponse(arms=arms, statuses=columns, counts=counts, test=test)


def _independence_test(table: np.ndarray, exact_2x2: bool = False) -> Test:
    """Pearson's chi-square test of a contingency table, empty rows and columns out."""
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.ndim != 2 or min(table.shape) < 2:
        return Test(
            "chi-square",
            note="Only one level or one arm has respondents; nothing to test.",
        )

    statistic, p_value, df, expected = stats.chi2_contingency(table, correction=False)
    if expected.min() >= MIN_EXPECTED:
        return Test("chi-square", statistic=statistic, df=df, p_value=p_value)
    if exact_2x2 and table.shape == (2, 2):
        odds, p_exact = stats.fisher_exact(table)
        return Test(
            "Fisher",
            statistic=odds,
            p_value=p_exact,
            note=f"An expected count is below {MIN_EXPECTED}, so the test is exact.",
        )
    return Test(
        "chi-square",
        statistic=statistic,
        df=df,
        p_value=p_value,
        note=(
            f"An expected count is below {MIN_EXPECTED}; the chi-square p-value is "
            "rough."
        ),
    )


def _welch_t(arm: ArmSummary, first: ArmSummary) -> MeanDifference:
    """Welch's t-test of `arm`'s mean against `first`'s."""
    missing = MeanDifference(arm.arm, first.arm, None, None, None, None, None, None)
    if arm.sd is None or first.sd is None:
        if arm.mean is None or first.mean is None:
            return missing
        return MeanDifference(
            arm.arm, first.arm, arm.mean - first.mean, None, None, None, None, None
        )

    difference = arm.mean - first.mean
    v_arm, v_first = arm.sd**2 / arm.n, first.sd**2 / first.n
    se = math.sqrt(v_arm + v_first)
    pooled_sd = math.sqrt((arm.sd**2 + first.sd**2) / 2)
    std_difference = difference / pooled_sd if pooled_sd > 0 else None
    if se == 0:
        return MeanDifference(
            arm.arm, first.arm, difference, se, std_difference, None, None, None
        )

    statistic = difference / se
    df = (v_arm + v_first) ** 2 / (v_arm**2 / (arm.n - 1) + v_first**2 / (first.n - 1))
    return MeanDifference(
        arm=arm.arm,
        versus=first.arm,
        difference=difference,
        se=se,
        std_difference=std_difference,
        statistic=statistic,
        df=df,
        p_value=float(2 * stats.t.sf(abs(statistic), df)),
    )


def _welch_anova(summaries: list[ArmSummary]) -> Test:
    """Welch's one-way analysis of variance over the arms with two or more values.

    With weights w_k = n_k / s_k^2, W their sum and m the weighted mean of the arm
    means, F = [sum w_k (mean_k - m)^2 / (K - 1)] / [1 + 2 (K - 2) L / (K^2 - 1)]
    with L = sum (1 - w_k / W)^2 / (n_k - 1), on K - 1 and (K^2 - 1) / (3 L)
    degrees of freedom (Welch 1951).
    """
    used = [s for s in summaries if s.n >= 2]
    if len(used) < 2:
        return Test(
            "Welch", note="Fewer than two arms have two or more values; no test."
        )
    if any(s.sd == 0 for s in used):
        return Test(
            "Welch",
            note="The covariate does not vary within an arm; no test.",
        )

    k = len(used)
    n = np.array([s.n for s in used], dtype=float)
    mean = np.array([s.mean for s in used])
    w = n / np.array([s.sd for s in used]) ** 2
    total = w.sum()
    centre = float(np.sum(w * mean) / total)
    between = float(np.sum(w * (mean - centre) ** 2)) / (k - 1)
    lam = float(np.sum((1 - w / total) ** 2 / (n - 1)))
    statistic = between / (1 + 2 * (k - 2) * lam / (k**2 - 1))
    df2 = (k**2 - 1) / (3 * lam)
    return Test(
        "Welch",
        statistic=statistic,
        df=k - 1,
        df2=df2,
        p_value=float(stats.f.sf(statistic, k - 1, df2)),
    )


def _independent_columns(x: np.ndarray, candidates, start=()) -> list[int]:
    """Indices of `x`'s columns, in order, that are not combinations of earlier ones.

    Starting from the columns in `start` (taken as independent), each candidate is
    kept when its part orthogonal to the kept columns is more than a relative
    1e-9 of its length: Gram-Schmidt, twice over for accuracy.
    """
    kept = list(start)
    basis = []
    for j in kept:
        basis = _extend(basis, x[:, j])
    for j in candidates:
        if j in kept:
            continue
        column = x[:, j]
        length = np.linalg.norm(column)
        if length == 0:
            continue
        residual = _orthogonal_part(basis, column)
        if np.linalg.norm(residual) > 1e-9 * length:
            kept.append(j)
            basis.append(residual / np.linalg.norm(residual))
    return kept


def _orthogonal_part(basis: list[np.ndarray], column: np.ndarray) -> np.ndarray:
    residual = column.astype(float)
    for _ in range(2):
        for q in basis:
            residual = residual - (q @ residual) * q
    return residual


def _extend(basis: list[np.ndarray], column: np.ndarray) -> list[np.ndarray]:
    residual = _orthogonal_part(basis, column)
    length = np.linalg.norm(residual)
    return basis + [residual / length] if length > 0 else basis


def _arm_names(labels: np.ndarray, arm_names) -> list[str]:
    present = sorted({str(label) for label in labels})
    if arm_names is None:
        return (["control"] if "control" in present else []) + [
            arm for arm in present if arm != "control"
        ]
    names = [str(arm) for arm in arm_names]
    unknown = [arm for arm in present if arm not in names]
    if unknown:
        raise ValueError(
            f"A respondent's arm is '{unknown[0]}', which is not one of "
            f"{', '.join(names)}."
        )
    return names


def _natural(levels: list[str]) -> list[str]:
    """Levels in numeric order when all read as numbers, else alphabetical."""
    try:
        keys = [float(level) for level in levels]
    except ValueError:
        return sorted(levels)
    if not all(math.isfinite(key) for key in keys):
        return sorted(levels)
    return [level for _key, level in sorted(zip(keys, levels))]
