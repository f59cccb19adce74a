"""Reads for analysis: what a wave can be broken down by, and its data as arrays.

A wave's responses are loaded in one query into numpy arrays, so the estimators never
touch the database and a job costs one read however many breakdowns it asks for.
"""

import gc
import hashlib
import json
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import compress
from operator import itemgetter

import numpy as np
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

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
    """A wave's complete responses to one list experiment, one entry per respondent.

    ``treated`` is True for the treatment list (several items: any item's list;
    double list: the sensitive item on the first list). ``arms`` holds each
    respondent's arm as assigned and ``arm_names`` the experiment's arms in order;
    ``second_counts`` the second list's counts of a double list (NaN where
    missing); ``direct`` the direct question's answers, 1 yes, 0 no, NaN for
    anything else, when the experiment has one.
    """

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
    arms: np.ndarray | None = None
    arm_names: tuple[str, ...] = ()
    second_counts: np.ndarray | None = None
    direct: np.ndarray | None = None


def breakdown_options(survey: Survey) -> list[BreakdownOption]:
    """Coded covariates, their recodes and the fielding metadata, in that order;
    questions in their wording in the active language, else in English."""
    language = (get_language() or "en").split("-")[0]
    options = [
        BreakdownOption(
            q.code, q.texts.get(language) or q.texts.get("en") or q.code, "covariate"
        )
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


def check_estimable(experiment: ListExperiment) -> None:
    """The designs an estimate job handles: one list with one or more sensitive
    items, or a double list of two lists with one sensitive item."""
    arms = experiment.arms()
    if experiment.design == ListExperiment.DOUBLE:
        if len(arms) != 2 or len(experiment.sensitive_items()) != 1:
            raise AnalysisError(
                _(
                    "A double list needs two lists and one sensitive item; "
                    "“%(experiment)s” has lists %(lists)s."
                )
                % {"experiment": experiment.name, "lists": ", ".join(arms) or "-"}
            )
    elif len(arms) < 2:
        raise AnalysisError(
            _(
                "“%(experiment)s” has no sensitive item, so there is nothing to estimate."
            )
            % {"experiment": experiment.name}
        )


def list_design(experiment: ListExperiment) -> str:
    """ "single", "several_items" or "double", as the estimate report names them."""
    if experiment.design == ListExperiment.DOUBLE:
        return "double"
    return (
        "single" if experiment.arms() == ["control", "treatment"] else "several_items"
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


@contextmanager
def cycle_collector_paused():
    """Pause Python's cycle collector while a wave is read, and resume it after.

    A read makes a dozen small objects per respondent and no reference cycles, and
    the collector's passes over them took a third of the time of reading a million
    responses. Reference counting frees everything as usual meanwhile. Of two reads
    in parallel threads, the one that paused it resumes it.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


@cycle_collector_paused()
def wave_list_data(
    wave: Wave,
    experiment: ListExperiment,
    variables: list[str],
    language: str = "en",
    covariates: list[str] = (),
    any_design: bool = False,
) -> WaveData:
    """The wave's counts, arms, breakdown levels, covariates and design.

    Without ``any_design`` only a single list with one sensitive item is accepted,
    so a caller that reads ``treated`` as the treatment list never gets another
    design by mistake.
    """
    if any_design:
        check_estimable(experiment)
    else:
        check_single_list(experiment)
    arm_names = experiment.arms()
    design = list_design(experiment)
    direct_code = (
        experiment.direct_question.code if experiment.direct_question_id else None
    )
    recodes = {
        r.name: (r.question.code, r.mapping)
        for r in wave.survey.recodes.select_related("question")
    }
    numeric = set(
        wave.survey.questions.filter(kind=CovariateQuestion.NUMERIC).values_list(
            "code", flat=True
        )
    )

    # The answers come as JSON text, and what the data takes from them is worked out
    # once per distinct text rather than once per respondent: answers repeat, and a
    # million decoded dicts cost seconds. Columns are then picked with C loops.
    rows = (
        Assignment.objects.filter(respondent__wave=wave, experiment=experiment)
        .order_by("id")
        .annotate(answers_text=Cast("respondent__answers", TextField()))
        .values_list(
            "id",
            "arm",
            "source",
            "response__status",
            "response__count",
            "response__second_count",
            "answers_text",
            "respondent__stratum__code",
            "respondent__place__region__code",
            "respondent__place__code",
            "respondent__weight",
            "respondent__stratum__design_weight",
        )
    )
    rows = list(rows)
    n_assigned = len(rows)
    arms_and_statuses = list(map(itemgetter(1, 3), rows))
    statuses = {arm: Counter() for arm in arm_names}
    for (arm, status), n in Counter(arms_and_statuses).items():
        statuses.setdefault(arm, Counter())[status or NO_RESPONSE] += n

    used = [
        status == Response.COMPLETE and arm in arm_names
        for arm, status in arms_and_statuses
    ]
    rows = list(compress(rows, used))
    (
        ids,
        arms,
        sources,
        _status,
        counts,
        second_counts,
        texts,
        strata,
        regions,
        places,
        weights,
        design_weights,
    ) = (list(map(itemgetter(k), rows)) for k in range(12))
    digest = hashlib.sha256()
    if design == "double":
        lines = map("{}:{}:{}:{}\n".format, ids, arms, counts, second_counts)
    else:
        lines = map("{}:{}:{}\n".format, ids, arms, counts)
    digest.update("".join(lines).encode())
    if design == "double":
        treated = [arm == arm_names[0] for arm in arms]
    else:
        treated = [arm != arm_names[0] for arm in arms]
    simulated = sum(source == Assignment.SIMULATION for source in sources)

    fielding = {"stratum": strata, "region": regions, "place": places}
    answer_levels = [name for name in variables if name not in fielding]
    answer_columns = [name for name in covariates if name not in fielding]
    read = AnswersRead(answer_levels, answer_columns, numeric, recodes, direct_code)
    answered = list(zip(*map(read.__getitem__, texts)))
    answered = answered or [()] * (len(answer_levels) + len(answer_columns) + 1)
    levels = dict(zip(answer_levels, answered))
    levels = {name: fielding.get(name, levels.get(name)) for name in variables}
    values = dict(zip(answer_columns, answered[len(answer_levels) :]))
    columns = {}
    for name in covariates:
        if name not in fielding:
            columns[name] = values[name]
        elif name in numeric:
            columns[name] = [number_or_none(v) for v in fielding[name]]
        else:
            columns[name] = fielding[name]
    direct = answered[-1]

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
        arms=np.asarray(arms, dtype=object),
        arm_names=tuple(arm_names),
        second_counts=np.asarray(
            [np.nan if c is None else c for c in second_counts], dtype=float
        )
        if design == "double"
        else None,
        direct=np.asarray(direct, dtype=float) if direct_code is not None else None,
    )


class AnswersRead(dict):
    """What the wave's data takes from a respondent's answers, by their JSON text:
    the levels of ``levels``, the values of ``columns`` (numbers for ``numeric``
    ones) and the direct question's answer (1.0, 0.0 or NaN; None without one), as
    a tuple made when a text is first looked up."""

    def __init__(self, levels, columns, numeric, recodes, direct_code):
        super().__init__()
        self.levels, self.columns = levels, columns
        self.numeric, self.recodes, self.direct_code = numeric, recodes, direct_code

    def __missing__(self, text: str | None) -> tuple:
        answers = {} if text is None else json.loads(text)
        found = [level_of(name, answers, {}, self.recodes) for name in self.levels]
        for name in self.columns:
            value = level_of(name, answers, {}, self.recodes)
            found.append(number_or_none(value) if name in self.numeric else value)
        direct = None
        if self.direct_code is not None:
            answer = (
                answers.get(self.direct_code) if isinstance(answers, dict) else None
            )
            direct = {"1": 1.0, "0": 0.0}.get(str(answer), np.nan)
        found.append(direct)
        self[text] = tuple(found)
        return self[text]


def number_or_none(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def wave_design(wave: Wave, weights, design_weights, strata, places) -> dict:
    """The wave's own design as arrays: respondent weights if any were given, else
    the strata's design weights; strata when the plan has several; the place of
    interview as the cluster when the wave's plan names it."""
    if weights.count(None) < len(weights):
        chosen = weights
    elif design_weights.count(None) < len(design_weights):
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
