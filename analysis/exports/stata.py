"""Stata's rules for names, labels and files, in one place (no Django, no database).

Stata 14 and later (format 118) reads UTF-8, so Cyrillic and Kazakh letters stay as
they are in names, labels and text. What it does not allow is checked here, before
pandas would rename a column with a warning or refuse a label:

- a variable name is at most 32 characters of letters, digits and ``_``, does not
  start with a digit and is not one of Stata's reserved words;
- a variable label, and the dataset's label, is at most 80 characters;
- a value label maps whole numbers to text, and the texts of one variable must
  differ (pandas refuses to read labels that repeat).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import pandas as pd

DTA_VERSION = 118
NAME_LENGTH = 32
LABEL_LENGTH = 80
# Longest text a fixed-width string variable holds, in bytes; longer goes to strL.
STR_BYTES = 2045

RESERVED = frozenset(
    "aggregate array boolean break byte case catch class colvector complex const "
    "continue default delegate delete do double else eltypedef end enum explicit "
    "export external float for friend function global goto if inline int local long "
    "matrix NULL numeric pointer polymorphic quietly real return rowvector scalar "
    "short string strL struct super switch template this throw transmorphic try "
    "typedef typename union unsigned using vector version virtual void volatile while "
    "with in _all _b _coef _cons _n _N _pi _pred _rc _skip".split()
)


def allowed(character: str) -> bool:
    """Letters, digits and underscore; of the first 192 code points only ASCII
    letters and digits (Stata refuses Latin-1 signs such as ``º`` or ``²``)."""
    code = ord(character)
    if code < 128:
        return character == "_" or character.isascii() and character.isalnum()
    return code >= 192 and character.isalnum()


def stata_names(names: Iterable[str]) -> dict[str, str]:
    """Each column's name in the .dta file, unique and valid, in the given order.

    A valid name is kept. Otherwise other characters become ``_``, a name starting
    with a digit (or empty) gets a leading ``v``, a reserved word a leading ``_``,
    the name is cut to 32 characters, and a clash gets ``_2``, ``_3``, ... at the end.
    """
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        text = "".join(c if allowed(c) else "_" for c in str(name))
        if not text or text[0].isdigit():
            text = "v" + text
        if text in RESERVED or re.fullmatch(r"str\d+", text):
            text = "_" + text
        text = text[:NAME_LENGTH]
        candidate, n = text, 1
        while candidate.lower() in taken:
            n += 1
            suffix = f"_{n}"
            candidate = text[: NAME_LENGTH - len(suffix)] + suffix
        taken.add(candidate.lower())
        out[name] = candidate
    return out


def stata_label(text: str | None) -> str:
    """One line of at most 80 characters; a longer text ends with an ellipsis."""
    line = " ".join(str(text or "").split())
    if len(line) <= LABEL_LENGTH:
        return line
    return line[: LABEL_LENGTH - 1] + "…"


def distinct_labels(labels: Mapping[int, str]) -> dict[int, str]:
    """Value labels with every text different: a repeated text gets its code added,
    so both codes stay told apart and pandas can read the file back."""
    seen: dict[str, int] = {}
    for text in labels.values():
        seen[text] = seen.get(text, 0) + 1
    return {
        code: (f"{text} ({code})" if seen[text] > 1 else text) or str(code)
        for code, text in labels.items()
    }


def longest_bytes(values: Iterable) -> int:
    return max(
        (len(v.encode("utf-8")) for v in values if isinstance(v, str)), default=0
    )


def dta_write(
    frame: pd.DataFrame,
    target,
    *,
    variable_labels: Mapping[str, str],
    value_labels: Mapping[str, Mapping[int, str]] | None = None,
    dates: Iterable[str] = (),
    data_label: str = "",
) -> None:
    """Write ``frame`` (columns already named by `stata_names`) as Stata 118.

    ``dates`` are columns of naive UTC datetimes, stored as Stata's ``%tc`` clock
    times. Text longer than a fixed-width string holds is stored as ``strL``.
    """
    long_text = [
        column
        for column in frame.columns
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column])
        if longest_bytes(frame[column]) > STR_BYTES
    ]
    frame.to_stata(
        target,
        write_index=False,
        version=DTA_VERSION,
        convert_dates={column: "tc" for column in dates},
        variable_labels={k: stata_label(v) for k, v in variable_labels.items()},
        value_labels={
            column: distinct_labels(labels)
            for column, labels in (value_labels or {}).items()
            if labels
        },
        data_label=stata_label(data_label),
        convert_strl=long_text,
    )
