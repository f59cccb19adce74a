"""A job's result as a workbook (one sheet per section) and a Stata file.

The result is the JSON a job stores: an estimate (see ``analysis.services``), a
change between waves (``analysis.comparison``) or a rehearsal
(``analysis.planning.waves``). Its sections become tables of plain rows:

- ``table``: the *main table*, the same rows as the CSV download, the one the Stata
  file holds. For one list with one sensitive item: one row per estimate,
  ``overall`` first, then every level of every breakdown, with the level's label,
  and the direct question's rows when the job has them. For several sensitive items
  and double lists: one row per item, difference, list or combined estimate,
  overall first, then each level. For a change between waves: one row per change,
  each wave's estimate beside it. For a rehearsal: one row per quantity.
- ``missing``, ``statuses``, ``differences``, ``design_test`` (with its shares),
  ``floor_ceiling``, ``count_distribution``, ``model`` and ``model_linear`` (the
  coefficients, the predicted proportions and the fit), when present;
- any other section (``arms``, ``lists``, ``balance``, a change's ``earlier`` and
  ``later`` wave, ...) by a general rule: a list of records is a table; a mapping
  gives one row of its plain values and a table for each list of records inside it;
- ``about``: the wave, the specification, the responses used and their checksum,
  the software version and the interval note, as name and value;
- ``columns``: what each column of each sheet means.

Proportions stay proportions (0.259, not 25.9), as in the CSV.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

import pandas as pd
from django.utils.translation import gettext as _
from openpyxl import Workbook

from analysis.comparison import CSV_COLUMNS as CHANGE_COLUMNS
from analysis.estimators.breakdown import table_rows
from analysis.estimators.change import change_rows
from analysis.exports.sheets import sheet_row, sheet_title
from analysis.exports.stata import dta_write, stata_names
from analysis.formatting import (
    CSV_COLUMNS,
    DESIGN_CSV_COLUMNS,
    OTHER_DESIGNS,
    design_rows,
    direct_rows,
    spreadsheet_safe,
)
from analysis.models import EstimateJob

TABLE_COLUMNS = [*CSV_COLUMNS, "label"]
DESIGN_TABLE_COLUMNS = [*DESIGN_CSV_COLUMNS, "label"]
# A rehearsal's quantities, in the order its page shows them.
REHEARSAL_COLUMNS = [
    "label",
    "title",
    "kind",
    "truth",
    "mean_estimate",
    "bias",
    "bias_mc",
    "empirical_se",
    "empirical_se_mc",
    "mean_se",
    "expected_se",
    "expected_se_strata",
    "coverage",
    "coverage_mc",
    "power",
    "power_mc",
    "expected_power",
    "draws",
]
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
    "source",
    "block_sizes",
)


@dataclass
class Section:
    """One sheet: a name, its columns in order and its rows.

    ``meanings`` says what a column of this sheet means where the same name means
    something else in other sheets (a rehearsal's ``label`` is a quantity, not a
    level); any other column takes its meaning from `column_labels`.
    """

    name: str
    columns: list[str]
    rows: list[dict] = field(default_factory=list)
    meanings: dict[str, str] = field(default_factory=dict)

    def meaning(self, column: str, labels: dict[str, str]) -> str:
        return self.meanings.get(column) or labels.get(column, "")


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
        "kind": _("What the row estimates: item, difference, list or combined"),
        "n": _("Respondents used"),
        "earlier_estimate": _("Estimate in the earlier wave (proportion)"),
        "earlier_se": _("Standard error in the earlier wave"),
        "earlier_n_treatment": _(
            "Respondents with a count, treatment list, earlier wave"
        ),
        "earlier_n_control": _("Respondents with a count, control list, earlier wave"),
        "later_estimate": _("Estimate in the later wave (proportion)"),
        "later_se": _("Standard error in the later wave"),
        "later_n_treatment": _("Respondents with a count, treatment list, later wave"),
        "later_n_control": _("Respondents with a count, control list, later wave"),
        "change_estimate": _("Change: later estimate minus earlier estimate"),
        "change_se": _("Standard error of the change"),
        # xgettext:no-python-format
        "change_ci_low": _("Lower end of the change's 95% confidence interval"),
        # xgettext:no-python-format
        "change_ci_high": _("Upper end of the change's 95% confidence interval"),
        "change_p_value": _("p-value for no change (two-sided)"),
        "change_note": _("Note on the change"),
    }


def rehearsal_meanings() -> dict[str, str]:
    """What the columns of a rehearsal's table mean, in the active language."""
    return {
        "label": _("Quantity (its code)"),
        "title": _("Quantity (its name)"),
        "kind": _("Kind of quantity: overall, stratum, contrast or change"),
        "truth": _("Value the plan assumes (proportion)"),
        "mean_estimate": _("Mean estimate over the synthetic waves"),
        "bias": _("Bias: mean estimate minus the assumed value"),
        "bias_mc": _("Monte Carlo standard error of the bias"),
        "empirical_se": _("Standard deviation of the estimates (empirical SE)"),
        "empirical_se_mc": _("Monte Carlo standard error of the empirical SE"),
        "mean_se": _("Mean estimated standard error"),
        "expected_se": _("Planned standard error"),
        "expected_se_strata": _("Planned standard error, combined stratum by stratum"),
        # xgettext:no-python-format
        "coverage": _("Share of 95% intervals holding the assumed value"),
        "coverage_mc": _("Monte Carlo standard error of the coverage"),
        "power": _("Power: share of synthetic waves whose test rejects zero"),
        "power_mc": _("Monte Carlo standard error of the power"),
        "expected_power": _("Planned power"),
        "draws": _("Synthetic waves that gave an estimate"),
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


def labelled(result: dict, rows: list[dict], columns: list[str]) -> list[dict]:
    """The rows with each level's label, as the CSV gives them, and no other keys."""
    label_of = {
        (g["variable"], g["level"]): g.get("label", g["level"])
        for g in result.get("groups", [])
    }
    for row in rows:
        row["label"] = label_of.get((row["variable"], row["level"]), row["level"])
    return [{column: row.get(column) for column in columns} for row in rows]


def main_table(result: dict) -> Section | None:
    """The rows of the job's CSV download, or None for a result that has none.

    A change between waves is told by its ``kind``, a rehearsal by its
    ``quantities``; an estimate is told by its ``overall`` and ``groups``.
    """
    if result.get("kind") == EstimateJob.COMPARE:
        return Section("table", list(CHANGE_COLUMNS), change_rows(result))
    if is_records(result.get("quantities")):
        rows = [flat(q) for q in result["quantities"]]
        columns = list(
            dict.fromkeys([*REHEARSAL_COLUMNS, *(k for r in rows for k in r)])
        )
        return Section("table", columns, rows, meanings=rehearsal_meanings())
    if result.get("list_design") in OTHER_DESIGNS:
        columns = list(DESIGN_TABLE_COLUMNS)
        return Section("table", columns, labelled(result, design_rows(result), columns))
    if "overall" in result and "groups" in result:
        columns = list(TABLE_COLUMNS)
        rows = table_rows(result) + direct_rows(result)
        return Section("table", columns, labelled(result, rows, columns))
    return None


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
    table = main_table(result)
    if table is not None:
        sections.append(table)
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
    if table is not None:
        # A rehearsal's quantities are its main table already.
        handled.add("quantities")
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
    """The table the CSV and the Stata file hold: the main table (or, for a result
    without one, its first section)."""
    return table_sections(result)[0]


def section_csv(section: Section, bom: bool = False) -> str:
    """A section as CSV, proportions as numbers; ``bom`` prepares it for Excel (a
    byte-order mark, and text that would run as a formula kept as text)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=section.columns, lineterminator="\r\n")
    writer.writeheader()
    safe = spreadsheet_safe if bom else (lambda value: value)
    for row in section.rows:
        writer.writerow(
            {
                column: "" if row.get(column) is None else safe(row[column])
                for column in section.columns
            }
        )
    return ("\ufeff" if bom else "") + buffer.getvalue()


def columns_section(sections: list[Section]) -> Section:
    labels = column_labels()
    rows = [
        {"sheet": s.name, "column": c, "meaning": s.meaning(c, labels)}
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
        variable_labels={
            names[c]: section.meaning(c, labels) or c for c in section.columns
        },
        data_label=title,
    )
