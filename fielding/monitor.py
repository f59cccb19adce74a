"""The fieldwork monitor: how a wave in the field is going, as plain data.

The wave's respondents are read in one query, each with their assignment in the wave's
first list experiment and its response, and the slots in another; everything else is
counted in Python. The page therefore costs the same handful of queries for a hundred
respondents or a hundred thousand. The page and its JSON twin show the same dictionary.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable
from typing import NamedTuple

import numpy as np
from django.db.models import Count, FilteredRelation, Max, Q

from fielding.balance import arm_balance_p, holm_adjust, median_ignoring_none
from fielding.models import AllocationSlot, Assignment, Respondent, Response
from survey.models import ListExperiment, Stratum, Wave

BALANCE_ALPHA = 0.01
"""Flag a group's arms as unbalanced when its Holm-adjusted p-value is below this.

A flag sends a supervisor to question an interviewer, so it should rarely be a false
alarm: at 0.01, after Holm's correction for the number of interviewers (or strata)
tested, a wave whose arms are all fine raises a flag at most once in a hundred looks.
"""

FLOOR_CEILING_LIMIT = 0.10
"""Warn when more than this share of control-list counts is 0, or is J.

A respondent who holds all J control items gives the sensitive item away with a count
of J + 1, and one who holds none may fear that a count of 1 does; either may then hide
it, and the difference in means is biased downwards (Blair and Imai 2012, Political
Analysis 20(1); Glynn 2013, Public Opinion Quarterly 77(S1)). The control list's own
counts show how many respondents are in that position. One in ten is this project's
rule of thumb for "the control list needs rethinking", not a published cut-off.
"""

NO_GROUP = "—"
"""The label of respondents without a stratum or an interviewer (imported or web)."""

NO_RESPONSE = "no_response"
STATUS_KEYS = [code for code, _label in Response.STATUS_CHOICES] + [NO_RESPONSE]
SLOT_STATUSES = [code for code, _label in AllocationSlot.STATUS_CHOICES]


class MonitorRow(NamedTuple):
    """One respondent, with their assignment and response where they have them."""

    stratum_id: int | None
    interviewer: str | None
    registered_at: datetime.datetime | None
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    arm: str | None
    source: str | None
    slot_id: int | None
    card_shown_at: datetime.datetime | None
    status: str | None
    count: int | None

    @property
    def minutes(self) -> float | None:
        """Interview length; None when a time is missing or the finish precedes the
        start (a tablet clock set wrong), so such interviews do not skew the median."""
        if self.started_at is None or self.finished_at is None:
            return None
        minutes = (self.finished_at - self.started_at).total_seconds() / 60
        return minutes if minutes >= 0 else None


def wave_monitor(wave: Wave) -> dict:
    """Completes, arm balance, statuses, floor and ceiling, lengths, slots and audit.

    Everything is about the wave's first list experiment (by position, then id). The
    result holds only strings, numbers, booleans, None, lists and dicts, so it can be
    rendered or sent as JSON as it is. A wave whose survey has no list experiment gets
    ``experiment`` None and nothing else to show.
    """
    summary = {
        "wave": {
            "id": wave.pk,
            "name": wave.name,
            "status": wave.status,
            "status_label": str(wave.get_status_display()),
        },
        "experiment": None,
    }
    experiment = (
        ListExperiment.objects.filter(survey_id=wave.survey_id)
        .prefetch_related("lists", "items__item_list")
        .order_by("position", "id")
        .first()
    )
    if experiment is None:
        return summary

    arms = list((wave.plan or {}).get("arms") or experiment.arms())
    control_arm = arms[0]
    share = planned_treatment_share(wave.plan or {}, len(arms))
    items = experiment.items_count()
    strata = list(wave.strata.all())
    rows = monitor_rows(wave, experiment)

    return {
        **summary,
        "experiment": {
            "code": experiment.code,
            "name": experiment.name,
            "arms": arms,
            "control_arm": control_arm,
            "items": items,
            "planned_treatment_share": share,
        },
        "thresholds": {
            "balance_alpha": BALANCE_ALPHA,
            "floor_ceiling_limit": FLOOR_CEILING_LIMIT,
        },
        "totals": {
            "respondents": len(rows),
            "assigned": sum(row.arm is not None for row in rows),
            "completes": sum(row.status == Response.COMPLETE for row in rows),
            "simulated": sum(row.source == Assignment.SIMULATION for row in rows),
            "median_minutes": median_ignoring_none(row.minutes for row in rows),
        },
        "strata": stratum_rows(strata, rows, control_arm, share),
        "interviewers": interviewer_rows(rows, control_arm, share),
        "statuses": status_rows(rows, arms),
        "floor_ceiling": floor_ceiling(rows, control_arm, items),
        "slots": slot_rows(wave, experiment, strata),
        "concealment": concealment_audit(rows),
    }


def planned_treatment_share(plan: dict, n_arms: int) -> float:
    """The share of lists other than the first arm's (the control list) in a plan.

    A simple plan's ``p`` replaces its ratio, as in allocation; without a ratio every
    arm has an equal share.
    """
    if plan.get("kind") == "simple" and plan.get("p") is not None:
        return float(plan["p"])
    ratio = plan.get("ratio") or [1] * n_arms
    return 1 - ratio[0] / sum(ratio)


def monitor_rows(wave: Wave, experiment: ListExperiment) -> list[MonitorRow]:
    """Every respondent of the wave, with their assignment and response, in one query."""
    rows = (
        Respondent.objects.filter(wave=wave)
        .annotate(
            assignment=FilteredRelation(
                "assignments", condition=Q(assignments__experiment=experiment)
            )
        )
        .order_by()
        .values_list(
            "stratum_id",
            "interviewer__username",
            "registered_at",
            "started_at",
            "finished_at",
            "assignment__arm",
            "assignment__source",
            "assignment__slot_id",
            "assignment__card_shown_at",
            "assignment__response__status",
            "assignment__response__count",
        )
    )
    return [MonitorRow._make(values) for values in rows.iterator(chunk_size=5000)]


def group_by(
    rows: Iterable[MonitorRow], key: Callable[[MonitorRow], Hashable]
) -> dict[Hashable, list[MonitorRow]]:
    groups = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return groups


def group_summary(rows: list[MonitorRow], control_arm: str, share: float) -> dict:
    """Completes and the split of arms in a group, with the balance test's p-value."""
    arms = [row.arm for row in rows if row.arm is not None]
    n_control = sum(arm == control_arm for arm in arms)
    n_treatment = len(arms) - n_control
    testable = bool(arms) and 0 < share < 1
    return {
        "completes": sum(row.status == Response.COMPLETE for row in rows),
        "respondents": len(rows),
        "n_control": n_control,
        "n_treatment": n_treatment,
        "share_treatment": n_treatment / len(arms) if arms else None,
        "p_value": arm_balance_p(n_treatment, len(arms), share) if testable else None,
    }


def with_imbalance_flags(groups: list[dict]) -> list[dict]:
    """Add Holm-adjusted p-values across the groups tested, and the warning flag."""
    tested = [i for i, group in enumerate(groups) if group["p_value"] is not None]
    adjusted = dict(zip(tested, holm_adjust([groups[i]["p_value"] for i in tested])))
    return [
        {
            **group,
            "p_adjusted": float(adjusted[i]) if i in adjusted else None,
            "unbalanced": i in adjusted and bool(adjusted[i] < BALANCE_ALPHA),
        }
        for i, group in enumerate(groups)
    ]


def stratum_rows(
    strata: list[Stratum], rows: list[MonitorRow], control_arm: str, share: float
) -> list[dict]:
    """Completes against quota and arm balance per stratum, in the wave's order.

    Respondents without a stratum (imported without a place) come last, as one group.
    """
    by_stratum = group_by(rows, lambda row: row.stratum_id)
    groups = []
    for stratum in strata:
        members = by_stratum.pop(stratum.pk, [])
        groups.append(
            {
                "code": stratum.code,
                "name": stratum.name,
                **quota_progress(members, stratum.quota),
                **group_summary(members, control_arm, share),
            }
        )

    rest = [row for members in by_stratum.values() for row in members]
    if rest:
        groups.append(
            {
                "code": None,
                "name": NO_GROUP,
                **quota_progress(rest, None),
                **group_summary(rest, control_arm, share),
            }
        )
    return with_imbalance_flags(groups)


def quota_progress(rows: list[MonitorRow], quota: int | None) -> dict:
    completes = sum(row.status == Response.COMPLETE for row in rows)
    return {
        "quota": quota,
        "share_of_quota": completes / quota if quota else None,
        "past_quota": quota is not None and completes > quota,
    }


def interviewer_rows(
    rows: list[MonitorRow], control_arm: str, share: float
) -> list[dict]:
    """Completes, arm balance and median length per interviewer, by username.

    Respondents without an interviewer (imported, simulated or web) come last, as one
    group; it is tested and corrected for along with the interviewers, since a web
    allocation gone wrong matters as much.
    """
    by_interviewer = group_by(rows, lambda row: row.interviewer)
    names = sorted(name for name in by_interviewer if name is not None)
    if None in by_interviewer:
        names.append(None)

    groups = []
    for name in names:
        members = by_interviewer[name]
        groups.append(
            {
                "interviewer": NO_GROUP if name is None else name,
                **group_summary(members, control_arm, share),
                "median_minutes": median_ignoring_none(row.minutes for row in members),
            }
        )
    return with_imbalance_flags(groups)


def status_rows(rows: list[MonitorRow], arms: list[str]) -> list[dict]:
    """Per arm: assignments, and how many and what share of them have each status.

    An assignment without a response yet counts as ``no_response``; arms found in the
    data but not in the plan (an import with other names) follow the planned ones.
    """
    tally = Counter(
        (row.arm, row.status or NO_RESPONSE) for row in rows if row.arm is not None
    )
    found = sorted({arm for arm, _status in tally} - set(arms))

    result = []
    for arm in arms + found:
        counts = {status: tally[arm, status] for status in STATUS_KEYS}
        assigned = sum(counts.values())
        result.append(
            {
                "arm": arm,
                "assigned": assigned,
                "counts": counts,
                "rates": {
                    status: n / assigned if assigned else None
                    for status, n in counts.items()
                },
            }
        )
    return result


def floor_ceiling(rows: list[MonitorRow], control_arm: str, items: int) -> dict:
    """The control list's shares of counts at 0 (floor) and at J (ceiling)."""
    counts = np.array(
        [
            row.count
            for row in rows
            if row.arm == control_arm
            and row.status == Response.COMPLETE
            and row.count is not None
        ],
        dtype=int,
    )
    if counts.size == 0:
        floor = ceiling = None
    else:
        floor = float(np.mean(counts == 0))
        ceiling = float(np.mean(counts == items))
    return {
        "items": items,
        "n_control_completes": int(counts.size),
        "share_floor": floor,
        "share_ceiling": ceiling,
        "floor_warning": floor is not None and floor > FLOOR_CEILING_LIMIT,
        "ceiling_warning": ceiling is not None and ceiling > FLOOR_CEILING_LIMIT,
    }


def slot_rows(
    wave: Wave, experiment: ListExperiment, strata: list[Stratum]
) -> list[dict]:
    """Per stratum: slots by status and the highest position handed out."""
    tally = (
        AllocationSlot.objects.filter(wave=wave, experiment=experiment)
        .order_by()
        .values("stratum_id", "status")
        .annotate(n=Count("id"), top=Max("position"))
    )
    by_stratum = defaultdict(dict)
    for row in tally:
        by_stratum[row["stratum_id"]][row["status"]] = (row["n"], row["top"])

    result = []
    for stratum in strata:
        found = by_stratum[stratum.pk]
        result.append(
            {
                "code": stratum.code,
                "name": stratum.name,
                **{status: found.get(status, (0, None))[0] for status in SLOT_STATUSES},
                "top_used": found.get(AllocationSlot.USED, (0, None))[1],
            }
        )
    return result


def concealment_audit(rows: list[MonitorRow]) -> dict:
    """Allocated interviews whose card was shown before the respondent was registered.

    Registration comes first by design, so any such interview means a device's clock
    or the interview flow is wrong, and the arm may not have been concealed.
    """
    allocated = [row for row in rows if row.slot_id is not None]
    checked = [
        row
        for row in allocated
        if row.card_shown_at is not None and row.registered_at is not None
    ]
    early = sum(row.card_shown_at < row.registered_at for row in checked)
    return {
        "allocated": len(allocated),
        "checked": len(checked),
        "card_before_registration": early,
        "warning": early > 0,
    }
