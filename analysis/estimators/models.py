"""Multivariate models for a list experiment, as R's ``list::ictreg`` fits them.

Two models explain the count with respondents' covariates (Imai 2011):

* the linear model regresses the count on the covariates and on the covariates times
  the treatment indicator by least squares; the interaction coefficients describe the
  sensitive item;
* the maximum likelihood model says each respondent holds the sensitive item with
  probability logit^-1(x'delta) and says yes to each of the J control items with
  probability logit^-1(x'psi), whichever list they saw (R's default
  ``constrained = TRUE``, without overdispersion).

Both give the predicted share holding the sensitive item, overall and within the levels
of chosen variables, with standard errors. Everything here is a pure function of its
arrays: no Django, no I/O.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg, optimize, special

from analysis.estimators.normal import plain_float as _plain_float

INTERCEPT = "(Intercept)"
METHODS = ("lm", "ml")

#: Fewer treatment-arm respondents than this at the highest count (J + 1) draws a
#: warning from the maximum likelihood model ...
FEW_CEILING_COUNT = 10
#: ... and so does a share of the treatment arm below this.
FEW_CEILING_SHARE = 0.01

#: A linear predictor beyond this in absolute value (a probability within 6.1e-6 of 0
#: or 1) marks a maximum likelihood estimate on the boundary of the parameter space.
BOUNDARY_LOGIT = 12.0

#: A variable with more distinct values than this cannot be used for group predictions.
MAX_PREDICT_LEVELS = 50

#: Iterations allowed to the trust-region Newton search of the maximum likelihood fit.
MAX_ITER = 200

# Gradient tolerance, per respondent, at which the trust-region search hands over to
# plain Newton steps; at most _NEWTON_STEPS of these must bring the step below
# _STEP_TOL standard errors for the fit to count as converged.
_GTOL = 1e-8
_NEWTON_STEPS = 5
_STEP_TOL = 1e-6

# With columns scaled to unit length, a cross-product whose smallest eigenvalue is
# below this share of its largest (a condition number of the covariates above 1e6)
# marks covariates that are combinations of one another.
_RANK_TOL = 1e-12


@dataclass(frozen=True)
class DesignMatrix:
    """Covariates laid out as a model matrix, with the rows that could be used.

    Attributes
    ----------
    x : ndarray of float, shape (n_used, k)
        Intercept first, then each covariate in the order given: a numeric one as one
        column, a coded one as one indicator per level but the first.
    names : tuple of str
        Column names: ``(Intercept)``, a numeric covariate's own name, and
        ``name:level`` for an indicator.
    kept : ndarray of bool, shape (n,)
        True for the rows in `x`.
    n_dropped : int
        Rows left out, for a missing value of a covariate or because `keep` said so.
    levels : dict of str to tuple of str
        For each coded covariate, its levels in order; the first is the reference.
    """

    x: np.ndarray = field(repr=False)
    names: tuple[str, ...]
    kept: np.ndarray = field(repr=False)
    n_dropped: int
    levels: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class GroupPrediction:
    """The predicted share holding the sensitive item among one level's respondents."""

    variable: str
    level: str
    estimate: float
    se: float | None

    def to_dict(self) -> dict:
        return {
            "variable": self.variable,
            "level": self.level,
            "estimate": _plain_float(self.estimate),
            "se": _plain_float(self.se),
        }


@dataclass(frozen=True)
class ItemCountFit:
    """A fitted list-experiment regression.

    Attributes
    ----------
    method : {"lm", "ml"}
        Linear model or maximum likelihood.
    names : tuple of str
        Coefficient names, shared by the sensitive-item and control-item parts.
    sensitive, control : dict of str to float
        Coefficients of the sensitive item and of the control items, keyed by name.
        For "lm" both are on the count scale; for "ml" both are logits.
    sensitive_se, control_se : dict of str to float or None
        Their standard errors; None where none could be computed.
    vcov : ndarray or None, shape (2k, 2k)
        Covariance of (sensitive, control) coefficients in that order, as R's
        ``vcov.ictreg`` gives it; None where it could not be computed.
    log_likelihood : float or None
        Maximised log-likelihood for "ml"; None for "lm".
    converged : bool
        Whether the fit reached its optimum; always True for "lm".
    boundary : bool
        Whether a maximum likelihood estimate lies on the boundary (a predicted
        probability within 6.1e-6 of 0 or 1); always False for "lm".
    predicted, predicted_se : float, float or None
        Mean over respondents of the predicted share holding the sensitive item (a
        probability for "ml", x'delta for "lm"), and its standard error.
    predicted_by : tuple of GroupPrediction
        The same within each level of each variable asked for.
    n, n_dropped : int
        Respondents used, and respondents left out for a missing count, arm or
        covariate.
    warnings : tuple of str
        Plain sentences on anything that weakens the estimates.
    """

    method: str
    names: tuple[str, ...]
    sensitive: dict[str, float]
    sensitive_se: dict[str, float | None]
    control: dict[str, float]
    control_se: dict[str, float | None]
    vcov: np.ndarray | None = field(repr=False)
    log_likelihood: float | None
    converged: bool
    boundary: bool
    predicted: float
    predicted_se: float | None
    predicted_by: tuple[GroupPrediction, ...]
    n: int
    n_dropped: int
    warnings: tuple[str, ...]

    def to_dict(self) -> dict:
        """Return the fit as plain Python values, ready for JSON or a template.

        Every number is a Python float or int and a missing or non-finite one is None,
        never NaN.
        """
        return {
            "method": self.method,
            "sensitive": _part_dict(self.sensitive, self.sensitive_se),
            "control": _part_dict(self.control, self.control_se),
            "log_likelihood": _plain_float(self.log_likelihood),
            "converged": bool(self.converged),
            "predicted": {
                "estimate": _plain_float(self.predicted),
                "se": _plain_float(self.predicted_se),
            },
            "predicted_by": [group.to_dict() for group in self.predicted_by],
            "n": int(self.n),
            "n_dropped": int(self.n_dropped),
            "warnings": [str(w) for w in self.warnings],
        }


@dataclass(frozen=True)
class _Core:
    """What a fitting routine hands back: coefficients, covariance and diagnostics."""

    sensitive: np.ndarray
    control: np.ndarray
    vcov: np.ndarray | None
    log_likelihood: float | None
    converged: bool
    iterations: int


def design_matrix(
    columns: Mapping[str, Sequence],
    covariates: Sequence[str],
    *,
    keep=None,
    coded: Collection[str] = (),
    level_order: Mapping[str, Sequence[str]] | None = None,
) -> DesignMatrix:
    """Build the model matrix for `covariates`, leaving out rows with a missing value.

    Parameters
    ----------
    columns : mapping of str to array_like, each of shape (n,)
        Every variable by name. A numeric array (or an object array holding only
        numbers) is numeric, with NaN or None for missing; an array of text, or an
        object array holding text, is coded, with None (or a float NaN) for missing.
        Booleans count as the numbers 0 and 1.
    covariates : sequence of str
        Names of the columns to enter the model, in order.
    keep : array_like of bool, shape (n,), optional
        Rows that may be used at all (for instance, those with a count); others are
        dropped and counted in `n_dropped`.
    coded : collection of str, optional
        Names of numeric columns to treat as coded (numeric codes become levels).
    level_order : mapping of str to sequence of str, optional
        For a coded covariate, its levels in the order wanted; the first one present
        is the reference. Levels not listed follow in the default order.

    Returns
    -------
    DesignMatrix

    Raises
    ------
    ValueError
        If a covariate is not in `columns`, is named twice, has the wrong length or
        holds an infinite number, or if a coded covariate has a single level among
        the rows used.

    Notes
    -----
    A numeric covariate enters as it is. A coded one enters as an indicator for each
    level but the first, named ``name:level``, as R's default treatment contrasts
    do. Levels are sorted as R sorts a factor's levels: numerically for numeric
    codes, and alphabetically for text, ignoring case and accents first and putting
    lower case before upper case on a tie, which is how R sorts in an English
    locale. R in another locale (or the C locale) may order text differently and so
    pick another reference level; `level_order` fixes the order whatever the locale.

    Levels are those present in the rows used, so no indicator is ever all zero. R
    takes a text column's levels from all rows, including those it later drops for
    a missing value, and then reports NA for a level that only dropped rows had.

    References
    ----------
    .. [1] Chambers, J. M. and Hastie, T. J. (1992). Statistical Models in S.
       Wadsworth, ch. 2 (model matrices and contrasts).
    """
    covariates = list(covariates)
    if len(set(covariates)) != len(covariates):
        raise ValueError("A covariate is named more than once; name each one once.")
    unknown = [name for name in covariates if name not in columns]
    if unknown:
        raise ValueError(f"No column named {unknown[0]!r} among the data given.")

    n = _common_length(columns, covariates, keep)
    kept = np.ones(n, dtype=bool) if keep is None else np.array(keep, dtype=bool)
    if kept.shape != (n,):
        raise ValueError(f"keep has shape {kept.shape}; give one flag per row ({n}).")

    parsed = {}
    for name in covariates:
        parsed[name] = _parse_column(name, columns[name], force_coded=name in coded)
        kept &= ~parsed[name][2]

    blocks, names, levels = [np.ones((int(kept.sum()), 1))], [INTERCEPT], {}
    for name in covariates:
        kind, values, _missing = parsed[name]
        if kind == "numeric":
            blocks.append(values[kept][:, None])
            names.append(name)
            continue

        order = (level_order or {}).get(name)
        labels, codes = _coded_levels(values[kept], order)
        if len(labels) < 2:
            only = labels[0] if labels else "none"
            raise ValueError(
                f"The covariate {name!r} has a single level ({only!r}) among the "
                "respondents used, so it cannot enter the model; leave it out."
            )
        blocks.append((codes[:, None] == np.arange(1, len(labels))).astype(float))
        names.extend(f"{name}:{label}" for label in labels[1:])
        levels[name] = tuple(labels)

    return DesignMatrix(
        x=np.hstack(blocks),
        names=tuple(names),
        kept=kept,
        n_dropped=int(n - kept.sum()),
        levels=levels,
    )


def item_count_regression(
    counts,
    treated,
    columns: Mapping[str, Sequence],
    covariates: Sequence[str] = (),
    *,
    J: int,
    method: str = "ml",
    predict_by: Sequence[str] = (),
    coded: Collection[str] = (),
    level_order: Mapping[str, Sequence[str]] | None = None,
    max_iter: int = MAX_ITER,
) -> ItemCountFit:
    """Fit a list-experiment regression as R's ``list::ictreg`` does.

    Parameters
    ----------
    counts : array_like of float, shape (n,)
        The count each respondent reported; NaN (or None) marks a missing count.
    treated : array_like, shape (n,)
        True (1) for the treatment list, False (0) for the control list; NaN or
        None marks a respondent without an arm.
    columns : mapping of str to array_like, each of shape (n,)
        The respondents' variables, as for `design_matrix`.
    covariates : sequence of str, optional
        Names of the covariates; none fits the intercept alone.
    J : int
        Number of items on the control list.
    method : {"ml", "lm"}, optional
        Maximum likelihood (the default, as in R) or the linear model.
    predict_by : sequence of str, optional
        Variables (names in `columns`, covariates or not) within whose levels to
        average the predicted share holding the sensitive item.
    coded, level_order : optional
        As for `design_matrix`. A `predict_by` variable's values are always taken
        as levels, numeric or not.
    max_iter : int, optional
        Iterations allowed to the maximum likelihood search.

    Returns
    -------
    ItemCountFit

    Raises
    ------
    ValueError
        With a plain sentence, when the data cannot give a model: an arm is empty
        after rows with missing values are dropped, a count is not a whole number in
        0..J (control) or 0..J+1 (treatment), every count in an arm is the same, a
        covariate takes a single value within an arm or is a combination of others
        there, one respondent alone fixes a coefficient of the linear model, or a
        `predict_by` variable has more than `MAX_PREDICT_LEVELS` values.

    Notes
    -----
    **Linear model** (``method="lm"``). Least squares of the count on the
    covariates and their products with the treatment indicator; the control-item
    coefficients are those on the covariates and the sensitive-item ones those on the
    products. This is the same as fitting each arm on its own, which is how it is
    computed: the sensitive-item coefficients are the treatment arm's minus the
    control arm's. Standard errors are HC3, as ``sandwich::vcovHC`` gives R's
    ``ictreg`` by default. The predicted share for a group is the mean of x'delta
    over its respondents (which may fall outside 0..1), with variance
    xbar' V xbar.

    **Maximum likelihood** (``method="ml"``). The constrained binomial-logistic
    model of Imai (2011): the sensitive item Z ~ Bernoulli(logit^-1(x'delta)), the
    control-item count Y* ~ Binomial(J, logit^-1(x'psi)) independent of Z and of the
    list shown, and the treatment count is Y* + Z. The log-likelihood is maximised by
    a trust-region Newton method with the analytic gradient and Hessian, starting
    from a binomial logit of the control arm's counts and a fractional logit of the
    treatment arm's counts less their predicted control-item part. Standard errors
    come from the inverse of the analytic observed information. The predicted share
    for a group is the mean of logit^-1(x'delta), with a delta-method standard error,
    exactly as R's ``predict.ictreg(avg = TRUE, se.fit = TRUE)`` forms it.

    Where this differs from R. R maximises by EM and stops once an iteration gains
    less than 1e-8 in log-likelihood, which can leave it short of the maximum: on the
    ``race`` data its coefficients are up to 1.9e-4 (the intercept) from the
    maximum this function finds, whose log-likelihood is 5.8e-8 higher. R's
    standard errors come from a numerical Hessian (``optim(hessian = TRUE)``),
    which differs from the analytic one in the sixth digit. Counts here must be
    whole numbers in range; R's linear model does not check.

    The maximum likelihood fit warns when fewer than `FEW_CEILING_COUNT`
    respondents, or fewer than `FEW_CEILING_SHARE` of the treatment arm, report
    the highest count J + 1: those are the respondents known to hold the sensitive
    item, and with few of them the estimates rest mostly on the binomial model for
    the control items. It warns, and sets `boundary`, when a predicted probability
    is within 6.1e-6 of 0 or 1 (usually a coefficient running off towards infinity),
    and when the search does not converge.

    References
    ----------
    .. [1] Imai, K. (2011). "Multivariate Regression Analysis for the Item Count
       Technique." Journal of the American Statistical Association 106(494),
       407-416.
    .. [2] Blair, G. and Imai, K. (2012). "Statistical Analysis of List Experiments."
       Political Analysis 20(1), 47-77.
    .. [3] Blair, G., Chou, W. and Imai, K. (2023). list: Statistical Methods for the
       Item Count Technique and List Experiment. R package version 9.2.6.
    .. [4] MacKinnon, J. G. and White, H. (1985). "Some heteroskedasticity-consistent
       covariance matrix estimators with improved finite sample properties."
       Journal of Econometrics 29(3), 305-325.
    """
    if method not in METHODS:
        raise ValueError(f"method must be 'ml' or 'lm', not {method!r}.")
    if isinstance(J, bool) or not isinstance(J, int | np.integer) or J < 1:
        raise ValueError(
            f"J must be a whole number of control items, 1 or more; got {J!r}."
        )
    J = int(J)

    counts = _float_array("counts", counts)
    arms = _float_array("treated", treated)
    if arms.shape != counts.shape:
        raise ValueError(
            f"counts and treated have {counts.size} and {arms.size} rows; give one "
            "of each per respondent."
        )
    answered = ~np.isnan(counts) & ~np.isnan(arms)
    unknown_arm = answered & (arms != 0) & (arms != 1)
    if unknown_arm.any():
        raise ValueError(
            "treated must hold only True/False or 1/0 (None for a missing arm); "
            "designs with several sensitive items are not supported here."
        )

    design = design_matrix(
        columns, covariates, keep=answered, coded=coded, level_order=level_order
    )
    y = counts[design.kept]
    t = arms[design.kept] == 1
    _check_counts(y, t, J)
    _check_variation(design, t)

    if method == "lm":
        core = _fit_linear(design.x, y, t)
    else:
        core = _fit_ml(design.x, y, t, J, max_iter=max_iter)

    k = len(design.names)
    vcov_sensitive = None if core.vcov is None else core.vcov[:k, :k]
    predicted, predicted_se = _average_prediction(
        design.x, core.sensitive, vcov_sensitive, method
    )
    groups = _group_predictions(
        columns,
        predict_by,
        design,
        core.sensitive,
        vcov_sensitive,
        method,
        level_order,
    )

    boundary = method == "ml" and _on_boundary(design.x, core)
    warnings = _warnings(method, y, t, J, core, boundary, max_iter)

    se = _standard_errors(core.vcov, 2 * k)
    return ItemCountFit(
        method=method,
        names=design.names,
        sensitive=dict(zip(design.names, core.sensitive.tolist())),
        sensitive_se=dict(zip(design.names, se[:k])),
        control=dict(zip(design.names, core.control.tolist())),
        control_se=dict(zip(design.names, se[k:])),
        vcov=core.vcov,
        log_likelihood=core.log_likelihood,
        converged=core.converged,
        boundary=boundary,
        predicted=predicted,
        predicted_se=predicted_se,
        predicted_by=tuple(groups),
        n=int(y.size),
        n_dropped=design.n_dropped,
        warnings=tuple(warnings),
    )


# Linear model --------------------------------------------------------------------


def _fit_linear(x, y, t) -> _Core:
    """Least squares with HC3 covariance, fitted as one regression per arm.

    The pooled regression of y on [X, X*T] is a reparametrisation of the two arms'
    separate regressions, so its coefficients, residuals and leverages are theirs,
    and HC3, which depends on nothing else, is the same. With V_c and V_t each arm's
    HC3 covariance, the sensitive-item coefficients (treatment minus control) have
    V_t + V_c and covariance -V_c with the control-item ones.
    """
    coef_control, vcov_control = _ols_hc3(x[~t], y[~t], "control")
    coef_treatment, vcov_treatment = _ols_hc3(x[t], y[t], "treatment")

    vcov = np.block(
        [
            [vcov_treatment + vcov_control, -vcov_control],
            [-vcov_control, vcov_control],
        ]
    )
    return _Core(
        sensitive=coef_treatment - coef_control,
        control=coef_control,
        vcov=vcov,
        log_likelihood=None,
        converged=True,
        iterations=0,
    )


def _ols_hc3(x, y, arm):
    """Return least-squares coefficients and their HC3 covariance for one arm.

    Columns are scaled to unit length before the cross-product is factored, which
    keeps covariates on very different scales (age in years next to indicators) from
    costing precision; the leverages do not depend on the scaling.
    """
    scale = np.linalg.norm(x, axis=0)
    xs = x / scale
    factor = linalg.cho_factor(xs.T @ xs)
    bread = linalg.cho_solve(factor, np.eye(x.shape[1]))
    coef_scaled = linalg.cho_solve(factor, xs.T @ y)
    leverage = np.einsum("ij,ij->i", xs @ bread, xs)
    if leverage.max() > 1 - 1e-8:
        raise ValueError(
            f"One respondent alone fixes a coefficient in the {arm} arm (a level of a "
            "coded covariate with a single respondent there), so HC3 standard errors "
            "cannot be computed; merge that level with another."
        )

    scaled = xs * ((y - xs @ coef_scaled) / (1 - leverage))[:, None]
    vcov_scaled = bread @ (scaled.T @ scaled) @ bread
    return coef_scaled / scale, vcov_scaled / np.outer(scale, scale)


# Maximum likelihood ----------------------------------------------------------------


class _Likelihood:
    """Log-likelihood of the constrained binomial-logistic model, with its derivatives.

    Parameters are theta = (psi, delta): psi for the control items, delta for the
    sensitive item. Each evaluation is cached by theta, since the optimiser asks for
    the value, gradient and Hessian at the same point one after another.
    """

    def __init__(self, x, y, t, J):
        self.k = x.shape[1]
        self.J = J
        self.x_control, self.x_treatment = x[~t], x[t]
        self.y_control, self.y_treatment = y[~t], y[t]

        log_choose = (
            special.gammaln(J + 1)
            - special.gammaln(np.arange(J + 1) + 1)
            - special.gammaln(J - np.arange(J + 1) + 1)
        )
        yc = self.y_control.astype(np.intp)
        yt = self.y_treatment.astype(np.intp)
        self.constant_control = float(log_choose[yc].sum())
        # log C(J, y - 1) and log C(J, y) for the treatment arm; the impossible one of
        # the two at y = 0 or y = J + 1 is -inf, so that its mixture term vanishes.
        self.log_choose_held = np.where(
            yt >= 1, log_choose[np.clip(yt - 1, 0, J)], -np.inf
        )
        self.log_choose_not = np.where(yt <= J, log_choose[np.clip(yt, 0, J)], -np.inf)
        self._cache = {}

    def evaluate(self, theta):
        """Return (log-likelihood, w, h_control, h_treatment, g) at `theta`.

        w is each treatment respondent's posterior probability of holding the
        sensitive item, h the control items' probability and g the sensitive item's.

        With s(eta) = log(1 + e^eta), log p = eta - s(eta) and log(1 - p) = -s(eta),
        so a treatment respondent's log-likelihood is
        y eta_h - J s(eta_h) - s(eta_g) + log(C(J, y-1) e^(eta_g - eta_h) + C(J, y)),
        and w is the first term of that sum's share.
        """
        key = theta.tobytes()
        if key in self._cache:
            return self._cache[key]

        psi, delta = theta[: self.k], theta[self.k :]
        eta_c = self.x_control @ psi
        eta_h = self.x_treatment @ psi
        eta_g = self.x_treatment @ delta
        J, yc, yt = self.J, self.y_control, self.y_treatment

        ll_control = self.constant_control + yc @ eta_c - J * _softplus(eta_c).sum()
        held = eta_g - eta_h + self.log_choose_held
        mixture = np.logaddexp(held, self.log_choose_not)
        ll_treatment = yt @ eta_h - J * _softplus(eta_h).sum() - _softplus(eta_g).sum()
        ll_treatment += mixture.sum()

        if len(self._cache) >= 4:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = (
            float(ll_control + ll_treatment),
            special.expit(held - self.log_choose_not),
            special.expit(eta_c),
            special.expit(eta_h),
            special.expit(eta_g),
        )
        return self._cache[key]

    def gradient(self, theta):
        _ll, w, h_c, h_t, g = self.evaluate(theta)
        J = self.J
        d_psi = self.x_control.T @ (self.y_control - J * h_c)
        d_psi += self.x_treatment.T @ (self.y_treatment - w - J * h_t)
        d_delta = self.x_treatment.T @ (w - g)
        return np.concatenate([d_psi, d_delta])

    def hessian(self, theta):
        """Second derivatives: with v = w(1 - w), the posterior variance of Z,

        d2/dpsi2 = -X_c' J h(1-h) X_c + X_t' (v - J h(1-h)) X_t,
        d2/dpsi ddelta = -X_t' v X_t,  d2/ddelta2 = X_t' (v - g(1-g)) X_t.
        """
        _ll, w, h_c, h_t, g = self.evaluate(theta)
        J, xc, xt = self.J, self.x_control, self.x_treatment
        v = w * (1 - w)

        psi_psi = -_weighted_cross(xc, J * h_c * (1 - h_c))
        psi_psi += _weighted_cross(xt, v - J * h_t * (1 - h_t))
        psi_delta = -_weighted_cross(xt, v)
        delta_delta = _weighted_cross(xt, v - g * (1 - g))
        return np.block([[psi_psi, psi_delta], [psi_delta, delta_delta]])


def _fit_ml(x, y, t, J, *, max_iter) -> _Core:
    """Maximise the constrained model's log-likelihood; see `item_count_regression`.

    A trust-region Newton search (robust where the log-likelihood is not concave)
    gets close; a few plain Newton steps then finish, since the search's own test,
    which compares predicted and actual gains in the log-likelihood, stops working
    once those gains fall below rounding. The fit has converged when the observed
    information is positive definite and the last Newton step is below
    `_STEP_TOL` standard errors in every coefficient.
    """
    likelihood = _Likelihood(x, y, t, J)
    n, k = y.size, x.shape[1]

    # Per respondent, so that the tolerance means the same at every sample size.
    def objective(theta):
        return -likelihood.evaluate(theta)[0] / n, -likelihood.gradient(theta) / n

    def hessian(theta):
        return -likelihood.hessian(theta) / n

    result = optimize.minimize(
        objective,
        _start_values(x, y, t, J),
        jac=True,
        hess=hessian,
        method="trust-exact",
        options={"gtol": _GTOL, "maxiter": max_iter},
    )
    theta, converged = result.x, False
    for _ in range(_NEWTON_STEPS):
        step, vcov = _newton_step(likelihood, theta)
        if step is None or not np.all(np.isfinite(theta + step)):
            break
        converged = bool(np.all(np.abs(step) <= _STEP_TOL * np.sqrt(np.diag(vcov))))

        # Near the maximum a step changes the log-likelihood by less than its
        # rounding error, so only a clear loss counts as one.
        before = likelihood.evaluate(theta)[0]
        if likelihood.evaluate(theta + step)[0] < before - 1e-12 * abs(before) - 1e-9:
            break
        theta = theta + step
        if converged:
            break

    # vcov is ordered (sensitive, control), as R's vcov.ictreg orders it.
    _step, vcov = _newton_step(likelihood, theta)
    if vcov is not None:
        order = np.r_[k : 2 * k, 0:k]
        vcov = vcov[np.ix_(order, order)]
    else:
        converged = False

    return _Core(
        sensitive=theta[k:],
        control=theta[:k],
        vcov=vcov,
        log_likelihood=likelihood.evaluate(theta)[0],
        converged=converged,
        iterations=int(result.nit),
    )


def _newton_step(likelihood, theta):
    """Return (Newton step, inverse observed information) at theta, or (None, None)
    when the observed information is not positive definite there."""
    information = -likelihood.hessian(theta)
    try:
        factor = linalg.cho_factor(information)
    except linalg.LinAlgError:
        return None, None
    vcov = linalg.cho_solve(factor, np.eye(information.shape[0]))
    if not np.all(np.isfinite(vcov)):
        return None, None
    return linalg.cho_solve(factor, likelihood.gradient(theta)), vcov


def _start_values(x, y, t, J):
    """Two-step start: a binomial logit of the control arm's counts for psi, then a
    fractional logit for delta of the treatment arm's counts less their predicted
    control-item part, clipped to 0..1."""
    psi = _logit_fit(x[~t], y[~t] / J, J)
    adjusted = np.clip(y[t] - J * special.expit(x[t] @ psi), 0.0, 1.0)
    delta = _logit_fit(x[t], adjusted, 1)
    return np.concatenate([psi, delta])


def _logit_fit(x, share, trials, iterations=25):
    """Logistic regression of a share (of `trials` each) on x by Newton's method.

    Only for start values: it stops after `iterations`, and coefficients that run off
    (no finite maximum) are pulled back to the intercept-only fit.
    """
    mean = float(np.clip(share.mean(), 0.01, 0.99))
    beta = np.zeros(x.shape[1])
    beta[0] = math.log(mean / (1 - mean))
    fallback = beta.copy()

    for _ in range(iterations):
        p = special.expit(x @ beta)
        weight = trials * p * (1 - p)
        try:
            step = np.linalg.solve(
                _weighted_cross(x, weight), x.T @ (trials * (share - p))
            )
        except np.linalg.LinAlgError:
            return fallback
        beta = beta + step
        if not np.all(np.isfinite(beta)) or np.abs(x @ beta).max() > 2 * BOUNDARY_LOGIT:
            return fallback
        if np.abs(step).max() < 1e-6:
            break
    return beta


# Predictions ---------------------------------------------------------------------


def _average_prediction(x, delta, vcov, method):
    """Return the mean predicted share over the rows of x, with its standard error.

    The standard error is the delta method's, sqrt(d' V d) with d the derivative of
    the mean with respect to delta: the mean row of x for the linear model, the mean
    of p(1 - p) x for the logistic one.
    """
    eta = x @ delta
    if method == "lm":
        estimate = float(eta.mean())
        derivative = x.mean(axis=0)
    else:
        p = special.expit(eta)
        estimate = float(p.mean())
        derivative = (x * (p * (1 - p))[:, None]).mean(axis=0)

    if vcov is None:
        return estimate, None
    variance = float(derivative @ vcov @ derivative)
    return estimate, math.sqrt(variance) if variance >= 0 else None


def _group_predictions(columns, predict_by, design, delta, vcov, method, level_order):
    """Return the average prediction within each level of each `predict_by` variable."""
    groups = []
    for name in predict_by:
        if name not in columns:
            raise ValueError(f"No column named {name!r} to predict by.")
        _kind, values, missing = _parse_column(name, columns[name], force_coded=True)
        if values.shape[0] != design.kept.shape[0]:
            raise ValueError(f"The column {name!r} does not have one value per row.")
        present = design.kept & ~missing
        labels, codes = _coded_levels(values[present], (level_order or {}).get(name))
        if len(labels) > MAX_PREDICT_LEVELS:
            raise ValueError(
                f"The variable {name!r} has {len(labels)} distinct values, more than "
                f"group predictions allow ({MAX_PREDICT_LEVELS}); group it first."
            )

        rows = np.flatnonzero(present[design.kept])
        for i, label in enumerate(labels):
            members = rows[codes == i]
            estimate, se = _average_prediction(design.x[members], delta, vcov, method)
            groups.append(GroupPrediction(name, label, estimate, se))
    return groups


# Checks and diagnostics ----------------------------------------------------------


def _check_counts(y, t, J):
    """Raise a ValueError unless both arms have counts that are whole and in range."""
    for arm, in_arm, top in (("control", ~t, J), ("treatment", t, J + 1)):
        counts = y[in_arm]
        if counts.size == 0:
            raise ValueError(
                f"The {arm} arm has no respondents left once those missing a count "
                "or a covariate are set aside; a model needs both arms."
            )
        bad = counts[(counts != np.round(counts)) | (counts < 0) | (counts > top)]
        if bad.size:
            raise ValueError(
                f"A count of {bad[0]:g} in the {arm} arm is not a whole number from 0 "
                f"to {top}; check J (now {J}) and the data."
            )
        if np.all(counts == counts[0]):
            raise ValueError(
                f"Every respondent in the {arm} arm gave the same count "
                f"({counts[0]:g}), so a model cannot be fitted; it needs counts that "
                "vary within each arm."
            )


def _check_variation(design, t):
    """Raise a ValueError unless the model matrix has full column rank in each arm."""
    for arm, in_arm in (("control", ~t), ("treatment", t)):
        x = design.x[in_arm]
        if x.shape[0] < x.shape[1]:
            raise ValueError(
                f"The {arm} arm has {x.shape[0]} respondents for {x.shape[1]} "
                "coefficients; a model needs more respondents than coefficients in "
                "each arm."
            )
        for j, name in enumerate(design.names[1:], start=1):
            if np.all(x[:, j] == x[0, j]):
                raise ValueError(_no_variation(name, x[0, j], design, arm))

        # Exact collinearity shows as an eigenvalue of the scaled cross-product at
        # rounding level, about 1e-16 of the largest.
        xs = x / np.linalg.norm(x, axis=0)
        eigenvalues = np.linalg.eigvalsh(xs.T @ xs)
        if eigenvalues[0] <= _RANK_TOL * eigenvalues[-1]:
            raise ValueError(
                f"In the {arm} arm some covariates are exact combinations of others "
                "(for instance, indicators that add up to another covariate), so "
                "their coefficients cannot be told apart; leave one out."
            )


def _no_variation(name, value, design, arm):
    """Say, for a user, that a model-matrix column does not vary within an arm."""
    for covariate in design.levels:
        prefix = f"{covariate}:"
        if name.startswith(prefix):
            who = "Every respondent" if value == 1 else "No respondent"
            return (
                f"{who} in the {arm} arm has the level {name[len(prefix) :]!r} of "
                f"{covariate!r}, so its coefficient cannot be estimated; merge that "
                "level with another."
            )
    return (
        f"The covariate {name!r} takes a single value ({value:g}) in the {arm} arm, "
        "so its coefficient cannot be estimated; leave it out."
    )


def _on_boundary(x, core):
    """True when a predicted probability of either part is within 6.1e-6 of 0 or 1."""
    coefficients = np.column_stack([core.sensitive, core.control])
    if not np.all(np.isfinite(coefficients)):
        return True
    return bool(np.abs(x @ coefficients).max() > BOUNDARY_LOGIT)


def _warnings(method, y, t, J, core, boundary, max_iter):
    """Return plain sentences on what weakens the estimates."""
    warnings = []
    if method != "ml":
        return warnings

    n_treatment = int(t.sum())
    n_top = int(np.count_nonzero(y[t] == J + 1))
    if n_top < FEW_CEILING_COUNT or n_top < FEW_CEILING_SHARE * n_treatment:
        warnings.append(
            f"Only {n_top} of the {n_treatment} respondents in the treatment arm gave "
            f"the highest count ({J + 1}); they are the ones known to hold the "
            "sensitive item, so with so few the estimates rest mostly on the model's "
            "assumptions about the control items."
        )
    if boundary:
        warnings.append(
            "Some predicted probabilities are within 0.00001 of 0 or 1: a coefficient "
            "is running off towards infinity (often a level where nobody, or "
            "everybody, holds the item), so the likelihood has no finite maximum and "
            "the estimates and their standard errors are not reliable. Merge sparse "
            "levels or leave a covariate out."
        )
    elif not core.converged:
        if core.iterations >= max_iter:
            cause = f"did not converge in {max_iter} iterations"
        else:
            cause = "stopped before reaching a maximum"
        warnings.append(
            f"The maximum likelihood search {cause}, so the estimates are not "
            "reliable; try fewer covariates."
        )
    if core.vcov is None:
        warnings.append(
            "The information matrix cannot be inverted at the estimates, so standard "
            "errors are missing."
        )
    return warnings


# Parsing helpers -----------------------------------------------------------------


def _common_length(columns, names, keep):
    lengths = {name: np.shape(columns[name]) for name in names}
    for name, shape in lengths.items():
        if len(shape) != 1:
            raise ValueError(f"The column {name!r} must be one-dimensional.")
    sizes = {shape[0] for shape in lengths.values()}
    if keep is not None:
        sizes.add(np.size(keep))
    if len(sizes) > 1:
        raise ValueError("The columns do not all have the same number of rows.")
    if sizes:
        return sizes.pop()
    if keep is None:
        raise ValueError("Give keep, or at least one covariate, to know the rows.")
    return int(np.size(keep))


def _parse_column(name, values, *, force_coded):
    """Return (kind, values, missing) for a column.

    kind is "numeric" (values as float) or "coded" (values as an object array of
    labels and, for numbers, their float values kept for sorting).
    """
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"The column {name!r} must be one-dimensional.")

    if array.dtype.kind in "biuf":
        numbers = array.astype(float)
        missing = np.isnan(numbers)
    elif array.dtype.kind in "US":
        return "coded", _Labels(array.astype(str), None), np.zeros(array.size, bool)
    else:
        # None, or a float NaN (the one value not equal to itself).
        missing = np.equal(array, None) | (array != array)
        present = array[~missing]
        if not all(issubclass(kind, _NUMBER_TYPES) for kind in set(map(type, present))):
            labels = np.where(missing, "", array).astype(str)
            return "coded", _Labels(labels, None), missing
        numbers = np.where(missing, np.nan, array).astype(float)

    if np.isinf(numbers).any():
        raise ValueError(f"The column {name!r} holds an infinite value.")
    if force_coded:
        return "coded", _Labels(None, numbers), missing
    return "numeric", numbers, missing


_NUMBER_TYPES = (int, float, np.integer, np.floating, np.bool_)


@dataclass(frozen=True)
class _Labels:
    """A coded column: text labels, or numbers whose values are the levels."""

    text: np.ndarray | None
    numbers: np.ndarray | None

    def __getitem__(self, index):
        if self.text is not None:
            return _Labels(self.text[index], None)
        return _Labels(None, self.numbers[index])

    @property
    def shape(self):
        array = self.text if self.text is not None else self.numbers
        return array.shape


def _coded_levels(values: _Labels, order):
    """Return (labels in order, code of each row's label in that order)."""
    if values.numbers is not None:
        uniques, inverse = np.unique(values.numbers, return_inverse=True)
        labels = [_number_label(u) for u in uniques.tolist()]
    else:
        uniques, inverse = np.unique(values.text, return_inverse=True)
        labels = uniques.tolist()
        ranked = sorted(range(len(labels)), key=lambda i: _text_key(labels[i]))
        labels, inverse = _reorder(labels, inverse, ranked)

    if order is not None:
        wanted = {str(label): i for i, label in enumerate(order)}
        ranked = sorted(
            range(len(labels)), key=lambda i: (wanted.get(labels[i], len(wanted)), i)
        )
        labels, inverse = _reorder(labels, inverse, ranked)
    return labels, inverse.reshape(-1)


def _reorder(labels, inverse, ranked):
    position = np.empty(len(ranked), dtype=np.intp)
    position[ranked] = np.arange(len(ranked))
    return [labels[i] for i in ranked], position[inverse.reshape(-1)]


def _text_key(label: str):
    """Sort key close to R's sort() in an English locale: accents and case ignored
    first, then lower case before upper case."""
    decomposed = unicodedata.normalize("NFKD", label)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    return (base.casefold(), label.casefold(), label.swapcase())


def _number_label(value: float) -> str:
    """Write a number as R's as.character does: 1 not 1.0, 15 significant digits."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".15g")


def _is_missing(value) -> bool:
    if value is None:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def _float_array(name, values):
    """Return values as a float array with NaN for None, or raise a ValueError."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional.")
    if array.dtype == object:
        array = np.array([np.nan if _is_missing(v) else v for v in array])
    try:
        array = array.astype(float)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must hold numbers (None or NaN where missing)."
        ) from None
    if np.isinf(array).any():
        raise ValueError(f"{name} holds an infinite value; use NaN where missing.")
    return array


def _standard_errors(vcov, size):
    if vcov is None:
        return [None] * size
    variances = np.diag(vcov)
    return [math.sqrt(v) if np.isfinite(v) and v >= 0 else None for v in variances]


def _weighted_cross(x, weight):
    """Return X' diag(weight) X."""
    return (x * weight[:, None]).T @ x


def _softplus(eta):
    """log(1 + e^eta), accurate in both tails."""
    return np.logaddexp(0.0, eta)


def _part_dict(coef, se):
    return {
        "coef": {name: _plain_float(value) for name, value in coef.items()},
        "se": {name: _plain_float(value) for name, value in se.items()},
    }
