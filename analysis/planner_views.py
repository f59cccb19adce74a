"""The wave planner: a draft wave's precision, planned from a source wave, and its
rehearsal by simulation as a background job."""

from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from analysis.errors import AnalysisError
from analysis.models import EstimateJob
from analysis.planner_forms import MDE, SE, PlanForm
from analysis.planning.power import PlanningError
from analysis.planning.waves import (
    DraftPlan,
    draft_design,
    plan_draft,
    planning_sources,
    quantity_title,
    rehearsal_job_create,
    source_from_wave,
)
from survey.models import Stratum, Wave
from survey.roles import ADMINISTRATOR, ANALYST, role_required

analysts = role_required(ANALYST, ADMINISTRATOR)

#: An overall change this far from the one typed gets a note saying why.
CHANGE_NOTE_GAP = 0.005


@analysts
def wave_plan(request, wave_id: int):
    """Plan a draft wave (GET, shareable), or rehearse the plan shown (POST)."""
    wave = get_object_or_404(Wave.objects.select_related("survey"), pk=wave_id)
    context = {"wave": wave}
    if wave.status != Wave.DRAFT:
        context["drafts"] = wave.survey.waves.filter(status=Wave.DRAFT)
        return render(request, "analysis/plan.html", context)

    draft = draft_design(wave)
    sources = planning_sources(wave)
    context.update(draft=draft, sources=sources)
    if draft.experiment is None or not sources:
        return render(request, "analysis/plan.html", context)

    names = stratum_names(wave, sources)
    if request.method == "POST":
        data = request.POST
    elif any(name in request.GET for name in PlanForm.PLAN_FIELDS):
        data = PlanForm.from_query(request.GET, draft, sources)
    else:
        data = PlanForm.defaults(draft, sources)
    form = PlanForm(data, draft=draft, sources=sources, names=names)
    planned = plan_from_form(form, draft, names) if form.plan_is_valid() else None

    if request.method == "POST" and planned is not None and form.is_valid():
        options = form.cleaned_data
        try:
            job = rehearsal_job_create(
                wave=wave,
                planned=planned,
                draws=options["draws"],
                seed=options["seed"],
                deflators=options["deflators"],
                user=request.user,
                language=get_language() or "en",
            )
        except PlanningError as error:
            form.add_planning_error(error)
        except AnalysisError as error:
            form.add_error(None, str(error))
        else:
            return redirect("analysis:job", job_id=job.pk)

    context.update(
        form=form,
        planned=planned,
        tables=planner_tables(planned, form.cleaned_data) if planned else None,
        jobs=wave.jobs.filter(kind=EstimateJob.REHEARSAL).order_by("-created_at")[:10],
    )
    return render(request, "analysis/plan.html", context)


def stratum_names(wave: Wave, sources: list[Wave]) -> dict[str, str]:
    """Strata's names by code: the draft's, then the source waves' for other codes."""
    names = {}
    for stratum in Stratum.objects.filter(wave__in=sources).order_by(
        "-wave__created_at", "position"
    ):
        names.setdefault(stratum.code, stratum.name)
    for stratum in wave.strata.order_by("position", "id"):
        names[stratum.code] = stratum.name
    return names


def plan_from_form(form: PlanForm, draft, names) -> DraftPlan | None:
    """The plan the valid form asks for; None, with the refusal on the form, if the
    source wave or the assumptions cannot give one."""
    data = form.cleaned_data
    try:
        source, info = source_from_wave(data["source"])
        return plan_draft(
            draft,
            source,
            info,
            prevalence=data["prevalence"],
            change=data["change"],
            ratio=data["ratio"],
            alpha=data["alpha"],
            power=data["power"],
            contrasts=data["contrasts"],
            target=data["target_se"],
            target_mde=data["target"] if data["target_kind"] == MDE else None,
            total=data["total"],
            names=names,
        )
    except PlanningError as error:
        form.add_planning_error(error)
        return None


def planner_tables(planned: DraftPlan, form_data: dict) -> dict:
    """The plan's numbers as rows for the page: strata and overall, contrasts,
    changes from the source wave, and the source's control lists."""
    plan, summary, names = planned.plan, planned.summary, planned.names
    needed = summary.get("needed")
    shares = planned.design["population_shares"]

    strata = []
    for s in plan.strata:
        row = summary["strata"][s.code]
        strata.append(
            {
                **row,
                "name": names[s.code],
                "n": s.n,
                "weight": s.weight,
                "share": shares[s.code],
                "prevalence": s.prevalence,
                "needed": needed["strata"][s.code]["n"] if needed else None,
            }
        )
    overall = {
        **summary["overall"],
        "n": plan.n,
        "needed": needed["overall"]["n"] if needed else None,
    }

    contrasts = [
        {
            **row,
            "title": quantity_title(row["label"], names),
            "needed": needed["contrasts"][row["label"]]["n"] if needed else None,
        }
        for row in summary["contrasts"]
    ]

    changes = []
    for row in summary["changes"]:
        code = row["label"].removeprefix("change ")
        old = planned.source if code == "overall" else planned.source.strata[code]
        changes.append(
            {
                **row,
                "title": quantity_title(row["label"], names),
                "source_estimate": old.estimate,
                "source_se": old.se,
                "assumed": overall["effect"]
                if code == "overall"
                else plan.stratum(code).prevalence,
            }
        )

    change_note = ""
    if planned.change is not None and changes:
        gap = changes[0]["effect"] - planned.change
        if abs(gap) > CHANGE_NOTE_GAP:
            change_note = _(
                "The overall change assumed is %(effect).1f points, not %(change).1f: "
                "the source wave's overall estimate weighs its strata as its own "
                "sample does, while the new wave's overall weighs them by their "
                "population shares under the design weights."
            ) % {"effect": changes[0]["effect"] * 100, "change": planned.change * 100}

    checks = []
    for check in planned.checks:
        row = check.to_dict()
        ratio = row["se_ratio_minimum"]
        checks.append(
            {
                **row,
                "name": names.get(check.stratum, check.stratum),
                "respondents_ratio": None if ratio is None else ratio**2,
            }
        )

    return {
        "target": target_label(form_data, needed),
        "strata": strata,
        "overall": overall,
        "design": planned.design,
        "contrasts": contrasts,
        "changes": changes,
        "change_note": change_note,
        "checks": checks,
        "needed": needed,
        "clipped": [names.get(code, code) for code in planned.clipped],
    }


def target_label(data: dict, needed: dict | None) -> str:
    """The target as the column of respondents needed names it, in points."""
    if needed is None:
        return ""
    value = data.get("target") * 100
    if data.get("target_kind") == SE:
        return _("n for an SE of %(value).2f points") % {"value": value}
    return _("n for an MDE of %(value).1f points") % {"value": value}
