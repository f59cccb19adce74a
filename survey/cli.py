"""Helpers shared by the project's management commands.

A flag that takes several values may be repeated and may hold comma-separated values.
Names (columns to break down by, strata to print) and everything else (numbers, arms)
are read differently: a name asked for twice is the same request, but a number typed
twice is two numbers, and an arm typed twice is a mistake.
"""

from collections.abc import Iterable

from django.core.management.base import CommandError
from django.utils.translation import gettext as _


def each(values: Iterable[str] | None) -> list[str]:
    """Every value of such a flag, in the order typed, repeats kept.

    For numbers, such as a probability per control item: dropping a repeated value
    would change the result, or let a list with too many values pass for one that fits.
    """
    out = []
    for value in values or []:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out


def several(values: Iterable[str] | None) -> list[str]:
    """The names given to such a flag, in the order typed, each once.

    A column named twice in ``--by`` is one breakdown, so the repeat is dropped. Never
    use this for numbers or arms: see `each` and `distinct`.
    """
    return list(dict.fromkeys(each(values)))


def distinct(values: Iterable[str] | None, flag: str) -> list[str]:
    """The values of such a flag, refused (exit status 2) when one is given twice.

    For arms: ``control,a,a`` is most likely a typing mistake for three arms, and
    keeping two of them would estimate or allocate a design nobody asked for.
    """
    out = each(values)
    seen = set()
    for value in out:
        if value in seen:
            raise CommandError(
                _("%(flag)s: “%(value)s” is given twice; name each one once.")
                % {"flag": flag, "value": value},
                returncode=2,
            )
        seen.add(value)
    return out
