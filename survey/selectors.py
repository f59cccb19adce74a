"""Reads about surveys and waves that views, commands and services share."""

from collections.abc import Callable

from survey.models import Settlement, Stratum, Wave


def stratum_lookup(wave: Wave) -> Callable[[Settlement | None], Stratum | None]:
    """A function from a place of interview to its stratum in ``wave``'s plan."""
    strata = list(wave.strata.prefetch_related("settlements"))
    by_place = {s.pk: stratum for stratum in strata for s in stratum.settlements.all()}
    rest = next((stratum for stratum in strata if stratum.is_rest), None)

    def lookup(place: Settlement | None) -> Stratum | None:
        if place is None:
            return None
        return by_place.get(place.pk, rest)

    return lookup


def waves_for_analysis():
    return Wave.objects.select_related("survey").order_by("-created_at", "-id")
