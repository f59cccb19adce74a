"""The change in an estimate between two waves of a survey: later minus earlier.

Each wave is its own sample, drawn and interviewed apart from the other, so the two
estimates are independent and the variance of their difference is the sum of their
variances. This module combines two estimates made by any estimator of this package
(the difference in means, or its weighted version under each wave's design) into the
change with its standard error, a normal 95% interval and a two-sided p-value, overall
and for every level present in both waves.

Everything here is a pure function of plain data: no Django, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from analysis.estimators.normal import Z95, plain_float, two_sided_p

#: The keys of a change, in the order tables show them.
CHANGE_KEYS = ("estimate", "se", "ci_low", "ci_high", "p_value", "note")


@dataclass(frozen=True)
class Change:
    """One estimate in the later wave minus the same estimate in the earlier wave.

    Attributes
    ----------
    estimate : float or None
        Later estimate minus earlier estimate; None when either wave has none.
    se : float or None
        sqrt(se_later^2 + se_earlier^2), the standard error for independent samples.
    ci_low, ci_high : float or None
        Bounds of the normal 95% confidence interval.
    p_value : float or None
        Two-sided normal p-value for no change; None without an estimate or when the
        standard error is zero.
    note : str or None
        A plain sentence when the numbers are missing.
    """

    estimate: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    note: str | None = None

    def to_dict(self) -> dict[str, float | str | None]:
        """The fields as plain Python values, None for anything not finite."""
        return {
            "estimate": plain_float(self.estimate),
            "se": plain_float(self.se),
            "ci_low": plain_float(self.ci_low),
            "ci_high": plain_float(self.ci_high),
            "p_value": plain_float(self.p_value),
            "note": None if self.note is None else str(self.note),
        }


def estimate_change(earlier: Mapping, later: Mapping) -> Change:
    """Combine two waves' estimates of one quantity into the change between them.

    Parameters
    ----------
    earlier, later : mapping
        Estimates as the estimators' ``to_dict`` give them: at least ``estimate`` and
        ``se``, either of which may be None when the wave has no estimate.

    Returns
    -------
    Change
        ``later - earlier`` with its standard error, 95% interval and p-value, or
        every number None and a note naming the wave without an estimate.

    Raises
    ------
    ValueError
        If an estimate or standard error is not a finite number, or a standard error
        is negative.

    Notes
    -----
    With independent samples, :math:`\\operatorname{Var}(\\hat\\tau_2 - \\hat\\tau_1)
    = \\operatorname{Var}(\\hat\\tau_2) + \\operatorname{Var}(\\hat\\tau_1)`, so the
    standard error is :math:`\\sqrt{se_2^2 + se_1^2}` whatever estimator made each
    wave's estimate, as long as each standard error is right for its own wave's
    design. With weights, strata or clusters this is the same as one design-based fit
    of ``count ~ treatment * wave`` with the waves as strata, since the variance of a
    stratified design is the sum of the strata's variances and the interaction is the
    difference of the two waves' treatment coefficients.

    The waves must be independent samples. A panel, where the same respondents answer
    in both waves, makes the estimates correlated (usually positively), and this
    standard error is then too large; it is not the right one for a panel.

    The interval is normal, estimate plus or minus 1.96 standard errors, like every
    interval of this package.

    References
    ----------
    .. [1] Blair, G. and Imai, K. (2012). "Statistical Analysis of List Experiments."
       Political Analysis 20(1), 47-77.
    .. [2] Lumley, T. (2010). Complex Surveys: A Guide to Analysis Using R. Wiley,
       ch. 2 (stratified designs).
    """
    values = {}
    for wave, estimate in (("earlier", earlier), ("later", later)):
        point, se = estimate.get("estimate"), estimate.get("se")
        if point is None or se is None:
            return Change(
                estimate=None,
                se=None,
                ci_low=None,
                ci_high=None,
                p_value=None,
                note=f"No estimate in the {wave} wave, so no change.",
            )
        point, se = float(point), float(se)
        if not (math.isfinite(point) and math.isfinite(se)):
            raise ValueError(
                f"The {wave} wave's estimate and standard error must be finite numbers."
            )
        if se < 0:
            raise ValueError(f"The {wave} wave's standard error is negative.")
        values[wave] = (point, se)

    (first, se_first), (second, se_second) = values["earlier"], values["later"]
    change = second - first
    se = math.hypot(se_second, se_first)
    return Change(
        estimate=change,
        se=se,
        ci_low=change - Z95 * se,
        ci_high=change + Z95 * se,
        p_value=two_sided_p(change, se),
    )


def change_row(earlier: Mapping, later: Mapping) -> dict:
    """Both waves' estimates and the change, as one plain dict.

    ``earlier`` and ``later`` are kept whole under their own keys; the change's keys
    (`CHANGE_KEYS`) sit at the top level beside them.
    """
    return {
        "earlier": dict(earlier),
        "later": dict(later),
        **estimate_change(earlier, later).to_dict(),
    }


def change_table(earlier: Mapping, later: Mapping) -> dict:
    """The change overall and within every level present in both waves.

    Parameters
    ----------
    earlier, later : mapping
        Each wave's breakdown as `analysis.estimators.report.report` returns it:
        ``overall`` (an estimate) and ``groups`` (estimates with ``variable`` and
        ``level``).

    Returns
    -------
    dict
        ``overall`` (a `change_row`), ``groups`` (one `change_row` per level present
        in both waves, with ``variable`` and ``level`` first, in the later wave's
        order) and ``unmatched`` (``variable``, ``level`` and ``wave`` of each level
        found in one wave only, which has no change).

    Notes
    -----
    Levels are matched by variable and level code. A level found in one wave only
    (a stratum added for the later wave, a code nobody in the earlier wave chose) has
    nothing to be compared with and is listed under ``unmatched`` instead.
    """
    first = {(g["variable"], g["level"]): g for g in earlier.get("groups", [])}
    second = {(g["variable"], g["level"]): g for g in later.get("groups", [])}

    groups = [
        {"variable": key[0], "level": key[1], **change_row(first[key], group)}
        for key, group in second.items()
        if key in first
    ]
    unmatched = [
        {"variable": key[0], "level": key[1], "wave": wave}
        for wave, mine, other in (
            ("earlier", first, second),
            ("later", second, first),
        )
        for key in mine
        if key not in other
    ]
    return {
        "overall": change_row(earlier["overall"], later["overall"]),
        "groups": groups,
        "unmatched": unmatched,
    }


def change_rows(table: Mapping) -> list[dict]:
    """One flat row per change, overall first, for CSV and text output.

    Each row holds ``variable``, ``level``, ``label``, each wave's ``estimate``,
    ``se``, ``n_treatment`` and ``n_control`` prefixed ``earlier_`` and ``later_``, and
    the change's keys prefixed ``change_`` (``change_estimate``, ``change_se``, ...).
    """
    rows = []
    overall = {"variable": "overall", "level": "overall", "label": "overall"}
    for row in [{**overall, **table["overall"]}, *table["groups"]]:
        flat = {
            "variable": row["variable"],
            "level": row["level"],
            "label": row.get("label", row["level"]),
        }
        for wave in ("earlier", "later"):
            for key in ("estimate", "se", "n_treatment", "n_control"):
                flat[f"{wave}_{key}"] = row[wave].get(key)
        for key in CHANGE_KEYS:
            flat[f"change_{key}"] = row[key]
        rows.append(flat)
    return rows
