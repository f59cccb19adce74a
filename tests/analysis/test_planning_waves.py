"""What the planner page and the command share: a stored rehearsal, a stored source
wave, shares for a total, an expected change, and reading a source wave."""

import json

import numpy as np
import pytest

from analysis.planning.power import (
    PlanningError,
    SourceWave,
    StratumPlan,
    WavePlan,
    parse_contrast,
    plan_summary,
    shifted_prevalence,
    source_summary,
    stratum_shares,
)
from analysis.planning.rehearsal import (
    check_rehearsal,
    rehearsal_specification,
    rehearse,
    rehearse_specification,
)
from analysis.planning.waves import source_from_wave
from tests.conftest import import_csv


def a_source() -> SourceWave:
    """A small two-stratum source wave, J = 2, from counts typed here."""
    counts = [0, 1, 2, 1, 1, 2, 3, 2, 0, 1, 1, 2, 2, 3, 1, 0]
    treated = [0, 0, 0, 0, 1, 1, 1, 1] * 2
    strata = ["a"] * 8 + ["b"] * 8
    return source_summary(counts, treated, strata, 2)


def a_plan() -> WavePlan:
    return WavePlan(
        J=4,
        strata=(
            StratumPlan("a", 300, 0.8, 0.3, control_mean=2.5, weight=0.5),
            StratumPlan("b", 500, 0.9, 0.6, control_mean=2.7, weight=1.5),
        ),
    )


def test_a_stored_source_wave_gives_the_same_changes():
    source = a_source()

    stored = SourceWave.from_dict(json.loads(json.dumps(source.to_dict())))

    plan = WavePlan(
        J=2,
        strata=(
            StratumPlan("a", 200, 0.5, 0.4, control_mean=1.0),
            StratumPlan("b", 200, 0.5, 0.4, control_mean=1.0),
        ),
    )
    assert plan_summary(plan, previous=stored) == plan_summary(plan, previous=source)
    assert (
        stored.strata["a"].count_distribution == source.strata["a"].count_distribution
    )
    with pytest.raises(PlanningError) as refused:
        SourceWave.from_dict({"J": 2})
    assert refused.value.field == "source"


def test_a_stored_rehearsal_runs_as_the_rehearsal_itself():
    plan = a_plan()
    contrast = parse_contrast("a-rest", plan.codes)
    previous = SourceWave(
        J=4, strata={}, estimate=0.5, se=0.04, weighted=False, control_counts={}
    )
    options = {"draws": 50, "seed": 9, "deflators": 0.1}

    spec = rehearsal_specification(
        plan, contrasts=[contrast], previous=previous, **options
    )
    stored = rehearse_specification(json.loads(json.dumps(spec)))

    direct = rehearse(plan, contrasts=[contrast], previous=previous, **options)
    assert stored.to_dict() == direct.to_dict()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"draws": 1}, "draws"),
        ({"draws": 10**9}, "draws"),
        ({"seed": -1}, "seed"),
        ({"deflators": 2.0}, "deflators"),
        ({"block_sizes": (3,)}, "allocation"),
        ({"allocation": "coin"}, "allocation"),
    ],
)
def test_rehearsal_options_are_checked_before_anything_is_drawn(options, field):
    with pytest.raises(PlanningError) as refused:
        check_rehearsal(a_plan(), **{"draws": 100, "seed": 1, **options})

    assert refused.value.field == field


def test_a_total_is_split_by_the_source_shares_only_when_it_has_every_stratum():
    source = a_source()

    assert stratum_shares(["a", "b"], source) == {"a": 0.5, "b": 0.5}
    assert stratum_shares(["b"], source) == {"b": 1.0}
    assert stratum_shares(["a", "new"], source) == {"a": 0.5, "new": 0.5}


def test_an_expected_change_moves_each_stratum_and_stops_at_0_and_1():
    source = a_source()
    a, b = source.strata["a"].estimate, source.strata["b"].estimate

    shifted = shifted_prevalence(source, -0.2)

    assert shifted["a"] == pytest.approx(np.clip(a - 0.2, 0, 1))
    assert shifted["b"] == pytest.approx(np.clip(b - 0.2, 0, 1))
    assert shifted_prevalence(source, 1.0) == {"a": 1.0, "b": 1.0}
    with pytest.raises(PlanningError) as refused:
        shifted_prevalence(source, float("inf"))
    assert refused.value.field == "change"


def test_a_wave_without_both_arms_cannot_be_planned_from(db):
    wave = import_csv(
        b"y,treat\n1,0\n2,0\n3,0\n", items=3, outcome="y", treat="treat"
    ).wave

    with pytest.raises(PlanningError) as refused:
        source_from_wave(wave)

    assert refused.value.field == "source"
