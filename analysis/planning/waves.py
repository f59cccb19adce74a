"""Planning from stored waves: the source wave's data, the draft's design, the job.

The one module of `analysis.planning` that reads the database. It turns stored waves
into the plain inputs of `power`, `control_check` and `rehearsal`, so that
``manage.py plan_wave`` and the planner page read a wave the same way, and it saves
and runs a rehearsal as a background job (an `EstimateJob` of kind ``rehearsal``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from fractions import Fraction

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

import survey
from analysis.errors import AnalysisError
from analysis.models import EstimateJob
from analysis.planning.control_check import ControlListCheck, check_source
from analysis.planning.power import (
    REST,
    Contrast,
    PlanningError,
    SourceWave,
    WavePlan,
    design_summary,
    parse_contrast,
    plan_from_source,
    plan_summary,
    shifted_prevalence,
    source_shares,
    source_summary,
    split_total,
    stratum_shares,
)
from analysis.planning.rehearsal import (
    check_rehearsal,
    rehearsal_specification,
    rehearse_specification,
)
from analysis.selectors import check_single_list, default_experiment, wave_list_data
from fielding.allocation import DEFAULT_PLAN
from fielding.models import Response
from fielding.sequences import BLOCKED, KINDS, SIMPLE
from survey.models import ListExperiment, Wave

logger = logging.getLogger(__name__)

#: A simple plan's treatment probability is turned into a ratio with at most this
#: denominator (2/3 gives 2:1), as the closed forms and the rehearsal need one.
SIMPLE_DENOMINATOR = 20


# -- The source wave -----------------------------------------------------------------


def source_from_wave(wave: Wave) -> tuple[SourceWave, dict]:
    """The wave's counts summarised for planning, and a description of the wave.

    The survey's first list experiment is read, by stratum, with the wave's own
    design when it has weights (as the estimate job weights it).

    Raises
    ------
    PlanningError
        With field ``source``, naming what keeps the wave from being planned from.
    """
    experiment = default_experiment(wave)
    if experiment is None:
        raise PlanningError(
            _("The wave's survey has no list experiment."), field="source"
        )
    try:
        check_single_list(experiment)
        data = wave_list_data(wave, experiment, ["stratum"])
        J = experiment.items_count()
        design = data.design
        weighted = design["weights"] is not None
        summary = source_summary(
            data.counts,
            data.treated,
            data.variables["stratum"],
            J,
            weights=design["weights"],
            design_strata=design["strata"] if weighted else None,
            clusters=design["clusters"] if weighted else None,
        )
    except AnalysisError as error:
        raise PlanningError(str(error), field="source") from None

    logger.info(
        "Planning from wave %s: %s respondents with a count", wave.pk, data.n_used
    )
    info = {
        "wave": wave.pk,
        "name": wave.name,
        "J": J,
        "n_used": data.n_used,
        "n_simulated": data.n_simulated,
        "checksum": data.checksum,
        **summary.to_dict(),
    }
    return summary, info


def planning_sources(wave: Wave) -> list[Wave]:
    """The survey's other waves with a complete response, the most recent first."""
    ids = (
        Response.objects.filter(
            status=Response.COMPLETE,
            assignment__respondent__wave__survey=wave.survey_id,
        )
        .exclude(assignment__respondent__wave=wave.pk)
        .values_list("assignment__respondent__wave", flat=True)
        .distinct()
    )
    return list(
        Wave.objects.filter(pk__in=ids)
        .select_related("survey")
        .order_by("-created_at", "-id")
    )


# -- The draft's design --------------------------------------------------------------


@dataclass(frozen=True)
class DraftStratum:
    code: str
    name: str
    quota: int | None
    weight: float | None
    is_rest: bool


@dataclass(frozen=True)
class DraftDesign:
    """What the planner reads from a draft wave: strata, quotas, weights, allocation.

    ``ratio`` is treatment:control; ``note`` says, when not empty, why the draft's
    randomization plan could not be read as it stands.
    """

    experiment: ListExperiment | None
    strata: tuple[DraftStratum, ...]
    ratio: tuple[int, int]
    allocation: str
    block_sizes: tuple[int, ...]
    note: str = ""

    @property
    def codes(self) -> list[str]:
        return [s.code for s in self.strata]


def draft_design(wave: Wave) -> DraftDesign:
    """The draft wave's strata (in their order) and its randomization plan."""
    experiment = default_experiment(wave)
    strata = tuple(
        DraftStratum(
            code=s.code,
            name=s.name,
            quota=s.quota,
            weight=s.design_weight,
            is_rest=s.is_rest,
        )
        for s in wave.strata.order_by("position", "id")
    )
    arms = experiment.arms() if experiment is not None else ["control", "treatment"]
    try:
        ratio, allocation, block_sizes = draft_allocation(wave.plan, arms)
    except (TypeError, ValueError, KeyError, ZeroDivisionError):
        return DraftDesign(
            experiment,
            strata,
            (1, 1),
            BLOCKED,
            (),
            _(
                "The draft's randomization plan could not be read, so the planner "
                "assumes 1:1 in permuted blocks; check the plan in the admin."
            ),
        )
    return DraftDesign(experiment, strata, ratio, allocation, block_sizes)


def draft_allocation(
    plan, arms: list[str]
) -> tuple[tuple[int, int], str, tuple[int, ...]]:
    """(treatment:control ratio, kind, block sizes) from a wave's stored plan.

    The stored ratio follows the arms (control first); a simple plan's treatment
    probability ``p`` becomes the nearest ratio of small whole numbers.
    """
    if not isinstance(plan or {}, dict):
        raise TypeError("plan")
    spec = {**DEFAULT_PLAN, **(plan or {})}
    kind = spec["kind"]
    if kind not in KINDS:
        raise ValueError(kind)

    if kind == SIMPLE and spec.get("p") is not None:
        share = Fraction(float(spec["p"])).limit_denominator(SIMPLE_DENOMINATOR)
        ratio = (share.numerator, share.denominator - share.numerator)
    else:
        arms = list(spec.get("arms") or arms)
        shares = list(spec.get("ratio") or [1] * len(arms))
        ratio = (
            int(shares[arms.index("treatment")]),
            int(shares[arms.index("control")]),
        )
    if min(ratio) < 1:
        raise ValueError(ratio)

    block_sizes = ()
    if kind == BLOCKED:
        block_sizes = tuple(int(size) for size in spec.get("block_sizes") or ())
    return ratio, kind, block_sizes


def fitting_blocks(block_sizes, ratio) -> tuple[int, ...]:
    """The draft's block sizes when each holds the ratio whole; else the defaults."""
    if block_sizes and all(size % sum(ratio) == 0 for size in block_sizes):
        return tuple(block_sizes)
    return ()


def default_contrasts(draft: DraftDesign) -> list[str]:
    """Every stratum that names its settlements minus the rest (the first one when
    none does); nothing for a wave of one stratum."""
    if len(draft.strata) < 2:
        return []
    named = [s.code for s in draft.strata if not s.is_rest]
    return [f"{code}-{REST}" for code in named or [draft.strata[0].code]]


def contrast_choices(codes: list[str], names: dict[str, str]) -> list[tuple[str, str]]:
    """Each stratum minus the rest, then each pair of strata, as (text, title)."""
    if len(codes) < 2:
        return []
    choices = [
        (f"{code}-{REST}", contrast_title(f"{code}-{REST}", names)) for code in codes
    ]
    for i, a in enumerate(codes):
        for b in codes[i + 1 :]:
            choices.append((f"{a}-{b}", contrast_title(f"{a}-{b}", names)))
    return choices


def contrast_title(text: str, names: dict[str, str]) -> str:
    """``almaty-rest`` as "Almaty minus the rest", ``almaty-astana`` as "Almaty minus
    Astana"."""
    try:
        contrast = parse_contrast(text, list(names))
    except PlanningError:
        return text
    a = names[contrast.a[0]]
    if contrast.label.endswith(f"-{REST}"):
        return _("%(a)s minus the rest") % {"a": a}
    return _("%(a)s minus %(b)s") % {"a": a, "b": names[contrast.b[0]]}


def quantity_title(label: str, names: dict[str, str]) -> str:
    """A planned quantity's label as the pages name it."""
    if label == "overall":
        return _("Overall")
    if label == "overall (unweighted)":
        return _("Overall, unweighted")
    if label.startswith("change "):
        rest = label.removeprefix("change ")
        if rest == "overall":
            return _("Change overall")
        return _("Change in %(stratum)s") % {"stratum": names.get(rest, rest)}
    if label in names:
        return names[label]
    return contrast_title(label, names)


# -- The plan of a draft -------------------------------------------------------------


@dataclass
class DraftPlan:
    """A draft wave planned from a source wave: every number the planner shows.

    ``summary`` is `plan_summary`'s, ``design`` `design_summary`'s; ``sizes_from``
    says where the strata's sizes came from (``quotas``, ``scaled`` quotas, or the
    ``source`` wave's shares); ``clipped`` lists strata whose prevalence the
    expected change would have pushed outside 0..1.
    """

    plan: WavePlan
    summary: dict
    design: dict
    contrasts: list[Contrast]
    source: SourceWave
    source_info: dict
    checks: list[ControlListCheck]
    names: dict[str, str]
    sizes_from: str
    allocation: str
    block_sizes: tuple[int, ...]
    prevalence: float | None = None
    change: float | None = None
    clipped: list[str] = field(default_factory=list)


def plan_draft(
    draft: DraftDesign,
    source: SourceWave,
    source_info: dict,
    *,
    prevalence: float | None = None,
    change: float | None = None,
    ratio: tuple[int, int] | None = None,
    alpha: float,
    power: float,
    contrasts: list[str] = (),
    target: float | None = None,
    target_mde: float | None = None,
    total: int | None = None,
    names: dict[str, str] | None = None,
) -> DraftPlan:
    """Plan the draft wave from the source wave, as the planner page shows it.

    Parameters
    ----------
    draft : DraftDesign
    source : SourceWave
        From `source_from_wave`, with ``source_info`` its description.
    prevalence : float, optional
        One prevalence for every stratum; otherwise each stratum's is the source's.
    change : float, optional
        Instead of a prevalence: every stratum's source estimate moves by this.
    ratio : (int, int), optional
        Treatment:control; the draft's when not given.
    alpha, power
        The test's two-sided level and the power for the MDE.
    contrasts : list of str
        Contrasts as text, ``A-rest`` or ``A-B``.
    target : float, optional
        A standard error to reach, for the respondents needed.
    target_mde : float, optional
        The MDE ``target`` was worked out from, when one was typed: it words the
        refusal of a target beyond any sample.
    total : int, optional
        Respondents in the wave: split over the strata in proportion to their
        quotas, or by the source wave's shares when the draft lacks quotas.
    names : dict, optional
        Strata's names by code, for codes the draft does not have.

    Raises
    ------
    PlanningError
        Naming the input: ``total`` for missing quotas, ``weights``, ``prevalence``,
        ``change``, ``ratio``, ``contrast``, ``target`` and the rest as in `power`.
    """
    if prevalence is not None and change is not None:
        raise PlanningError(
            _("Give a prevalence or an expected change, not both."), field="change"
        )
    ratio = tuple(ratio or draft.ratio)
    sizes, sizes_from = draft_sizes(draft, source, total)
    weights = draft_weights(draft)

    clipped = []
    assumed = prevalence
    if change is not None:
        assumed = shifted_prevalence(source, change)
        clipped = [
            code
            for code, s in source.strata.items()
            if code in sizes and not 0 <= s.estimate + change <= 1
        ]
        assumed = {code: p for code, p in assumed.items() if code in sizes}

    plan = plan_from_source(
        source,
        sizes,
        prevalence=assumed,
        weights=weights,
        ratio=ratio,
        alpha=alpha,
        power=power,
    )
    parsed = [parse_contrast(text, plan.codes) for text in contrasts]
    summary = plan_summary(
        plan,
        contrasts=parsed,
        previous=source,
        target=target,
        target_mde=target_mde,
    )

    names = {**(names or {}), **{s.code: s.name for s in draft.strata}}
    names = {code: names.get(code, code) for code in plan.codes}
    return DraftPlan(
        plan=plan,
        summary=summary,
        design=design_summary(plan, summary),
        contrasts=parsed,
        source=source,
        source_info=source_info,
        checks=check_source(source, ratio),
        names=names,
        sizes_from=sizes_from,
        allocation=draft.allocation,
        block_sizes=fitting_blocks(draft.block_sizes, ratio),
        prevalence=prevalence,
        change=change,
        clipped=clipped,
    )


def draft_sizes(
    draft: DraftDesign, source: SourceWave, total: int | None
) -> tuple[dict[str, int], str]:
    """Respondents per stratum, and where they came from.

    The quotas as they stand; with a total, the quotas scaled to it. Strata without
    a quota (or a draft without strata) need the total, split by the source wave's
    shares.
    """
    if total is not None and (
        isinstance(total, bool) or not isinstance(total, int) or total < 1
    ):
        raise PlanningError(
            _("The total is a whole number of respondents; got %(total)s.")
            % {"total": total},
            field="total",
        )
    if not draft.strata:
        if total is None:
            raise PlanningError(
                _(
                    "The draft has no strata. Add its strata with their quotas in the "
                    "admin, or type a total to split by the source wave's strata."
                ),
                field="total",
            )
        return split_total(total, source_shares(source)), "source"

    missing = [s.name for s in draft.strata if not s.quota]
    if missing and total is None:
        raise PlanningError(
            _(
                "The draft's quotas are missing for %(strata)s. Give every stratum a "
                "quota in the admin, or type a total to split by the source wave's "
                "shares."
            )
            % {"strata": ", ".join(missing)},
            field="total",
        )
    if missing:
        return split_total(total, stratum_shares(draft.codes, source)), "source"

    quotas = {s.code: s.quota for s in draft.strata}
    if total is None or total == sum(quotas.values()):
        return quotas, "quotas"
    whole = sum(quotas.values())
    return split_total(total, {c: q / whole for c, q in quotas.items()}), "scaled"


def draft_weights(draft: DraftDesign) -> dict[str, float] | None:
    """The strata's design weights, None when no stratum has one."""
    given = {s.code: s.weight for s in draft.strata if s.weight is not None}
    if not given:
        return None
    missing = [s.name for s in draft.strata if s.weight is None]
    if missing:
        raise PlanningError(
            _(
                "Design weights are set for some strata but not for %(strata)s: give "
                "every stratum a design weight in the admin, or none."
            )
            % {"strata": ", ".join(missing)},
            field="weights",
        )
    bad = [
        s.name for s in draft.strata if not (math.isfinite(s.weight) and s.weight > 0)
    ]
    if bad:
        raise PlanningError(
            _("The design weight of %(strata)s must be a positive number.")
            % {"strata": ", ".join(bad)},
            field="weights",
        )
    return given


# -- The rehearsal as a job ----------------------------------------------------------


def rehearsal_job_create(
    *,
    wave: Wave,
    planned: DraftPlan,
    draws: int,
    seed: int,
    deflators: float = 0.0,
    user=None,
    language: str = "en",
) -> EstimateJob:
    """Save a rehearsal of ``planned`` for the draft ``wave``; queue it on commit.

    The options are checked here, so a form shows a refusal at once; the plan and
    the source wave's estimates are stored in the job's specification.

    Raises
    ------
    PlanningError
        For draws, seed, deflators or an allocation the rehearsal refuses.
    AnalysisError
        When the wave's survey has no list experiment.
    """
    from analysis.runner import job_dispatch

    experiment = default_experiment(wave)
    if experiment is None:
        raise AnalysisError(_("This wave's survey has no list experiment."))
    check_rehearsal(
        planned.plan,
        draws=draws,
        seed=seed,
        allocation=planned.allocation,
        block_sizes=planned.block_sizes,
        deflators=deflators,
    )
    specification = {
        "estimator": "rehearsal",
        **rehearsal_specification(
            planned.plan,
            draws=draws,
            seed=seed,
            allocation=planned.allocation,
            block_sizes=planned.block_sizes,
            contrasts=planned.contrasts,
            previous=planned.source,
            deflators=deflators,
        ),
        "names": planned.names,
        "prevalence": planned.prevalence,
        "change": planned.change,
        "source": {
            key: planned.source_info[key]
            for key in ("wave", "name", "n_used", "n_simulated", "checksum")
        },
        "language": language,
    }
    with transaction.atomic():
        job = EstimateJob.objects.create(
            kind=EstimateJob.REHEARSAL,
            wave=wave,
            experiment=experiment,
            specification=specification,
            created_by=user,
            software_version=survey.__version__,
        )
        transaction.on_commit(lambda: job_dispatch(job.pk))
    logger.info(
        "Rehearsal job %s saved for wave %s: %s draws, seed %s",
        job.pk,
        wave.pk,
        draws,
        seed,
    )
    return job


@dataclass(frozen=True)
class RehearsalInputs:
    """What a rehearsal job records about the data behind it: the source wave's."""

    n_used: int
    checksum: str


def rehearsal_compute(job: EstimateJob) -> tuple[dict, RehearsalInputs]:
    """Run a rehearsal job: its table, each quantity with the title pages show."""
    from analysis.services import job_progress

    spec = job.specification

    def progress(done: int, total: int) -> None:
        job_progress(
            job.pk,
            0.05 + 0.9 * done / total,
            _("Drew %(done)s of %(total)s simulated respondents.")
            % {"done": f"{done:,}", "total": f"{total:,}"},
        )

    job_progress(job.pk, 0.05, _("Drawing synthetic waves."))
    try:
        rehearsal = rehearse_specification(spec, progress)
    except PlanningError as error:
        raise AnalysisError(str(error)) from None

    result = rehearsal.to_dict()
    names = spec.get("names") or {}
    with translation.override(spec.get("language") or "en"):
        for quantity in result["quantities"]:
            quantity["title"] = quantity_title(quantity["label"], names)
    result["source"] = spec.get("source")

    source = spec.get("source") or {}
    checksum = (
        source.get("checksum")
        or hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
    )
    return result, RehearsalInputs(n_used=source.get("n_used") or 0, checksum=checksum)
