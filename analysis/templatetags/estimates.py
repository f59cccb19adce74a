"""Filters that show proportions from estimate results as percentages on pages."""

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def percent(value, digits: int = 1):
    """0.559 -> '55.9'; None -> '–' (the result stores proportions, pages show %)."""
    if value is None or value == "":
        return "–"
    return f"{float(value) * 100:.{int(digits)}f}"


@register.filter
def decimal(value, digits: int = 2):
    if value is None or value == "":
        return "–"
    return f"{float(value):.{int(digits)}f}"


@register.filter
def get(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def models(result):
    """The fitted models of a result, the requested one first (ML beside linear)."""
    return [result[key] for key in ("model", "model_linear") if result.get(key)]


@register.filter
def status_label(status: str) -> str:
    """A response status as the interview screens name it; "missing" for a file's
    missing count."""
    from fielding.models import Response

    labels = dict(Response.STATUS_CHOICES)
    labels["missing"] = _("count missing")
    return str(labels.get(status, status))


@register.filter
def placebos(result):
    """The direct-question comparison's two placebo tests, each with its title."""
    combined = result.get("combined") or {}
    titles = {
        "placebo_1": _("I: list estimate among those who said yes directly"),
        "placebo_2": _("II: direct share, treatment minus control"),
    }
    return [
        {"title": title, "test": combined[key]}
        for key, title in titles.items()
        if key in combined
    ]
