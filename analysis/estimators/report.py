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

from analysis.estimators.breakdown import breakdown_table
from analysis.estimators.contrasts import group_difference
from analysis.estimators.design_test import design_effect_test
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


@dataclass(frozen=True)
class ReportSpec:
    """What to estimate, beyond the overall difference in means.

    ``compare`` holds (variable, a, b) triples: estimate(a) minus estimate(b).
    ``model`` is "lm", "ml" or None; an ML fit is always reported beside the linear one.
    """

    by: tuple[str, ...] = ()
    compare: tuple[tuple[str, str, str], ...] = ()
    design_test: bool = False
    gms: bool = True
    model: str | None = None
    covariates: tuple[str, ...] = ()
    predict_by: tuple[str, ...] = ()
    direct: bool = False


@dataclass
class ReportData:
    """The respondents as arrays, one entry per respondent.

    ``levels`` holds each breakdown variable as text (None where missing);
    ``columns`` the model's covariates (numbers, or text for coded ones, named in
    ``coded``). ``weights``, ``strata`` and ``clusters`` describe the design, or are
    None for a simple random sample.
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
        negative or all zero, an empty arm, a count out of range, ...).
    """
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
