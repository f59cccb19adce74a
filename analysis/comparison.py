"""Change between two waves of a survey: check they asked the same, estimate, combine.

A change between waves means something only when both waves showed the same cards: the
same control items, the same sensitive item and the same wording in every language.
Otherwise a change in the estimate mixes a change in opinion with a change in the
question, so the comparison is refused with a list of what differs. The cards compared
are each wave's frozen cards (the live texts for a wave still in draft).

The earlier wave must be earlier: a change is the later wave minus the earlier one, so
waves given the wrong way round would report the change with the wrong sign. Waves are
ordered by `wave_order`.

Each wave is estimated on its own, exactly as an estimate job would (weighted under its
own design when asked), and the two results are combined by
`analysis.estimators.change`.
"""

import csv
import hashlib
import io
import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import get_language_info
from django.utils.translation import gettext as _

import survey
from analysis.errors import AnalysisError
from analysis.estimators.change import change_rows, change_table
from analysis.estimators.report import ReportData, ReportSpec, report
from analysis.formatting import INTERVAL_NOTE, number, spreadsheet_safe
from analysis.models import EstimateJob
from analysis.selectors import (
    breakdown_options,
    check_single_list,
    default_experiment,
    wave_list_data,
)
from analysis.services import job_progress, labelled_in_display_order
from survey.cards import wave_snapshot
from survey.models import ListExperiment, Wave

logger = logging.getLogger(__name__)

CSV_COLUMNS = (
    "variable",
    "level",
    "label",
    "earlier_estimate",
    "earlier_se",
    "earlier_n_treatment",
    "earlier_n_control",
    "later_estimate",
    "later_se",
    "later_n_treatment",
    "later_n_control",
    "change_estimate",
    "change_se",
    "change_ci_low",
    "change_ci_high",
    "change_p_value",
    "change_note",
)


@dataclass(frozen=True)
class ResponsesUsed:
    """What an estimate job records about the responses behind its result."""

    n_used: int
    checksum: str


def language_name(code: str) -> str:
    try:
        return get_language_info(code)["name_translated"]
    except KeyError:
        return code


def joined(codes) -> str:
    return ", ".join(f"“{code}”" for code in codes)


def list_differences(earlier: dict, later: dict) -> list[str]:
    """Control lists and sensitive items added, removed or reordered."""
    differences = []
    for code in earlier["lists"].keys() - later["lists"].keys():
        differences.append(
            _("control list %(list)s is only in the earlier wave") % {"list": code}
        )
    for code in later["lists"].keys() - earlier["lists"].keys():
        differences.append(
            _("control list %(list)s is only in the later wave") % {"list": code}
        )
    for code in earlier["lists"].keys() & later["lists"].keys():
        before, after = earlier["lists"][code], later["lists"][code]
        added = [item for item in after if item not in before]
        removed = [item for item in before if item not in after]
        if added:
            differences.append(
                _("control list %(list)s: items added in the later wave: %(items)s")
                % {"list": code, "items": joined(added)}
            )
        if removed:
            differences.append(
                _("control list %(list)s: items removed in the later wave: %(items)s")
                % {"list": code, "items": joined(removed)}
            )
        if not added and not removed and before != after:
            differences.append(
                _("control list %(list)s: the same items in a different order")
                % {"list": code}
            )

    added = [i for i in later["sensitive"] if i not in earlier["sensitive"]]
    removed = [i for i in earlier["sensitive"] if i not in later["sensitive"]]
    if added:
        differences.append(
            _("sensitive items added in the later wave: %(items)s")
            % {"items": joined(added)}
        )
    if removed:
        differences.append(
            _("sensitive items removed in the later wave: %(items)s")
            % {"items": joined(removed)}
        )
    return differences


def shown_items(snapshot: dict) -> list[str]:
    """Every item code a snapshot's cards show: control lists, then sensitive items."""
    controls = [code for codes in snapshot["lists"].values() for code in codes]
    return [*controls, *snapshot["sensitive"]]


def text_of(entry) -> str | None:
    return (entry or {}).get("text")


def text_differences(earlier: dict, later: dict) -> list[str]:
    """Languages present in one wave only, and every text that changed, by language.

    Only the items both waves show are compared by text; an item added or removed is
    already reported as such.
    """
    differences = []
    languages = list(dict.fromkeys([*earlier["texts"], *later["texts"]]))
    before_items = set(shown_items(earlier))
    common = [i for i in dict.fromkeys(shown_items(later)) if i in before_items]

    for language in languages:
        name = language_name(language)
        if language not in later["texts"]:
            differences.append(
                _("%(language)s texts are only in the earlier wave")
                % {"language": name}
            )
            continue
        if language not in earlier["texts"]:
            differences.append(
                _("%(language)s texts are only in the later wave") % {"language": name}
            )
            continue
        before, after = earlier["texts"][language], later["texts"][language]
        if text_of(before.get("instructions")) != text_of(after.get("instructions")):
            differences.append(
                _("the instructions' %(language)s text changed") % {"language": name}
            )
        for item in common:
            old = text_of(before.get("items", {}).get(item))
            new = text_of(after.get("items", {}).get(item))
            if old != new:
                differences.append(
                    _("item “%(item)s”: the %(language)s text changed")
                    % {"item": item, "language": name}
                )
    return differences


def card_differences(earlier: dict | None, later: dict | None) -> list[str]:
    """What differs between two waves' cards of one list experiment, a phrase each.

    ``earlier`` and ``later`` are the experiment's entries of each wave's card
    snapshot (`survey.cards.wave_snapshot`), or None when a wave's cards lack it.
    Text versions are not compared, only the texts themselves, so a text edited and
    put back as it was counts as the same.
    """
    if earlier is None or later is None:
        wave = _("earlier") if earlier is None else _("later")
        return [
            _("the %(wave)s wave's cards lack this list experiment") % {"wave": wave}
        ]
    if earlier.get("design") != later.get("design") or earlier.get("arms") != later.get(
        "arms"
    ):
        return [
            _("the design differs: arms %(earlier)s, then %(later)s")
            % {
                "earlier": ", ".join(earlier.get("arms", [])),
                "later": ", ".join(later.get("arms", [])),
            }
        ]
    return list_differences(earlier, later) + text_differences(earlier, later)


def wave_date(wave: Wave):
    """The day a wave went to the field: its first day of fieldwork as entered on the
    wave, else the day it opened, else the day it was created."""
    return wave.starts_on or timezone.localdate(wave.opened_at or wave.created_at)


def wave_order(wave: Wave) -> tuple:
    """A wave's place among the waves of its survey, earliest first.

    The first day of fieldwork decides (`wave_date`), so data of an older round
    imported today can still be the earlier wave once its first day is entered.
    On the same day, the wave opened (or, never opened, created) first comes first;
    a draft holding imported data was created after its fieldwork. The id breaks the
    last ties, so no two waves are ever level.
    """
    return (wave_date(wave), wave.opened_at or wave.created_at, wave.pk)


def earlier_waves(wave: Wave) -> list[Wave]:
    """The survey's waves that came before ``wave``, the most recent first."""
    before = [
        other
        for other in wave.survey.waves.exclude(pk=wave.pk)
        if wave_order(other) < wave_order(wave)
    ]
    return sorted(before, key=wave_order, reverse=True)


def waves_with_earlier(waves: list[Wave]) -> set[int]:
    """The ids of ``waves`` that have an earlier wave among them: every wave but the
    first of its survey. ``waves`` must hold every wave of their surveys."""
    first: dict[int, Wave] = {}
    for wave in waves:
        known = first.get(wave.survey_id)
        if known is None or wave_order(wave) < wave_order(known):
            first[wave.survey_id] = wave
    return {wave.pk for wave in waves if first[wave.survey_id].pk != wave.pk}


def check_order(earlier: Wave, later: Wave) -> None:
    """Refuse waves given the wrong way round: the change would have the wrong sign."""
    if wave_order(earlier) < wave_order(later):
        return
    names = {"earlier": earlier.name, "later": later.name}
    if wave_date(earlier) == wave_date(later):
        reason = _(
            "“%(earlier)s” and “%(later)s” went to the field on the same day, "
            "%(date)s, and “%(earlier)s” was opened (or, never opened, created) "
            "after “%(later)s”, so it is not the earlier wave."
        ) % {**names, "date": wave_date(later).isoformat()}
    else:
        reason = _(
            "“%(earlier)s” went to the field on %(earlier_date)s, after “%(later)s” "
            "(%(later_date)s), so it is not the earlier wave."
        ) % {
            **names,
            "earlier_date": wave_date(earlier).isoformat(),
            "later_date": wave_date(later).isoformat(),
        }
    advice = _(
        "The change is the later wave minus the earlier one: give the earlier wave "
        "first."
    )
    raise AnalysisError(f"{reason} {advice}")


def check_comparable(
    earlier: Wave, later: Wave, experiment: ListExperiment | None = None
) -> ListExperiment:
    """The list experiment to compare, once the two waves are shown to field it alike.

    Raises AnalysisError naming what stands in the way: the same wave twice, waves of
    two surveys or in the wrong order, an experiment of another survey or design, or
    cards that differ.
    """
    if earlier.pk == later.pk:
        raise AnalysisError(_("Choose two different waves to compare."))
    if earlier.survey_id != later.survey_id:
        raise AnalysisError(
            _(
                "“%(earlier)s” and “%(later)s” belong to different surveys; a change "
                "is measured between waves of one survey."
            )
            % {"earlier": earlier.name, "later": later.name}
        )
    check_order(earlier, later)
    experiment = experiment or default_experiment(later)
    if experiment is None:
        raise AnalysisError(_("This wave's survey has no list experiment."))
    if experiment.survey_id != later.survey_id:
        raise AnalysisError(
            _("The list experiment “%(experiment)s” is not part of this survey.")
            % {"experiment": experiment.name}
        )
    check_single_list(experiment)

    differences = card_differences(
        wave_snapshot(earlier).get(experiment.code),
        wave_snapshot(later).get(experiment.code),
    )
    if differences:
        raise AnalysisError(
            _(
                "“%(earlier)s” and “%(later)s” did not show the same cards for "
                "“%(experiment)s”, so a change between them would mix a change in "
                "opinion with a change in the question. What differs: %(differences)s."
            )
            % {
                "earlier": earlier.name,
                "later": later.name,
                "experiment": experiment.name,
                "differences": "; ".join(differences),
            }
        )
    return experiment


def check_breakdowns(wave: Wave, by: list[str]) -> None:
    known = {option.key for option in breakdown_options(wave.survey)}
    unknown = [name for name in by if name not in known]
    if unknown:
        raise AnalysisError(
            _("Cannot break down by %(names)s: not a covariate, recode or %(meta)s.")
            % {"names": ", ".join(unknown), "meta": "stratum, region, place"}
        )


def wave_estimates(
    wave: Wave,
    experiment: ListExperiment,
    by: list[str],
    language: str,
    weighted: bool,
    progress=None,
) -> dict:
    """One wave's breakdown as an estimate job makes it, with the wave's counts."""
    data = wave_list_data(wave, experiment, by, language)

    n_treatment = int(data.treated.sum())
    if n_treatment == 0 or n_treatment == data.n_used:
        arm = _("treatment") if n_treatment == 0 else _("control")
        raise AnalysisError(
            _(
                "Wave “%(wave)s” has no complete responses in the %(arm)s arm, so it "
                "has no estimate to compare."
            )
            % {"wave": wave.name, "arm": arm}
        )
    design = data.design if weighted else {}
    if weighted and not any(value is not None for value in design.values()):
        raise AnalysisError(
            _(
                "Wave “%(wave)s” has no design to weight by: no respondent weights, no "
                "design weights on its strata, a single stratum and no cluster."
            )
            % {"wave": wave.name}
        )

    report_data = ReportData(
        counts=data.counts,
        treated=data.treated,
        items=experiment.items_count(),
        levels=data.variables,
        weights=design.get("weights"),
        strata=design.get("strata"),
        clusters=design.get("clusters"),
    )
    try:
        table = report(report_data, ReportSpec(by=tuple(by)), progress)
    except ValueError as error:
        raise AnalysisError(f"{wave.name}: {error}") from None
    table["groups"] = labelled_in_display_order(table["groups"], data.labels)
    table.update(
        {
            "wave": {"id": wave.pk, "name": wave.name},
            "statuses": data.statuses,
            "n_assigned": data.n_assigned,
            "n_used": data.n_used,
            "n_simulated": data.n_simulated,
            "checksum": data.checksum,
            "design": {key: value is not None for key, value in design.items()},
        }
    )
    return table


def wave_comparison(
    *,
    earlier: Wave,
    later: Wave,
    experiment: ListExperiment | None = None,
    by: list[str] = (),
    weighted: bool = False,
    language: str = "en",
    progress=None,
) -> dict:
    """The change from ``earlier`` to ``later``, overall and by level of ``by``.

    ``progress``, if given, is called with (fraction done, message). Raises
    AnalysisError when the waves cannot be compared or a wave cannot be estimated.
    """
    by = list(dict.fromkeys(by))
    experiment = check_comparable(earlier, later, experiment)
    check_breakdowns(later, by)
    report_progress = progress or (lambda fraction, message: None)

    tables = {}
    for step, (key, wave) in enumerate((("earlier", earlier), ("later", later))):
        start = 0.05 + 0.45 * step
        report_progress(
            start, _("Loading the responses of “%(wave)s”.") % {"wave": wave.name}
        )

        def done(n, total, start=start, wave=wave):
            report_progress(
                start + 0.4 * n / total,
                _("“%(wave)s”: estimated %(done)s of %(total)s breakdowns.")
                % {"wave": wave.name, "done": n, "total": total},
            )

        tables[key] = wave_estimates(wave, experiment, by, language, weighted, done)

    report_progress(0.95, _("Combining the two waves."))
    change = change_table(tables["earlier"], tables["later"])
    for group in change["groups"]:
        group["label"] = group["later"].get("label", group["level"])
    for group in change["unmatched"]:
        labels = {
            (g["variable"], g["level"]): g.get("label", g["level"])
            for g in tables[group["wave"]]["groups"]
        }
        group["label"] = labels.get((group["variable"], group["level"]))

    return {
        "kind": EstimateJob.COMPARE,
        "earlier": tables["earlier"],
        "later": tables["later"],
        "overall": change["overall"],
        "groups": change["groups"],
        "unmatched": change["unmatched"],
        "weighted": weighted,
        "interval": INTERVAL_NOTE,
        "experiment": experiment.code,
        "items": experiment.items_count(),
        "n_simulated": tables["earlier"]["n_simulated"]
        + tables["later"]["n_simulated"],
        "specification": {
            "by": by,
            "weighted": weighted,
            "language": language,
            "earlier_wave": earlier.pk,
            "later_wave": later.pk,
        },
        "software_version": survey.__version__,
    }


def compare_job_create(
    *,
    earlier: Wave,
    later: Wave,
    by: list[str],
    user=None,
    experiment: ListExperiment | None = None,
    language: str = "en",
    weighted: bool = False,
) -> EstimateJob:
    """Save a job for the change from ``earlier`` to ``later`` and queue it on commit.

    The waves are checked here, so a form shows a refusal at once; the job checks
    again when it runs, since a wave still in draft can have its cards edited.
    """
    from analysis.runner import job_dispatch

    by = list(dict.fromkeys(by))
    experiment = check_comparable(earlier, later, experiment)
    check_breakdowns(later, by)

    specification = {
        "estimator": "change_between_waves",
        "by": by,
        "language": language,
        "weighted": weighted,
        "earlier_wave": earlier.pk,
    }
    with transaction.atomic():
        job = EstimateJob.objects.create(
            kind=EstimateJob.COMPARE,
            wave=later,
            earlier_wave=earlier,
            experiment=experiment,
            specification=specification,
            created_by=user,
            software_version=survey.__version__,
        )
        transaction.on_commit(lambda: job_dispatch(job.pk))
    logger.info(
        "Comparison job %s saved: wave %s to wave %s, %s",
        job.pk,
        earlier.pk,
        later.pk,
        specification,
    )
    return job


def compare_compute(job: EstimateJob) -> tuple[dict, ResponsesUsed]:
    """Run a comparison job: the result and the responses it used, in both waves."""
    if job.earlier_wave_id is None:
        raise AnalysisError(_("The comparison job names no earlier wave."))
    spec = job.specification
    result = wave_comparison(
        earlier=job.earlier_wave,
        later=job.wave,
        experiment=job.experiment,
        by=spec.get("by", []),
        weighted=spec.get("weighted", False),
        language=spec.get("language", "en"),
        progress=lambda fraction, message: job_progress(job.pk, fraction, message),
    )
    checksum = hashlib.sha256(
        f"{result['earlier']['checksum']}\n{result['later']['checksum']}".encode()
    ).hexdigest()
    used = ResponsesUsed(
        n_used=result["earlier"]["n_used"] + result["later"]["n_used"],
        checksum=checksum,
    )
    return result, used


def change_csv(result: dict, bom: bool = False) -> str:
    """One row per change, proportions as numbers; ``bom`` prepares it for Excel."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    safe = spreadsheet_safe if bom else (lambda value: value)
    for row in change_rows(result):
        writer.writerow(
            {key: "" if row[key] is None else safe(row[key]) for key in CSV_COLUMNS}
        )
    return ("\ufeff" if bom else "") + buffer.getvalue()


def change_text(result: dict) -> str:
    """The change as a fixed-width table for a terminal."""
    earlier, later = result["earlier"]["wave"], result["later"]["wave"]
    header = (
        "variable",
        "level",
        "earlier",
        "SE",
        "later",
        "SE",
        "change",
        "SE",
        "95% CI",
        "p",
    )
    lines = []
    for row in change_rows(result):
        ci = (
            "-"
            if row["change_ci_low"] is None
            else f"[{number(row['change_ci_low'])}, {number(row['change_ci_high'])}]"
        )
        lines.append(
            (
                row["variable"],
                row["level"],
                number(row["earlier_estimate"]),
                number(row["earlier_se"]),
                number(row["later_estimate"]),
                number(row["later_se"]),
                number(row["change_estimate"]),
                number(row["change_se"]),
                ci,
                p_column(row["change_p_value"]),
            )
        )
    widths = [max(len(str(x[i])) for x in [header, *lines]) for i in range(len(header))]
    out = [
        f"Change from “{earlier['name']}” (wave {earlier['id']}) to "
        f"“{later['name']}” (wave {later['id']}): later minus earlier.",
        "",
        "  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(),
    ]
    out.extend(
        "  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip()
        for line in lines
    )
    out.append("")
    for group in result.get("unmatched", []):
        out.append(
            f"{group['variable']} = {group['level']}: only in the {group['wave']} "
            "wave, no change."
        )
    out.append(INTERVAL_NOTE)
    out.append(
        "Standard error of the change: sqrt(SE later^2 + SE earlier^2), the waves "
        "being independent samples."
    )
    if result.get("weighted"):
        out.append("Weighted: Hajek means, linearization standard errors, per wave.")
    return "\n".join(out) + "\n"


def p_column(value) -> str:
    """The p column of the change table: "< 0.001" rather than "0.0000"."""
    if value is not None and value < 0.001:
        return "< 0.001"
    return number(value, 4)
