"""One estimate report from one specification: the same for a file and for a wave.

The command line and the estimate job both describe what an analyst asked for as a
`ReportSpec` and hand the data over as arrays in a `ReportData`; this module runs the
estimators and returns plain data with the keys the JSON output documents. It stays
free of Django and I/O like every estimator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from analysis.estimators.balance import covariate_balance
from analysis.estimators.breakdown import breakdown_table
from analysis.estimators.contrasts import group_difference
from analysis.estimators.design_test import design_effect_test
from analysis.estimators.designs import double_list_estimates, multi_item_estimates
from analysis.estimators.direct import list_and_direct
from analysis.estimators.floor_ceiling import count_distribution, floor_ceiling
from analysis.estimators.models import item_count_regression
from analysis.estimators.weighted import (
    weighted_difference_by_level,
    weighted_difference_in_means,
)

UNWEIGHTED_NOTE = (
    "Computed without the design weights, strata and clusters, as R's list package "
    "does."
)

SINGLE = "single"
SEVERAL_ITEMS = "several_items"
DOUBLE = "double"


@dataclass(frozen=True)
class ReportSpec:
    """What to estimate, beyond the overall difference in means.

    ``compare`` holds (variable, a, b) triples: estimate(a) minus estimate(b).
    ``model`` is "lm", "ml" or None; an ML fit is always reported beside the linear one.
    ``balance`` names the covariates whose balance across arms is checked.
    Differences between groups, the design test, models and the direct question are
    for a single list with one sensitive item.
    """

    by: tuple[str, ...] = ()
    compare: tuple[tuple[str, str, str], ...] = ()
    design_test: bool = False
    gms: bool = True
    model: str | None = None
    covariates: tuple[str, ...] = ()
    predict_by: tuple[str, ...] = ()
    direct: bool = False
    balance: tuple[str, ...] = ()


@dataclass
class ReportData:
    """The respondents as arrays, one entry per respondent.

    ``levels`` holds each breakdown variable as text (None where missing);
    ``columns`` the model's and the balance check's covariates (numbers, or text for
    coded ones, named in ``coded``). ``weights``, ``strata`` and ``clusters``
    describe the design for weighting, or are None for a simple random sample.

    ``list_design`` is `SINGLE` (``treated`` gives the arm), `SEVERAL_ITEMS` (several
    sensitive items sharing the control list: ``arms`` holds each respondent's arm
    and ``arm_names`` the control arm first, then the items) or `DOUBLE` (``counts``
    is list A, ``second_counts`` list B with ``second_items`` control items, and
    ``arms`` names the list that carried the sensitive item, ``arm_names`` giving
    list A's name first).

    ``balance_strata`` are the strata within which arms were randomized, for the
    balance check's fixed effects whether or not the estimates are weighted.
    ``statuses`` counts respondents by arm and status, the complete status first;
    without it, a missing count is the only nonresponse.
    """

    counts: np.ndarray
    treated: np.ndarray
    items: int
    levels: Mapping[str, np.ndarray] = field(default_factory=dict)
    columns: Mapping[str, np.ndarray] = field(default_factory=dict)
    coded: frozenset[str] = frozenset()
    weights: np.ndarray | None = None
    strata: np.ndarray | None = None
    clusters: np.ndarray | None = None
    direct: np.ndarray | None = None
    list_design: str = SINGLE
    arms: np.ndarray | None = None
    arm_names: tuple[str, ...] = ()
    second_counts: np.ndarray | None = None
    second_items: int | None = None
    balance_strata: np.ndarray | None = None
    statuses: Mapping[str, Mapping[str, int]] | None = None

    @property
    def weighted(self) -> bool:
        return (
            self.weights is not None
            or self.strata is not None
            or self.clusters is not None
        )


def design_arrays(data: ReportData):
    """Weights (ones when only strata or clusters are given), strata and clusters."""
    weights = data.weights
    if weights is None:
        weights = np.ones(len(data.counts))
    return weights, data.strata, data.clusters


def breakdowns(data: ReportData, spec: ReportSpec, progress) -> dict:
    if not data.weighted:
        variables = {name: data.levels[name] for name in spec.by}
        return breakdown_table(data.counts, data.treated, variables, progress)

    weights, strata, clusters = design_arrays(data)
    overall = weighted_difference_in_means(
        data.counts, data.treated, weights, strata, clusters
    )
    groups, missing = [], {}
    for done, name in enumerate(spec.by, start=1):
        result = weighted_difference_by_level(
            data.counts, data.treated, weights, data.levels[name], strata, clusters
        )
        missing[name] = result.n_missing
        groups.extend(
            {"variable": name, "level": level, **estimate.to_dict()}
            for level, estimate in result.levels
        )
        if progress is not None:
            progress(done, len(spec.by))
    return {"overall": overall.to_dict(), "groups": groups, "missing": missing}


def report(
    data: ReportData,
    spec: ReportSpec,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Run every estimator the specification asks for.

    Raises
    ------
    ValueError
        With a plain sentence, for data an estimator cannot use (weights that are
        negative or all zero, an empty arm, a count out of range, ...), or a
        specification the design does not support.
    """
    if data.list_design == SEVERAL_ITEMS:
        result = several_items_report(data, spec, progress)
    elif data.list_design == DOUBLE:
        result = double_list_report(data, spec, progress)
    else:
        result = single_list_report(data, spec, progress)
    result["list_design"] = data.list_design

    if spec.balance:
        result["balance"] = balance_report(data, spec)
    return result


def single_list_report(data: ReportData, spec: ReportSpec, progress) -> dict:
    """One list with one sensitive item: the table and everything asked beside it."""
    result = breakdowns(data, spec, progress)
    result["weighted"] = data.weighted

    differences = []
    for variable, a, b in spec.compare:
        if data.weighted:
            weights, strata, clusters = design_arrays(data)
        else:
            weights = strata = clusters = None
        difference = group_difference(
            data.counts,
            data.treated,
            data.levels[variable],
            variable=variable,
            a=a,
            b=b,
            weights=weights,
            strata=strata,
            clusters=clusters,
        )
        differences.append(difference.to_dict())
    if spec.compare:
        result["differences"] = differences

    if spec.design_test:
        test = design_effect_test(data.counts, data.treated, data.items, gms=spec.gms)
        result["design_test"] = test.to_dict()
        if data.weighted:
            result["design_test"]["note"] = " ".join(
                filter(None, [result["design_test"]["note"], UNWEIGHTED_NOTE])
            )
        result["floor_ceiling"] = floor_ceiling(
            data.counts, data.treated, data.items
        ).to_dict()
        result["count_distribution"] = count_distribution(
            data.counts, data.treated, data.items
        )

    if spec.direct:
        combined = list_and_direct(data.counts, data.treated, data.direct, J=data.items)
        result.update(combined.to_dict())
        if data.weighted:
            result["notes"] = [*result["notes"], UNWEIGHTED_NOTE]

    if spec.model:
        result["model"] = fit(data, spec, spec.model)
        if spec.model == "ml":
            result["model_linear"] = fit(data, spec, "lm")
    return result


def fit(data: ReportData, spec: ReportSpec, method: str) -> dict:
    columns = dict(data.columns)
    for name in spec.predict_by:
        columns.setdefault(name, data.levels[name])
    fitted = item_count_regression(
        data.counts,
        data.treated,
        columns,
        spec.covariates,
        J=data.items,
        method=method,
        predict_by=spec.predict_by,
        coded=data.coded,
    ).to_dict()
    if data.weighted:
        fitted["warnings"] = [*fitted["warnings"], UNWEIGHTED_NOTE]
    return fitted


def refuse_single_list_options(data: ReportData, spec: ReportSpec) -> None:
    """Raise ValueError for options only a single list with one item supports."""
    asked = [
        name
        for name, on in (
            ("differences between groups", spec.compare),
            ("the design-effect test", spec.design_test),
            ("a regression model", spec.model or spec.covariates or spec.predict_by),
            ("the direct question", spec.direct),
            ("weights", data.weighted),
        )
        if on
    ]
    if asked:
        design = (
            "several sensitive items"
            if data.list_design == SEVERAL_ITEMS
            else "a double list"
        )
        raise ValueError(
            f"With {design} the estimate gives each item's or list's difference in "
            f"means, overall and by group, and balance; not {', '.join(asked)}."
        )


def several_items_report(data: ReportData, spec: ReportSpec, progress) -> dict:
    """Each item against the shared control arm, and each pair of items.

    The same within every level of each variable in ``spec.by``, each level's
    estimates exactly what `multi_item_estimates` gives on its respondents.
    """
    refuse_single_list_options(data, spec)
    control, items = data.arm_names[0], list(data.arm_names[1:])

    def estimate(rows: np.ndarray) -> dict:
        return multi_item_estimates(
            data.counts[rows], data.arms[rows], control, items, J=data.items
        ).to_dict()

    answered = ~np.isnan(data.counts)
    result = estimate(np.ones(data.counts.size, dtype=bool))
    result.update(by_level(data.levels, spec.by, answered, estimate, progress))
    result["weighted"] = False
    return result


def double_list_report(data: ReportData, spec: ReportSpec, progress) -> dict:
    """Each list's difference in means and the combined estimate, overall and by
    group; ``lists`` give each list's ``code`` from ``arm_names``."""
    refuse_single_list_options(data, spec)
    on_a = data.arms == data.arm_names[0]

    def estimate(rows: np.ndarray) -> dict:
        result = double_list_estimates(
            data.counts[rows],
            data.second_counts[rows],
            on_a[rows],
            data.items,
            data.second_items,
        ).to_dict()
        for item, code in zip(result["lists"], data.arm_names):
            item["code"] = code
        return result

    answered = ~np.isnan(data.counts) | ~np.isnan(data.second_counts)
    result = estimate(np.ones(data.counts.size, dtype=bool))
    result.update(by_level(data.levels, spec.by, answered, estimate, progress))
    result["weighted"] = False
    return result


def by_level(
    levels: Mapping[str, np.ndarray],
    names: tuple[str, ...],
    answered: np.ndarray,
    estimate: Callable[[np.ndarray], dict],
    progress,
) -> dict:
    """``groups`` (one per variable and level, with its share of the respondents
    with a count and a level) and ``missing`` (per variable, respondents left out
    for a missing count or level)."""
    groups, missing = [], {}
    for done, name in enumerate(names, start=1):
        values = np.asarray(levels[name], dtype=object)
        known = answered & np.array([v is not None for v in values], dtype=bool)
        missing[name] = int(values.size - np.count_nonzero(known))
        texts = np.array([str(v) for v in values], dtype=object)
        total = np.count_nonzero(known)
        for level in natural_levels(set(texts[known])):
            rows = known & (texts == level)
            groups.append(
                {
                    "variable": name,
                    "level": level,
                    "share": np.count_nonzero(rows) / total,
                    **estimate(rows),
                }
            )
        if progress is not None:
            progress(done, len(names))
    return {"groups": groups, "missing": missing}


def natural_levels(levels) -> list[str]:
    """Levels in numeric order when every one reads as a number, else alphabetical."""
    levels = sorted(levels)
    try:
        return sorted(levels, key=float)
    except ValueError:
        return levels


def arm_labels(data: ReportData) -> tuple[np.ndarray, list[str]]:
    """Each respondent's arm as text, and the arms in order, control first."""
    if data.arms is not None:
        return np.asarray(data.arms, dtype=object), list(data.arm_names)
    treated = np.asarray(data.treated, dtype=bool)
    return (
        np.where(treated, "treatment", "control").astype(object),
        ["control", "treatment"],
    )


def balance_report(data: ReportData, spec: ReportSpec) -> dict:
    """Balance of ``spec.balance`` across arms among the respondents with a count.

    The estimates compare those respondents, so their balance is the one that
    matters; nonresponse by arm, from ``data.statuses`` or else from the missing
    counts, shows whether the arms lost different people.
    """
    labels, names = arm_labels(data)
    answered = ~np.isnan(data.counts)
    if data.second_counts is not None:
        answered |= ~np.isnan(data.second_counts)

    statuses = data.statuses
    if statuses is None:
        statuses = {
            arm: {
                "complete": int(np.count_nonzero(answered & (labels == arm))),
                "missing": int(np.count_nonzero(~answered & (labels == arm))),
            }
            for arm in names
        }
    columns = {name: np.asarray(data.columns[name])[answered] for name in spec.balance}
    strata = data.balance_strata
    return covariate_balance(
        columns,
        labels[answered],
        coded=[name for name in spec.balance if name in data.coded],
        arm_names=names,
        strata=None if strata is None else np.asarray(strata, dtype=object)[answered],
        statuses=statuses,
    ).to_dict()
