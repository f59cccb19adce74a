"""Reading respondent-level tables (CSV) and checking list-experiment columns.

Both the import and the file-based ``estimate`` command read the same kind of file:
UTF-8 with or without a byte-order mark, comma or semicolon separated, the header on
line 1. Every problem is reported with its line and column, so a user can fix a file in
one pass instead of one error at a time.
"""

import csv
import io
import math
import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

MAX_PROBLEMS_SHOWN = 200
#: Digits, then at most a decimal point or comma followed by zeros.
WHOLE = re.compile(r"[0-9]+(?:[.,]0+)?")


@dataclass(frozen=True)
class Problem:
    line: int
    column: str
    reason: str

    def __str__(self):
        if self.column:
            return _("line %(line)s, column “%(column)s”: %(reason)s") % {
                "line": self.line,
                "column": self.column,
                "reason": self.reason,
            }
        return _("line %(line)s: %(reason)s") % {
            "line": self.line,
            "reason": self.reason,
        }


class TableError(Exception):
    """A file, or some of its rows, that cannot be used; ``problems`` says why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems[:MAX_PROBLEMS_SHOWN]))

    def lines(self) -> list[str]:
        shown = [str(p) for p in self.problems[:MAX_PROBLEMS_SHOWN]]
        hidden = len(self.problems) - len(shown)
        if hidden:
            shown.append(_("… and %(n)s more problems.") % {"n": hidden})
        return shown


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    lines: list[int]
    name: str = ""
    problems: list[Problem] = field(default_factory=list)

    def column(self, name: str) -> list[str]:
        index = self.header.index(name)
        return [row[index] for row in self.rows]


@dataclass
class ListColumns:
    """The list experiment read from a table, one entry per row of the table.

    ``counts`` holds NaN where the count is missing or invalid; ``valid`` is False for
    a row with a problem in its count or arm (the problem is in ``problems``). When
    the arm column names arms (several sensitive items), ``labels`` holds each row's.
    """

    counts: list[float]
    treated: list[bool]
    valid: list[bool]
    n_missing_count: int
    problems: list[Problem] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


def decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise TableError(
            [
                Problem(
                    line,
                    "",
                    _(
                        "the file is not UTF-8 text (byte %(byte)s). Save it as "
                        "“CSV UTF-8” and try again."
                    )
                    % {"byte": error.start + 1},
                )
            ]
        ) from None
    # A byte-order mark added to a file that already had one would stay glued to the
    # first column's name, invisible in every message that names it.
    text = text.lstrip("\ufeff")
    # UTF-16 text and spreadsheets decode as UTF-8 when their bytes happen to fit,
    # but hold null characters, which no CSV text has and PostgreSQL cannot store.
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise TableError(
            [
                Problem(
                    line,
                    "",
                    _(
                        "the file holds null characters, so it is not CSV text (a "
                        "UTF-16 or spreadsheet file, say). Save it as “CSV UTF-8” and "
                        "try again."
                    ),
                )
            ]
        )
    return text


def sniff_delimiter(first_line: str) -> str:
    return ";" if first_line.count(";") > first_line.count(",") else ","


def read_table(data: bytes, name: str = "") -> Table:
    """Parse CSV bytes into a header and rows.

    A file that cannot be read at all (not UTF-8, empty, a bad header, a quote that
    never closes) raises TableError. A row with the wrong number of fields is left out
    and recorded in ``problems``, so the caller can report it with every other bad row.
    """
    text = decode(data)
    if not text.strip():
        raise TableError([Problem(1, "", _("the file is empty."))])

    first_line = text.splitlines()[0]
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=sniff_delimiter(first_line),
        strict=True,
    )
    try:
        header = [cell.strip() for cell in next(reader)]
    except csv.Error as error:
        raise TableError([unreadable_from(1, error)]) from None
    problems = header_problems(header)
    if problems:
        raise TableError(problems)

    rows, lines = [], []
    while True:
        starts_on = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise TableError([unreadable_from(starts_on, error)]) from None
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(
                Problem(
                    starts_on,
                    "",
                    _("has %(got)s fields but the header has %(want)s.")
                    % {"got": len(row), "want": len(header)},
                )
            )
            continue
        rows.append([cell.strip() for cell in row])
        lines.append(starts_on)
    return Table(header=header, rows=rows, lines=lines, name=name, problems=problems)


def unreadable_from(line: int, error: csv.Error) -> Problem:
    if "field larger than field limit" in str(error):
        reason = _(
            "this row cannot be read: one of its fields is longer than %(n)s "
            "characters, most likely because a quotation mark is never closed and "
            "swallows the rows after it. Check the quotes."
        ) % {"n": csv.field_size_limit()}
    else:
        reason = _(
            "this row cannot be read: most likely a quotation mark that is never "
            "closed, which would swallow the rows after it. Check the quotes."
        )
    return Problem(line, "", reason)


def header_problems(header: list[str]) -> list[Problem]:
    problems = []
    seen = set()
    for position, name in enumerate(header, start=1):
        if not name:
            problems.append(
                Problem(1, "", _("column %(n)s has no name.") % {"n": position})
            )
        elif name in seen:
            problems.append(Problem(1, name, _("the column name appears twice.")))
        seen.add(name)
    return problems


def require_columns(table: Table, columns: list[str]) -> None:
    missing = [name for name in columns if name not in table.header]
    if missing:
        raise TableError(
            [
                Problem(
                    1,
                    name,
                    _("no such column; the header has: %(columns)s")
                    % {"columns": ", ".join(table.header)},
                )
                for name in missing
            ]
        )


def parse_number(raw: str) -> float | None:
    """A number as written in a file, or None if it is not one (commas as decimals ok)."""
    try:
        number = float(raw.replace(",", "."))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def parse_whole(raw: str) -> int | None:
    """A whole number written as one (``2``, or ``2.0`` and ``2,0`` as spreadsheets
    save it), or None.

    Exponents (``1e0``), signs, ``nan`` and ``inf`` are refused, although Python reads
    them as numbers: a count or an arm written that way is more likely a column of
    something else than a count, and it would pass unnoticed as a plain number.
    """
    if WHOLE.fullmatch(raw) is None:
        return None
    return int(raw.replace(",", ".").partition(".")[0])


def parse_treatment(raw: str) -> bool | None:
    number = parse_whole(raw)
    if number not in (0, 1):
        return None
    return number == 1


def read_list_columns(
    table: Table, *, outcome: str, treat: str, items: int
) -> ListColumns:
    """Counts and arms of a single-list experiment, checked row by row.

    An empty count is missing (left out and counted); an empty or unknown treatment
    value, a count that is not a whole number, or one outside 0..J (control) or 0..J+1
    (treatment) is a problem naming the line and column. The table's own problems
    (rows with the wrong number of fields) come first in ``problems``.
    """
    require_columns(table, [outcome, treat])
    if outcome == treat:
        raise TableError(
            [
                Problem(
                    1,
                    outcome,
                    _("the count and the treatment need two different columns."),
                )
            ]
        )
    outcome_at, treat_at = table.header.index(outcome), table.header.index(treat)
    counts, treated, valid = [], [], []
    problems = list(table.problems)
    n_missing = 0

    def invalid(problem: Problem) -> None:
        problems.append(problem)
        counts.append(math.nan)
        treated.append(False)
        valid.append(False)

    for row, line in zip(table.rows, table.lines):
        arm = parse_treatment(row[treat_at])
        if arm is None:
            invalid(
                Problem(
                    line,
                    treat,
                    _("treatment must be 0 (control) or 1 (treatment), not “%(v)s”.")
                    % {"v": row[treat_at]},
                )
            )
            continue

        raw = row[outcome_at]
        if raw == "" or raw.upper() == "NA":
            counts.append(math.nan)
            treated.append(arm)
            valid.append(True)
            n_missing += 1
            continue
        count = parse_whole(raw)
        top = items + 1 if arm else items
        if count is None or not 0 <= count <= top:
            invalid(
                Problem(
                    line,
                    outcome,
                    _(
                        "the count must be a whole number from 0 to %(top)s on the "
                        "%(arm)s list, not “%(v)s”."
                    )
                    % {
                        "top": top,
                        "arm": _("treatment") if arm else _("control"),
                        "v": raw,
                    },
                )
            )
            continue
        counts.append(float(count))
        treated.append(arm)
        valid.append(True)

    return ListColumns(counts, treated, valid, n_missing, problems)


def read_arm_columns(
    table: Table, *, outcome: str, treat: str, arms: list[str], items: int
) -> ListColumns:
    """Counts and arms of a list experiment with several sensitive items.

    The arm column names each row's arm, one of ``arms`` (the control arm first);
    the count runs over 0..J on the control arm and 0..J+1 on an item's arm. Problems
    are reported as `read_list_columns` reports them.
    """
    require_columns(table, [outcome, treat])
    if outcome == treat:
        raise TableError(
            [
                Problem(
                    1,
                    outcome,
                    _("the count and the arm need two different columns."),
                )
            ]
        )
    outcome_at, treat_at = table.header.index(outcome), table.header.index(treat)
    columns = ListColumns([], [], [], 0, list(table.problems))

    for row, line in zip(table.rows, table.lines):
        label, raw = row[treat_at], row[outcome_at]
        count, problem = math.nan, None
        if label not in arms:
            problem = Problem(
                line,
                treat,
                _("the arm must be one of %(arms)s, not “%(v)s”.")
                % {"arms": ", ".join(arms), "v": label},
            )
        elif raw == "" or raw.upper() == "NA":
            columns.n_missing_count += 1
        else:
            top = items if label == arms[0] else items + 1
            whole = parse_whole(raw)
            if whole is None or not 0 <= whole <= top:
                problem = Problem(
                    line,
                    outcome,
                    _(
                        "the count must be a whole number from 0 to %(top)s on the "
                        "%(arm)s list, not “%(v)s”."
                    )
                    % {"top": top, "arm": label, "v": raw},
                )
            else:
                count = float(whole)
        if problem is not None:
            columns.problems.append(problem)
        columns.counts.append(count)
        columns.treated.append(label != arms[0])
        columns.valid.append(problem is None)
        columns.labels.append(label)
    return columns
