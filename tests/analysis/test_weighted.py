"""Tests for the weighted difference in means under a sample design.

Reference values come from R 4.2.2 with survey 4.1.1, printed by
tests/data/weighted_reference.R on race.csv with the synthetic design weight
w = 1 + (round(10 * age) mod 7) / 3, strata = south and clusters = state. They agree
to 1e-8 absolute.
"""

import csv
import functools
import math
from pathlib import Path

import numpy as np
import pytest

from analysis.estimators.difference import (
    MIN_ARM_SIZE,
    DiffInMeans,
    difference_in_means,
)
from analysis.estimators.weighted import (
    ALLOCATION_TOLERANCE,
    weighted_difference_by_level,
    weighted_difference_in_means,
)

RACE_CSV = Path(__file__).resolve().parents[1] / "data" / "race.csv"
R_TOL = 1e-8


@functools.cache
def race_columns():
    """Return race.csv as a dict of column name to array, read once per session."""
    with RACE_CSV.open(newline="") as f:
        rows = list(csv.DictReader(f))
    columns = {
        name: np.array([row[name] for row in rows], dtype=object) for name in rows[0]
    }
    columns["y"] = columns["y"].astype(float)
    columns["treat"] = columns["treat"] == "1"
    columns["w"] = 1 + (np.round(columns["age"].astype(float) * 10) % 7) / 3
    return columns


def race(design="c"):
    """Return race.csv as keyword arguments for one of the reference designs.

    "a" is weights only, "b" adds strata (south), "c" adds clusters (state).
    """
    data = race_columns()
    kwargs = {"counts": data["y"], "treated": data["treat"], "weights": data["w"]}
    if design in ("b", "c"):
        kwargs["strata"] = data["south"]
    if design == "c":
        kwargs["clusters"] = data["state"]
    return kwargs


def race_with_uneven_allocation():
    """Return race.csv with every second treated southerner (by row) left out.

    This is data set (e) of weighted_reference.R: the treatment share is 0.52 outside
    the south and 0.34 in it.
    """
    data = race_columns()
    row = np.arange(1, data["y"].size + 1)
    keep = ~((data["south"] == "1") & data["treat"] & (row % 2 == 0))
    kwargs = {
        "counts": data["y"][keep],
        "treated": data["treat"][keep],
        "weights": data["w"][keep],
        "strata": data["south"][keep],
        "clusters": data["state"][keep],
    }
    return kwargs, data["male"][keep]


def by_level(kwargs, levels, **options):
    """Return {level: DiffInMeans} from weighted_difference_by_level."""
    return dict(weighted_difference_by_level(levels=levels, **kwargs, **options).levels)


def small_design(n_per_cell=5):
    """Return a small stratified, clustered sample with counts in both arms.

    Two strata of three clusters each; every cluster holds `n_per_cell` respondents
    per arm, with counts and weights that vary so that nothing is degenerate.
    """
    n = 2 * 3 * 2 * n_per_cell
    index = np.arange(n)
    stratum = np.repeat(["north", "south"], n // 2)
    cluster = np.repeat([f"c{i}" for i in range(6)], n // 6)
    treated = index % 2 == 0
    counts = (index * 7 % 4) + treated * (index % 3 == 0)
    weights = 1 + (index * 5 % 9) / 4
    return {
        "counts": counts.astype(float),
        "treated": treated,
        "weights": weights,
        "strata": stratum,
        "clusters": cluster,
    }


def loop_variance(counts, treated, weights, strata, clusters, in_domain):
    """Linearization variance of a domain's weighted difference, by plain loops.

    An independent check written straight from the formulas: influence values per
    respondent, totals per PSU, and sum_h n_h / (n_h - 1) sum_j (z_hj - mean_h)^2
    over every PSU of the design.
    """
    used = [
        i
        for i in range(len(counts))
        if in_domain[i] and not math.isnan(counts[i]) and weights[i] > 0
    ]
    arm_weight = {True: 0.0, False: 0.0}
    arm_sum = {True: 0.0, False: 0.0}
    for i in used:
        arm_weight[bool(treated[i])] += weights[i]
        arm_sum[bool(treated[i])] += weights[i] * counts[i]
    arm_mean = {arm: arm_sum[arm] / arm_weight[arm] for arm in (True, False)}

    psu_total = {}
    for i in range(len(counts)):
        psu_total.setdefault((strata[i], clusters[i]), 0.0)
    for i in used:
        arm = bool(treated[i])
        sign = 1.0 if arm else -1.0
        z = sign * weights[i] * (counts[i] - arm_mean[arm]) / arm_weight[arm]
        psu_total[(strata[i], clusters[i])] += z

    variance = 0.0
    for stratum in set(strata):
        totals = [t for (h, _), t in psu_total.items() if h == stratum]
        mean = sum(totals) / len(totals)
        n_h = len(totals)
        variance += n_h / (n_h - 1) * sum((t - mean) ** 2 for t in totals)
    return variance


def assert_no_nan(result: DiffInMeans):
    """Assert that no field of `result.to_dict()` is a NaN."""
    for key, value in result.to_dict().items():
        assert not (isinstance(value, float) and math.isnan(value)), key


# Agreement with R's survey package on race.csv


def test_it_matches_svyglm_with_weights_only():
    result = weighted_difference_in_means(**race("a"))

    # R 4.2.2, survey 4.1.1: svyglm(y ~ treat, svydesign(ids = ~1, weights = ~w))
    assert result.estimate == pytest.approx(0.0829637848045224, abs=R_TOL, rel=0)
    # R 4.2.2, survey 4.1.1
    assert result.se == pytest.approx(0.051146686986322, abs=R_TOL, rel=0)
    # R 4.2.2, survey 4.1.1: svyby(~y, ~treat, design, svymean)
    assert result.mean_control == pytest.approx(2.12686357243319, abs=R_TOL, rel=0)
    # R 4.2.2, survey 4.1.1
    assert result.mean_treatment == pytest.approx(2.20982735723772, abs=R_TOL, rel=0)
    assert (result.n_treatment, result.n_control) == (624, 589)
    assert result.note is None


def test_it_matches_svyglm_with_weights_and_strata():
    result = weighted_difference_in_means(**race("b"))

    # R 4.2.2, survey 4.1.1: svydesign(ids = ~1, strata = ~south, weights = ~w)
    assert result.estimate == pytest.approx(0.0829637848045224, abs=R_TOL, rel=0)
    # R 4.2.2, survey 4.1.1
    assert result.se == pytest.approx(0.0510910512031069, abs=R_TOL, rel=0)


def test_it_matches_svyglm_with_weights_strata_and_clusters():
    result = weighted_difference_in_means(**race("c"))

    # R 4.2.2, survey 4.1.1: svydesign(ids = ~state, strata = ~south, weights = ~w)
    assert result.estimate == pytest.approx(0.0829637848045224, abs=R_TOL, rel=0)
    # R 4.2.2, survey 4.1.1
    assert result.se == pytest.approx(0.0534996288161736, abs=R_TOL, rel=0)
    assert result.ci_low == pytest.approx(
        result.estimate - 1.959963984540054 * result.se
    )
    assert result.ci_high == pytest.approx(
        result.estimate + 1.959963984540054 * result.se
    )


@pytest.mark.parametrize(
    ("design", "male_0", "male_1"),
    [
        # (estimate, se) for male 0 and male 1 from
        # svyglm(y ~ treat, subset(design, male == x))
        # R 4.2.2, survey 4.1.1, design (a)
        (
            "a",
            (0.0262926952184839, 0.0665423370821566),
            (0.163243954920605, 0.0785930860215253),
        ),
        # R 4.2.2, survey 4.1.1, design (b)
        (
            "b",
            (0.0262926952184839, 0.0665649659319107),
            (0.163243954920605, 0.0782966774304451),
        ),
        # R 4.2.2, survey 4.1.1, design (c)
        (
            "c",
            (0.0262926952184839, 0.0668361132720873),
            (0.163243954920605, 0.0855101278992088),
        ),
    ],
)
def test_it_matches_svyglm_on_subset_designs_within_each_level(design, male_0, male_1):
    rows = by_level(race(design), race_columns()["male"])

    assert (rows["0"].estimate, rows["0"].se) == pytest.approx(male_0, abs=R_TOL, rel=0)
    assert (rows["1"].estimate, rows["1"].se) == pytest.approx(male_1, abs=R_TOL, rel=0)


def test_it_gives_each_level_its_share_of_the_weight_total():
    rows = by_level(race("a"), race_columns()["male"])

    # R 4.2.2: sum(w[male == 1]) / sum(w)
    assert rows["1"].share == pytest.approx(0.443852459016393, abs=R_TOL, rel=0)
    assert rows["0"].share + rows["1"].share == pytest.approx(1.0)


def test_it_keeps_the_psus_of_respondents_with_a_missing_count_as_svyglm_does():
    kwargs = race("c")
    counts = kwargs["counts"].copy()
    counts[9::10] = np.nan

    result = weighted_difference_in_means(**{**kwargs, "counts": counts})

    # R 4.2.2, survey 4.1.1: design (c) with y[seq(10, n, by = 10)] <- NA
    assert result.estimate == pytest.approx(0.0863373055279729, abs=R_TOL, rel=0)
    # R 4.2.2, survey 4.1.1
    assert result.se == pytest.approx(0.0581053285484281, abs=R_TOL, rel=0)


def test_it_treats_a_level_as_a_domain_and_not_as_a_sample_of_its_own():
    kwargs = race("b")
    male = race_columns()["male"]
    alone = {key: value[male == "1"] for key, value in kwargs.items()}

    as_domain = by_level(kwargs, male)["1"]
    as_sample = weighted_difference_in_means(**alone)

    assert as_sample.estimate == pytest.approx(as_domain.estimate, abs=1e-12)
    assert as_sample.se != pytest.approx(as_domain.se, abs=1e-6)


# Different allocation ratios across strata


def test_it_estimates_within_strata_when_the_allocation_differs_between_them():
    kwargs, _ = race_with_uneven_allocation()

    result = weighted_difference_in_means(**kwargs)

    # R 4.2.2, survey 4.1.1: sum_h (W_h / W) * coef of svyglm(y ~ treat,
    # subset(design, south == h)) on data set (e)
    assert result.estimate == pytest.approx(0.0825561584821688, abs=R_TOL, rel=0)
    # R 4.2.2, survey 4.1.1: sqrt(sum_h (W_h / W)^2 * SE_h^2)
    assert result.se == pytest.approx(0.0505160171096267, abs=R_TOL, rel=0)
    assert result.note == (
        "The difference is estimated within each stratum and combined by the "
        "strata's weight totals, because the treatment share differs between strata."
    )
    assert result.estimate == pytest.approx(
        result.mean_treatment - result.mean_control, abs=1e-12
    )


def test_it_estimates_within_strata_in_each_level_when_the_allocation_differs():
    kwargs, male = race_with_uneven_allocation()

    rows = by_level(kwargs, male)

    # R 4.2.2, survey 4.1.1: as above within subset(design, male == x & south == h),
    # with the level's own weight shares; the same from one cell-means svyglm and
    # svycontrast
    assert rows["0"].estimate == pytest.approx(0.0184220849510631, abs=R_TOL, rel=0)
    # R 4.2.2, survey 4.1.1
    assert rows["0"].se == pytest.approx(0.0692626384759722, abs=R_TOL, rel=0)
    # R 4.2.2, survey 4.1.1
    assert rows["1"].estimate == pytest.approx(0.180723206522759, abs=R_TOL, rel=0)
    # R 4.2.2, survey 4.1.1
    assert rows["1"].se == pytest.approx(0.0780922664568685, abs=R_TOL, rel=0)


def test_it_pools_the_strata_when_the_treatment_shares_are_within_the_tolerance():
    data = race_columns()
    shares = [data["treat"][data["south"] == h].mean() for h in ("0", "1")]
    assert abs(shares[0] - shares[1]) < ALLOCATION_TOLERANCE

    result = weighted_difference_in_means(**race("c"))

    assert result.note is None


def test_it_follows_an_explicit_choice_of_estimator():
    kwargs, _ = race_with_uneven_allocation()

    pooled = weighted_difference_in_means(**kwargs, by_stratum=False)
    within = weighted_difference_in_means(**race("c"), by_stratum=True)

    assert pooled.note is None
    assert pooled.estimate != pytest.approx(0.0825561584821688, abs=1e-6)
    assert within.note == (
        "The difference is estimated within each stratum and combined by the "
        "strata's weight totals."
    )


def test_it_needs_strata_to_estimate_within_strata():
    with pytest.raises(ValueError, match="needs strata"):
        weighted_difference_in_means(**race("a"), by_stratum=True)


def test_it_gives_no_estimate_when_a_stratum_lacks_an_arm_within_strata():
    kwargs = small_design()
    north = np.flatnonzero(kwargs["strata"] == "north")
    kwargs["treated"][north] = True
    kwargs["treated"][north[0]] = False

    result = weighted_difference_in_means(**kwargs, by_stratum=True)

    assert result.estimate is None
    assert result.note.endswith(
        "Stratum 'north' has fewer than 2 respondents in an arm; no estimate."
    )
    assert_no_nan(result)


# Agreement with a plain loop over PSUs


def test_it_matches_a_plain_loop_over_psus_for_levels_missing_from_some_psus():
    kwargs = small_design(n_per_cell=6)
    kwargs["counts"][[3, 17, 40]] = np.nan
    kwargs["weights"][[5, 22]] = 0.0
    levels = np.array(["x", "y", "z"] * (kwargs["counts"].size // 3), dtype=object)
    levels[kwargs["clusters"] == "c4"] = "x"

    rows = by_level(kwargs, levels, by_stratum=False)

    for label, row in rows.items():
        expected = loop_variance(**kwargs, in_domain=levels == label)
        assert row.se == pytest.approx(math.sqrt(expected), rel=1e-12)


# Weights, strata and clusters that cannot be used


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (-1.0, "negative"),
        (np.nan, "missing"),
        (np.inf, "infinite"),
        (None, "missing"),
        ("heavy", "must be numbers"),
    ],
)
def test_it_rejects_a_weight_that_cannot_be_used(bad, message):
    kwargs = small_design()
    weights = kwargs["weights"].astype(object)
    weights[4] = bad

    with pytest.raises(ValueError, match=message):
        weighted_difference_in_means(**{**kwargs, "weights": weights})


def test_it_rejects_weights_that_are_all_zero():
    kwargs = small_design()

    with pytest.raises(ValueError, match="Every design weight is zero"):
        weighted_difference_in_means(**{**kwargs, "weights": np.zeros(60)})


def test_it_rejects_weights_of_the_wrong_length():
    kwargs = small_design()

    with pytest.raises(ValueError, match="one design weight per respondent"):
        weighted_difference_in_means(**{**kwargs, "weights": kwargs["weights"][1:]})


def test_it_rejects_a_stratum_with_a_single_psu_and_names_it():
    data = race_columns()
    three = np.isin(data["state"], ["CA", "NY", "TX"])
    kwargs = {key: value[three] for key, value in race("c").items()}

    # R 4.2.2, survey 4.1.1 stops with "Stratum (1) has only one PSU at stage 1"
    with pytest.raises(ValueError, match="Stratum '1' has only one primary sampling"):
        weighted_difference_in_means(**kwargs)


def test_it_rejects_a_sample_that_is_a_single_cluster():
    kwargs = small_design()
    del kwargs["strata"]

    with pytest.raises(ValueError, match="one cluster"):
        weighted_difference_in_means(**{**kwargs, "clusters": np.full(60, "c0")})


@pytest.mark.parametrize("field", ["strata", "clusters"])
def test_it_rejects_a_missing_stratum_or_cluster(field):
    kwargs = small_design()
    values = kwargs[field].astype(object)
    values[7] = None

    with pytest.raises(ValueError, match="is missing"):
        weighted_difference_in_means(**{**kwargs, field: values})


# Weights and labels that change nothing


def test_it_gives_the_same_result_when_every_weight_is_scaled():
    kwargs = race("c")

    scaled = weighted_difference_in_means(
        **{**kwargs, "weights": kwargs["weights"] * 37}
    )

    unscaled = weighted_difference_in_means(**kwargs)
    assert scaled.estimate == pytest.approx(unscaled.estimate, abs=1e-12)
    assert scaled.se == pytest.approx(unscaled.se, abs=1e-12)


def test_it_leaves_out_respondents_with_a_zero_weight():
    kwargs = small_design()
    extra = {
        "counts": np.append(kwargs["counts"], [9.0, 9.0]),
        "treated": np.append(kwargs["treated"], [True, True]),
        "weights": np.append(kwargs["weights"], [0.0, 0.0]),
        "strata": np.append(kwargs["strata"], ["north", "south"]),
        "clusters": np.append(kwargs["clusters"], ["c0", "c5"]),
    }

    assert weighted_difference_in_means(**extra) == weighted_difference_in_means(
        **kwargs
    )


def test_it_takes_a_cluster_label_in_two_strata_as_two_clusters():
    kwargs = small_design()
    reused = np.char.replace(kwargs["clusters"].astype(str), "c3", "c0")

    same = weighted_difference_in_means(**{**kwargs, "clusters": reused})

    assert same == weighted_difference_in_means(**kwargs)


def test_it_reads_numeric_strata_and_clusters_as_their_text():
    kwargs = small_design()
    as_numbers = {
        **kwargs,
        "strata": (kwargs["strata"] == "south").astype(int),
        "clusters": np.array([int(c[1:]) for c in kwargs["clusters"]]),
    }

    assert weighted_difference_in_means(**as_numbers).se == pytest.approx(
        weighted_difference_in_means(**kwargs).se, abs=1e-15
    )


def test_it_gives_the_unweighted_difference_when_every_weight_is_equal():
    data = race_columns()

    result = weighted_difference_in_means(data["y"], data["treat"], np.ones(1213))

    plain = difference_in_means(data["y"], data["treat"])
    assert result.estimate == pytest.approx(plain.estimate, abs=1e-12)


# Small arms and levels


def test_it_gives_no_estimate_when_an_arm_has_fewer_than_two_respondents():
    kwargs = small_design()
    kwargs["treated"] = np.zeros(60, dtype=bool)
    kwargs["treated"][: MIN_ARM_SIZE - 1] = True

    result = weighted_difference_in_means(**kwargs)

    assert result.estimate is None
    assert result.note == "Fewer than 2 respondents in the treatment arm; no estimate."
    assert_no_nan(result)


def test_it_notes_a_small_sample_when_an_arm_has_fewer_than_thirty_respondents():
    result = weighted_difference_in_means(**small_design(n_per_cell=4))

    assert result.estimate is not None
    assert result.note == (
        "Fewer than 30 respondents in the treatment and control arms; the sample is "
        "small and the standard error is unreliable."
    )


def test_it_lists_levels_in_natural_order_and_counts_the_missing():
    kwargs = small_design()
    levels = np.array(["10", "2", None] * 20, dtype=object)

    breakdown = weighted_difference_by_level(levels=levels, **kwargs)

    assert [label for label, _ in breakdown.levels] == ["2", "10"]
    assert breakdown.n_missing == 20


def test_it_lists_a_level_seen_in_one_arm_only_without_an_estimate_or_a_nan():
    kwargs = small_design()
    levels = np.where(kwargs["treated"], "both", "both").astype(object)
    levels[0] = "treated only"

    rows = by_level(kwargs, levels)

    assert rows["treated only"].estimate is None
    assert rows["treated only"].mean_control is None
    assert "control arm" in rows["treated only"].note
    assert_no_nan(rows["treated only"])


def test_it_returns_plain_python_numbers_from_to_dict():
    for row in by_level(race("c"), race_columns()["male"]).values():
        values = row.to_dict()
        assert type(values["n_treatment"]) is int
        for key in ("estimate", "se", "ci_low", "ci_high", "share"):
            assert type(values[key]) is float, key
