"""Estimate jobs: create one, and run one under a lease.

``estimate_job_run`` is what both the Celery task and the in-process thread call. It
claims the job with a conditional update, so a task delivered twice, or a second
worker, finds nothing to do while a live run holds the lease; a run whose lease has
lapsed (its worker died) may be taken over.
"""

import logging
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

import survey
from analysis.errors import AnalysisError
from analysis.estimators.report import ReportData, ReportSpec, report
from analysis.formatting import INTERVAL_NOTE
from analysis.models import EstimateJob
from analysis.selectors import (
    NO_RESPONSE,
    breakdown_options,
    check_estimable,
    default_experiment,
    list_design,
    wave_list_data,
)
from survey.models import ListExperiment, Wave

logger = logging.getLogger(__name__)


def estimate_job_create(
    *,
    wave: Wave,
    by: list[str],
    user=None,
    experiment: ListExperiment | None = None,
    language: str = "en",
    weighted: bool = False,
    compare: list[tuple[str, str, str]] = (),
    design_test: bool = False,
    gms: bool = True,
    model: str | None = None,
    covariates: list[str] = (),
    predict_by: list[str] = (),
    direct: bool = False,
    balance: list[str] = (),
) -> EstimateJob:
    """Save a job for ``wave`` and hand it to the queue once the row is committed.

    A single list with one sensitive item takes every option. Several sensitive
    items and double lists give their own estimates, overall and by group, and the
    balance check; differences between groups, weights, the design test, models and
    the direct question are for one sensitive item.
    """
    from analysis.runner import job_dispatch

    by = list(dict.fromkeys(by))
    balance = list(dict.fromkeys(balance))
    experiment = experiment or default_experiment(wave)
    if experiment is None:
        raise AnalysisError(_("This wave's survey has no list experiment."))
    check_estimable(experiment)
    design = list_design(experiment)
    single_only = [
        label
        for label, asked in (
            (_("weights"), weighted),
            (_("differences between groups"), compare),
            (_("the design-effect test"), design_test),
            (_("a regression model"), model or covariates or predict_by),
            (_("the direct question"), direct),
        )
        if asked
    ]
    if design != "single" and single_only:
        raise AnalysisError(
            _(
                "“%(experiment)s” is a %(design)s: the job gives its estimates overall "
                "and by group, and balance, but not %(options)s."
            )
            % {
                "experiment": experiment.name,
                "design": _("double list")
                if design == "double"
                else _("list with several sensitive items"),
                "options": ", ".join(str(label) for label in single_only),
            }
        )
    if direct and experiment.direct_question_id is None:
        raise AnalysisError(
            _("“%(experiment)s” has no direct question to compare with.")
            % {"experiment": experiment.name}
        )
    known = {option.key for option in breakdown_options(wave.survey)}
    named = [*by, *(c[0] for c in compare), *predict_by]
    unknown = [name for name in dict.fromkeys(named) if name not in known]
    if unknown:
        raise AnalysisError(
            _("Cannot break down by %(names)s: not a covariate, recode or %(meta)s.")
            % {"names": ", ".join(unknown), "meta": "stratum, region, place"}
        )
    questions = set(wave.survey.questions.values_list("code", flat=True))
    recodes = set(wave.survey.recodes.values_list("name", flat=True))
    not_questions = [c for c in covariates if c not in questions | recodes]
    if not_questions:
        raise AnalysisError(
            _("The model's covariates must be questions or recodes: %(names)s is not.")
            % {"names": ", ".join(not_questions)}
        )
    not_questions = [c for c in balance if c not in questions | recodes]
    if not_questions:
        raise AnalysisError(
            _("Balance is checked on questions or recodes: %(names)s is not one.")
            % {"names": ", ".join(not_questions)}
        )
    if model not in (None, "", "lm", "ml"):
        raise AnalysisError(_("The model is lm (linear) or ml (maximum likelihood)."))

    specification = {
        "estimator": "difference_in_means",
        "design": design,
        "by": by,
        "language": language,
        "weighted": weighted,
        "compare": [list(c) for c in compare],
        "design_test": design_test,
        "gms": gms,
        "model": model or None,
        "covariates": list(covariates),
        "predict_by": list(predict_by),
        "direct": bool(direct),
        "balance": balance,
    }
    with transaction.atomic():
        job = EstimateJob.objects.create(
            wave=wave,
            experiment=experiment,
            specification=specification,
            created_by=user,
            software_version=survey.__version__,
        )
        transaction.on_commit(lambda: job_dispatch(job.pk))
    logger.info("Estimate job %s saved for wave %s: %s", job.pk, wave.pk, specification)
    return job


def lease_expiry():
    return timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS)


def job_claim(job_id: int) -> bool:
    """Take the job if nobody holds it; True if this caller now runs it."""
    now = timezone.now()
    claimable = Q(status__in=[EstimateJob.PENDING, EstimateJob.QUEUED]) | Q(
        status=EstimateJob.RUNNING, lease_until__lt=now
    )
    taken = (
        EstimateJob.objects.filter(claimable, pk=job_id).update(
            status=EstimateJob.RUNNING,
            lease_until=lease_expiry(),
            started_at=now,
            progress=0.0,
            attempts=F("attempts") + 1,
            message=_("Started."),
        )
        == 1
    )
    return taken


def job_progress(job_id: int, progress: float, message: str) -> None:
    """Record progress and renew the lease, as long as the job is still running."""
    EstimateJob.objects.filter(pk=job_id, status=EstimateJob.RUNNING).update(
        progress=progress, message=message, lease_until=lease_expiry()
    )


def job_finish(job_id: int, **fields) -> None:
    EstimateJob.objects.filter(pk=job_id, status=EstimateJob.RUNNING).update(
        finished_at=timezone.now(), lease_until=None, **fields
    )


def estimate_job_run(job_id: int) -> bool:
    """Run a job to the end, storing its result or the reason it failed.

    Returns False only when another run holds a live lease on the job: the caller may
    try again once that lease could have lapsed. A finished job is left as it is.
    """
    if not job_claim(job_id):
        busy = EstimateJob.objects.filter(
            pk=job_id, status=EstimateJob.RUNNING, lease_until__gte=timezone.now()
        ).exists()
        logger.info(
            "Estimate job %s is %s",
            job_id,
            "held by another run" if busy else "finished",
        )
        return not busy

    job = EstimateJob.objects.select_related("wave__survey", "experiment").get(
        pk=job_id
    )
    try:
        result, data = estimate_compute(job)
    except AnalysisError as error:
        logger.warning(
            "Estimate job %s on wave %s failed: %s", job_id, job.wave_id, error
        )
        job_finish(
            job_id,
            status=EstimateJob.FAILED,
            failure_reason=str(error),
            message=str(error),
        )
        return True
    except Exception as error:
        logger.exception(
            "Estimate job %s on wave %s stopped by an error", job_id, job.wave_id
        )
        reason = _("The job stopped because of an unexpected error (%(kind)s).") % {
            "kind": type(error).__name__
        }
        job_finish(
            job_id, status=EstimateJob.FAILED, failure_reason=reason, message=reason
        )
        return True

    job_finish(
        job_id,
        status=EstimateJob.SUCCEEDED,
        progress=1.0,
        result=result,
        responses_used=data.n_used,
        responses_checksum=data.checksum,
        message=_("Done."),
    )
    logger.info(
        "Estimate job %s on wave %s succeeded (%s responses)",
        job_id,
        job.wave_id,
        data.n_used,
    )
    return True


def labelled_in_display_order(groups: list[dict], labels: dict) -> list[dict]:
    """Give each level its label and order levels as the survey lists them (choices,
    recode levels, strata); levels the survey does not list follow in their order."""
    for group in groups:
        known = labels.get(group["variable"], {})
        group["label"] = known.get(group["level"], group["level"])

    def position(group):
        known = list(labels.get(group["variable"], {}))
        level = group["level"]
        return known.index(level) if level in known else len(known)

    variables = list(dict.fromkeys(group["variable"] for group in groups))
    return [
        group
        for variable in variables
        for group in sorted(
            (g for g in groups if g["variable"] == variable), key=position
        )
    ]


def estimate_compute(job: EstimateJob):
    """Load the wave's data, check it can be estimated, and build the result."""
    if job.kind == EstimateJob.COMPARE:
        from analysis.comparison import compare_compute

        return compare_compute(job)
    if job.kind == EstimateJob.REHEARSAL:
        from analysis.planning.waves import rehearsal_compute

        return rehearsal_compute(job)
    spec = job.specification
    report_spec = ReportSpec(
        by=tuple(spec.get("by", [])),
        compare=tuple(tuple(c) for c in spec.get("compare", [])),
        design_test=spec.get("design_test", False),
        gms=spec.get("gms", True),
        model=spec.get("model"),
        covariates=tuple(spec.get("covariates", [])),
        predict_by=tuple(spec.get("predict_by", [])),
        direct=spec.get("direct", False),
        balance=tuple(spec.get("balance", [])),
    )
    level_names = list(
        dict.fromkeys(
            [
                *report_spec.by,
                *(c[0] for c in report_spec.compare),
                *report_spec.predict_by,
            ]
        )
    )
    job_progress(job.pk, 0.05, _("Loading responses."))
    experiment = job.experiment
    data = wave_list_data(
        job.wave,
        experiment,
        level_names,
        spec.get("language", "en"),
        covariates=list(dict.fromkeys([*report_spec.covariates, *report_spec.balance])),
        any_design=True,
    )
    design_kind = list_design(experiment)
    check_arms_answered(data, design_kind)
    if report_spec.direct and data.direct is None:
        raise AnalysisError(
            _("“%(experiment)s” no longer has a direct question to compare with.")
            % {"experiment": experiment.name}
        )

    design = data.design if spec.get("weighted") else {}
    if spec.get("weighted") and not any(v is not None for v in design.values()):
        raise AnalysisError(
            _(
                "The wave has no design to weight by: no respondent weights, no design "
                "weights on its strata, a single stratum and no cluster."
            )
        )
    report_data = ReportData(
        counts=data.counts,
        treated=data.treated,
        items=experiment.items_count(
            data.arm_names[0] if design_kind == "double" else None
        ),
        levels=data.variables,
        columns=data.columns,
        coded=data.coded,
        weights=design.get("weights"),
        strata=design.get("strata"),
        clusters=design.get("clusters"),
        direct=data.direct,
        list_design=design_kind,
        arms=data.arms if design_kind != "single" else None,
        arm_names=data.arm_names,
        second_counts=data.second_counts,
        second_items=experiment.items_count(data.arm_names[1])
        if design_kind == "double"
        else None,
        balance_strata=data.design.get("strata"),
        statuses={
            arm: {key: n for key, n in counts.items() if key != NO_RESPONSE}
            for arm, counts in data.statuses.items()
        },
    )

    def progress(done: int, total: int) -> None:
        job_progress(
            job.pk,
            0.1 + 0.6 * done / total,
            _("Estimated %(done)s of %(total)s breakdowns.")
            % {"done": done, "total": total},
        )

    job_progress(job.pk, 0.1, _("Estimating."))
    try:
        table = report(report_data, report_spec, progress)
    except ValueError as error:
        raise AnalysisError(str(error)) from None
    table["groups"] = labelled_in_display_order(table["groups"], data.labels)
    if "balance" in table:
        label_balance_levels(table["balance"], data.labels)

    table.update(
        {
            "interval": INTERVAL_NOTE,
            "statuses": data.statuses,
            "n_assigned": data.n_assigned,
            "n_used": data.n_used,
            "n_simulated": data.n_simulated,
            "checksum": data.checksum,
            "wave": {"id": job.wave.pk, "name": job.wave.name},
            "experiment": experiment.code,
            "items": report_data.items,
            "specification": spec,
            "design": {key: value is not None for key, value in (design or {}).items()},
            "software_version": survey.__version__,
        }
    )
    return table, data


def check_arms_answered(data, design_kind: str) -> None:
    """Refuse, in words, a wave where an arm the estimate needs has no count."""
    answered = {
        arm: int(n) for arm, n in zip(*np.unique(data.arms, return_counts=True))
    }
    if design_kind == "single":
        needed = [["treatment"], ["control"]]
    elif design_kind == "double":
        needed = [[data.arm_names[0]], [data.arm_names[1]]]
    else:
        needed = [[data.arm_names[0]], list(data.arm_names[1:])]
    for arms in needed:
        if not any(answered.get(arm) for arm in arms):
            empty = {"treatment": _("treatment"), "control": _("control")}.get(
                arms[0], ", ".join(arms)
            )
            raise AnalysisError(
                _(
                    "The wave has no complete responses in the %(arm)s arm, so there "
                    "is nothing to compare: a difference in means needs both arms."
                )
                % {"arm": empty}
            )


def label_balance_levels(balance: dict, labels: dict) -> None:
    """Give each coded covariate's levels their labels, in the survey's order."""
    for covariate in balance["covariates"]:
        if covariate["kind"] != "coded":
            continue
        known = labels.get(covariate["name"], {})
        order = list(known)
        for level in covariate["levels"]:
            level["label"] = known.get(level["level"], level["level"])
        covariate["levels"].sort(
            key=lambda level: (
                order.index(level["level"]) if level["level"] in order else len(order)
            )
        )
