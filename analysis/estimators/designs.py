"""Designs with more than one list: several sensitive items, and the double list.

Two designs go beyond one treatment list against one control list. In the first,
respondents are split among a control arm and several item arms; each item arm sees
the control list plus its own sensitive item, so every item's estimate is a
difference in means against the same control arm. In the second, the double list,
every respondent answers two lists (A and B); a random half has the sensitive item on
list A and the other half on list B, so each list serves as the other half's control
list and the two lists' estimates are averaged.

Both designs make estimates that share data: two items' estimates subtract the same
control mean, and a double list's two estimates come from the same respondents. The
standard errors here account for that, as each function's Notes derive.

Everything here is a pure function of its arrays: no Django, no I/O.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from analysis.estimators.difference import (
    _Z,
    MIN_ARM_SIZE,
    SMALL_ARM_SIZE,
    DiffInMeans,
    _checked_arrays,
    _from_moments,
    _group_moments,
    _plain_float,
    difference_in_means,
)
from analysis.estimators.normal import two_sided_p as _p_value


@dataclass(frozen=True)
class ItemEstimate:
    """One sensitive item's difference in means against the shared control arm.

    Attributes
    ----------
    arm : str
        The item's arm, as named in the data.
    estimate : float or None
        Mean count in the item's arm minus mean count in the control arm; None when
        either arm has fewer than `MIN_ARM_SIZE` respondents with a count.
    se : float or None
        Unpooled (Neyman) standard error of `estimate`.
    ci_low, ci_high : float or None
        Bounds of the normal 95% confidence interval.
    n : int
        Respondents with a count in the item's arm.
    note : str or None
        A plain sentence when the numbers need a caveat or are missing.
    """

    arm: str
    estimate: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    note: str | None = None

    def to_dict(self) -> dict[str, float | int | str | None]:
        """Return the fields as plain Python values, with None for any NaN."""
        return {
            "arm": str(self.arm),
            "estimate": _plain_float(self.estimate),
            "se": _plain_float(self.se),
            "ci_low": _plain_float(self.ci_low),
            "ci_high": _plain_float(self.ci_high),
            "n": int(self.n),
            "note": None if self.note is None else str(self.note),
        }


@dataclass(frozen=True)
class ItemDifference:
    """The estimate for one sensitive item minus that for another.

    Attributes
    ----------
    a, b : str
        The two items; the difference is `a` minus `b`.
    estimate : float or None
        Mean count in arm `a` minus mean count in arm `b`, which is the estimate for
        `a` minus the estimate for `b`; None when either arm has fewer than
        `MIN_ARM_SIZE` respondents with a count.
    se : float or None
        Standard error of `estimate`, allowing for the shared control arm.
    ci_low, ci_high : float or None
        Bounds of the normal 95% confidence interval.
    p_value : float or None
        Two-sided normal p-value for no difference; None without an estimate or when
        the standard error is zero.
    note : str or None
        A plain sentence when the numbers need a caveat or are missing.
    """

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
            "a": str(self.a),
            "b": str(self.b),
            "estimate": _plain_float(self.estimate),
            "se": _plain_float(self.se),
            "ci_low": _plain_float(self.ci_low),
            "ci_high": _plain_float(self.ci_high),
            "p_value": _plain_float(self.p_value),
            "note": None if self.note is None else str(self.note),
        }


@dataclass(frozen=True)
class MultiItem:
    """Estimates for several sensitive items that share one control arm.

    Attributes
    ----------
    arms : list of ItemEstimate
        One entry per item, in the order the items were given.
    differences : list of ItemDifference
        One entry per pair of items (a, b), a before b in the items' order.
    n_control : int
        Respondents with a count in the control arm.
    n_missing : int
        Respondents left out because their count is missing.
    """

    arms: list[ItemEstimate]
    differences: list[ItemDifference]
    n_control: int
    n_missing: int

    def to_dict(self) -> dict:
        """Return the estimates as plain Python values, ready for JSON."""
        return {
            "arms": [item.to_dict() for item in self.arms],
            "differences": [pair.to_dict() for pair in self.differences],
            "n_control": int(self.n_control),
            "n_missing": int(self.n_missing),
        }


@dataclass(frozen=True)
class DoubleList:
    """Estimates from a double list experiment: each list alone, and combined.

    Attributes
    ----------
    list_a, list_b : DiffInMeans
        Each list's difference in means: for list A the respondents with the
        sensitive item on A against those without it, and likewise for list B. Each
        uses every respondent with a count on that list.
    estimate : float or None
        The average of the two lists' estimates over the respondents with both
        counts; None when either randomized group has fewer than `MIN_ARM_SIZE` of
        them.
    se : float or None
        Standard error of `estimate`, allowing for the covariance of the two lists.
    ci_low, ci_high : float or None
        Bounds of the normal 95% confidence interval.
    n : int
        Respondents with both counts, who make up the combined estimate.
    n_missing : int
        Respondents left out of the combined estimate for lack of a count on either
        list.
    correlation : float or None
        The pooled within-group correlation of the counts on list A and list B over
        the respondents with both counts; None when either list's counts do not vary
        within the groups.
    note : str or None
        A plain sentence when the combined numbers need a caveat or are missing.
    """

    list_a: DiffInMeans
    list_b: DiffInMeans
    estimate: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    n_missing: int
    correlation: float | None
    note: str | None = None

    def to_dict(self) -> dict:
        """Return the estimates as plain Python values, ready for JSON."""
        lists = []
        for name, result in (("A", self.list_a), ("B", self.list_b)):
            lists.append(
                {
                    "list": name,
                    "estimate": _plain_float(result.estimate),
                    "se": _plain_float(result.se),
                    "ci_low": _plain_float(result.ci_low),
                    "ci_high": _plain_float(result.ci_high),
                    "n_treatment": int(result.n_treatment),
                    "n_control": int(result.n_control),
                    "note": None if result.note is None else str(result.note),
                }
            )

        return {
            "lists": lists,
            "combined": {
                "estimate": _plain_float(self.estimate),
                "se": _plain_float(self.se),
                "ci_low": _plain_float(self.ci_low),
                "ci_high": _plain_float(self.ci_high),
                "n": int(self.n),
                "n_missing": int(self.n_missing),
                "note": None if self.note is None else str(self.note),
            },
            "correlation": _plain_float(self.correlation),
        }


def multi_item_estimates(
    counts, arms, control="control", items=None, *, J
) -> MultiItem:
    """Estimate the share holding each of several sensitive items with one control arm.

    Parameters
    ----------
    counts : array_like of float, shape (n,)
        The count each respondent reported; NaN marks a missing count, and such
        respondents are left out.
    arms : array_like of str, shape (n,)
        Each respondent's arm: `control`, or the code of the sensitive item added to
        the control list they saw. Arms are compared as text.
    control : str, default "control"
        The name of the control arm in `arms`.
    items : sequence of str, optional
        The items to report, in the order wanted; every arm other than `control`
        must be one of them. By default, every other arm present, in alphabetical
        order; then no respondent in the control arm is an error, since it most
        likely means the control arm is named differently.
    J : int
        The number of items on the control list (keyword only).

    Returns
    -------
    MultiItem
        Each item's difference in means against the control arm, and the difference
        between every pair of items, each with a standard error, normal 95%
        interval and (for pairs) a two-sided normal p-value.

    Raises
    ------
    ValueError
        If the arrays are not one-dimensional and of the same length, `J` is not a
        whole number >= 1, a count is infinite, not a whole number, or out of range
        for its arm (0..J in the control arm, 0..J + 1 in an item's arm), a
        respondent's arm is missing or not `control` or one of `items`, `items`
        repeats an item or names the control arm, or `items` is None and no
        respondent is in the control arm.

    Notes
    -----
    Write :math:`\\bar y_c` for the control arm's mean count and :math:`\\bar y_k`
    for item `k`'s arm, with sample variance :math:`s_k^2` (n - 1) over its
    :math:`n_k` respondents, and :math:`V_k = s_k^2 / n_k`. Item `k`'s estimate is
    :math:`d_k = \\bar y_k - \\bar y_c` with the unpooled (Neyman) standard error
    :math:`\\sqrt{V_k + V_c}`, exactly what `difference_in_means` gives on the
    item's arm and the control arm alone.

    Two items' estimates are not independent: both subtract the same
    :math:`\\bar y_c`. With the arms treated as independent samples (as for the
    Neyman standard error),

    .. math::

        \\operatorname{Cov}(d_a, d_b) = \\operatorname{Var}(\\bar y_c) = V_c,

    so

    .. math::

        \\operatorname{Var}(d_a - d_b) = (V_a + V_c) + (V_b + V_c) - 2 V_c
                                       = V_a + V_b.

    The same follows directly from :math:`d_a - d_b = \\bar y_a - \\bar y_b`: the
    control mean cancels from the estimate, so its variance cancels from the
    standard error. Combining the two items' standard errors as if they were
    independent, :math:`\\sqrt{se_a^2 + se_b^2}`, would add :math:`2 V_c` and
    overstate it. Because the control arm drops out, a difference needs only the
    two items' arms to have `MIN_ARM_SIZE` respondents, and its note about a small
    sample looks only at them.

    The p-value is :math:`2 (1 - \\Phi(|d| / se))`, one per pair, with no
    adjustment for making several comparisons. Each estimate assumes, as for a
    single list, that adding an item does not change how respondents count the
    control items and that they report truthfully; comparing items further assumes
    this holds for each item.

    References
    ----------
    .. [1] Blair, G. and Imai, K. (2012). "Statistical Analysis of List Experiments."
       Political Analysis 20(1), 47-77.
    .. [2] Imbens, G. W. and Rubin, D. B. (2015). Causal Inference for Statistics,
       Social, and Biomedical Sciences. Cambridge University Press, ch. 6.
    """
    J = _checked_J(J, "J")
    counts = _checked_counts(counts, "counts")
    labels = _checked_labels(arms, counts.shape)
    control = str(control)
    items = _checked_items(items, labels, control)

    names = [control, *items]
    code = _arm_codes(labels, names)
    answered = ~np.isnan(counts)
    _check_range(counts, answered & (code == 0), J, f"in the '{control}' arm")
    for k, item in enumerate(items, start=1):
        _check_range(counts, answered & (code == k), J + 1, f"in the '{item}' arm")

    n, mean, sum_sq = _group_moments(counts[answered], code[answered], len(names))
    variance = [
        sum_sq[k] / (n[k] - 1) / n[k] if n[k] >= MIN_ARM_SIZE else None
        for k in range(len(names))
    ]

    estimates = []
    for k, item in enumerate(items, start=1):
        result = _from_moments(
            n_treatment=n[k],
            mean_treatment=mean[k],
            sum_sq_treatment=sum_sq[k],
            n_control=n[0],
            mean_control=mean[0],
            sum_sq_control=sum_sq[0],
            share=None,
        )
        sizes = {f"'{item}' arm": n[k], f"'{control}' arm": n[0]}
        estimates.append(
            ItemEstimate(
                arm=item,
                estimate=result.estimate,
                se=result.se,
                ci_low=result.ci_low,
                ci_high=result.ci_high,
                n=n[k],
                note=_size_note(sizes, "estimate"),
            )
        )

    differences = []
    for a, b in itertools.combinations(range(1, len(names)), 2):
        sizes = {f"'{names[a]}' arm": n[a], f"'{names[b]}' arm": n[b]}
        note = _size_note(sizes, "difference")
        if variance[a] is None or variance[b] is None:
            differences.append(
                ItemDifference(names[a], names[b], None, None, None, None, None, note)
            )
            continue

        estimate = mean[a] - mean[b]
        se = math.sqrt(variance[a] + variance[b])
        differences.append(
            ItemDifference(
                a=names[a],
                b=names[b],
                estimate=estimate,
                se=se,
                ci_low=estimate - _Z * se,
                ci_high=estimate + _Z * se,
                p_value=_p_value(estimate, se),
                note=note,
            )
        )

    return MultiItem(
        arms=estimates,
        differences=differences,
        n_control=n[0],
        n_missing=int(counts.size - np.count_nonzero(answered)),
    )


def double_list_estimates(count_a, count_b, treated_on_a, J_a, J_b) -> DoubleList:
    """Estimate the share holding the sensitive item from a double list experiment.

    Parameters
    ----------
    count_a, count_b : array_like of float, shape (n,)
        Each respondent's count on list A and on list B; NaN marks a missing count.
    treated_on_a : array_like of bool or {0, 1}, shape (n,)
        True (1) when the sensitive item was on the respondent's list A, so that
        list B was their control list; False (0) when it was on list B.
    J_a, J_b : int
        The number of control items on list A and on list B.

    Returns
    -------
    DoubleList
        Each list's difference in means, the combined estimate with its standard
        error and normal 95% interval, and the within-group correlation of the
        two lists.

    Raises
    ------
    ValueError
        If the arrays are not one-dimensional and of the same length, `J_a` or
        `J_b` is not a whole number >= 1, `treated_on_a` holds anything other than
        0/1 or True/False, or a count is infinite, not a whole number, or out of
        range (0..J + 1 on the list that carried the sensitive item, 0..J on the
        other).

    Notes
    -----
    Call G1 the respondents with the sensitive item on list A and G2 those with it
    on list B, with :math:`n_1` and :math:`n_2` of them, and write
    :math:`\\bar A_g, \\bar B_g` for a group's mean counts. Each list gives a
    difference in means,

    .. math::

        d_A = \\bar A_1 - \\bar A_2, \\qquad d_B = \\bar B_2 - \\bar B_1,

    reported with its own unpooled (Neyman) standard error, as
    `difference_in_means` gives it. The combined estimate is
    :math:`\\hat\\tau = (d_A + d_B) / 2` (Droitcour et al. 1991; Glynn 2013).

    Every respondent answers both lists, so :math:`d_A` and :math:`d_B` are
    correlated. The groups are independent samples, so only means from the same
    group covary, and with :math:`s_{AB,g}` the sample covariance (n - 1) of A and
    B within group g, :math:`\\operatorname{Cov}(\\bar A_g, \\bar B_g) =
    s_{AB,g} / n_g`. Then

    .. math::

        \\operatorname{Cov}(d_A, d_B)
          = -\\operatorname{Cov}(\\bar A_1, \\bar B_1)
            - \\operatorname{Cov}(\\bar A_2, \\bar B_2)
          = -s_{AB,1} / n_1 - s_{AB,2} / n_2,

    .. math::

        \\operatorname{Var}(\\hat\\tau) = \\tfrac14 \\left[
            \\operatorname{Var}(d_A) + \\operatorname{Var}(d_B)
            + 2 \\operatorname{Cov}(d_A, d_B) \\right],

    with :math:`\\operatorname{Var}(d_A) = s_{A,1}^2 / n_1 + s_{A,2}^2 / n_2` and
    likewise for B. Collecting the terms by group shows that this is the Neyman
    variance of a difference in means of :math:`D = (A - B) / 2` between G1 and
    G2, since :math:`\\hat\\tau = \\bar D_1 - \\bar D_2` and
    :math:`s_{D,g}^2 = (s_{A,g}^2 + s_{B,g}^2 - 2 s_{AB,g}) / 4`. A positive
    correlation between the lists' counts therefore makes the combined estimate
    more precise, which is why Glynn (2013) advises choosing the two control lists
    so that their counts are positively correlated.

    The combined estimate uses only respondents with both counts, who are counted
    in `n`; the others are left out (`n_missing`) but still count towards the
    single list they answered. With missing counts the combined estimate is
    therefore not exactly the average of the two lists' estimates as reported.

    `correlation` is the pooled within-group correlation,
    :math:`\\sum_g \\sum_i (A_i - \\bar A_g)(B_i - \\bar B_g)` over the square root
    of the product of the two pooled sums of squares, so that the sensitive item,
    which shifts each list's mean between the groups, does not enter it.

    References
    ----------
    .. [1] Droitcour, J., Caspar, R. A., Hubbard, M. L., Parsley, T. L., Visscher,
       W. and Ezzati, T. M. (1991). "The Item Count Technique as a Method of
       Indirect Questioning: A Review of Its Development and a Case Study
       Application." In Biemer, P. P. et al. (eds.), Measurement Errors in
       Surveys, Wiley, 185-210.
    .. [2] Glynn, A. N. (2013). "What Can We Learn with Statistical Truth Serum?
       Design and Analysis of the List Experiment." Public Opinion Quarterly
       77(S1), 159-172.
    """
    J_a = _checked_J(J_a, "J_a")
    J_b = _checked_J(J_b, "J_b")
    count_a, group_1 = _checked_arrays(count_a, treated_on_a)
    count_b, _ = _checked_arrays(count_b, group_1)

    has_a, has_b = ~np.isnan(count_a), ~np.isnan(count_b)
    carried, control = "that carried the sensitive item", "that was the control list"
    _check_range(count_a, has_a & group_1, J_a + 1, f"on a list A {carried}")
    _check_range(count_a, has_a & ~group_1, J_a, f"on a list A {control}")
    _check_range(count_b, has_b & ~group_1, J_b + 1, f"on a list B {carried}")
    _check_range(count_b, has_b & group_1, J_b, f"on a list B {control}")

    list_a = difference_in_means(count_a, group_1)
    list_b = difference_in_means(count_b, ~group_1)

    both = has_a & has_b
    n_both = int(np.count_nonzero(both))
    combined, note = _combined(count_a[both], count_b[both], group_1[both])

    notes = [note]
    if n_both < count_a.size:
        notes.append(
            f"The combined estimate leaves out {count_a.size - n_both} respondent(s) "
            "without a count on both lists."
        )

    return DoubleList(
        list_a=list_a,
        list_b=list_b,
        n=n_both,
        n_missing=count_a.size - n_both,
        note=" ".join(note for note in notes if note) or None,
        **combined,
    )


def _combined(
    a: np.ndarray, b: np.ndarray, group_1: np.ndarray
) -> tuple[dict, str | None]:
    """Return the combined estimate's fields, and a note, from complete respondents."""
    group = (~group_1).astype(np.intp)
    n, mean_a, ss_a = _group_moments(a, group, n_groups=2)
    _, mean_b, ss_b = _group_moments(b, group, n_groups=2)

    mean_a, mean_b = np.asarray(mean_a), np.asarray(mean_b)
    deviation_a = a - mean_a[group]
    deviation_b = b - mean_b[group]
    sp_ab = np.bincount(group, weights=deviation_a * deviation_b, minlength=2)

    correlation = None
    if ss_a[0] + ss_a[1] > 0 and ss_b[0] + ss_b[1] > 0:
        pooled = math.sqrt((ss_a[0] + ss_a[1]) * (ss_b[0] + ss_b[1]))
        correlation = max(-1.0, min(1.0, float(sp_ab.sum()) / pooled))

    sizes = {
        "group with the sensitive item on list A": n[0],
        "group with the sensitive item on list B": n[1],
    }
    note = _size_note(sizes, "combined estimate", counted="with both counts")
    if min(n) < MIN_ARM_SIZE:
        missing = dict.fromkeys(["estimate", "se", "ci_low", "ci_high"])
        return {**missing, "correlation": correlation}, note

    d_a = mean_a[0] - mean_a[1]
    d_b = mean_b[1] - mean_b[0]
    estimate = float(d_a + d_b) / 2

    # Each term is a group's sum of squares (or cross-products) over (n - 1) n.
    scale = [1 / ((n[g] - 1) * n[g]) for g in (0, 1)]
    var_d_a = ss_a[0] * scale[0] + ss_a[1] * scale[1]
    var_d_b = ss_b[0] * scale[0] + ss_b[1] * scale[1]
    cov_d = -sp_ab[0] * scale[0] - sp_ab[1] * scale[1]
    variance = (var_d_a + var_d_b + 2 * cov_d) / 4
    se = math.sqrt(max(float(variance), 0.0))

    fields = {
        "estimate": estimate,
        "se": se,
        "ci_low": estimate - _Z * se,
        "ci_high": estimate + _Z * se,
        "correlation": correlation,
    }
    return fields, note


def _checked_J(J, name: str) -> int:
    """Return `J` as an int, or raise a ValueError saying what it must be."""
    message = f"{name} is a number of control items, a whole number >= 1; got {J!r}."
    if isinstance(J, bool | str):
        raise ValueError(message)
    try:
        whole = float(J).is_integer() and J >= 1
    except (TypeError, ValueError):
        whole = False
    if not whole:
        raise ValueError(message)
    return int(J)


def _checked_counts(counts, name: str) -> np.ndarray:
    """Return counts as a one-dimensional float array without infinite values."""
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {counts.shape}.")
    if np.isinf(counts).any():
        raise ValueError(
            f"{name} holds an infinite value; use NaN for a missing count."
        )
    return counts


def _checked_labels(arms, shape: tuple[int, ...]) -> np.ndarray:
    """Return the arms as text, or raise a ValueError for a bad shape or a gap."""
    labels = np.asarray(arms, dtype=object)
    if labels.shape != shape:
        raise ValueError(
            f"arms has shape {labels.shape} but counts has shape {shape}; give one "
            "arm per respondent."
        )
    if np.equal(labels, None).any():
        raise ValueError(
            "A respondent has no arm; every respondent needs the arm they were "
            "randomized to."
        )
    return labels.astype(str)


def _checked_items(items, labels: np.ndarray, control: str) -> list[str]:
    """Return the items to report, checked against the control arm's name."""
    if items is None:
        present = [str(label) for label in np.unique(labels)]
        if control not in present:
            raise ValueError(
                f"No respondent is in the control arm '{control}'; name the control "
                "arm as it appears in arms, or pass items to estimate without one."
            )
        return [label for label in present if label != control]

    items = [str(item) for item in items]
    if control in items:
        raise ValueError(
            f"'{control}' is the control arm; list only the sensitive items' arms in "
            "items."
        )
    repeated = sorted({item for item in items if items.count(item) > 1})
    if repeated:
        raise ValueError(f"items lists '{repeated[0]}' more than once.")
    return items


def _arm_codes(labels: np.ndarray, names: list[str]) -> np.ndarray:
    """Return each respondent's index into `names`, or raise for an unknown arm."""
    present, inverse = np.unique(labels, return_inverse=True)
    index = {name: k for k, name in enumerate(names)}
    unknown = [str(label) for label in present if label not in index]
    if unknown:
        raise ValueError(
            f"A respondent's arm is '{unknown[0]}', which is neither the control arm "
            f"'{names[0]}' nor one of the items; check the arm names or pass items."
        )
    lookup = np.array([index[label] for label in present], dtype=np.intp)
    return lookup[inverse.reshape(-1)]


def _check_range(counts, rows, top: int, where: str) -> None:
    """Raise a ValueError when a count in `rows` is not a whole number in 0..top."""
    arm = counts[rows]
    bad = (arm != np.round(arm)) | (arm < 0) | (arm > top)
    if bad.any():
        raise ValueError(
            f"A count of {arm[bad][0]:g} {where} is impossible: counts there are "
            f"whole numbers from 0 to {top}."
        )


def _size_note(
    sizes: dict[str, int], what: str, counted: str = "with a count"
) -> str | None:
    """Return a note when any of `sizes` is too small, or None when all are fine."""
    too_few = [name for name, size in sizes.items() if size < MIN_ARM_SIZE]
    if too_few:
        return (
            f"Fewer than {MIN_ARM_SIZE} respondents {counted} in the "
            f"{' and the '.join(too_few)}; no {what}."
        )

    small = [name for name, size in sizes.items() if size < SMALL_ARM_SIZE]
    if small:
        return (
            f"Fewer than {SMALL_ARM_SIZE} respondents {counted} in the "
            f"{' and the '.join(small)}; the sample is small and the standard error "
            f"of the {what} is unreliable."
        )
    return None
