"""Rehearsals of a planned wave: synthetic draws against the closed forms.

Tolerances come from the Monte Carlo error of D = 2,000 draws, and are three Monte
Carlo standard errors wide:

- a share (coverage, power) pi: sqrt(pi (1 - pi) / D), 0.0049 at 95% and at most
  0.0112, so 3 MC SE is at most 0.034;
- a standard deviation s: s / sqrt(2 (D - 1)), 1.6% of s, so 3 MC SE is 4.7%;
- a mean (bias): s / sqrt(D).

The seeds are fixed, so each test gives the same numbers on every run.
"""

import functools

import numpy as np
import pytest

from analysis.estimators import difference_by_level, difference_in_means
from analysis.estimators.contrasts import group_difference
from analysis.estimators.weighted import weighted_difference_in_means
from analysis.planning.power import (
    PlanningError,
    SourceWave,
    StratumPlan,
    WavePlan,
    items_distribution,
    parse_contrast,
    stratum_from_items,
)
from analysis.planning.rehearsal import rehearse, synthetic_wave

DRAWS = 2000
SEED = 20240601
ITEMS = (0.8, 0.7, 0.6, 0.5)


def pilot_like(weights=(None, None, None)) -> WavePlan:
    """Three strata like the pilot's; astana's low prevalence gives middling power."""
    return WavePlan(
        J=4,
        strata=(
            StratumPlan(
                "almaty", 1000, 0.75, 0.27, control_mean=2.81, weight=weights[0]
            ),
            StratumPlan("astana", 800, 0.8, 0.15, control_mean=2.71, weight=weights[1]),
            StratumPlan("other", 1200, 0.7, 0.64, control_mean=2.81, weight=weights[2]),
        ),
    )


CONTRAST = parse_contrast("almaty-rest", ["almaty", "astana", "other"])
PREVIOUS = SourceWave(
    J=4, strata={}, estimate=0.559, se=0.03, weighted=False, control_counts={}
)


@functools.cache
def unweighted():
    return rehearse(pilot_like(), draws=DRAWS, seed=SEED, contrasts=[CONTRAST])


@functools.cache
def weighted():
    plan = pilot_like((0.5, 0.4, 1.8))
    return rehearse(
        plan, draws=DRAWS, seed=SEED, contrasts=[CONTRAST], previous=PREVIOUS
    )


def share_mc(pi: float) -> float:
    return (pi * (1 - pi) / DRAWS) ** 0.5


def test_each_draw_is_what_the_estimators_give_on_its_synthetic_wave():
    result = unweighted()
    for draw in (0, 1, DRAWS - 1):
        wave = synthetic_wave(pilot_like(), draw=draw, seed=SEED)
        counts, treated, strata = wave["counts"], wave["treated"], wave["strata"]

        overall = difference_in_means(counts, treated)
        assert result.estimates["overall"][draw] == pytest.approx(
            overall.estimate, abs=1e-12
        )
        assert result.ses["overall"][draw] == pytest.approx(overall.se, abs=1e-12)

        levels = dict(difference_by_level(counts, treated, strata).levels)
        for code, level in levels.items():
            assert result.estimates[code][draw] == pytest.approx(
                level.estimate, abs=1e-12
            )
            assert result.ses[code][draw] == pytest.approx(level.se, abs=1e-12)

        rest = np.where(strata == "almaty", "almaty", "rest")
        contrast = group_difference(
            counts, treated, rest, variable="stratum", a="almaty", b="rest"
        )
        assert result.estimates["almaty-rest"][draw] == pytest.approx(
            contrast.estimate, abs=1e-12
        )
        assert result.ses["almaty-rest"][draw] == pytest.approx(contrast.se, abs=1e-12)


def test_each_weighted_draw_is_what_the_weighted_estimators_give():
    plan = pilot_like((0.5, 0.4, 1.8))
    result = weighted()
    for draw in (0, 7, DRAWS - 1):
        wave = synthetic_wave(plan, draw=draw, seed=SEED)
        design = {"weights": wave["weights"], "strata": wave["strata"]}

        overall = weighted_difference_in_means(
            wave["counts"], wave["treated"], **design
        )
        assert result.estimates["overall"][draw] == pytest.approx(
            overall.estimate, abs=1e-12
        )
        assert result.ses["overall"][draw] == pytest.approx(overall.se, abs=1e-12)

        rest = np.where(wave["strata"] == "almaty", "almaty", "rest")
        contrast = group_difference(
            wave["counts"], wave["treated"], rest, variable="s", a="almaty", b="rest",
            **design,
        )  # fmt: skip
        assert result.estimates["almaty-rest"][draw] == pytest.approx(
            contrast.estimate, abs=1e-12
        )
        assert result.ses["almaty-rest"][draw] == pytest.approx(contrast.se, abs=1e-12)


def test_the_95_percent_intervals_cover_the_truth_94_to_96_percent_of_draws():
    for result in (unweighted(), weighted()):
        overall = result.quantity("overall")
        assert 0.94 <= overall.coverage <= 0.96, overall.coverage


def test_every_quantity_covers_within_simulation_error_of_95_percent():
    for result in (unweighted(), weighted()):
        for label in ("almaty", "astana", "other", "almaty-rest"):
            quantity = result.quantity(label)
            assert abs(quantity.coverage - 0.95) <= 3 * share_mc(0.95), label


def test_estimates_are_unbiased_within_simulation_error():
    for result in (unweighted(), weighted()):
        for label in ("overall", "almaty", "astana", "other", "almaty-rest"):
            quantity = result.quantity(label)
            assert abs(quantity.bias) <= 3 * quantity.bias_mc, label


def test_the_closed_form_se_agrees_with_the_spread_of_the_estimates():
    for result in (unweighted(), weighted()):
        for label in ("almaty", "astana", "other", "almaty-rest"):
            quantity = result.quantity(label)
            gap = abs(quantity.empirical_se - quantity.expected_se)
            assert gap <= 3 * quantity.empirical_se_mc, label

        # The overall estimate combines the strata; stratum by stratum is exact
        # under permuted blocks, Kish's approximation close when strata vary alike.
        overall = result.quantity("overall")
        gap = abs(overall.empirical_se - overall.expected_se_strata)
        assert gap <= 3 * overall.empirical_se_mc


def test_the_closed_form_power_agrees_with_the_share_of_draws_rejecting_zero():
    result = unweighted()
    astana = result.quantity("astana")
    # Astana: p = 0.15, SE 0.0657, power about 0.63, the most telling case.
    assert 0.5 < astana.expected_power < 0.75

    for label in ("almaty", "astana", "other", "almaty-rest", "overall"):
        quantity = result.quantity(label)
        gap = abs(quantity.power - quantity.expected_power)
        assert gap <= 3 * share_mc(quantity.expected_power), label


def test_ignoring_the_weights_biases_the_overall_estimate():
    unweighted_overall = weighted().quantity("overall (unweighted)")
    assert unweighted_overall.bias < -0.1
    assert unweighted_overall.coverage < 0.5


def test_the_change_from_the_source_wave_is_rehearsed_with_its_variance():
    change = weighted().quantity("change overall")

    assert change.kind == "change"
    assert change.truth == pytest.approx(weighted().quantity("overall").truth - 0.559)
    assert abs(change.coverage - 0.95) <= 3 * share_mc(0.95)
    assert abs(change.empirical_se - change.expected_se) <= 3 * change.empirical_se_mc
    assert abs(change.power - change.expected_power) <= 3 * share_mc(
        change.expected_power
    )


def test_the_same_seed_gives_the_same_rehearsal_twice():
    plan = pilot_like()
    first = rehearse(plan, draws=20, seed=5, contrasts=[CONTRAST]).to_dict()
    second = rehearse(plan, draws=20, seed=5, contrasts=[CONTRAST]).to_dict()
    other = rehearse(plan, draws=20, seed=6, contrasts=[CONTRAST]).to_dict()

    assert first == second
    assert first != other


def test_a_draw_does_not_depend_on_how_many_draws_are_asked_for():
    few = rehearse(pilot_like(), draws=300, seed=SEED)
    assert np.array_equal(
        few.estimates["overall"], unweighted().estimates["overall"][:300]
    )


def one_stratum_from_items(n=1000, prevalence=0.5, covariance=0.0) -> WavePlan:
    stratum = stratum_from_items("all", n, ITEMS, prevalence, covariance=covariance)
    return WavePlan(J=4, strata=(stratum,))


def test_ceiling_deflators_bias_the_estimate_by_their_share_at_the_ceiling():
    # Bias = -d * p * P(control count = J) = -0.5 * 0.5 * (0.8 * 0.7 * 0.6 * 0.5).
    expected = -0.5 * 0.5 * items_distribution(ITEMS)[4]
    result = rehearse(one_stratum_from_items(), draws=DRAWS, seed=SEED, deflators=0.5)

    overall = result.quantity("overall")
    assert abs(overall.bias - expected) <= 3 * overall.bias_mc
    assert overall.bias < -0.03


def test_the_covariance_of_the_sensitive_item_enters_the_spread_as_planned():
    # V_T = 0.86 + 0.25 + 2 * 0.15 = 1.41: the SE is 7% above that at C = 0.
    result = rehearse(one_stratum_from_items(covariance=0.15), draws=DRAWS, seed=SEED)

    overall = result.quantity("overall")
    assert overall.expected_se == pytest.approx(((1.41 + 0.86) / 500) ** 0.5)
    assert (
        abs(overall.empirical_se - overall.expected_se) <= 3 * overall.empirical_se_mc
    )
    assert abs(overall.bias) <= 3 * overall.bias_mc


def test_arms_come_from_the_allocation_engine():
    plan = one_stratum_from_items(n=400)

    blocked = synthetic_wave(plan, draw=3, seed=SEED, block_sizes=(4,))
    assert (blocked["treated"].reshape(-1, 4).sum(axis=1) == 2).all()

    sizes = {
        int(
            synthetic_wave(plan, draw=d, seed=SEED, allocation="simple")[
                "treated"
            ].sum()
        )
        for d in range(5)
    }
    assert len(sizes) > 1


def test_progress_is_reported_up_to_every_respondent():
    calls = []
    rehearse(
        pilot_like(), draws=10, seed=1, progress=lambda done, total: calls.append(done)
    )
    assert calls == sorted(calls)
    assert calls[-1] == 10 * 3000


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"draws": 1}, "draws"),
        ({"seed": -1}, "seed"),
        ({"deflators": 1.5}, "deflators"),
        ({"allocation": "coin"}, "allocation"),
        ({"block_sizes": (5,)}, "allocation"),
    ],
)
def test_bad_options_are_refused_naming_them(options, field):
    arguments = {"draws": 10, "seed": 1, **options}
    with pytest.raises(PlanningError) as raised:
        rehearse(pilot_like(), **arguments)
    assert raised.value.field == field


def test_a_plan_without_a_control_mean_cannot_be_drawn():
    plan = WavePlan(J=4, strata=(StratumPlan("all", 100, 0.9, 0.5),))
    with pytest.raises(PlanningError) as raised:
        rehearse(plan, draws=10, seed=1)
    assert raised.value.field == "control_mean"


def test_a_covariance_the_prevalence_cannot_carry_is_refused():
    # With mean 2.6, p + (C / 0.86) (0 - 2.6) < 0 once C > 0.165.
    with pytest.raises(PlanningError) as raised:
        rehearse(one_stratum_from_items(covariance=0.3), draws=10, seed=1)
    assert raised.value.field == "covariance"
