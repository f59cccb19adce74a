"""Filters that show proportions from estimate results as percentages on pages."""

from django import template

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
