"""python manage.py plan_wave --items J --control-var V --prevalence P --n N [...]."""

import json
import logging
import math

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from analysis.estimators.normal import plain_float
from analysis.planning.control_check import check_source
from analysis.planning.power import (
    DEFAULT_ALPHA,
    DEFAULT_POWER,
    PlanningError,
    design_summary,
    parse_contrast,
    plan_from_assumptions,
    plan_from_source,
    plan_summary,
    source_shares,
    split_total,
    stratum_shares,
    target_se,
)
from analysis.planning.rehearsal import DEFAULT_SEED, rehearse
from analysis.planning.waves import source_from_wave
from fielding.sequences import BLOCKED, KINDS
from survey.cli import each, several
from survey.models import Wave

logger = logging.getLogger(__name__)

#: The flag a user typed for each input a PlanningError can name.
FLAGS = {
    "items": "--items",
    "n": "--n",
    "control_var": "--control-var",
    "control_mean": "--control-mean",
    "item_probabilities": "--item-probs",
    "count_distribution": "--source-wave",
    "prevalence": "--prevalence",
    "covariance": "--covariance",
    "weights": "--weights",
    "ratio": "--ratio",
    "alpha": "--alpha",
    "power": "--power",
    "strata": "--strata",
    "contrast": "--contrast",
    "target": "--target-se/--target-mde",
    "source": "--source-wave",
    "draws": "--simulate",
    "seed": "--seed",
    "deflators": "--deflators",
    "allocation": "--allocation",
}


def fail(flag: str, message: str):
    raise CommandError(f"{flag}: {message}", returncode=2)


def number(options, name: str, *, whole=False):
    """A flag's value as a number, None when absent; exit 2 naming it when not one."""
    text = options[name]
    if text is None:
        return None
    flag = "--" + name.replace("_", "-")
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        kind = _("a whole number") if whole else _("a number")
        fail(flag, _("“%(text)s” is not %(kind)s.") % {"text": text, "kind": kind})
    if not math.isfinite(value):
        fail(flag, _("“%(text)s” is not a finite number.") % {"text": text})
    return value


def by_stratum(options, name: str, *, whole=False):
    """``X`` (every stratum) or ``CODE=X,CODE=X`` (by code); None when absent.

    The flag may be repeated, as every flag taking several values: the codes of all
    its repeats are read together. One value for every stratum is one value, so it
    is refused when typed twice rather than the last one silently kept.
    """
    typed = options[name]
    if typed is None:
        return None
    flag = "--" + name.replace("_", "-")
    if not any("=" in text for text in typed):
        if len(typed) > 1:
            fail(
                flag,
                _("give one value for every stratum once, or CODE=VALUE for each."),
            )
        return number({name: typed[0]}, name, whole=whole)

    values = {}
    for part in each(typed):
        code, sep, raw = part.partition("=")
        code = code.strip()
        if not sep or not code:
            fail(
                flag,
                _("“%(part)s” is not CODE=VALUE, such as almaty=0.8.") % {"part": part},
            )
        if code in values:
            fail(flag, _("stratum “%(code)s” is given twice.") % {"code": code})
        values[code] = number({name: raw.strip()}, name, whole=whole)
    return values


class Command(BaseCommand):
    help = (
        "Plan the next wave of a list experiment: standard error, minimum detectable "
        "effect and power of the difference in means, overall, by stratum, between "
        "strata and as the change from a source wave; the sample needed for a target; "
        "and a rehearsal on synthetic waves. Bad input exits with status 2 and names "
        "the flag."
    )

    def add_arguments(self, parser):
        parser.add_argument("--items", help="J, the number of control items")
        parser.add_argument(
            "--control-var",
            action="append",
            help="control count's variance: V, or CODE=V,...",
        )
        parser.add_argument(
            "--control-mean",
            action="append",
            help="control count's mean: M, or CODE=M,...",
        )
        parser.add_argument(
            "--item-probs",
            action="append",
            help="control items' probabilities, independent: p1,p2,...",
        )
        parser.add_argument(
            "--prevalence",
            action="append",
            help="sensitive item's share: P, or CODE=P,...",
        )
        parser.add_argument("--n", help="respondents in the wave, both arms")
        parser.add_argument(
            "--ratio", default="1:1", help="allocation treatment:control"
        )
        parser.add_argument(
            "--covariance", default="0", help="sensitive item with the control count"
        )
        parser.add_argument(
            "--alpha", default=str(DEFAULT_ALPHA), help="two-sided level"
        )
        parser.add_argument(
            "--power", default=str(DEFAULT_POWER), help="power for the MDE"
        )
        parser.add_argument("--source-wave", help="id of the wave to plan from")
        parser.add_argument(
            "--strata", action="append", help="respondents per stratum: CODE=N,..."
        )
        parser.add_argument(
            "--weights", action="append", help="design weight per stratum: CODE=W,..."
        )
        parser.add_argument(
            "--contrast", action="append", help="A-B, or A-rest (A minus all others)"
        )
        parser.add_argument(
            "--change", action="store_true", help="the change from the source wave"
        )
        parser.add_argument("--target-se", help="respondents needed for this SE")
        parser.add_argument("--target-mde", help="respondents needed for this MDE")
        parser.add_argument("--simulate", help="rehearse on this many synthetic waves")
        parser.add_argument("--seed", help=f"rehearsal seed (default {DEFAULT_SEED})")
        parser.add_argument(
            "--deflators", default="0", help="share of treated at J+1 who report J"
        )
        parser.add_argument(
            "--allocation", default=BLOCKED, help=f"rehearsal: {', '.join(KINDS)}"
        )
        parser.add_argument(
            "--block-sizes",
            action="append",
            help="blocked allocation: sizes such as 4,6",
        )
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle(self, *args, **options):
        ratio = self.ratio(options["ratio"])
        source, source_info = self.source(options)
        J = number(options, "items", whole=True)
        if source is None and J is None:
            fail("--items", _("give J, the number of control items, or --source-wave."))
        if source is not None and J is not None and J != source.J:
            fail(
                "--items",
                _("J = %(J)s, but the source wave's list has J = %(source)s items.")
                % {"J": J, "source": source.J},
            )

        sizes = self.sizes(options, source)
        try:
            plan = self.plan(options, source, J, sizes, ratio)
            contrasts = [
                parse_contrast(text, plan.codes)
                for text in several(options["contrast"])
            ]
            target = self.target(options, plan)
            if options["change"] and source is None:
                fail(
                    "--change",
                    _("the change is from a source wave: give --source-wave."),
                )
            previous = source if options["change"] else None
            summary = plan_summary(
                plan,
                contrasts=contrasts,
                previous=previous,
                target=target,
                target_mde=number(options, "target_mde"),
            )
        except PlanningError as error:
            self.refuse(error, options)

        result = {
            "overall": {
                key: summary["overall"][key]
                for key in ("se", "mde", "n_treatment", "n_control")
            }
        }
        several_strata = len(plan.strata) > 1 or options["strata"] or source
        if several_strata:
            result["strata"] = {
                s.code: {
                    "n": s.n,
                    "prevalence": s.prevalence,
                    **summary["strata"][s.code],
                }
                for s in plan.strata
            }
            for values in result["strata"].values():
                del values["label"], values["effect"]
            result["design"] = design_summary(plan, summary)
        if contrasts:
            result["contrasts"] = summary["contrasts"]
        if previous is not None:
            result["changes"] = summary["changes"]
        if target is not None:
            result["needed"] = summary["needed"]
        if source is not None:
            result["source"] = source_info
            result["control_check"] = [
                check.to_dict() for check in check_source(source, ratio)
            ]
        if options["simulate"] is not None:
            result["simulation"] = self.simulate(options, plan, contrasts, previous)

        if options["format"] == "json":
            self.stdout.write(json.dumps(result, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(as_table(result), ending="")

    # -- Reading the flags ------------------------------------------------------------

    def ratio(self, text: str) -> tuple[int, int]:
        parts = [part.strip() for part in str(text).split(":")]
        if len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts):
            fail(
                "--ratio",
                _("“%(text)s” is not treatment:control, such as 1:1 or 2:1.")
                % {"text": text},
            )
        ratio = (int(parts[0]), int(parts[1]))
        if min(ratio) < 1:
            fail(
                "--ratio",
                _("both shares of “%(text)s” (treatment:control) must be at least 1.")
                % {"text": text},
            )
        return ratio

    def source(self, options):
        """The source wave's summary and a description of it, or (None, None)."""
        if options["source_wave"] is None:
            return None, None
        wave_id = number(options, "source_wave", whole=True)
        wave = Wave.objects.filter(pk=wave_id).select_related("survey").first()
        if wave is None:
            fail(
                "--source-wave", _("there is no wave with id %(id)s.") % {"id": wave_id}
            )
        try:
            return source_from_wave(wave)
        except PlanningError as error:
            fail("--source-wave", str(error))

    def sizes(self, options, source) -> dict[str, int]:
        """Respondents per stratum, from --strata, or --n split over the strata."""
        total = number(options, "n", whole=True)
        if options["strata"] is None:
            if total is None:
                fail("--n", _("give the respondents in the wave, or --strata."))
            if source is None:
                return {"all": total}
            return split_total(total, source_shares(source))

        sizes, unsized = {}, []
        for part in each(options["strata"]):
            code, sep, raw = part.partition("=")
            code = code.strip()
            if code in sizes or code in unsized:
                fail(
                    "--strata", _("stratum “%(code)s” is given twice.") % {"code": code}
                )
            if not sep:
                unsized.append(code)
                continue
            sizes[code] = number({"strata": raw.strip()}, "strata", whole=True)

        if unsized and sizes:
            fail("--strata", _("give every stratum a size (CODE=N), or none."))
        if unsized:
            if total is None:
                fail("--n", _("give the respondents to split over the strata."))
            return split_total(total, stratum_shares(unsized, source))
        if total is not None and total != sum(sizes.values()):
            fail(
                "--n",
                _("%(n)s respondents, but the strata add up to %(sum)s.")
                % {"n": total, "sum": sum(sizes.values())},
            )
        return sizes

    def plan(self, options, source, J, sizes, ratio):
        item_probs = None
        if options["item_probs"] is not None:
            item_probs = [
                number({"item_probs": p}, "item_probs")
                for p in each(options["item_probs"])
            ]
        common = {
            "prevalence": by_stratum(options, "prevalence"),
            "control_var": by_stratum(options, "control_var"),
            "control_mean": by_stratum(options, "control_mean"),
            "item_probabilities": item_probs,
            "covariance": number(options, "covariance"),
            "weights": self.weights(options),
            "ratio": ratio,
            "alpha": number(options, "alpha"),
            "power": number(options, "power"),
        }
        if source is not None:
            return plan_from_source(source, sizes, **common)
        if common["prevalence"] is None:
            fail("--prevalence", _("give the share holding the sensitive item."))
        return plan_from_assumptions(J, sizes, **common)

    def weights(self, options):
        weights = by_stratum(options, "weights")
        if weights is not None and not isinstance(weights, dict):
            fail("--weights", _("give a design weight per stratum: CODE=W,..."))
        return weights

    def target(self, options, plan):
        se, mde = number(options, "target_se"), number(options, "target_mde")
        if se is None and mde is None:
            return None
        return target_se(se=se, mde=mde, alpha=plan.alpha, power=plan.power)

    def simulate(self, options, plan, contrasts, previous) -> dict:
        draws = number(options, "simulate", whole=True)
        seed = number(options, "seed", whole=True)
        block_sizes = ()
        if options["block_sizes"] is not None:
            block_sizes = tuple(
                number({"block_sizes": b}, "block_sizes", whole=True)
                for b in each(options["block_sizes"])
            )

        def progress(done: int, total: int) -> None:
            if options["verbosity"] >= 2:
                self.stderr.write(f"\r{done / total:.0%}", ending="")

        try:
            rehearsal = rehearse(
                plan,
                draws=draws,
                seed=DEFAULT_SEED if seed is None else seed,
                allocation=options["allocation"],
                block_sizes=block_sizes,
                contrasts=contrasts,
                previous=previous,
                deflators=number(options, "deflators"),
                progress=progress,
            )
        except PlanningError as error:
            self.refuse(error, options)
        return rehearsal.to_dict()

    def refuse(self, error: PlanningError, options):
        flag = FLAGS.get(error.field, "--" + error.field.replace("_", "-"))
        if error.field == "n" and options["strata"] is not None:
            flag = "--strata"
        if error.field == "target":
            flag = "--target-se" if options["target_se"] is not None else "--target-mde"
        if error.field == "allocation" and options["block_sizes"] is not None:
            flag = "--block-sizes"
        if error.field == "count_distribution" and options["source_wave"] is None:
            flag = "--item-probs"
        fail(flag, str(error))


def as_table(result: dict) -> str:
    """The plan as aligned text, one block per part of the result."""
    lines = []

    def row(label, values: dict, keys):
        cells = [f"{label:<22}"]
        for key in keys:
            value = values.get(key)
            cells.append(f"{key}={fmt(value)}")
        lines.append("  ".join(cells))

    keys = ("se", "mde", "n_treatment", "n_control")
    lines.append(_("Precision (MDE at the plan's power, two-sided)"))
    row("overall", result["overall"], keys)
    for code, values in result.get("strata", {}).items():
        row(code, values, ("n", "prevalence", *keys, "power"))
    if "design" in result:
        row(_("design"), result["design"], ("prevalence", "deff", "se_strata", "power"))
    for values in result.get("contrasts", []):
        row(values["label"], values, ("effect", *keys, "power"))
    for values in result.get("changes", []):
        row(values["label"], values, ("effect", *keys, "power"))

    if "needed" in result:
        needed = result["needed"]
        lines.append("")
        lines.append(
            _("Respondents needed for SE %(se)s") % {"se": fmt(needed["target_se"])}
        )
        row("overall", needed["overall"], ("n", "n_treatment", "n_control"))
        for code, values in needed["strata"].items():
            row(code, values, ("n", "n_treatment", "n_control"))
        for label, values in needed["contrasts"].items():
            row(label, values, ("n", "n_treatment", "n_control"))

    if "source" in result:
        source = result["source"]
        lines.append("")
        lines.append(
            _("Source wave %(id)s, %(name)s: %(n)s respondents with a count")
            % {"id": source["wave"], "name": source["name"], "n": source["n_used"]}
        )
        if source["n_simulated"]:
            lines.append(_("(its responses are simulated)"))
        for check in result["control_check"]:
            lines.append(f"{check['stratum']}: {check['reading']}")

    if "simulation" in result:
        simulation = result["simulation"]
        lines.append("")
        lines.append(
            _("Rehearsal: %(draws)s synthetic waves, seed %(seed)s")
            % {"draws": simulation["draws"], "seed": simulation["seed"]}
        )
        for values in simulation["quantities"]:
            row(
                values["label"],
                values,
                ("truth", "bias", "empirical_se", "mean_se", "coverage", "power"),
            )
    return "\n".join(lines) + "\n"


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    value = plain_float(value)
    return "-" if value is None else f"{value:.4g}"
