"""Fielding services that write respondents outside the interview flow."""

import logging

import numpy as np
from django.db import transaction
from django.utils.translation import gettext as _

from fielding.errors import FieldingError
from fielding.models import Assignment, Response
from fielding.records import RespondentRecord, respondents_store
from fielding.simulation import memo_respondents, resample
from survey.models import Settlement, Wave

logger = logging.getLogger(__name__)

MEMO = "memo"
DATA = "data"
DEMO_SURVEY_CODE = "kz-csto-2022"


def default_simulation_source(wave: Wave) -> str:
    return MEMO if wave.survey.code == DEMO_SURVEY_CODE else DATA


def responses_simulate(
    *, wave: Wave, n: int, source: str | None = None, seed=None
) -> int:
    """Add ``n`` simulated respondents to a wave that is not closed.

    ``memo`` draws from the founding memo's Table 1 (its survey only); ``data``
    resamples the wave's own respondents, answers, arm and counts together.
    """
    if n < 1:
        raise FieldingError(_("Ask for at least one simulated respondent."))
    if seed is not None and not 0 <= seed < 2**63:
        raise FieldingError(_("A seed is a whole number from 0 to 2**63 - 1."))
    source = source or default_simulation_source(wave)
    rng = np.random.default_rng(seed)

    with transaction.atomic():
        wave = Wave.objects.select_for_update().select_related("survey").get(pk=wave.pk)
        if wave.is_closed:
            raise FieldingError(
                _("Wave “%(wave)s” is closed; nothing can be added.")
                % {"wave": wave.name}
            )
        experiment = wave.survey.experiments.order_by("position", "id").first()
        if experiment is None:
            raise FieldingError(_("The wave's survey has no list experiment."))
        if source == MEMO:
            records = memo_records(wave, rng, n)
        elif source == DATA:
            records = resampled_records(wave, experiment, rng, n)
        else:
            raise FieldingError(_("Simulate from “memo” or “data”."))
        respondents_store(
            wave=wave,
            experiment=experiment,
            records=records,
            source=Assignment.SIMULATION,
        )

    logger.info("Added %s simulated respondents (%s) to wave %s", n, source, wave.pk)
    return n


def memo_records(wave: Wave, rng, n: int) -> list[RespondentRecord]:
    if wave.survey.code != DEMO_SURVEY_CODE:
        raise FieldingError(
            _("The memo's assumptions fit only the founding survey; use --from data.")
        )
    places = places_by_stratum(wave)
    if not all(places.get(code) for code in ("almaty", "astana", "other")):
        raise FieldingError(
            _("The wave needs strata almaty, astana and other, each with a place.")
        )
    records = []
    for person in memo_respondents(rng, n):
        candidates = places[person.stratum]
        records.append(
            RespondentRecord(
                arm=person.arm,
                status=person.status,
                count=person.count,
                place=candidates[int(rng.integers(0, len(candidates)))],
                answers=person.answers,
                mode=Wave.TABLET,
            )
        )
    return records


def places_by_stratum(wave: Wave) -> dict:
    """Settlements each stratum can draw from; the rest stratum takes the others."""
    named = {}
    for stratum in wave.strata.prefetch_related("settlements"):
        named[stratum.code] = list(stratum.settlements.all())
    rest = next((s.code for s in wave.strata.all() if s.is_rest), None)
    if rest is not None:
        taken = {p.pk for places in named.values() for p in places}
        named[rest] = named[rest] or list(Settlement.objects.exclude(pk__in=taken))
    return named


def resampled_records(wave: Wave, experiment, rng, n: int) -> list[RespondentRecord]:
    rows = list(
        Assignment.objects.filter(
            respondent__wave=wave, experiment=experiment
        ).values_list(
            "arm",
            "response__status",
            "response__count",
            "response__second_count",
            "respondent__answers",
            "respondent__place",
            "respondent__weight",
            "respondent__mode",
        )
    )
    if not rows:
        raise FieldingError(
            _("Wave “%(wave)s” has no respondents to resample from.")
            % {"wave": wave.name}
        )
    places = Settlement.objects.in_bulk({row[5] for row in rows if row[5] is not None})
    records = []
    for index in resample(rng, len(rows), n):
        arm, status, count, second, answers, place, weight, mode = rows[int(index)]
        complete = status == Response.COMPLETE
        records.append(
            RespondentRecord(
                arm=arm,
                status=status,
                count=count if complete else None,
                second_count=second if complete else None,
                place=places.get(place),
                weight=weight,
                answers=dict(answers),
                mode=mode,
            )
        )
    return records
