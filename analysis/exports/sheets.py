"""Excel's rules for sheets and cells, for openpyxl's write-only workbooks.

Write-only workbooks stream each row to a temporary file, so memory stays flat
however many rows a sheet gets. What Excel itself refuses is handled here:

- a sheet holds at most 1,048,576 rows, the header included;
- a sheet's name is at most 31 characters, without ``[ ] : * ? / \\``, and unique;
- a text cell starting with ``=`` would be stored as a formula: it is marked as
  text, so it shows exactly as written and never runs;
- a cell cannot hold a time zone or control characters: times are written in UTC,
  control characters are left out.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

SHEET_ROWS = 1_048_576
DATA_ROWS_MAX = SHEET_ROWS - 1
TITLE_LENGTH = 31
TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def sheet_title(name: str, taken: set[str]) -> str:
    """A valid sheet name for ``name``, not yet in ``taken`` (which it joins)."""
    title = TITLE_FORBIDDEN.sub("_", str(name)).strip("'")[:TITLE_LENGTH] or "sheet"
    candidate, n = title, 1
    while candidate.lower() in taken:
        n += 1
        suffix = f"_{n}"
        candidate = title[: TITLE_LENGTH - len(suffix)] + suffix
    taken.add(candidate.lower())
    return candidate


def utc_naive(value: dt.datetime) -> dt.datetime:
    """An aware time as the same instant in UTC without its zone (Excel and Stata
    hold no zone); a naive time is taken as UTC already."""
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def cell_value(value):
    """A value Excel can hold: times in UTC, mappings and lists as JSON text."""
    if isinstance(value, dt.datetime):
        return utc_naive(value)
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False)
    return value


def text_cell(sheet, value: str):
    """A text cell that stays text: no formula, no control characters."""
    if ILLEGAL_CHARACTERS_RE.search(value):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if not value.startswith("="):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


def sheet_row(sheet, values) -> list:
    """A row for ``sheet.append``, every value made safe for Excel."""
    out = []
    for value in values:
        value = cell_value(value)
        out.append(text_cell(sheet, value) if isinstance(value, str) else value)
    return out
