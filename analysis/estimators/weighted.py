"""Weighted difference in means under a stratified, clustered sample design.

The estimate is the one R's ``survey::svyglm(y ~ treat, design)`` gives for a design
``svydesign(ids = ~psu, strata = ~stratum, weights = ~w)``: the coefficient on the
treatment indicator, which is the weighted (Hajek) mean count in the treatment arm
minus that in the control arm. Its standard error is the Taylor linearization one,
formed from the coefficient's influence values totalled within primary sampling units
(PSUs) and centred within strata. Levels of a covariate are domains of the whole
design, as ``subset(design, ...)`` and ``svyby`` treat them.

Everything here is a pure function of its arrays: no Django, no I/O. The helpers with
a leading underscore are shared with `analysis.estimators.contrasts`, which needs the
influence values of two domains on the same PSU totals.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from analysis.estimators.difference import (
    _Z,
    MIN_ARM_SIZE,
    SMALL_ARM_SIZE,
    DiffInMeans,
    LevelBreakdown,
    _arms_phrase,
    _checked_arrays,
    _natural_order,
)

#: When the share of respondents given the treatment list differs between two strata
#: by more than this (in absolute terms), the arms were allocated differently by
#: stratum, and the difference is estimated within each stratum and then combined.
ALLOCATION_TOLERANCE = 0.1


@dataclass(frozen=True)
class _Design:
    """Strata and PSUs of a sample, as integer codes.

    `psu` is None when each respondent is its own PSU; otherwise it holds each
    respondent's PSU code and `psu_stratum` each PSU's stratum code. `n_psu` is the
    number of PSUs in each stratum over every respondent passed in, whether or not
    they have a count, as survey keeps it for rows that svyglm drops.
    """

    stratum: np.ndarray
    psu: np.ndarray | None
    psu_stratum: np.ndarray | None
    n_psu: np.ndarray
    labels: list[str]
    stratified: bool


@dataclass(frozen=True)
class _DomainFit:
    """Per-domain estimates and, for the respondents used, their influence values."""

    results: list[DiffInMeans]
    weight_totals: np.ndarray
    rows: np.ndarray
    domain: np.ndarray
    influence: np.ndarray
    by_stratum: bool


def weighted_difference_in_means(
    counts, treated, weights, strata=None, clusters=None, *, by_stratum=None
) -> DiffInMeans:
    """Estimate the share holding the sensitive item by a weighted difference in means.

    Parameters
    ----------
    counts : array_like of float, shape (n,)
        The count each respondent reported; NaN marks a missing count.
    treated : array_like of bool or {0, 1}, shape (n,)
        True (1) for respondents shown the treatment list.
    weights : array_like of float, shape (n,)
        Each respondent's design weight: finite and not negative, and not all zero.
    strata : array_like, shape (n,), optional
        Each respondent's stratum, compared as text. None for an unstratified sample.
    clusters : array_like, shape (n,), optional
        Each respondent's primary sampling unit (PSU), compared as text and nested
        within strata. None when each respondent is its own PSU.
    by_stratum : bool, optional
        Whether to estimate within each stratum and combine (see Notes). None, the
        default, decides from the data; True needs `strata`.

    Returns
    -------
    DiffInMeans
        `estimate` and `se` as svyglm gives them, a normal 95% interval, the number of
        respondents with a count and a positive weight in each arm, and each arm's
        weighted mean count; `share` is None.

    Raises
    ------
    ValueError
        If the arrays differ in length, a count is infinite, `treated` is not 0/1, a
        weight is missing, infinite or negative, every weight is zero, a stratum or
        PSU is missing, or a stratum has a single PSU.

    Notes
    -----
    With design weights :math:`w_i`, the arm means are the Hajek means
    :math:`\\bar y_a = \\sum_{i \\in a} w_i y_i / W_a` with :math:`W_a` the arm's weight
    total, and the estimate is :math:`\\bar y_1 - \\bar y_0`. This is the coefficient
    on the treatment indicator in a weighted least-squares fit of the count on it, and
    its influence value for respondent :math:`i` in arm :math:`a` is
    :math:`\\pm w_i (y_i - \\bar y_a) / W_a` (plus for the treatment arm). The
    influence values are totalled within each PSU to :math:`z_{hj}`, and the variance
    is the with-replacement one,
    :math:`\\sum_h n_h / (n_h - 1) \\sum_j (z_{hj} - \\bar z_h)^2`, with :math:`n_h`
    the PSUs in stratum :math:`h`. This is what svyrecvar computes for svyglm with no
    finite population correction. Respondents with a missing count have influence 0
    but their PSUs still count in :math:`n_h`, as when svyglm drops them.

    A stratum with a single PSU gives no variance; survey's default
    (``survey.lonely.psu = "fail"``) stops with an error, and so does this function,
    naming the stratum. A cluster label that appears in two strata is two PSUs, as
    with ``svydesign(..., nest = TRUE)``. Respondents with a weight of zero are outside
    the sample: they are not counted in `n_treatment` or `n_control`.

    When the treatment list was allocated in different proportions in different
    strata, the pooled difference mixes the strata unevenly between the arms. The
    allocation is taken to differ when, among respondents with a count and a positive
    weight, the share given the treatment list in one stratum differs from that in
    another by more than `ALLOCATION_TOLERANCE`. The difference is then estimated
    within each stratum, :math:`d_h`, and combined as
    :math:`\\sum_h (W_h / W) d_h` with :math:`W_h` the stratum's weight total. Its
    variance, with strata independent and the weight shares taken as fixed, is
    :math:`\\sum_h (W_h / W)^2 V_h`, where :math:`V_h` is the linearization variance
    of :math:`d_h` above; every stratum then needs `MIN_ARM_SIZE` respondents in each
    arm. Under complete randomization a small stratum can pass the tolerance by
    chance; the combined estimate is then still consistent, only not what svyglm
    gives. Pass `by_stratum` to decide explicitly.

    The interval is normal, estimate plus or minus 1.96 standard errors, although
    ``summary`` of an svyglm uses a t distribution with the design's degrees of
    freedom. The small-arm notes and thresholds are those of
    `analysis.estimators.difference`, on unweighted numbers of respondents.

    References
    ----------
    .. [1] Lumley, T. (2010). Complex Surveys: A Guide to Analysis Using R. Wiley,
       ch. 2 and 5.
    .. [2] Lumley, T. survey: analysis of complex survey samples. R package, help
       pages of svydesign, svyglm and svyrecvar.
    .. [3] Binder, D. A. (1983). "On the Variances of Asymptotically Normal Estimators
       from Complex Surveys." International Statistical Review 51(3), 279-292.
    .. [4] Blair, G. and Imai, K. (2012). "Statistical Analysis of List Experiments."
       Political Analysis 20(1), 47-77.
    """
    counts, treated = _checked_arrays(counts, treated)
    weights = _checked_weights(weights, counts.size)
    design = _design(counts.size, strata, clusters)

    domain = np.zeros(counts.size, dtype=np.intp)
    fit = _fit_domains(counts, treated, weights, domain, 1, design, by_stratum)
    return fit.results[0]


def weighted_difference_by_level(
    counts, treated, weights, levels, strata=None, clusters=None, *, by_stratum=None
) -> LevelBreakdown:
    """Estimate the weighted difference in means within each level of a covariate.

    Parameters
    ----------
    counts, treated, weights, strata, clusters, by_stratum
        As for `weighted_difference_in_means`.
    levels : array_like of str, shape (n,)
        Each respondent's level of the covariate; None marks a missing level. Levels
        are compared as text, so 1 and "1" are the same level.

    Returns
    -------
    LevelBreakdown
        One `DiffInMeans` per level present, in the order of `difference_by_level`,
        with `share` the level's share of the weight total of respondents that have a
        count and a level, and the number of respondents with a missing count or
        level.

    Raises
    ------
    ValueError
        As for `weighted_difference_in_means`, and if `levels` is not the same length.

    Notes
    -----
    Each level is a domain of the whole design: its standard error comes from the
    influence values of the level's respondents, set to zero for everyone else, and
    totalled over all PSUs of all strata. This is what
    ``svyglm(y ~ treat, subset(design, level == x))`` gives, and it differs from
    analysing the level's respondents as a design of their own, because a stratum's
    PSUs without respondents of the level still count.

    Whether to estimate within strata is decided once, on all respondents with a
    count, so every level uses the same estimator as the overall one. Under the
    within-stratum estimator a level's weight shares are those of the level's own
    weight total in each stratum, and a level with fewer than `MIN_ARM_SIZE`
    respondents in an arm of any stratum it appears in has no estimate.

    A stratum with a single PSU in the whole design stops every level, even a level
    with no respondents in that stratum; survey fails only for the domains that reach
    it.

    All levels are computed together, with a few `np.bincount` passes over (level,
    PSU) pairs and sums of squares taken about each stratum's mean.

    References
    ----------
    .. [1] Lumley, T. (2010). Complex Surveys: A Guide to Analysis Using R. Wiley,
       sec. 2.3 (domain estimation).
    """
    counts, treated = _checked_arrays(counts, treated)
    weights = _checked_weights(weights, counts.size)
    design = _design(counts.size, strata, clusters)
    domain, labels = _level_codes(levels, counts.size)

    fit = _fit_domains(
        counts, treated, weights, domain, len(labels), design, by_stratum
    )
    total = fit.weight_totals.sum()

    rows = []
    for i in _natural_order(labels):
        share = fit.weight_totals[i] / total if total > 0 else None
        rows.append((labels[i], _with_share(fit.results[i], share)))

    n_missing = int(np.count_nonzero(np.isnan(counts) | (domain < 0)))
    return LevelBreakdown(levels=rows, n_missing=n_missing)


def _checked_weights(weights, n: int) -> np.ndarray:
    """Return the design weights as floats, or raise a ValueError saying what is wrong."""
    try:
        weights = np.asarray(weights, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            "The design weights must be numbers; one of them is not."
        ) from None

    if weights.shape != (n,):
        raise ValueError(
            f"weights has shape {weights.shape} but there are {n} respondents; "
            "give one design weight per respondent."
        )
    if np.isnan(weights).any():
        raise ValueError("A design weight is missing; every respondent needs a weight.")
    if np.isinf(weights).any():
        raise ValueError("A design weight is infinite; weights must be finite.")
    if (weights < 0).any():
        raise ValueError("A design weight is negative; weights cannot be negative.")
    if n > 0 and not (weights > 0).any():
        raise ValueError("Every design weight is zero; at least one must be positive.")
    return weights


def _labels(values, name: str, what: str, n: int) -> tuple[np.ndarray, list[str]]:
    """Return integer codes and text labels of the strata or the clusters."""
    values = np.asarray(values)
    if values.shape != (n,):
        raise ValueError(
            f"{name} has shape {values.shape} but there are {n} respondents; "
            f"give one {what} per respondent."
        )
    if _missing(values).any():
        raise ValueError(
            f"A {what} is missing; every respondent needs a {what} when {name} are "
            "given."
        )

    # Labels are compared as text, but numbers sort much faster than their text, so
    # numeric codes are found first and only the distinct values turned into text.
    if values.dtype == object:
        values = values.astype(str)
    if values.dtype.kind in "iu" and values.size:
        low = values.min()
        offset = (values - low).astype(np.intp)
        distinct, codes = _compact(offset, int(offset.max()) + 1)
        distinct = distinct + low
    else:
        distinct, codes = np.unique(values, return_inverse=True)
    labels, merged = np.unique(distinct.astype(str), return_inverse=True)
    return merged.reshape(-1)[codes.reshape(-1)].astype(np.intp), labels.tolist()


def _compact(code: np.ndarray, n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the distinct values of `code` in order and each element's index among them.

    The same as ``np.unique(code, return_inverse=True)`` for non-negative integer
    codes below `n_codes`, but by counting instead of sorting when that range is not
    much larger than the array.
    """
    if n_codes <= 4 * code.size + 1024:
        seen = np.bincount(code, minlength=n_codes) > 0
        position = np.cumsum(seen) - 1
        return np.flatnonzero(seen), position[code]
    distinct, inverse = np.unique(code, return_inverse=True)
    return distinct, inverse.reshape(-1)


def _missing(values: np.ndarray) -> np.ndarray:
    """Return where `values` holds None or a float NaN."""
    if values.dtype == object:
        # NaN is the one value not equal to itself.
        return np.equal(values, None) | (values != values)
    if values.dtype.kind == "f":
        return np.isnan(values)
    return np.zeros(values.shape, dtype=bool)


def _design(n: int, strata, clusters) -> _Design:
    """Code strata and PSUs as integers and check every stratum has two PSUs."""
    if strata is None:
        stratum, labels = np.zeros(n, dtype=np.intp), ["all"]
    else:
        stratum, labels = _labels(strata, "strata", "stratum", n)

    if clusters is None:
        psu, psu_stratum = None, None
        n_psu = np.bincount(stratum, minlength=len(labels))
    else:
        cluster, cluster_labels = _labels(clusters, "clusters", "cluster", n)
        nested = stratum.astype(np.int64) * len(cluster_labels) + cluster
        psu_codes, psu = _compact(nested, len(labels) * len(cluster_labels))
        psu_stratum = (psu_codes // len(cluster_labels)).astype(np.intp)
        n_psu = np.bincount(psu_stratum, minlength=len(labels))

    if strata is not None or clusters is not None:
        lonely = [labels[h] for h in np.flatnonzero(n_psu == 1)]
        if lonely and strata is None:
            raise ValueError(
                "All respondents are in one cluster, so there is no standard error."
            )
        if len(lonely) == 1:
            raise ValueError(
                f"Stratum {_quoted(lonely)} has only one primary sampling unit, so "
                "its variance cannot be estimated; merge it with another stratum."
            )
        if lonely:
            raise ValueError(
                f"Strata {_quoted(lonely)} have only one primary sampling unit each, "
                "so their variance cannot be estimated; merge each with another "
                "stratum."
            )

    return _Design(
        stratum=stratum,
        psu=psu,
        psu_stratum=psu_stratum,
        n_psu=n_psu,
        labels=labels,
        stratified=strata is not None,
    )


def _level_codes(levels, n: int) -> tuple[np.ndarray, list[str]]:
    """Return each respondent's level code (-1 when missing) and the level labels."""
    levels = np.asarray(levels)
    if levels.shape != (n,):
        raise ValueError(
            f"levels has shape {levels.shape} but counts has shape {(n,)}; "
            "give one level per respondent."
        )

    known = ~np.equal(levels, None) if levels.dtype == object else np.ones(n, bool)
    labels, codes = np.unique(levels[known].astype(str), return_inverse=True)
    domain = np.full(n, -1, dtype=np.intp)
    domain[known] = codes.reshape(-1)
    return domain, labels.tolist()


def _allocation_differs(treated, stratum, usable, n_strata: int) -> bool:
    """Whether the treatment share differs between strata by more than the tolerance."""
    size = np.bincount(stratum[usable], minlength=n_strata)
    n_treated = np.bincount(
        stratum[usable], weights=treated[usable], minlength=n_strata
    )
    shares = n_treated[size > 0] / size[size > 0]
    return bool(shares.size > 1 and shares.max() - shares.min() > ALLOCATION_TOLERANCE)


def _fit_domains(
    counts, treated, weights, domain, n_domains: int, design: _Design, by_stratum
) -> _DomainFit:
    """Estimate the difference in each domain, with its influence values and variance.

    `domain` holds each respondent's domain code, -1 outside every domain. Returns a
    `DiffInMeans` per domain (with `share` None) and, for the respondents used, their
    domain and influence value, so that a caller can form contrasts.
    """
    usable = ~np.isnan(counts) & (weights > 0)
    detected = False
    if by_stratum is None:
        detected = design.stratified and _allocation_differs(
            treated, design.stratum, usable, len(design.labels)
        )
        by_stratum = detected
    elif by_stratum and not design.stratified:
        raise ValueError("Estimating within strata needs strata.")

    rows = np.flatnonzero(usable & (domain >= 0))
    y, w, d = counts[rows], weights[rows], domain[rows]
    arm = treated[rows].astype(np.intp)
    n_groups = len(design.labels) if by_stratum else 1
    group = design.stratum[rows] if by_stratum else np.zeros(rows.size, np.intp)

    # Cells are (domain, stratum or one pooled group, arm).
    cell = (d * n_groups + group) * 2 + arm
    n_cells = n_domains * n_groups * 2
    size = np.bincount(cell, minlength=n_cells)
    weight = np.bincount(cell, weights=w, minlength=n_cells)
    mean = np.divide(
        np.bincount(cell, weights=w * y, minlength=n_cells),
        weight,
        out=np.zeros(n_cells),
        where=weight > 0,
    )

    sign = np.where(arm == 1, 1.0, -1.0)
    influence = sign * w * (y - mean[cell]) / weight[cell]

    weight = weight.reshape(n_domains, n_groups, 2)
    group_weight = weight.sum(axis=2)
    domain_weight = group_weight.sum(axis=1)
    factor = np.divide(
        group_weight,
        domain_weight[:, None],
        out=np.zeros_like(group_weight),
        where=domain_weight[:, None] > 0,
    )
    influence *= factor[d, group]

    variance = _domain_variances(influence, d, n_domains, design, rows)
    size = size.reshape(n_domains, n_groups, 2)
    mean = mean.reshape(n_domains, n_groups, 2)
    present = size.sum(axis=2) > 0

    results = []
    for i in range(n_domains):
        arm_size = size[i].sum(axis=0)
        has_arm = (size[i] > 0) | ~present[i][:, None]
        arm_mean = [
            float(factor[i] @ mean[i, :, a])
            if has_arm[:, a].all() and arm_size[a]
            else None
            for a in (0, 1)
        ]
        short = present[i] & (size[i] < MIN_ARM_SIZE).any(axis=1)
        results.append(
            _result(
                n_treatment=int(arm_size[1]),
                n_control=int(arm_size[0]),
                mean_treatment=arm_mean[1],
                mean_control=arm_mean[0],
                variance=float(variance[i]),
                short_strata=[design.labels[h] for h in np.flatnonzero(short)]
                if by_stratum
                else [],
                by_stratum=by_stratum,
                detected=detected,
            )
        )

    return _DomainFit(
        results=results,
        weight_totals=domain_weight,
        rows=rows,
        domain=d,
        influence=influence,
        by_stratum=by_stratum,
    )


def _domain_variances(
    influence, domain, n_domains: int, design: _Design, rows
) -> np.ndarray:
    """Return the linearization variance of each domain's estimate.

    `influence` and `domain` are given for the respondents `rows` of the design; every
    other respondent has influence 0. PSU totals are formed per (domain, PSU) pair
    that occurs, and the PSUs of a stratum with no respondent of the domain enter the
    sum of squares as zeros about the stratum's mean.
    """
    n_strata = len(design.labels)
    if design.psu is None:
        totals = influence
        pair_domain = domain
        pair_stratum = design.stratum[rows]
    else:
        n_total_psu = design.psu_stratum.size
        code = domain.astype(np.int64) * n_total_psu + design.psu[rows]
        pairs, inverse = _compact(code, n_domains * n_total_psu)
        totals = np.bincount(inverse, weights=influence)
        pair_domain = pairs // n_total_psu
        pair_stratum = design.psu_stratum[pairs % n_total_psu]

    key = pair_domain * n_strata + pair_stratum
    n_keys = n_domains * n_strata
    n_psu = np.tile(design.n_psu, n_domains).astype(float)
    seen = np.bincount(key, minlength=n_keys)
    stratum_mean = np.divide(
        np.bincount(key, weights=totals, minlength=n_keys),
        n_psu,
        out=np.zeros(n_keys),
        where=n_psu > 0,
    )

    deviation = totals - stratum_mean[key]
    sum_sq = np.bincount(key, weights=deviation * deviation, minlength=n_keys)
    sum_sq += (n_psu - seen) * stratum_mean**2
    scale = np.divide(n_psu, n_psu - 1, out=np.zeros(n_keys), where=n_psu > 1)
    return (scale * sum_sq).reshape(n_domains, n_strata).sum(axis=1)


def _result(
    *,
    n_treatment: int,
    n_control: int,
    mean_treatment: float | None,
    mean_control: float | None,
    variance: float,
    short_strata: list[str],
    by_stratum: bool,
    detected: bool,
) -> DiffInMeans:
    """Build a `DiffInMeans` with the notes of `analysis.estimators.difference`."""
    reported = {
        "n_treatment": n_treatment,
        "n_control": n_control,
        "mean_treatment": mean_treatment,
        "mean_control": mean_control,
    }
    sizes = {"treatment": n_treatment, "control": n_control}
    none = {"estimate": None, "se": None, "ci_low": None, "ci_high": None}

    too_few = [arm for arm, size in sizes.items() if size < MIN_ARM_SIZE]
    if too_few:
        note = (
            f"Fewer than {MIN_ARM_SIZE} respondents in the {_arms_phrase(too_few)}; "
            "no estimate."
        )
        return DiffInMeans(**none, note=note, **reported)

    if short_strata:
        note = (
            f"{_within_strata_sentence(detected)} {_strata_phrase(short_strata)} "
            f"fewer than {MIN_ARM_SIZE} respondents in an arm; no estimate."
        )
        return DiffInMeans(**none, note=note, **reported)

    estimate = mean_treatment - mean_control
    se = math.sqrt(max(variance, 0.0))

    notes = []
    if by_stratum:
        notes.append(_within_strata_sentence(detected))
    small = [arm for arm, size in sizes.items() if size < SMALL_ARM_SIZE]
    if small:
        notes.append(
            f"Fewer than {SMALL_ARM_SIZE} respondents in the {_arms_phrase(small)}; "
            "the sample is small and the standard error is unreliable."
        )

    return DiffInMeans(
        estimate=estimate,
        se=se,
        ci_low=estimate - _Z * se,
        ci_high=estimate + _Z * se,
        note=" ".join(notes) or None,
        **reported,
    )


def _within_strata_sentence(detected: bool) -> str:
    """Say that the difference was estimated within strata, and why if detected."""
    sentence = (
        "The difference is estimated within each stratum and combined by the strata's "
        "weight totals"
    )
    if detected:
        return sentence + ", because the treatment share differs between strata."
    return sentence + "."


def _with_share(result: DiffInMeans, share: float | None) -> DiffInMeans:
    """Return `result` with its `share` set."""
    return dataclasses.replace(result, share=None if share is None else float(share))


def _strata_phrase(labels: list[str]) -> str:
    """Return "Stratum 'a' has" or "Strata 'a' and 'b' have" to open a sentence."""
    if len(labels) == 1:
        return f"Stratum {_quoted(labels)} has"
    return f"Strata {_quoted(labels)} have"


def _quoted(labels: list[str]) -> str:
    """Return labels as 'a' or 'a', 'b' and 'c' for use in a message."""
    quoted = [f"'{label}'" for label in labels]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]
