"""The difference in means overall and within every level of several variables.

This is the shape of the founding memo's Table 1, shared by the ``estimate`` command
(working on a file) and the estimate job (working on a wave), so both give the same
numbers in the same keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from analysis.estimators.difference import difference_by_level, difference_in_means

ESTIMATE_KEYS = (
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "n_treatment",
    "n_control",
    "mean_treatment",
    "mean_control",
    "share",
    "note",
)


def breakdown_table(
    counts: np.ndarray,
    treated: np.ndarray,
    variables: Mapping[str, np.ndarray],
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Overall and per-level differences in means, as plain data.

    Parameters
    ----------
    counts : ndarray of float
        The count per respondent; NaN where there is none.
    treated : ndarray of bool
        True for the treatment list.
    variables : mapping of name to ndarray of object
        Each variable's level per respondent as text, None where missing.
    progress : callable, optional
        Called with (variables done, variables in all) after each variable.

    Returns
    -------
    dict
        ``overall`` (an estimate object), ``groups`` (one per variable and level, with
        ``variable`` and ``level`` first) and ``missing`` (per variable, the respondents
        left out for a missing count or level).
    """
    overall = difference_in_means(counts, treated).to_dict()
    groups, missing = [], {}

    for done, (name, levels) in enumerate(variables.items(), start=1):
        breakdown = difference_by_level(counts, treated, levels)
        missing[name] = breakdown.n_missing
        groups.extend(
            {"variable": name, "level": level, **estimate.to_dict()}
            for level, estimate in breakdown.levels
        )
        if progress is not None:
            progress(done, len(variables))

    return {"overall": overall, "groups": groups, "missing": missing}


def table_rows(table: dict) -> list[dict]:
    """One flat row per estimate, ``overall`` first, for CSV and spreadsheet output."""
    rows = [{"variable": "overall", "level": "overall", **table["overall"]}]
    rows.extend(
        {
            "variable": g["variable"],
            "level": g["level"],
            **{k: g[k] for k in ESTIMATE_KEYS},
        }
        for g in table["groups"]
    )
    return rows
