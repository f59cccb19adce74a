"""Reads for analysis: what a wave can be broken down by, and its data as arrays.

A wave's responses are loaded in one query into numpy arrays, so the estimators never
touch the database and a job costs one read however many breakdowns it asks for.
"""

import hashlib
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analysis.errors import AnalysisError
from fielding.models import Assignment, Response
from survey.models import (
    CovariateQuestion,
    ListExperiment,
    Region,
    Settlement,
    Survey,
    Wave,
)

FIELDING_VARIABLES = {
    "stratum": gettext_lazy("stratum"),
    "region": gettext_lazy("region"),
    "place": gettext_lazy("place of interview"),
}
NO_RESPONSE = "no_response"
STATUS_KEYS = [code for code, _label in Response.STATUS_CHOICES] + [NO_RESPONSE]


@dataclass(frozen=True)
class BreakdownOption:
    key: str
    label: str
    kind: str


@dataclass
class WaveData:
    counts: np.ndarray
    treated: np.ndarray
    variables: dict[str, np.ndarray]
    labels: dict[str, dict[str, str]]
    statuses: dict[str, dict[str, int]]
    n_assigned: int
    n_used: int
    n_simulated: int
    checksum: str
    columns: dict = field(default_factory=dict)
    coded: frozenset = frozenset()
    design: dict = field(default_factory=dict)


def breakdown_options(survey: Survey) -> list[BreakdownOption]:
    """Coded covariates, their recodes and the fielding metadata, in that order."""
    options = [
        BreakdownOption(q.code, q.texts.get("en") or q.code, "covariate")
        for q in survey.questions.filter(kind=CovariateQuestion.CODED)
    ]
    options += [
        BreakdownOption(r.name, f"{r.name} ({r.question.code})", "recode")
        for r in survey.recodes.select_related("question")
    ]
    options += [
        BreakdownOption(key, str(label), "fielding")
        for key, label in FIELDING_VARIABLES.items()
    ]
    return options


def default_experiment(wave: Wave) -> ListExperiment | None:
    return wave.survey.experiments.order_by("position", "id").first()


def check_single_list(experiment: ListExperiment) -> None:
    arms = experiment.arms()
    if experiment.design != ListExperiment.SINGLE or arms != ["control", "treatment"]:
        raise AnalysisError(
            _(
                "The estimate job handles one list with one sensitive item; "
                "“%(experiment)s” has arms %(arms)s."
            )
            % {"experiment": experiment.name, "arms": ", ".join(arms)}
        )


def level_labels(wave: Wave, language: str) -> dict[str, dict[str, str]]:
    """Display labels of levels by variable and level code, in display order."""
    survey = wave.survey
    labels: dict[str, dict[str, str]] = {}
    for question in survey.questions.filter(kind=CovariateQuestion.CODED):
        labels[question.code] = {
            c.code: c.label(language) for c in question.choices.all()
        }
    for recode in survey.recodes.all():
        labels[recode.name] = {
            level: recode.level_label(level, language) for level in recode.levels()
        }
    labels["stratum"] = {s.code: s.name for s in wave.strata.all()}
    labels["region"] = {r.code: r.name for r in Region.objects.all()}
    labels["place"] = {p.code: p.name for p in Settlement.objects.all()}
    return labels


def wave_list_data(
    wave: Wave,
    experiment: ListExperiment,
    variables: list[str],
    language: str = "en",
    covariates: list[str] = (),
) -> WaveData:
    """The wave's counts, arms, breakdown levels, model covariates and design."""
    check_single_list(experiment)
    recodes = {
        r.name: (r.question.code, r.mapping)
        for r in wave.survey.recodes.select_related("question")
    }
    numeric = set(
        wave.survey.questions.filter(kind=CovariateQuestion.NUMERIC).values_list(
            "code", flat=True
        )
    )

    rows = (
        Assignment.objects.filter(respondent__wave=wave, experiment=experiment)
        .order_by("id")
        .values_list(
            "id",
            "arm",
            "source",
            "response__status",
            "response__count",
            "respondent__answers",
            "respondent__stratum__code",
            "respondent__place__region__code",
            "respondent__place__code",
            "respondent__weight",
            "respondent__stratum__design_weight",
        )
    )

    counts, treated, simulated = [], [], 0
    levels: dict[str, list] = {name: [] for name in variables}
    columns: dict[str, list] = {name: [] for name in covariates}
    weights, design_weights, strata, places = [], [], [], []
    statuses = {arm: Counter() for arm in ("control", "treatment")}
    digest = hashlib.sha256()
    n_assigned = 0
    for (
        assignment_id,
        arm,
        source,
        status,
        count,
        answers,
        stratum,
        region,
        place,
        weight,
        design_weight,
    ) in rows:
        n_assigned += 1
        statuses.setdefault(arm, Counter())[status or NO_RESPONSE] += 1
        if status != Response.COMPLETE or arm not in ("control", "treatment"):
            continue
        digest.update(f"{assignment_id}:{arm}:{count}\n".encode())
        counts.append(count)
        treated.append(arm == "treatment")
        simulated += source == Assignment.SIMULATION
        fielding = {"stratum": stratum, "region": region, "place": place}
        for name in variables:
            levels[name].append(level_of(name, answers, fielding, recodes))
        for name in covariates:
            value = level_of(name, answers, fielding, recodes)
            columns[name].append(number_or_none(value) if name in numeric else value)
        weights.append(weight)
        design_weights.append(design_weight)
        strata.append(stratum)
        places.append(place)

    return WaveData(
        counts=np.asarray(counts, dtype=float),
        treated=np.asarray(treated, dtype=bool),
        variables={name: np.asarray(v, dtype=object) for name, v in levels.items()},
        labels=level_labels(wave, language),
        statuses={
            arm: {key: counter.get(key, 0) for key in STATUS_KEYS}
            for arm, counter in statuses.items()
        },
        n_assigned=n_assigned,
        n_used=len(counts),
        n_simulated=simulated,
        checksum=digest.hexdigest(),
        columns={
            name: np.asarray([np.nan if v is None else v for v in values], dtype=float)
            if name in numeric
            else np.asarray(values, dtype=object)
            for name, values in columns.items()
        },
        coded=frozenset(name for name in covariates if name not in numeric),
        design=wave_design(wave, weights, design_weights, strata, places),
    )


def number_or_none(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def wave_design(wave: Wave, weights, design_weights, strata, places) -> dict:
    """The wave's own design as arrays: respondent weights if any were given, else
    the strata's design weights; strata when the plan has several; the place of
    interview as the cluster when the wave's plan names it."""
    if any(w is not None for w in weights):
        chosen = weights
    elif any(w is not None for w in design_weights):
        chosen = design_weights
    else:
        chosen = None
    return {
        "weights": None
        if chosen is None
        else np.asarray([np.nan if w is None else w for w in chosen], dtype=float),
        "strata": np.asarray(strata, dtype=object) if len(set(strata)) > 1 else None,
        "clusters": np.asarray(places, dtype=object)
        if wave.cluster == Wave.CLUSTER_PLACE
        else None,
    }


def level_of(name: str, answers: dict, fielding: dict, recodes: dict) -> str | None:
    """A respondent's level of one breakdown variable, None where missing."""
    if not isinstance(answers, dict):
        answers = {}
    if name in fielding:
        return fielding[name]
    if name in recodes:
        question, mapping = recodes[name]
        value = answers.get(question)
        return None if value is None else mapping.get(str(value))
    value = answers.get(name)
    return None if value is None or value == "" else str(value)
