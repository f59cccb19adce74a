"""Estimate tables rendered as text, CSV and JSON for commands and downloads."""

import csv
import io
import json

from analysis.estimators.breakdown import ESTIMATE_KEYS, table_rows

CSV_COLUMNS = ("variable", "level", *ESTIMATE_KEYS)
DESIGN_CSV_COLUMNS = (
    "variable",
    "level",
    "kind",
    "term",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "p_value",
    "n",
    "share",
    "note",
)
OTHER_DESIGNS = ("several_items", "double")
DIRECT_PARTS = ("direct", "list", "sensitivity_bias", "combined")
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

    Several sensitive items and double lists have their own columns (see
    `design_rows`); a list compared with the direct question adds rows with
    ``variable`` "direct_question" after the table, their p-values in ``note``.
    """
    design = result.get("list_design") in OTHER_DESIGNS
    columns = (DESIGN_CSV_COLUMNS if design else CSV_COLUMNS) + (
        ("label",) if labels else ()
    )
    label_of = {
        (g["variable"], g["level"]): g.get("label", g["level"])
        for g in result.get("groups", [])
    }
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    safe = spreadsheet_safe if bom else (lambda value: value)
    rows = design_rows(result) if design else table_rows(result) + direct_rows(result)
    for row in rows:
        row["label"] = label_of.get((row["variable"], row["level"]), row["level"])
        writer.writerow(
            {key: "" if row.get(key) is None else safe(row[key]) for key in columns}
        )
    return ("\ufeff" if bom else "") + buffer.getvalue()


def design_rows(result: dict) -> list[dict]:
    """Several items or a double list as flat rows, overall first then each group.

    ``kind`` is "item" (an item against the control arm), "difference" (one item
    minus another), "list" (one list of a double list) or "combined"; ``term`` names
    the item, the pair, or the list.
    """
    blocks = [("overall", "overall", None, result)]
    blocks += [
        (g["variable"], g["level"], g.get("share"), g) for g in result.get("groups", [])
    ]
    rows = []
    for variable, level, share, block in blocks:
        at = {"variable": variable, "level": level, "share": share}
        for arm in block.get("arms", []):
            rows.append({**at, **arm, "kind": "item", "term": arm["arm"]})
        for d in block.get("differences", []):
            rows.append(
                {**at, **d, "kind": "difference", "term": f"{d['a']} - {d['b']}"}
            )
        for item in block.get("lists", []):
            rows.append(
                {
                    **at,
                    **item,
                    "kind": "list",
                    "term": item.get("code") or item["list"],
                    "n": item["n_treatment"] + item["n_control"],
                }
            )
        if "lists" in block:
            rows.append({**at, **block["combined"], "kind": "combined", "term": ""})
    return rows


def direct_rows(result: dict) -> list[dict]:
    """The direct-question comparison as rows of the single-list CSV."""
    if "direct" not in result or "combined" not in result:
        return []
    rows = []
    for key in DIRECT_PARTS:
        part = result[key]
        p_value = part.get("p_value")
        rows.append(
            {
                "variable": "direct_question",
                "level": key,
                **part,
                "note": None if p_value is None else f"p = {p_value:.4g}",
            }
        )
    for key in ("placebo_1", "placebo_2"):
        placebo = result["combined"][key]
        rows.append(
            {
                "variable": "direct_question",
                "level": key,
                "estimate": placebo["estimate"],
                "se": placebo["se"],
                "note": placebo["note"]
                or f"p = {placebo['p_value']:.4g} against {placebo['null']:g}",
            }
        )
    return rows


def number(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def p_text(value, digits: int = 3, equals: bool = False) -> str:
    """A p-value for a reader: "p 0.034", or "p < 0.001" rather than "p 0.000".

    A p-value printed as zero reads as impossible; below 0.001 the digits say
    nothing a reader acts on. JSON and CSV keep the number itself.
    """
    if value is not None and value < 0.001:
        return "p < 0.001"
    return f"p {'= ' if equals else ''}{number(value, digits)}"


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
    out = balance_warning(result)
    out.append("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
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
            f"{number(d['ci_high'])}], {p_text(d['p_value'])})"
            + (f"  {d['note']}" if d.get("note") else "")
        )
    test = result.get("design_test")
    if test:
        out.append(
            f"Design-effect test (Blair and Imai 2012, {'with' if test['gms'] else 'without'}"
            f" moment selection): Bonferroni-corrected "
            f"{p_text(test['p_value'], 4, equals=True)}"
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
            out.append(f"  {key}: {p_text(placebo['p_value'])}")
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
        for group in model.get("predicted_by", []):
            out.append(
                f"    {group['variable']} = {group.get('label', group['level'])}: "
                f"{number(group['estimate'])} (SE {number(group['se'])})"
            )
        for warning in model.get("warnings", []):
            out.append(f"  note: {warning}")
    out.extend(balance_text(result))
    return out


def balance_warning(result: dict) -> list[str]:
    """A line to read before the estimates when balance or nonresponse looks off."""
    balance = result.get("balance")
    if not balance or not balance.get("imbalanced"):
        return []
    parts = []
    for key, what in (("joint", "the covariates"), ("nonresponse", "nonresponse")):
        test = balance.get(key)
        if test and test.get("small"):
            parts.append(f"{what} ({p_text(test['p_value'], 4, equals=True)})")
    return [
        f"WARNING: the arms differ in {' and in '.join(parts)}; read the balance "
        "section before the estimates.",
        "",
    ]


def percent_text(value) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def test_text(test: dict) -> str:
    if test.get("p_value") is None:
        return test.get("note") or "no test"
    df = "" if test.get("df") is None else f", df {test['df']:g}"
    if test.get("df2") is not None:
        df += f" and {test['df2']:.1f}"
    text = (
        f"{test['method']} {number(test['statistic'])}{df}, {p_text(test['p_value'])}"
    )
    return text + (f" ({test['note']})" if test.get("note") else "")


def balance_text(result: dict) -> list[str]:
    """The balance of covariates across arms, as lines of text."""
    balance = result.get("balance")
    if not balance:
        return []
    out = [f"Balance across arms ({', '.join(balance['arms'])}):"]
    joint = balance.get("joint")
    if joint:
        out.append(
            f"  Joint test, {joint['model']} on every covariate"
            f"{' with stratum fixed effects' if joint['strata'] else ''}: "
            f"{test_text(joint)}; n {joint['n']}, {joint['n_missing']} left out"
        )
    for covariate in balance["covariates"]:
        out.append(
            f"  {covariate['name']}: {test_text(covariate['test'])}"
            f" ({covariate['n_missing']} missing)"
        )
        if covariate["kind"] == "coded":
            for level in covariate["levels"]:
                shares = ", ".join(
                    f"{a['arm']} {percent_text(a['share'])}" for a in level["arms"]
                )
                out.append(f"    {level.get('label', level['level'])}: {shares}")
        else:
            for arm in covariate["arms"]:
                out.append(
                    f"    {arm['arm']}: mean {number(arm['mean'])} "
                    f"(SD {number(arm['sd'])}, n {arm['n']})"
                )
            for d in covariate["differences"]:
                out.append(
                    f"    {d['arm']} minus {d['versus']}: {number(d['difference'])} "
                    f"(standardized {number(d['std_difference'])}, "
                    f"{p_text(d['p_value'])})"
                )
    nonresponse = balance.get("nonresponse")
    if nonresponse:
        out.append(f"  Nonresponse by arm: {test_text(nonresponse)}")
        for arm in nonresponse["arms"]:
            rates = ", ".join(
                f"{status} {percent_text(rate)}"
                for status, rate in arm["rates"].items()
            )
            out.append(
                f"    {arm['arm']}: {percent_text(arm['nonresponse'])} of {arm['n']}"
                + (f" ({rates})" if rates else "")
            )
    return out


def design_text(result: dict) -> str:
    """Several items or a double list, overall and by group, as lines of text."""
    out = balance_warning(result)
    out.extend(design_block(result, ""))
    for group in result.get("groups", []):
        out.append(
            f"{group['variable']} = {group.get('label', group['level'])} "
            f"(share {number(group['share'])}):"
        )
        out.extend(design_block(group, "  "))
    for variable, n in result.get("missing", {}).items():
        if n:
            out.append(
                f"{variable}: {n} respondents left out (missing count or value)."
            )
    out.extend(balance_text(result))
    out.append(result.get("interval", INTERVAL_NOTE))
    return "\n".join(out)


def design_block(result: dict, indent: str) -> list[str]:
    out = []
    for arm in result.get("arms", []):
        out.append(
            f"{indent}{arm['arm']}: {number(arm['estimate'])} (SE {number(arm['se'])}, "
            f"95% CI [{number(arm['ci_low'])}, {number(arm['ci_high'])}], n {arm['n']})"
        )
    for d in result.get("differences", []):
        out.append(
            f"{indent}{d['a']} minus {d['b']}: {number(d['estimate'])} "
            f"(SE {number(d['se'])}, {p_text(d['p_value'])})"
        )
    for item in result.get("lists", []):
        out.append(
            f"{indent}list {item.get('code') or item.get('list', '')}: "
            f"{number(item['estimate'])} (SE {number(item['se'])})"
        )
    combined = result.get("combined")
    if combined and "lists" in result:
        out.append(
            f"{indent}combined: {number(combined['estimate'])} "
            f"(SE {number(combined['se'])}, 95% CI [{number(combined['ci_low'])}, "
            f"{number(combined['ci_high'])}])"
        )
    return out
