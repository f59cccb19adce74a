"""Closed forms for planning a wave, checked against hand computations.

Every expected value below is worked out by hand in the comment beside it, from the
formulas in docs/planning.md: Var = V_T / n_T + V_C / n_C with V_T = V_C + p(1 - p)
+ 2C (Blair and Imai 2012), MDE = (z_0.975 + z_0.80) SE, Kish's deff = n sum w^2 /
(sum w)^2. Quantiles: z_0.975 = 1.959963984540054, z_0.80 = 0.8416212335729143
(R: qnorm(0.975), qnorm(0.8)).
"""

import json
import math

import numpy as np
import pytest

from analysis.planning.power import (
    Contrast,
    PlanningError,
    StratumPlan,
    WavePlan,
    arm_sizes,
    change_precision,
    contrast_precision,
    control_moments,
    distribution_moments,
    group_precision,
    items_distribution,
    kish_design_effect,
    mde_multiplier,
    moments_distribution,
    overall_precision,
    parse_contrast,
    plan_for_se,
    plan_from_assumptions,
    plan_from_source,
    plan_summary,
    power_at,
    source_summary,
    split_total,
    stratum_n_for_se,
    stratum_precision,
    target_se,
    variance_bounds,
)

EXACT = 1e-12
MULTIPLIER = 1.959963984540054 + 0.8416212335729143


def one_stratum(n=1000, control_var=0.9, prevalence=0.5, **kwargs) -> WavePlan:
    stratum = StratumPlan("all", n, control_var, prevalence, **kwargs)
    return WavePlan(J=4, strata=(stratum,))


def three_strata(weights=(None, None, None), control_var=(0.75, 0.8, 0.7)) -> WavePlan:
    strata = (
        StratumPlan("almaty", 1000, control_var[0], 0.27, weight=weights[0]),
        StratumPlan("astana", 800, control_var[1], 0.29, weight=weights[1]),
        StratumPlan("other", 1200, control_var[2], 0.64, weight=weights[2]),
    )
    return WavePlan(J=4, strata=strata)


def test_the_mde_multiplier_is_the_sum_of_the_two_normal_quantiles():
    assert mde_multiplier(0.05, 0.8) == pytest.approx(MULTIPLIER, abs=EXACT)
    assert mde_multiplier(0.01, 0.9) == pytest.approx(
        2.5758293035489004 + 1.2815515655446004, abs=EXACT
    )


def test_one_stratum_se_and_mde_are_the_hand_computed_ones():
    # 500 per arm; V_T = 0.9 + 0.25 = 1.15; SE = sqrt(1.15/500 + 0.9/500)
    # = sqrt(0.0041) = 0.0640312423743285.
    result = overall_precision(one_stratum())

    assert (result.n_treatment, result.n_control) == (500, 500)
    assert result.se == pytest.approx(math.sqrt(0.0041), abs=EXACT)
    assert result.mde == pytest.approx(MULTIPLIER * math.sqrt(0.0041), abs=EXACT)
    assert result.deff == pytest.approx(1.0, abs=EXACT)


def test_the_ratio_and_the_covariance_enter_as_written():
    # 2:1 of 1000 -> 667 treatment, 333 control; V_T = 0.9 + 0.25 + 2 * 0.05 = 1.25;
    # SE = sqrt(1.25/667 + 0.9/333).
    plan = WavePlan(
        J=4, strata=(StratumPlan("all", 1000, 0.9, 0.5, covariance=0.05),), ratio=(2, 1)
    )
    result = overall_precision(plan)

    assert (result.n_treatment, result.n_control) == (667, 333)
    assert result.se == pytest.approx(math.sqrt(1.25 / 667 + 0.9 / 333), abs=EXACT)


def test_arm_sizes_round_half_up_and_never_shrink():
    assert arm_sizes(1001, (1, 1)) == (501, 500)
    assert arm_sizes(1000, (2, 1)) == (667, 333)
    assert arm_sizes(10, (1, 3)) == (3, 7)  # 2.5 rounds up to 3

    sizes = [arm_sizes(n, (2, 3)) for n in range(4, 200)]
    assert all(
        later[0] >= earlier[0] and later[1] >= earlier[1]
        for earlier, later in zip(sizes, sizes[1:])
    )


def test_independent_items_give_the_sum_of_their_bernoulli_moments():
    # mean 0.8 + 0.7 + 0.6 + 0.5 = 2.6; variance 0.16 + 0.21 + 0.24 + 0.25 = 0.86.
    mean, variance = control_moments([0.8, 0.7, 0.6, 0.5])
    assert (mean, variance) == (pytest.approx(2.6, abs=EXACT), pytest.approx(0.86))

    dist = items_distribution([0.8, 0.7, 0.6, 0.5])
    assert dist.sum() == pytest.approx(1.0, abs=EXACT)
    assert dist[4] == pytest.approx(0.8 * 0.7 * 0.6 * 0.5, abs=EXACT)
    assert distribution_moments(dist) == (
        pytest.approx(2.6, abs=EXACT),
        pytest.approx(0.86, abs=EXACT),
    )


@pytest.mark.parametrize("variance", [0.0576, 0.3, 0.6, 0.7728, 1.2, 3.3024])
def test_a_distribution_built_from_moments_has_exactly_those_moments(variance):
    # Mean 2.76 on 0..4, f = 0.76: least variance f (1 - f) = 0.1824; binomial
    # 2.76 * (1 - 2.76 / 4) = 0.8556; most 2.76 * (4 - 2.76) = 3.4224.
    low, binomial, high = variance_bounds(4, 2.76)
    assert (low, binomial, high) == (
        pytest.approx(0.1824),
        pytest.approx(0.8556),
        pytest.approx(3.4224),
    )

    variance = min(max(variance, low), high)
    dist = moments_distribution(4, 2.76, variance)
    assert (dist >= 0).all()
    mean, var = distribution_moments(dist)
    assert mean == pytest.approx(2.76, abs=1e-12)
    assert var == pytest.approx(variance, abs=1e-12)


def test_kish_design_effect_is_n_sum_w2_over_sum_w_squared():
    # n = 3000; sum n w^2 = 1000*0.25 + 800*0.16 + 1200*3.24 = 4266;
    # (sum n w)^2 = 2980^2 = 8880400; deff = 3000 * 4266 / 8880400.
    deff = kish_design_effect([1000, 800, 1200], [0.5, 0.4, 1.8])
    assert deff == pytest.approx(3000 * 4266 / 8880400, abs=EXACT)
    assert kish_design_effect([10, 20], [2.0, 2.0]) == pytest.approx(1.0, abs=EXACT)


def test_without_weights_the_overall_se_pools_the_strata_by_size():
    # deff = 1; Vbar_C = (1000*0.75 + 800*0.8 + 1200*0.7) / 3000;
    # Vbar_T adds sum (n_h / n) p_h (1 - p_h).
    plan = three_strata()
    shares = np.array([1000, 800, 1200]) / 3000
    v_c = shares @ [0.75, 0.8, 0.7]
    v_t = v_c + shares @ [0.27 * 0.73, 0.29 * 0.71, 0.64 * 0.36]

    result = overall_precision(plan)

    assert result.se == pytest.approx(math.sqrt(v_t / 1500 + v_c / 1500), abs=EXACT)
    assert result.effect == pytest.approx(shares @ [0.27, 0.29, 0.64], abs=EXACT)
    # Permuted blocks fix every stratum's arms, so the stratified combination
    # sqrt(sum (n_h/n)^2 se_h^2) is the same number here.
    assert result.se_strata == pytest.approx(result.se, rel=1e-12)


def test_with_weights_kish_multiplies_the_pooled_se_by_root_deff():
    weights = (0.5, 0.4, 1.8)
    plan = three_strata(weights)
    totals = np.array([1000 * 0.5, 800 * 0.4, 1200 * 1.8])
    shares = totals / totals.sum()
    v_c = shares @ [0.75, 0.8, 0.7]
    v_t = v_c + shares @ [0.27 * 0.73, 0.29 * 0.71, 0.64 * 0.36]
    deff = 3000 * 4266 / 8880400

    result = overall_precision(plan)

    assert result.deff == pytest.approx(deff, abs=EXACT)
    assert result.se == pytest.approx(
        math.sqrt(deff * (v_t / 1500 + v_c / 1500)), abs=EXACT
    )
    assert result.effect == pytest.approx(shares @ [0.27, 0.29, 0.64], abs=EXACT)
    strata = [stratum_precision(plan, c).se for c in ("almaty", "astana", "other")]
    assert result.se_strata == pytest.approx(
        math.sqrt(sum((w * s) ** 2 for w, s in zip(shares, strata))), abs=EXACT
    )


def test_kish_is_exact_when_the_strata_vary_alike():
    plan = WavePlan(
        J=4,
        strata=[
            StratumPlan(code, n, 0.8, 0.4, weight=w)
            for code, n, w in (("a", 600, 1.0), ("b", 300, 3.0), ("c", 900, 0.5))
        ],
    )
    result = overall_precision(plan)
    assert result.se == pytest.approx(result.se_strata, rel=1e-12)


def test_a_contrast_adds_the_variances_of_independent_groups():
    plan = three_strata()
    almaty = stratum_precision(plan, "almaty")
    rest = group_precision(plan, ("astana", "other"))

    result = contrast_precision(plan, parse_contrast("almaty-rest", plan.codes))

    assert result.se == pytest.approx(math.sqrt(almaty.se**2 + rest.se**2), abs=EXACT)
    # Rest pools astana (800, p = 0.29) and other (1200, p = 0.64) by size.
    assert result.effect == pytest.approx(0.27 - (800 * 0.29 + 1200 * 0.64) / 2000)
    assert result.mde == pytest.approx(MULTIPLIER * result.se, abs=EXACT)
    assert result.power == pytest.approx(power_at(result.effect, result.se))


def test_the_change_from_the_source_wave_adds_its_variance():
    plan = one_stratum(prevalence=0.45)
    new = overall_precision(plan)

    change = change_precision(plan, new, previous_estimate=0.559, previous_se=0.05)

    # V_T = 0.9 + 0.45 * 0.55 = 1.1475; se_new^2 = (1.1475 + 0.9) / 500 = 0.004095.
    assert change.se == pytest.approx(math.sqrt(0.004095 + 0.0025), abs=EXACT)
    assert change.effect == pytest.approx(0.45 - 0.559, abs=EXACT)
    assert change.label == "change overall"


def test_power_is_alpha_at_zero_and_the_plan_power_at_the_mde():
    assert power_at(0.0, 0.05) == pytest.approx(0.05, abs=EXACT)
    se = 0.04
    mde = MULTIPLIER * se
    # The far tail adds Phi(-1.96 - 2.80) = 9.6e-7.
    assert power_at(mde, se) == pytest.approx(0.8, abs=2e-6)
    assert power_at(-mde, se) == power_at(mde, se)


def test_the_stratum_sample_for_a_target_se_is_the_smallest_that_reaches_it():
    # (V_T / 0.5 + V_C / 0.5) / SE^2 = (2.3 + 1.8) / 0.0009 = 4555.6 -> 4556.
    plan = one_stratum()
    n = stratum_n_for_se(plan, "all", 0.03)

    assert n == 4556
    assert stratum_precision(plan.with_sizes({"all": n}), "all").se <= 0.03
    assert stratum_precision(plan.with_sizes({"all": n - 1}), "all").se > 0.03


def test_a_target_mde_becomes_the_se_that_gives_it():
    assert target_se(mde=0.1) == pytest.approx(0.1 / MULTIPLIER, abs=EXACT)
    assert target_se(se=0.02) == 0.02
    with pytest.raises(PlanningError) as raised:
        target_se(se=0.02, mde=0.1)
    assert raised.value.field == "target"
    with pytest.raises(PlanningError):
        target_se(se=-1)


def test_the_plan_scaled_for_a_target_keeps_its_proportions_and_reaches_it():
    plan = three_strata((0.5, 0.4, 1.8))
    target = 0.03
    scaled = plan_for_se(plan, target)

    assert overall_precision(scaled).se <= target
    smaller = scaled.with_sizes({s.code: s.n - 2 for s in scaled.strata})
    assert overall_precision(smaller).se > target
    # SE scales as 1 / sqrt(n): the factor is (se / target)^2, up to rounding.
    factor = (overall_precision(plan).se / target) ** 2
    for before, after in zip(plan.strata, scaled.strata):
        assert after.n == pytest.approx(before.n * factor, abs=2)


def test_a_contrast_target_scales_the_whole_plan():
    plan = three_strata()
    contrast = parse_contrast("almaty-rest", plan.codes)
    scaled = plan_for_se(plan, 0.05, contrast)
    assert contrast_precision(scaled, contrast).se <= 0.05
    assert scaled.n > plan.n


def test_a_target_beyond_any_sample_is_refused():
    with pytest.raises(PlanningError) as raised:
        plan_for_se(one_stratum(), 1e-6)
    assert raised.value.field == "target"


def test_contrasts_read_hyphenated_codes_and_rest():
    codes = ["north-east", "south", "west"]
    contrast = parse_contrast("north-east-rest", codes)
    assert contrast == Contrast(("north-east",), ("south", "west"), "north-east-rest")
    assert parse_contrast("south-west", codes).b == ("west",)

    for bad in ("south", "south-south", "east-west", "north-rest"):
        with pytest.raises(PlanningError) as raised:
            parse_contrast(bad, codes)
        assert raised.value.field == "contrast"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"prevalence": 1.2}, "prevalence"),
        ({"control_var": 4.5}, "control_var"),
        ({"control_var": -0.1}, "control_var"),
        ({"covariance": 0.5}, "covariance"),
        ({"n": 3}, "n"),
        ({"control_mean": 5.0}, "control_mean"),
        ({"control_mean": 0.2, "control_var": 1.5}, "control_var"),
        ({"weight": 0.0}, "weights"),
    ],
)
def test_impossible_assumptions_are_refused_naming_the_input(kwargs, field):
    values = {"n": 1000, "control_var": 0.9, "prevalence": 0.5, **kwargs}
    with pytest.raises(PlanningError) as raised:
        one_stratum(**values)
    assert raised.value.field == field
    assert raised.value.stratum == "all"


def test_weights_are_needed_for_every_stratum_or_none():
    with pytest.raises(PlanningError) as raised:
        three_strata((1.0, None, 2.0))
    assert raised.value.field == "weights"


def test_a_plan_from_assumptions_takes_one_value_or_one_per_stratum():
    plan = plan_from_assumptions(
        4,
        {"almaty": 400, "other": 600},
        prevalence={"almaty": 0.3, "other": 0.6},
        control_var=0.9,
        weights={"almaty": 0.5, "other": 1.5},
    )
    assert [s.prevalence for s in plan.strata] == [0.3, 0.6]
    assert [s.control_var for s in plan.strata] == [0.9, 0.9]

    items = plan_from_assumptions(
        4, {"all": 500}, prevalence=0.4, item_probabilities=[0.8, 0.7, 0.6, 0.5]
    )
    assert items.strata[0].control_var == pytest.approx(0.86)
    assert items.strata[0].control_mean == pytest.approx(2.6)

    with pytest.raises(PlanningError) as raised:
        plan_from_assumptions(
            4, {"almaty": 400}, prevalence={"almaty": 0.3, "astana": 0.2}, control_var=1
        )
    assert (raised.value.field, raised.value.stratum) == ("prevalence", "astana")
    with pytest.raises(PlanningError) as raised:
        plan_from_assumptions(4, {"all": 400}, prevalence=0.3)
    assert raised.value.field == "control_var"


def source_arrays():
    """Two strata with known control and treatment counts (J = 3)."""
    control_a = [0, 1, 1, 2, 2, 2, 3, 3]
    treatment_a = [1, 2, 2, 3, 3, 3, 4, 2]
    control_b = [1, 1, 2, 2]
    treatment_b = [2, 2, 3, 1]
    counts = control_a + treatment_a + control_b + treatment_b
    treated = [0] * 8 + [1] * 8 + [0] * 4 + [1] * 4
    strata = ["a"] * 16 + ["b"] * 8
    return np.array(counts, float), np.array(treated, bool), np.array(strata, object)


def test_a_source_wave_gives_each_stratums_control_moments_and_estimate():
    counts, treated, strata = source_arrays()
    source = source_summary(counts, treated, strata, 3)

    a = source.strata["a"]
    control = np.array([0, 1, 1, 2, 2, 2, 3, 3])
    assert a.control_mean == pytest.approx(control.mean())
    assert a.control_var == pytest.approx(control.var(ddof=1))
    assert a.count_distribution == pytest.approx((1 / 8, 2 / 8, 3 / 8, 2 / 8))
    assert a.estimate == pytest.approx(20 / 8 - 14 / 8)
    assert source.strata["b"].estimate == pytest.approx(2.0 - 1.5)
    assert source.estimate == pytest.approx(28 / 12 - 20 / 12)

    plan = plan_from_source(source, {"a": 200, "b": 100}, prevalence={"b": 0.2})
    assert plan.stratum("a").control_var == pytest.approx(control.var(ddof=1))
    assert plan.stratum("a").prevalence == pytest.approx(0.75)
    assert plan.stratum("b").prevalence == 0.2
    assert plan.stratum("a").count_distribution == a.count_distribution

    with pytest.raises(PlanningError) as raised:
        plan_from_source(source, {"a": 200, "c": 100})
    assert (raised.value.field, raised.value.stratum) == ("strata", "c")


def test_a_source_wave_with_an_impossible_count_is_refused():
    counts, treated, strata = source_arrays()
    counts[0] = 7
    with pytest.raises(PlanningError) as raised:
        source_summary(counts, treated, strata, 3)
    assert raised.value.field == "source"


def test_split_total_hands_out_the_remainder_by_largest_fraction():
    assert split_total(10, {"a": 0.55, "b": 0.25, "c": 0.2}) == {"a": 6, "b": 2, "c": 2}
    assert sum(split_total(1001, {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}).values()) == 1001


def test_the_summary_holds_every_quantity_as_plain_values():
    plan = three_strata((0.5, 0.4, 1.8))
    contrast = parse_contrast("almaty-rest", plan.codes)

    summary = plan_summary(plan, contrasts=[contrast], target=0.04)

    assert summary["overall"]["se"] == overall_precision(plan).se
    assert set(summary["strata"]) == {"almaty", "astana", "other"}
    assert summary["contrasts"][0]["label"] == "almaty-rest"
    assert summary["needed"]["strata"]["almaty"]["n"] == stratum_n_for_se(
        plan, "almaty", 0.04
    )
    assert summary["changes"] == []


def test_a_plan_survives_a_round_trip_through_plain_values():
    plan = plan_from_assumptions(
        4,
        {"almaty": 400, "other": 600},
        prevalence={"almaty": 0.3, "other": 0.6},
        item_probabilities=[0.8, 0.7, 0.6, 0.5],
        weights={"almaty": 0.5, "other": 1.5},
        ratio=(2, 1),
    )
    stored = json.loads(json.dumps(plan.to_dict()))

    assert WavePlan.from_dict(stored) == plan
    with pytest.raises(PlanningError):
        WavePlan.from_dict({"J": 4})
