"""Estimators for list experiments.

Plain functions over numpy arrays: no Django, no I/O, so that the same code runs in
a view, an export job and a benchmark, and can be checked against R.
"""

from analysis.estimators.difference import (
    DiffInMeans,
    LevelBreakdown,
    difference_by_level,
    difference_in_means,
)

__all__ = [
    "DiffInMeans",
    "LevelBreakdown",
    "difference_by_level",
    "difference_in_means",
]
