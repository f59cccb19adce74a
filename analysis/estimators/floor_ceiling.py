"""Floor and ceiling diagnostics: how the counts spread over 0..J in each arm.

A respondent who holds every control item can only report J + 1 on the treatment list
by giving the sensitive item away, and one who holds none may fear that a count of 1
does the same. Either may then hide the sensitive item, which biases the difference in
means downwards. The control list's own counts show how many respondents are in that
position; this module counts them and says in plain words what to make of it.

Everything here is a pure function of its arrays: no Django, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.estimators.arms import split_arms
from analysis.estimators.normal import plain_float as _plain

FLOOR_CEILING_LIMIT = 0.10
"""Warn when more than this share of the control arm's counts is 0, or is J.

Blair and Imai (2012, section 3.2) model ceiling and floor effects, and Glynn (2013)
advises choosing control items that are negatively correlated so that few respondents
hold all or none of them; neither gives a cut-off. One in ten is this project's rule
of thumb for "the control list needs rethinking", the same value as
``fielding.monitor.FLOOR_CEILING_LIMIT`` (kept separately because that module needs
Django).
"""


@dataclass(frozen=True)
class FloorCeiling:
    """Shares of the counts at the ends of each arm's range, and what they suggest.

    Attributes
    ----------
    J : int
        The number of items on the control list.
    n_control, n_treatment : int
        Respondents with a count in each arm.
    control_floor, control_ceiling : float or None
        Share of the control arm reporting 0, and reporting J (every control item);
        None when the arm has no counts.
    treatment_floor, treatment_ceiling : float or None
        Share of the treatment arm reporting 0, and reporting J + 1 (every item,
        the sensitive one included, so the sensitive item is revealed).
    floor_warning, ceiling_warning : bool
        Whether `control_floor` or `control_ceiling` exceeds `limit`.
    limit : float
        The threshold used, `FLOOR_CEILING_LIMIT` unless given.
    reading : str
        One or two sentences a survey researcher can act on.
    """

    J: int
    n_control: int
    n_treatment: int
    control_floor: float | None
    control_ceiling: float | None
    treatment_floor: float | None
    treatment_ceiling: float | None
    floor_warning: bool
    ceiling_warning: bool
    limit: float
    reading: str

    def to_dict(self) -> dict:
        """Return the fields as plain Python values, ready for JSON or a template."""
        return {
            "J": int(self.J),
            "n_control": int(self.n_control),
            "n_treatment": int(self.n_treatment),
            "control_floor": _plain(self.control_floor),
            "control_ceiling": _plain(self.control_ceiling),
            "treatment_floor": _plain(self.treatment_floor),
            "treatment_ceiling": _plain(self.treatment_ceiling),
            "floor_warning": bool(self.floor_warning),
            "ceiling_warning": bool(self.ceiling_warning),
            "limit": float(self.limit),
            "reading": str(self.reading),
        }


def count_distribution(counts, treated, J) -> dict:
    """Tabulate the counts of each arm over its possible range.

    Parameters
    ----------
    counts : array_like of float, shape (n,)
        The count each respondent reported; NaN marks a missing count, and such
        respondents are left out.
    treated : array_like of bool or {0, 1}, shape (n,)
        True (1) for respondents shown the treatment list.
    J : int
        The number of items on the control list.

    Returns
    -------
    dict
        ``{"J": J, "n_missing": int, "control": arm, "treatment": arm}``, where each
        arm is ``{"n": int, "rows": [{"count", "respondents", "share"}, ...]}`` with
        one row per possible count, 0..J in the control arm and 0..J+1 in the
        treatment arm, zeros included. ``share`` is None when the arm is empty.

    Raises
    ------
    ValueError
        If the arrays are not one-dimensional and of the same length, `treated` holds
        anything but 0/1, `J` is not a positive whole number, or a count is not a
        whole number in its arm's range.

    Notes
    -----
    A count of J + 1 is impossible on the control list and a count above J + 1 on
    either list, so either is an error in the data, not something to tabulate.

    References
    ----------
    .. [1] Blair, G. and Imai, K. (2012). "Statistical Analysis of List Experiments."
       Political Analysis 20(1), 47-77.
    """
    control, treatment, n_missing = split_arms(counts, treated, J)
    J = int(J)
    return {
        "J": J,
        "n_missing": n_missing,
        "control": _tabulate(control, J),
        "treatment": _tabulate(treatment, J + 1),
    }


def floor_ceiling(counts, treated, J, limit=FLOOR_CEILING_LIMIT) -> FloorCeiling:
    """Read floor and ceiling risk from the control arm's counts.

    Parameters
    ----------
    counts : array_like of float, shape (n,)
        The count each respondent reported; NaN marks a missing count.
    treated : array_like of bool or {0, 1}, shape (n,)
        True (1) for respondents shown the treatment list.
    J : int
        The number of items on the control list.
    limit : float, default FLOOR_CEILING_LIMIT
        Warn when the control arm's share at 0 or at J is above this.

    Returns
    -------
    FloorCeiling
        The shares at both ends of each arm, the warnings and a plain reading.

    Raises
    ------
    ValueError
        As for `count_distribution`, and if `limit` is not between 0 and 1.

    Notes
    -----
    The warnings look at the control arm only. Its counts show how many respondents
    would be at the floor or the ceiling of the treatment list had they not held the
    sensitive item, and they are untouched by any reluctance to reveal it. The
    treatment arm's share at J + 1 is reported for reference: those respondents gave
    the sensitive item away.

    An arm with no counts has None for its shares and raises no warning; the reading
    then says there is nothing to judge yet.

    References
    ----------
    .. [1] Blair, G. and Imai, K. (2012). "Statistical Analysis of List Experiments."
       Political Analysis 20(1), 47-77.
    .. [2] Glynn, A. N. (2013). "What Can We Learn with Statistical Truth Serum?
       Design and Analysis of the List Experiment." Public Opinion Quarterly 77(S1),
       159-172.
    """
    if not 0.0 <= limit <= 1.0:
        raise ValueError(f"limit is a share between 0 and 1; got {limit}.")
    table = count_distribution(counts, treated, J)
    J = table["J"]
    control, treatment = table["control"], table["treatment"]

    control_floor = control["rows"][0]["share"]
    control_ceiling = control["rows"][J]["share"]
    floor_warning = control_floor is not None and control_floor > limit
    ceiling_warning = control_ceiling is not None and control_ceiling > limit

    return FloorCeiling(
        J=J,
        n_control=control["n"],
        n_treatment=treatment["n"],
        control_floor=control_floor,
        control_ceiling=control_ceiling,
        treatment_floor=treatment["rows"][0]["share"],
        treatment_ceiling=treatment["rows"][J + 1]["share"],
        floor_warning=floor_warning,
        ceiling_warning=ceiling_warning,
        limit=float(limit),
        reading=_reading(control_floor, control_ceiling, J, limit),
    )


def _reading(floor, ceiling, J, limit) -> str:
    """Return one or two sentences on what the control arm's ends suggest."""
    if floor is None:
        return (
            "There are no control-list counts yet, so floor and ceiling effects "
            "cannot be judged."
        )

    at_floor, at_ceiling = _percent(floor), _percent(ceiling)
    if floor > limit and ceiling > limit:
        return (
            f"{at_floor} of the control group report none of the control items and "
            f"{at_ceiling} report all {J}: respondents at either end may hide the "
            "sensitive item to avoid a telling count (floor and ceiling effects). "
            "Consider a control list whose items are negatively correlated, so that "
            "few respondents hold all or none of them."
        )
    if ceiling > limit:
        return (
            f"{at_ceiling} of the control group report all {J} control items: "
            f"respondents who also hold the sensitive item would reveal it with a "
            f"count of {J + 1} and may hide it (ceiling effect). Consider a control "
            "list with items that are negatively correlated, or fewer items that "
            "most respondents hold."
        )
    if floor > limit:
        return (
            f"{at_floor} of the control group report none of the control items: "
            "respondents who hold the sensitive item may fear that a count of 1 "
            "reveals it and hide it (floor effect). Consider adding a control item "
            "that most respondents hold."
        )
    return (
        f"{at_floor} of the control group report none of the control items and "
        f"{at_ceiling} report all {J}, both at or below the {_percent(limit)} rule of "
        "thumb: no sign of a floor or ceiling effect in the control list."
    )


def _tabulate(arm: np.ndarray, top: int) -> dict:
    """Return the number and share of respondents at each count 0..top."""
    respondents = np.bincount(arm, minlength=top + 1)
    n = int(arm.size)
    rows = [
        {
            "count": k,
            "respondents": int(respondents[k]),
            "share": float(respondents[k] / n) if n else None,
        }
        for k in range(top + 1)
    ]
    return {"n": n, "rows": rows}


def _percent(share: float) -> str:
    """Return a share as a whole percentage, "22%"."""
    return f"{share:.0%}"
