"""An estimate job's result as a workbook (one sheet per section) and a Stata file.

The result is the JSON an estimate job stores (see ``analysis.services``). Its
sections become tables of plain rows:

- ``table``: one row per estimate, ``overall`` first, then every level of every
  breakdown, with the level's label; the same rows as the CSV download. This is the
  *main table*, the one the CSV and the Stata file hold.
- ``missing``, ``statuses``, ``differences``, ``design_test`` (with its shares),
  ``floor_ceiling``, ``count_distribution``, ``model`` and ``model_linear`` (the
  coefficients, the predicted proportions and the fit), when present;
- any other section (``arms``, ``lists``, ``balance``, ...) by a general rule: a list
  of records is a table; a mapping gives one row of its plain values and a table for
  each list of records inside it;
- ``about``: the wave, the specification, the responses used and their checksum,
  the software version and the interval note, as name and value;
- ``columns``: what each column of each sheet means.

Proportions stay proportions (0.259, not 25.9), as in the CSV.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd
from django.utils.translation import gettext as _
from openpyxl import Workbook

from analysis.estimators.breakdown import table_rows
from analysis.exports.sheets import sheet_row, sheet_title
from analysis.exports.stata import dta_write, stata_names
from analysis.formatting import CSV_COLUMNS

TABLE_COLUMNS = [*CSV_COLUMNS, "label"]
# Text even when every row leaves them empty (Stata: an empty string, not a number).
TEXT_COLUMNS = {"variable", "level", "label", "note"}
# Sections read into the ``about`` sheet rather than a sheet of their own.
ABOUT_KEYS = (
    "wave",
    "experiment",
    "items",
    "weighted",
    "n_assigned",
    "n_used",
    "n_simulated",
    "checksum",
    "software_version",
    "specification",
    "design",
    "interval",
)


@dataclass
class Section:
    """One sheet: a name, its columns in order and its rows."""

    name: str
    columns: list[str]
    rows: list[dict] = field(default_factory=list)


def column_labels() -> dict[str, str]:
    """What the columns of the estimate sheets mean, in the active language."""
    return {
        "variable": _("Breakdown variable (overall for the whole sample)"),
        "level": _("Level of the variable (its code)"),
        "label": _("Level of the variable (its label)"),
        "estimate": _("Estimate: treatment mean minus control mean (proportion)"),
        "se": _("Standard error"),
        # xgettext:no-python-format
        "ci_low": _("Lower end of the 95% confidence interval (normal)"),
        # xgettext:no-python-format
        "ci_high": _("Upper end of the 95% confidence interval (normal)"),
        "n_treatment": _("Respondents with a count, treatment list"),
        "n_control": _("Respondents with a count, control list"),
        "mean_treatment": _("Mean count, treatment list"),
        "mean_control": _("Mean count, control list"),
        "share": _("Share of the respondents with a count and a level"),
        "note": _("Note"),
        "left_out": _("Respondents left out: no count or no level"),
        "arm": _("Arm"),
        "status": _("Response status"),
        "respondents": _("Respondents"),
        "count": _("Count"),
        "p_value": _("p-value (two-sided)"),
        "part": _("Part of the model"),
        "term": _("Term"),
        "coef": _("Coefficient"),
        "key": _("Name"),
        "value": _("Value"),
    }


def flat(record: dict, prefix: str = "") -> dict:
    """A record's plain values, nested mappings as ``outer_inner`` columns, lists of
    plain values joined by ``; `` and anything deeper as JSON text."""
    out = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat(value, f"{name}_"))
        elif isinstance(value, list | tuple):
            if all(not isinstance(v, dict | list | tuple) for v in value):
                out[name] = "; ".join("" if v is None else str(v) for v in value)
            else:
                out[name] = json.dumps(value, ensure_ascii=False)
        else:
            out[name] = value
    return out


def records_section(name: str, records: list[dict]) -> Section:
    rows = [flat(r) for r in records]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    return Section(name, columns, rows)


def is_records(value) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) for v in value)
    )


def general_sections(name: str, value) -> list[Section]:
    """Any section by the general rule (see the module's docstring)."""
    if is_records(value):
        return [records_section(name, value)]
    if isinstance(value, list):
        return [Section(name, ["value"], [{"value": v} for v in value])]
    if not isinstance(value, dict):
        return [Section(name, ["value"], [{"value": value}])]
    plain = {k: v for k, v in value.items() if not is_records(v)}
    sections = [records_section(name, [plain])] if plain else []
    for key, inner in value.items():
        if is_records(inner):
            sections.append(records_section(f"{name}_{key}", inner))
    return sections


def main_table(result: dict) -> Section:
    rows = table_rows(result)
    label_of = {
        (g["variable"], g["level"]): g.get("label", g["level"])
        for g in result["groups"]
    }
    for row in rows:
        row["label"] = label_of.get((row["variable"], row["level"]), row["level"])
    return Section("table", list(TABLE_COLUMNS), rows)


def design_test_sections(test: dict) -> list[Section]:
    summary = {
        k: v
        for k, v in test.items()
        if k not in ("proportions", "tested", "p_values_by_z")
    }
    for z, p in (test.get("p_values_by_z") or {}).items():
        summary[f"p_value_z{z}"] = p
    summary["tested"] = "; ".join(
        f"y={t['y']}, z={t['z']}" for t in test.get("tested", [])
    )
    return [
        records_section("design_test", [summary]),
        Section(
            "design_test_shares",
            ["y", "z", "estimate", "se"],
            list(test.get("proportions", [])),
        ),
    ]


def distribution_section(distribution: dict) -> Section:
    rows = [
        {"arm": arm, **row}
        for arm, part in distribution.items()
        if isinstance(part, dict)
        for row in part.get("rows", [])
    ]
    return Section("count_distribution", ["arm", "count", "respondents", "share"], rows)


def model_sections(name: str, model: dict) -> list[Section]:
    coefficients = [
        {
            "part": part,
            "term": term,
            "coef": coef,
            "se": model[part].get("se", {}).get(term),
        }
        for part in ("sensitive", "control")
        if isinstance(model.get(part), dict)
        for term, coef in model[part].get("coef", {}).items()
    ]
    predicted = model.get("predicted") or {}
    predictions = [
        {"variable": "overall", "level": "overall", **predicted},
        *model.get("predicted_by", []),
    ]
    fit = {
        k: v
        for k, v in model.items()
        if k not in ("sensitive", "control", "predicted", "predicted_by")
    }
    return [
        Section(name, ["part", "term", "coef", "se"], coefficients),
        Section(
            f"{name}_predicted", ["variable", "level", "estimate", "se"], predictions
        ),
        records_section(f"{name}_fit", [fit]),
    ]


def is_plain(value) -> bool:
    return not isinstance(value, dict | list | tuple)


def about_section(result: dict) -> Section:
    """The result's description, and any other plain value of its top level."""
    rows = []
    plain = [k for k, v in result.items() if k not in ABOUT_KEYS and is_plain(v)]
    for key in [*ABOUT_KEYS, *plain]:
        if key not in result:
            continue
        value = result[key]
        if isinstance(value, dict) and key != "specification":
            rows.extend(
                {"key": f"{key}_{k}", "value": v} for k, v in flat(value).items()
            )
        elif isinstance(value, dict | list):
            rows.append({"key": key, "value": json.dumps(value, ensure_ascii=False)})
        else:
            rows.append({"key": key, "value": value})
    return Section("about", ["key", "value"], rows)


def table_sections(result: dict) -> list[Section]:
    """Every section of ``result`` as a table, the main table first, ``about`` last."""
    sections = []
    if "overall" in result and "groups" in result:
        sections.append(main_table(result))
    missing = result.get("missing")
    if isinstance(missing, dict) and missing:
        sections.append(
            Section(
                "missing",
                ["variable", "left_out"],
                [{"variable": k, "left_out": v} for k, v in missing.items()],
            )
        )
    statuses = result.get("statuses")
    if isinstance(statuses, dict) and statuses:
        sections.append(
            Section(
                "statuses",
                ["arm", "status", "respondents"],
                [
                    {"arm": arm, "status": status, "respondents": n}
                    for arm, counts in statuses.items()
                    for status, n in counts.items()
                ],
            )
        )

    handled = {"overall", "groups", "missing", "statuses", *ABOUT_KEYS}
    for key, value in result.items():
        if key in handled or is_plain(value):
            continue
        if key == "design_test" and isinstance(value, dict):
            sections.extend(design_test_sections(value))
        elif key == "count_distribution" and isinstance(value, dict):
            sections.append(distribution_section(value))
        elif key.startswith("model") and isinstance(value, dict) and "method" in value:
            sections.extend(model_sections(key, value))
        else:
            sections.extend(general_sections(key, value))

    sections.append(about_section(result))
    return sections


def main_section(result: dict) -> Section:
    """The table the CSV and the Stata file hold: the estimates (or, for a result
    without them, its first section)."""
    return table_sections(result)[0]


def columns_section(sections: list[Section]) -> Section:
    labels = column_labels()
    rows = [
        {"sheet": s.name, "column": c, "meaning": labels.get(c, "")}
        for s in sections
        for c in s.columns
    ]
    return Section("columns", ["sheet", "column", "meaning"], rows)


def table_xlsx(result: dict, target) -> None:
    """Write the workbook to ``target`` (a path or a binary file)."""
    sections = table_sections(result)
    workbook = Workbook(write_only=True)
    taken: set[str] = set()
    for section in [*sections, columns_section(sections)]:
        sheet = workbook.create_sheet(sheet_title(section.name, taken))
        sheet.append(section.columns)
        for row in section.rows:
            sheet.append(sheet_row(sheet, (row.get(c) for c in section.columns)))
    workbook.save(target)


def stata_value(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False)
    return value


def table_dta(result: dict, target, title: str = "") -> None:
    """Write the main table as Stata 118, with a label on every variable."""
    section = main_section(result)
    names = stata_names(section.columns)
    data = {}
    for column in section.columns:
        values = [stata_value(row.get(column)) for row in section.rows]
        if column in TEXT_COLUMNS or any(isinstance(v, str) for v in values):
            # Stata's missing text is the empty string.
            values = ["" if v is None else str(v) for v in values]
            data[names[column]] = pd.Series(values, dtype=object)
        else:
            data[names[column]] = pd.to_numeric(pd.Series(values, dtype=object))
    labels = column_labels()
    dta_write(
        pd.DataFrame(data),
        target,
        variable_labels={names[c]: labels.get(c, c) for c in section.columns},
        data_label=title,
    )
