"""Difference in means for a list experiment, overall and by level of a covariate.

In a list experiment the treatment list holds the control list's items plus the
sensitive item, so the difference between the mean count in the treatment arm and the
mean count in the control arm estimates the share of respondents who hold the
sensitive item. This module computes that difference with its standard error and a
normal confidence interval, and the same quantities within each level of a covariate.

Everything here is a pure function of its arrays: no Django, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.estimators.normal import Z95
from analysis.estimators.normal import plain_float as _plain_float

#: An arm needs at least this many respondents with a count for a variance, so fewer
#: gives no estimate at all.
MIN_ARM_SIZE = 2

#: Below this many respondents with a count in an arm the normal interval is not
#: trustworthy; the estimate is still reported, with a note saying so.
SMALL_ARM_SIZE = 30

#: Two-sided 95% normal quantile used for every confidence interval here.
_Z = Z95


@dataclass(frozen=True)
class DiffInMeans:
    """A difference in means between the treatment and control arms.

    Attributes
    ----------
    estimate : float or None
        Mean count in the treatment arm minus mean count in the control arm; None when
        an arm has fewer than `MIN_ARM_SIZE` respondents.
    se : float or None
        Unpooled (Neyman) standard error of `estimate`.
    ci_low, ci_high : float or None
        Bounds of the normal 95% confidence interval.
    n_treatment, n_control : int
        Respondents with a count in each arm.
    mean_treatment, mean_control : float or None
        Mean count in each arm; None when the arm is empty.
    share : float or None
        For a level of a covariate, its share of the respondents that have a count and
        a level; None for the overall estimate.
    note : str or None
        A plain sentence when the numbers need a caveat or are missing.
    """

    estimate: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    n_treatment: int
    n_control: int
    mean_treatment: float | None
    mean_control: float | None
    share: float | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, float | int | str | None]:
        """Return the fields as plain Python values, ready for JSON or a template.

        Numpy scalars become Python numbers and a non-finite float becomes None, so
        that a caller never has to special-case NaN when serialising.
        """
        return {
            "estimate": _plain_float(self.estimate),
            "se": _plain_float(self.se),
            "ci_low": _plain_float(self.ci_low),
            "ci_high": _plain_float(self.ci_high),
            "n_treatment": int(self.n_treatment),
            "n_control": int(self.n_control),
            "mean_treatment": _plain_float(self.mean_treatment),
            "mean_control": _plain_float(self.mean_control),
            "share": _plain_float(self.share),
            "note": None if self.note is None else str(self.note),
        }


@dataclass(frozen=True)
class LevelBreakdown:
    """Differences in means within each level of one covariate.

    Attributes
    ----------
    levels : list of (str, DiffInMeans)
        One entry per level present, in natural order (numeric when every level reads
        as a number, otherwise alphabetical).
    n_missing : int
        Respondents left out because their count or their level is missing.
    """

    levels: list[tuple[str, DiffInMeans]]
    n_missing: int


def difference_in_means(counts, treated) -> DiffInMeans:
    """Estimate the share holding the sensitive item by a difference in means.

    Parameters
    ----------
    counts : array_like of float, shape (n,)
        The count each respondent reported; NaN marks a missing count, and such
        respondents are left out.
    treated : array_like of bool or {0, 1}, shape (n,)
        True (1) for respondents shown the treatment list, False (0) for the control
        list.

    Returns
    -------
    DiffInMeans
        The estimate with its standard error and 95% interval; `share` is None.

    Raises
    ------
    ValueError
        If the arrays are not one-dimensional and of the same length, a count is
        infinite, or `treated` holds anything other than 0/1 or True/False.

    Notes
    -----
    The standard error is the unpooled one, sqrt(s_t^2 / n_t + s_c^2 / n_c) with
    n - 1 in each variance. It is not pooled because the treatment list has one more
    item than the control list, so the arms' variances differ by design.

    The difference in means is unbiased for the share holding the sensitive item only
    under the usual list-experiment assumptions: adding the sensitive item does not
    change how respondents count the control items (no design effect), and
    respondents report their count truthfully (no liars). Neither can be checked
    here.

    With fewer than `MIN_ARM_SIZE` respondents in an arm there is no estimate, and
    with fewer than `SMALL_ARM_SIZE` the estimate comes with a note that the standard
    error is unreliable; the note says which arm.

    References
    ----------
    .. [1] Blair, G. and Imai, K. (2012). "Statistical Analysis of List Experiments."
       Political Analysis 20(1), 47-77.
    .. [2] Imbens, G. W. and Rubin, D. B. (2015). Causal Inference for Statistics,
       Social, and Biomedical Sciences. Cambridge University Press, ch. 6.
    """
    counts, treated = _checked_arrays(counts, treated)

    answered = ~np.isnan(counts)
    arm = treated[answered].astype(np.intp)
    n, mean, sum_sq = _group_moments(counts[answered], arm, n_groups=2)

    return _from_moments(
        n_treatment=n[1],
        mean_treatment=mean[1],
        sum_sq_treatment=sum_sq[1],
        n_control=n[0],
        mean_control=mean[0],
        sum_sq_control=sum_sq[0],
        share=None,
    )


def difference_by_level(counts, treated, levels) -> LevelBreakdown:
    """Estimate the difference in means within each level of a covariate.

    Parameters
    ----------
    counts : array_like of float, shape (n,)
        The count each respondent reported; NaN marks a missing count.
    treated : array_like of bool or {0, 1}, shape (n,)
        True (1) for respondents shown the treatment list.
    levels : array_like of str, shape (n,)
        Each respondent's level of the covariate; None marks a missing level. Levels
        are compared as text, so 1 and "1" are the same level.

    Returns
    -------
    LevelBreakdown
        One `DiffInMeans` per level present, with `share` the level's share of the
        respondents that have both a count and a level, and the number of respondents
        left out.

    Raises
    ------
    ValueError
        As for `difference_in_means`, and if `levels` is not the same length.

    Notes
    -----
    Each level's estimate is exactly what `difference_in_means` gives on that level's
    respondents, with the same notes for small arms. A level present only in one arm
    is still listed, with no estimate and a note.

    The work is done with one pass coding the levels and a few `np.bincount` passes
    over (level, arm) groups rather than a mask per level, so that it stays within a
    small factor of computing the means alone on a million respondents. Variances are
    summed from deviations about each group's mean, not as sum(x^2) - n * mean^2,
    which loses all precision when counts are large relative to their spread.

    Only None marks a missing level; a float NaN in `levels` becomes the level "nan".

    References
    ----------
    .. [1] Blair, G. and Imai, K. (2012). "Statistical Analysis of List Experiments."
       Political Analysis 20(1), 47-77.
    """
    counts, treated = _checked_arrays(counts, treated)
    levels = np.asarray(levels)
    if levels.shape != counts.shape:
        raise ValueError(
            f"levels has shape {levels.shape} but counts has shape {counts.shape}; "
            "give one level per respondent."
        )

    kept, level_index, labels = _level_codes(levels, ~np.isnan(counts))
    n_kept = int(np.count_nonzero(kept))
    group = level_index * 2 + treated[kept]
    n, mean, sum_sq = _group_moments(counts[kept], group, n_groups=2 * len(labels))

    rows = []
    for i in _natural_order(labels):
        control, treatment = 2 * i, 2 * i + 1
        estimate = _from_moments(
            n_treatment=n[treatment],
            mean_treatment=mean[treatment],
            sum_sq_treatment=sum_sq[treatment],
            n_control=n[control],
            mean_control=mean[control],
            sum_sq_control=sum_sq[control],
            share=(n[treatment] + n[control]) / n_kept,
        )
        rows.append((str(labels[i]), estimate))

    return LevelBreakdown(levels=rows, n_missing=counts.size - n_kept)


def _level_codes(levels: np.ndarray, answered: np.ndarray):
    """Return the respondents kept (a count and a level), each kept respondent's index
    into the levels, and the levels as sorted text.

    Levels are compared as ``str`` gives them. Text in an object array, which is what
    the selectors hand over, is coded by hashing (pandas' factorize) and only its few
    distinct values are sorted: several times faster on a million respondents than
    converting to fixed-width text and sorting, which is what is done with anything
    else (numbers, fixed-width text, and text that fixed width would change: a
    trailing NUL).
    """
    coded = _text_codes(levels) if levels.dtype == object else None
    if coded is None:
        kept = answered.copy()
        if levels.dtype == object:
            kept &= ~np.equal(levels, None)
        # Converting to fixed-width text first makes the sort several times faster
        # than sorting Python string objects.
        labels, index = np.unique(levels[kept].astype(str), return_inverse=True)
        return kept, index.reshape(-1), labels.tolist()

    index, texts = coded
    kept = answered & (index >= 0)
    index = index[kept]

    # Only levels with a kept respondent are listed, as with the sort above.
    present = np.bincount(index, minlength=len(texts)) > 0
    renumbered = np.cumsum(present) - 1
    labels = [text for text, shown in zip(texts, present) if shown]
    return kept, renumbered[index], labels


def _text_codes(levels: np.ndarray) -> tuple[np.ndarray, list[str]] | None:
    """Each respondent's index into the sorted distinct levels (-1 for None), and
    those levels, when every level other than None is text that fixed-width
    conversion keeps as it is; else None."""
    try:
        codes, uniques = pd.factorize(levels, use_na_sentinel=True)
    except TypeError:  # an unhashable level
        return None
    uniques = list(uniques)
    if not all(type(v) is str and not v.endswith("\x00") for v in uniques):
        return None
    missing = codes < 0
    # factorize also takes NaN for missing; only None is missing here.
    if missing.any() and not np.equal(levels[missing], None).all():
        return None

    order = sorted(range(len(uniques)), key=uniques.__getitem__)
    rank = np.empty(len(uniques) + 1, dtype=np.intp)
    rank[order] = np.arange(len(uniques))
    rank[-1] = -1
    return rank[codes], [uniques[i] for i in order]


def _checked_arrays(counts, treated) -> tuple[np.ndarray, np.ndarray]:
    """Return counts as float and treated as bool, or raise a ValueError saying why."""
    counts = np.asarray(counts, dtype=float)
    treated = np.asarray(treated)
    if counts.ndim != 1 or treated.shape != counts.shape:
        raise ValueError(
            f"counts and treated must be one-dimensional and of the same length; "
            f"got shapes {counts.shape} and {treated.shape}."
        )

    if np.isinf(counts).any():
        raise ValueError("counts holds an infinite value; use NaN for a missing count.")

    if treated.dtype != bool:
        if not ((treated == 0) | (treated == 1)).all():
            raise ValueError(
                "treated must hold only True/False or 1/0; a respondent without an "
                "arm cannot be used."
            )
        treated = treated.astype(bool)

    return counts, treated


def _group_moments(x, group, n_groups):
    """Return per-group size, mean and sum of squared deviations about the mean.

    Empty groups get size 0, mean 0 and sum 0, so no NaN is ever produced; callers
    look at the size before using the others.
    """
    n = np.bincount(group, minlength=n_groups)
    total = np.bincount(group, weights=x, minlength=n_groups)
    mean = np.divide(total, n, out=np.zeros(n_groups), where=n > 0)

    deviation = x - mean[group]
    sum_sq = np.bincount(group, weights=deviation * deviation, minlength=n_groups)

    return n.tolist(), mean.tolist(), sum_sq.tolist()


def _from_moments(
    *,
    n_treatment: int,
    mean_treatment: float,
    sum_sq_treatment: float,
    n_control: int,
    mean_control: float,
    sum_sq_control: float,
    share: float | None,
) -> DiffInMeans:
    """Build a `DiffInMeans` from each arm's size, mean and sum of squares."""
    sizes = {"treatment": int(n_treatment), "control": int(n_control)}
    means = {
        "treatment": float(mean_treatment) if n_treatment >= 1 else None,
        "control": float(mean_control) if n_control >= 1 else None,
    }
    reported = {
        "n_treatment": sizes["treatment"],
        "n_control": sizes["control"],
        "mean_treatment": means["treatment"],
        "mean_control": means["control"],
        "share": None if share is None else float(share),
    }

    too_few = [arm for arm, size in sizes.items() if size < MIN_ARM_SIZE]
    if too_few:
        note = (
            f"Fewer than {MIN_ARM_SIZE} respondents in the {_arms_phrase(too_few)}; "
            "no estimate."
        )
        return DiffInMeans(
            estimate=None, se=None, ci_low=None, ci_high=None, note=note, **reported
        )

    estimate = means["treatment"] - means["control"]
    variance = sum_sq_treatment / (n_treatment - 1) / n_treatment
    variance += sum_sq_control / (n_control - 1) / n_control
    se = math.sqrt(variance)

    small = [arm for arm, size in sizes.items() if size < SMALL_ARM_SIZE]
    note = None
    if small:
        note = (
            f"Fewer than {SMALL_ARM_SIZE} respondents in the {_arms_phrase(small)}; "
            "the sample is small and the standard error is unreliable."
        )

    return DiffInMeans(
        estimate=estimate,
        se=se,
        ci_low=estimate - _Z * se,
        ci_high=estimate + _Z * se,
        note=note,
        **reported,
    )


def _arms_phrase(arms: list[str]) -> str:
    """Return "control arm" or "treatment and control arms" for use in a note."""
    if len(arms) == 1:
        return f"{arms[0]} arm"
    return " and ".join(arms) + " arms"


def _natural_order(labels: list[str]) -> list[int]:
    """Return the indices of `labels` in the order a reader expects.

    Numeric order when every label reads as a finite number, so that "2" comes
    before "10"; otherwise the labels' own (alphabetical) order. Ties between labels
    such as "2" and "2.0" keep their alphabetical order.
    """
    try:
        keys = [float(label) for label in labels]
    except ValueError:
        return list(range(len(labels)))

    if not all(math.isfinite(key) for key in keys):
        return list(range(len(labels)))
    return sorted(range(len(labels)), key=keys.__getitem__)
