"""Helpers shared by the project's management commands."""

from collections.abc import Iterable


def several(values: Iterable[str] | None) -> list[str]:
    """Values of a flag that may be repeated and may hold comma-separated values."""
    out = []
    for value in values or []:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return list(dict.fromkeys(out))
