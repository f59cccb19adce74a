"""Estimate tables rendered as text, CSV and JSON for commands and downloads."""

import csv
import io
import json

from analysis.estimators.breakdown import ESTIMATE_KEYS, table_rows

CSV_COLUMNS = ("variable", "level", *ESTIMATE_KEYS)
INTERVAL_NOTE = "95% confidence intervals use the normal approximation."
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def as_json(result: dict) -> str:
    return json.dumps(result, indent=2, ensure_ascii=False)


def spreadsheet_safe(value):
    """Text that a spreadsheet would run as a formula gets a leading apostrophe.

    Levels and notes come from uploaded files and typed labels; a cell such as
    ``=HYPERLINK(...)`` must stay text when an analyst opens the download in Excel.
    """
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def as_csv(result: dict, bom: bool = False, labels: bool = False) -> str:
    """One row per estimate, proportions as numbers.

    ``bom`` prepares the file for Excel: a byte-order mark so it reads UTF-8, and text
    cells that would run as formulas kept as text.

    With ``labels`` a last column gives each level's label (a wave's downloads).
    """
    columns = CSV_COLUMNS + (("label",) if labels else ())
    label_of = {
        (g["variable"], g["level"]): g.get("label", g["level"])
        for g in result["groups"]
    }
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    safe = spreadsheet_safe if bom else (lambda value: value)
    for row in table_rows(result):
        row["label"] = label_of.get((row["variable"], row["level"]), row["level"])
        writer.writerow(
            {key: "" if row[key] is None else safe(row[key]) for key in columns}
        )
    return ("\ufeff" if bom else "") + buffer.getvalue()


def number(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def as_text(result: dict) -> str:
    """A fixed-width table like the founding memo's Table 1, for a terminal."""
    header = (
        "variable",
        "level",
        "share",
        "mean C",
        "mean T",
        "estimate",
        "SE",
        "95% CI",
        "n T/C",
    )
    lines = []
    for row in table_rows(result):
        ci = (
            "-"
            if row["ci_low"] is None
            else f"[{number(row['ci_low'])}, {number(row['ci_high'])}]"
        )
        lines.append(
            (
                row["variable"],
                row["level"],
                number(row["share"]),
                number(row["mean_control"]),
                number(row["mean_treatment"]),
                number(row["estimate"]),
                number(row["se"]),
                ci,
                f"{row['n_treatment']}/{row['n_control']}",
                row["note"] or "",
            )
        )
    widths = [max(len(str(x[i])) for x in [header, *lines]) for i in range(len(header))]
    out = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths))]
    for line in lines:
        cells = "  ".join(str(c).ljust(w) for c, w in zip(line, widths))
        out.append((cells + "  " + line[-1]).rstrip())
    extras = extra_sections(result)
    if extras:
        out.extend(["", *extras])
    out.append("")
    out.append(INTERVAL_NOTE)
    if result.get("weighted"):
        out.append("Weighted: Hajek means, linearization standard errors.")
    missing = {k: v for k, v in result.get("missing", {}).items() if v}
    for variable, n in missing.items():
        out.append(f"{variable}: {n} respondents left out (missing count or value).")
    return "\n".join(out) + "\n"


def extra_sections(result: dict) -> list[str]:
    """Group differences, the design-effect test and models, as lines of text."""
    out = []
    for d in result.get("differences", []):
        out.append(
            f"{d['variable']} {d['a']} minus {d['b']}: {number(d['estimate'])} "
            f"(SE {number(d['se'])}, 95% CI [{number(d['ci_low'])}, "
            f"{number(d['ci_high'])}], p {number(d['p_value'])})"
            + (f"  {d['note']}" if d.get("note") else "")
        )
    test = result.get("design_test")
    if test:
        out.append(
            f"Design-effect test (Blair and Imai 2012, {'with' if test['gms'] else 'without'}"
            f" moment selection): Bonferroni-corrected p = {number(test['p_value'], 4)}"
        )
        for row in test["proportions"]:
            out.append(
                f"  share with Y(0) = {row['y']}, Z = {row['z']}: "
                f"{number(row['estimate'], 4)} (SE {number(row['se'], 4)})"
            )
    floor = result.get("floor_ceiling")
    if floor:
        out.append(f"Floor and ceiling: {floor['reading']}")
    if "combined" in result and "direct" in result:
        for key, label in (
            ("direct", "Direct question, share yes"),
            ("list", "List experiment alone"),
            ("sensitivity_bias", "Sensitivity bias (direct minus list)"),
            ("combined", "Combined list and direct estimator"),
        ):
            part = result[key]
            out.append(f"{label}: {number(part['estimate'])} (SE {number(part['se'])})")
        for key in ("placebo_1", "placebo_2"):
            placebo = result["combined"][key]
            out.append(f"  {key}: p {number(placebo['p_value'])}")
    for key in ("model", "model_linear"):
        model = result.get(key)
        if not model:
            continue
        out.append(f"Model ({model['method']}), sensitive item:")
        for name, coef in model["sensitive"]["coef"].items():
            out.append(
                f"  {name}: {number(coef)} (SE {number(model['sensitive']['se'][name])})"
            )
        predicted = model["predicted"]
        out.append(
            f"  predicted proportion: {number(predicted['estimate'])} "
            f"(SE {number(predicted['se'])})"
        )
        for warning in model.get("warnings", []):
            out.append(f"  note: {warning}")
    return out


def design_text(result: dict) -> str:
    """Several items or a double list, as lines of text."""
    out = []
    for arm in result.get("arms", []):
        out.append(
            f"{arm['arm']}: {number(arm['estimate'])} (SE {number(arm['se'])}, "
            f"95% CI [{number(arm['ci_low'])}, {number(arm['ci_high'])}], n {arm['n']})"
        )
    for d in result.get("differences", []):
        out.append(
            f"{d['a']} minus {d['b']}: {number(d['estimate'])} (SE {number(d['se'])}, "
            f"p {number(d['p_value'])})"
        )
    for item in result.get("lists", []):
        out.append(
            f"list {item.get('list', '')}: {number(item['estimate'])} "
            f"(SE {number(item['se'])})"
        )
    combined = result.get("combined")
    if combined and "lists" in result:
        out.append(
            f"combined: {number(combined['estimate'])} (SE {number(combined['se'])}, "
            f"95% CI [{number(combined['ci_low'])}, {number(combined['ci_high'])}])"
        )
    out.append(result.get("interval", INTERVAL_NOTE))
    return "\n".join(out)
