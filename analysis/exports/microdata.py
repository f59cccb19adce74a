"""A wave's microdata as CSV, XLSX or Stata, each with its codebook.

One row per respondent and list experiment, in the columns of
`fielding.selectors.microdata_columns` (recodes included, after the questions), read
from the database in chunks. Labels (variable labels, value labels, the codebook)
are in the language the analyst chooses.

Identifiers: unless the survey's ``export_identifiers`` is on, ``external_id`` is
left out and ``interviewer`` holds a number instead of a user name: 1 for the
interviewer of the wave's earliest respondent, 2 for the next new one, and so on,
so an interviewer keeps their number as the wave grows.

Memory: the CSV is streamed row by row and the XLSX written through openpyxl's
write-only mode (rows go to a temporary file), so both stay flat at any size. A
Stata file is written whole by pandas: the export gathers the wave in compact
chunks, then as one table, about 1 GB per million rows at the peak.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.utils import translation
from django.utils.translation import gettext as _
from openpyxl import Workbook

from analysis.errors import AnalysisError
from analysis.exports.sheets import DATA_ROWS_MAX, sheet_row, utc_naive
from analysis.exports.stata import dta_write, stata_names
from analysis.formatting import spreadsheet_safe
from fielding.models import Assignment, Respondent, Response
from fielding.selectors import (
    microdata_assignments,
    microdata_columns,
    microdata_rows,
)
from survey.audit import audit_record
from survey.models import (
    LANGUAGE_CHOICES,
    LANGUAGE_CODES,
    AuditEvent,
    CovariateQuestion,
    ListExperiment,
    Region,
    Settlement,
    Wave,
)

logger = logging.getLogger(__name__)

FORMATS = ("csv", "xlsx", "dta")
# The most data rows an XLSX export holds: one sheet of Excel, less its header.
XLSX_ROWS_MAX = DATA_ROWS_MAX
NO_RESPONSE = "no_response"
INTEGER, NUMBER, TEXT, CODED, DATETIME = (
    "integer",
    "number",
    "text",
    "coded",
    "datetime",
)
CODEBOOK_COLUMNS = ["name", "label", "type", "values"]
# Codes read as numbers: no leading zero (``01`` stays a code), within Stata's long.
WHOLE_NUMBER = re.compile(r"-?(0|[1-9]\d{0,8})")


@dataclass
class Column:
    """One column of the export: its name, label, kind and, for a coded column, the
    label of each code (in the order the survey lists them)."""

    name: str
    label: str
    kind: str
    values: dict[str, str] = field(default_factory=dict)

    @property
    def whole_codes(self) -> bool:
        """Codes that are all whole numbers are kept as numbers in XLSX and Stata."""
        return bool(self.values) and all(
            WHOLE_NUMBER.fullmatch(code) for code in self.values
        )


@dataclass
class MicrodataExport:
    """What every writer needs: the wave, the language, the columns, and how
    interviewers are shown."""

    wave: Wave
    format: str
    language: str
    columns: list[Column]
    identifiers: bool

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]


def fixed_columns(wave: Wave, identifiers: bool) -> dict[str, Column]:
    """The columns every wave has, labelled in the active language."""
    yes_no = {"0": _("no"), "1": _("yes")}
    statuses = {code: str(label) for code, label in Response.STATUS_CHOICES}
    statuses[NO_RESPONSE] = _("no response")
    respondents = Respondent.objects.filter(wave=wave)
    places = Settlement.objects.filter(
        pk__in=respondents.values("place")
    ).select_related("region")
    regions = Region.objects.filter(pk__in=places.values("region"))
    interviewer = (
        Column("interviewer", _("Interviewer (user name)"), TEXT)
        if identifiers
        else Column("interviewer", _("Interviewer (a number within the wave)"), INTEGER)
    )
    columns = [
        Column("respondent_id", _("Respondent (number in this database)"), INTEGER),
        Column("external_id", _("Respondent id given at import"), TEXT),
        Column("wave_id", _("Wave (number in this database)"), INTEGER),
        Column(
            "experiment",
            _("List experiment"),
            CODED,
            dict(wave.survey.experiments.values_list("code", "name")),
        ),
        Column(
            "stratum",
            _("Stratum"),
            CODED,
            {s.code: s.name for s in wave.strata.all()},
        ),
        Column("region", _("Region"), CODED, {r.code: r.name for r in regions}),
        Column(
            "place",
            _("Place of interview"),
            CODED,
            {p.code: p.name for p in places.order_by("name")},
        ),
        Column(
            "mode",
            _("Mode of interview"),
            CODED,
            {code: str(label) for code, label in Wave.MODE_CHOICES},
        ),
        Column("language", _("Language of interview"), CODED, dict(LANGUAGE_CHOICES)),
        interviewer,
        Column("arm", _("Arm: the list shown"), CODED, arm_labels(wave)),
        Column("item_order", _("Items in the order shown (codes)"), TEXT),
        Column("item_order_2", _("Items of the second list in the order shown"), TEXT),
        Column(
            "source",
            _("Where the arm came from"),
            CODED,
            {code: str(label) for code, label in Assignment.SOURCE_CHOICES},
        ),
        Column("simulated", _("Simulated respondent"), CODED, yes_no),
        Column("status", _("Response status"), CODED, statuses),
        Column("count", _("Count: how many items the respondent holds"), INTEGER),
        Column("second_count", _("Count on the second list (double list)"), INTEGER),
        Column("weight", _("Respondent weight"), NUMBER),
        Column("late", _("Arrived long after its slot was reserved"), CODED, yes_no),
        Column("registered_at", _("Registered (UTC)"), DATETIME),
        Column("card_shown_at", _("Card shown (UTC)"), DATETIME),
        Column("started_at", _("Interview started (UTC)"), DATETIME),
        Column("finished_at", _("Interview finished (UTC)"), DATETIME),
        Column("received_at", _("Received by the server (UTC)"), DATETIME),
    ]
    return {column.name: column for column in columns}


def arm_labels(wave: Wave) -> dict[str, str]:
    """Every arm of the survey's list experiments, control first."""
    labels = {"control": _("control list")}
    experiments = wave.survey.experiments.prefetch_related("items", "lists")
    for experiment in experiments:
        for arm in experiment.arms():
            if arm in labels:
                continue
            if arm == "treatment":
                labels[arm] = _("treatment list (with the sensitive item)")
            elif experiment.design == ListExperiment.DOUBLE:
                labels[arm] = _("sensitive item on list %(list)s") % {"list": arm}
            else:
                labels[arm] = _("treatment list with %(item)s") % {"item": arm}
    return labels


def survey_columns(wave: Wave, language: str) -> dict[str, Column]:
    """A column per question (its wording as label) and per recode."""
    columns = {}
    for question in wave.survey.questions.prefetch_related("choices"):
        wording = question.texts.get(language) or question.texts.get("en")
        label = wording or question.code
        if question.kind == CovariateQuestion.NUMERIC:
            columns[question.code] = Column(question.code, label, NUMBER)
        else:
            choices = {c.code: c.label(language) for c in question.choices.all()}
            columns[question.code] = Column(question.code, label, CODED, choices)
    for recode in wave.survey.recodes.select_related("question"):
        columns[recode.name] = Column(
            recode.name,
            _("%(question)s, grouped: %(recode)s")
            % {"question": recode.question.code, "recode": recode.name},
            CODED,
            {level: recode.level_label(level, language) for level in recode.levels()},
        )
    return columns


def microdata_plan(*, wave: Wave, format: str, language: str) -> MicrodataExport:
    """The columns and labels of an export of ``wave``, checked, nothing recorded.

    Raises
    ------
    AnalysisError
        For an unknown format or language, or an XLSX export of more rows than a
        sheet holds.
    """
    if format not in FORMATS:
        raise AnalysisError(
            _("Unknown format “%(format)s”: use csv, xlsx or dta.") % {"format": format}
        )
    if language not in LANGUAGE_CODES:
        raise AnalysisError(
            _("Unknown language “%(language)s”: use %(codes)s.")
            % {"language": language, "codes": ", ".join(LANGUAGE_CODES)}
        )
    if format == "xlsx":
        rows = microdata_assignments(wave).count()
        if rows > XLSX_ROWS_MAX:
            raise AnalysisError(
                _(
                    "The wave has %(rows)s rows, more than an Excel sheet holds "
                    "(%(max)s). Download it as CSV instead."
                )
                % {"rows": f"{rows:,}", "max": f"{XLSX_ROWS_MAX:,}"}
            )

    identifiers = wave.survey.export_identifiers
    with translation.override(language):
        known = {**fixed_columns(wave, identifiers), **survey_columns(wave, language)}
    names = microdata_columns(wave, recodes=True, identifiers=identifiers)
    return MicrodataExport(
        wave=wave,
        format=format,
        language=language,
        columns=[known.get(name) or Column(name, name, TEXT) for name in names],
        identifiers=identifiers,
    )


def microdata_export(
    *, wave: Wave, format: str, language: str, user=None
) -> MicrodataExport:
    """Check an export of ``wave`` (see `microdata_plan`) and record it in the audit
    log as ``user``'s (None for the command line)."""
    export = microdata_plan(wave=wave, format=format, language=language)
    audit_record(user, AuditEvent.EXPORTED, wave, f"microdata {format} {language}")
    logger.info(
        "Microdata of wave %s exported as %s (%s), identifiers %s",
        wave.pk,
        format,
        language,
        "included" if export.identifiers else "left out",
    )
    return export


def records(export: MicrodataExport) -> Iterator[dict]:
    """The wave's rows with the identifiers the survey allows."""
    yield from microdata_rows(export.wave, recodes=True, identifiers=export.identifiers)


# CSV


def csv_text(value) -> str:
    """A cell as text: empty for none, times in UTC, text that a spreadsheet would
    run as a formula kept as text. Numbers written as text (``-1``) stay as they are."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return utc_naive(value).isoformat(sep=" ")
    if isinstance(value, str):
        return value if is_number(value) else spreadsheet_safe(value)
    return value


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class Line:
    """A file for `csv.writer` that hands back what it is given."""

    def write(self, value):
        return value


def csv_lines(export: MicrodataExport) -> Iterator[str]:
    """The CSV a line at a time: a byte-order mark and the header, then the rows."""
    writer = csv.writer(Line(), lineterminator="\r\n")
    names = export.names
    yield "\ufeff" + writer.writerow(names)
    for row in records(export):
        yield writer.writerow([csv_text(row.get(name)) for name in names])


# Codebook


def value_list(pairs) -> str:
    return "; ".join(f"{code} = {label}" for code, label in pairs)


def codebook_rows(export: MicrodataExport) -> list[dict]:
    """For every column: name, label, type and value labels. For a Stata export the
    names and codes are those of the .dta file, from the survey's lists (the file
    itself also labels any code the data hold beyond them)."""
    if export.format == "dta":
        names = stata_names(export.names)
        return [
            stata_codebook_entry(c, names[c.name], stata_column(c, []))
            for c in export.columns
        ]
    return [
        {
            "name": column.name,
            "label": column.label,
            "type": column.kind,
            "values": value_list(column.values.items()),
        }
        for column in export.columns
    ]


def codebook_csv(rows: list[dict]) -> str:
    """The codebook as CSV text, with a byte-order mark for Excel."""
    writer = csv.writer(Line(), lineterminator="\r\n")
    lines = [writer.writerow(CODEBOOK_COLUMNS)]
    lines += [writer.writerow([row[c] for c in CODEBOOK_COLUMNS]) for row in rows]
    return "\ufeff" + "".join(lines)


# XLSX


def xlsx_value(column: Column, value):
    if column.kind == CODED and column.whole_codes and isinstance(value, str):
        return int(value) if WHOLE_NUMBER.fullmatch(value) else value
    return value


def microdata_xlsx(export: MicrodataExport, target) -> int:
    """Write the ``data`` and ``codebook`` sheets to ``target``; returns the rows."""
    workbook = Workbook(write_only=True)
    data = workbook.create_sheet("data")
    data.append(export.names)
    n = 0
    for row in records(export):
        values = (xlsx_value(c, row.get(c.name)) for c in export.columns)
        data.append(sheet_row(data, values))
        n += 1
    codebook = workbook.create_sheet("codebook")
    codebook.append(CODEBOOK_COLUMNS)
    for entry in codebook_rows(export):
        codebook.append(sheet_row(codebook, [entry[c] for c in CODEBOOK_COLUMNS]))
    workbook.save(target)
    return n


# Stata


@dataclass
class StataColumn:
    """A column as Stata holds it, with the value labels of its codes."""

    series: pd.Series
    kind: str
    codes: dict[str, int] = field(default_factory=dict)
    labels: dict[int, str] = field(default_factory=dict)


# Rows are gathered this many at a time, then kept compact until the file is written.
STATA_CHUNK = 20_000


def compact(column: Column, values: list):
    """A chunk of one column, small in memory: times as datetime64, numbers as
    numbers, and texts (codes included) as categories, each distinct text once.
    Numbers mixed with other text are kept as text."""
    if column.kind == DATETIME:
        times = [None if v is None else utc_naive(v) for v in values]
        return pd.Series(pd.to_datetime(times), dtype="datetime64[ns]")
    if column.kind in (INTEGER, NUMBER):
        numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
        if numbers.isna().sum() == sum(v is None or v == "" for v in values):
            return numbers.astype("Int64" if column.kind == INTEGER else float)
    return pd.Categorical(["" if v is None else str(v) for v in values])


def as_text(chunk) -> pd.Categorical:
    if isinstance(chunk, pd.Categorical):
        return chunk
    return pd.Categorical(["" if pd.isna(v) else str(v) for v in chunk])


def stata_coded(column: Column, chunks: list) -> StataColumn:
    """Codes as whole numbers with value labels. Whole-number codes keep their
    number; other codes are numbered 1, 2, ... in the survey's order. A value the
    survey does not list keeps its number, or gets the next free one with itself
    as label, so nothing in the data is lost."""
    if column.whole_codes:
        codes = {code: int(code) for code in column.values}
    else:
        codes = {code: n for n, code in enumerate(column.values, start=1)}
    labels = {codes[code]: label for code, label in column.values.items()}

    texts = dict.fromkeys(t for chunk in chunks for t in chunk.categories)
    unknown = [t for t in texts if t and t not in codes]
    for text in unknown:
        if column.whole_codes and WHOLE_NUMBER.fullmatch(text):
            codes[text] = int(text)
    following = max(codes.values(), default=0) + 1
    for text in unknown:
        if text not in codes:
            codes[text] = following
            labels[following] = text
            following += 1

    parts = []
    for chunk in chunks:
        numbers = np.array([codes.get(t, np.nan) for t in chunk.categories], float)
        parts.append(pd.Series(numbers[chunk.codes]).astype("Int64"))
    series = (
        pd.concat(parts, ignore_index=True) if parts else pd.Series([], dtype="Int64")
    )
    return StataColumn(series, CODED, codes, labels)


def stata_column(column: Column, chunks: list) -> StataColumn:
    """One column for the file, from its compact chunks (see `compact`)."""
    if column.kind == CODED:
        return stata_coded(column, [as_text(chunk) for chunk in chunks])
    if column.kind == DATETIME:
        parts = chunks or [pd.Series([], dtype="datetime64[ns]")]
        return StataColumn(pd.concat(parts, ignore_index=True), DATETIME)
    if not any(isinstance(chunk, pd.Categorical) for chunk in chunks):
        empty = pd.Series([], dtype="Int64" if column.kind == INTEGER else float)
        return StataColumn(pd.concat([empty, *chunks], ignore_index=True), column.kind)
    # Stata's missing text is the empty string.
    texts = [t for chunk in chunks for t in np.asarray(as_text(chunk), dtype=object)]
    return StataColumn(pd.Series(texts, dtype=object), TEXT)


def microdata_dta(export: MicrodataExport, target) -> tuple[int, list[dict]]:
    """Write the Stata file to ``target``; returns the rows written and the file's
    codebook (Stata's names, and the codes as the file holds them)."""
    chunks: dict[str, list] = {name: [] for name in export.names}
    pending: dict[str, list] = {name: [] for name in export.names}

    def keep():
        for column in export.columns:
            chunks[column.name].append(compact(column, pending[column.name]))
            pending[column.name] = []

    for n, row in enumerate(records(export), start=1):
        for name, values in pending.items():
            values.append(row.get(name))
        if n % STATA_CHUNK == 0:
            keep()
    if any(pending.values()):
        keep()

    names = stata_names(export.names)
    columns = {c.name: stata_column(c, chunks.pop(c.name)) for c in export.columns}
    frame = pd.DataFrame({names[k]: v.series for k, v in columns.items()})
    dta_write(
        frame,
        target,
        variable_labels={names[c.name]: c.label for c in export.columns},
        value_labels={names[k]: v.labels for k, v in columns.items() if v.labels},
        dates=[names[k] for k, v in columns.items() if v.kind == DATETIME],
        data_label=export.wave.name,
    )
    return len(frame), [
        stata_codebook_entry(c, names[c.name], columns[c.name]) for c in export.columns
    ]


def stata_codebook_entry(column: Column, name: str, stata: StataColumn) -> dict:
    pairs = []
    for code, number in stata.codes.items():
        label = stata.labels.get(number)
        if label is None:
            continue
        same = code in (str(number), label)
        pairs.append((number, label if same else f"{label} [{code}]"))
    return {
        "name": name,
        "label": column.label,
        "type": column.kind if stata.kind != TEXT else TEXT,
        "values": value_list(pairs),
    }
