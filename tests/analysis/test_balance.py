"""Balance of covariates across arms.

Reference values come from R 4.2.2 (`glm(..., family = binomial)` deviance
differences, `nnet::multinom` 7.3-18, `chisq.test`, `t.test`, `oneway.test`,
`fisher.test`), printed by tests/analysis/balance_reference.R on race.csv and
multi.csv (the R package `list` 9.2.6's data). They agree to 1e-8 where R's fit
converges tightly, and to 1e-6 for the multinomial logit (nnet's optimizer) and
for the separated fit with state fixed effects, where R stops at its default
criterion. The Newton fit is also checked against scipy's BFGS on the same
likelihood, a different route to the same maximum.
"""

import csv
import functools
import json
import math

import numpy as np
import pytest
from scipy import optimize
from scipy.special import logsumexp

from analysis.estimators.balance import (
    covariate_balance,
    joint_balance_test,
    multinomial_logit,
    nonresponse_by_arm,
)
from tests.conftest import DATA

R_TOL = 1e-8
R_LOOSE = 1e-6
CODED = {"south", "male", "college"}


@functools.cache
def rows(name):
    with (DATA / name).open(newline="") as f:
        return tuple(csv.DictReader(f))


def race():
    """Arms and covariates of race.csv: south, male, college coded, age numeric."""
    data = rows("race.csv")
    arms = np.array(["treatment" if r["treat"] == "1" else "control" for r in data])
    columns = {name: np.array([r[name] for r in data], dtype=object) for name in CODED}
    columns["age"] = np.array([float(r["age"]) for r in data])
    return arms, columns


def multi():
    data = rows("multi.csv")
    arms = np.array([r["treat"] for r in data])
    columns = {name: np.array([r[name] for r in data], dtype=object) for name in CODED}
    columns["age"] = np.array([float(r["age"]) for r in data])
    return arms, columns


def column(name):
    return np.array([r[name] for r in rows("race.csv")], dtype=object)


def test_the_joint_test_matches_glm_deviances():
    arms, columns = race()

    joint = joint_balance_test(columns, arms, coded=CODED)

    # R 4.2.2, glm(treat ~ factor(south) + factor(male) + factor(college) + age)
    # against glm(treat ~ 1), binomial: deviance difference, df and p.
    assert joint.test.statistic == pytest.approx(3.07731311201496, abs=R_TOL)
    assert joint.test.df == 4
    assert joint.test.p_value == pytest.approx(0.544971635918445, abs=R_TOL)
    assert joint.log_likelihood == pytest.approx(-838.743856959818, abs=R_TOL)
    assert joint.log_likelihood_null == pytest.approx(-840.282513515825, abs=R_TOL)
    assert joint.model == "logistic" and joint.n == 1213 and joint.n_missing == 0


def test_stratum_fixed_effects_are_in_both_models_and_absorb_a_nested_covariate():
    arms, columns = race()

    joint = joint_balance_test(columns, arms, coded=CODED, strata=column("south"))

    # R 4.2.2: the same full model against glm(treat ~ factor(south)).
    assert joint.test.statistic == pytest.approx(1.71609908038135, abs=R_TOL)
    assert joint.test.df == 3
    assert joint.test.p_value == pytest.approx(0.633360552924054, abs=R_TOL)
    assert joint.log_likelihood_null == pytest.approx(-839.601906500009, abs=R_TOL)
    assert joint.dropped == ["south=1"] and joint.strata


def test_a_stratum_holding_one_arm_gives_an_approximate_test_with_a_note():
    arms, columns = race()

    joint = joint_balance_test(columns, arms, coded=CODED, strata=column("state"))

    # R 4.2.2, state fixed effects (49 states, default glm.control): R reports
    # "fitted probabilities numerically 0 or 1" and an NA coefficient for south.
    assert joint.test.statistic == pytest.approx(0.562609185425345, abs=R_LOOSE)
    assert joint.test.df == 3
    assert joint.test.p_value == pytest.approx(0.904936192598509, abs=R_LOOSE)
    assert joint.dropped == ["south=1"]
    assert "0 or 1" in joint.test.note


def test_respondents_missing_a_covariate_are_left_out_of_both_fits():
    arms, columns = race()
    age = columns["age"].copy()
    age[9::10] = np.nan

    joint = joint_balance_test({"male": columns["male"], "age": age}, arms, coded=CODED)

    # R 4.2.2, age set to NA on every tenth row, both models on the 1,092 complete.
    assert joint.n == 1092 and joint.n_missing == 121
    assert joint.test.statistic == pytest.approx(1.19012470171015, abs=R_TOL)
    assert joint.test.df == 2
    assert joint.log_likelihood == pytest.approx(-756.012105759946, abs=R_TOL)


def test_more_than_two_arms_use_one_multinomial_logit():
    arms, columns = multi()

    joint = joint_balance_test(
        columns, arms, coded=CODED, arm_names=["control", "race", "affirm"]
    )

    # R 4.2.2, nnet::multinom(treat ~ ...) against multinom(treat ~ 1), control the
    # base, reltol 1e-14.
    assert joint.model == "multinomial logit"
    assert joint.test.statistic == pytest.approx(7.57014286733738, abs=R_LOOSE)
    assert joint.test.df == 8
    assert joint.test.p_value == pytest.approx(0.47654383208894, abs=R_LOOSE)
    assert joint.log_likelihood == pytest.approx(-1967.38301610899, abs=R_LOOSE)


def test_the_newton_fit_reaches_the_maximum_scipy_finds():
    rng = np.random.default_rng(20240601)
    n, k = 400, 3
    x = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    y = rng.integers(0, k, n)

    fit = multinomial_logit(x, y, k)

    def negative_log_likelihood(flat):
        eta = np.column_stack([np.zeros(n), x @ flat.reshape(x.shape[1], k - 1)])
        return -(eta[np.arange(n), y].sum() - logsumexp(eta, axis=1).sum())

    found = optimize.minimize(
        negative_log_likelihood, np.zeros(x.shape[1] * (k - 1)), method="BFGS"
    )
    assert found.success
    assert fit.converged and not fit.separated
    assert fit.log_likelihood == pytest.approx(-found.fun, abs=1e-6)
    assert fit.coef.reshape(-1) == pytest.approx(found.x, abs=1e-4)


def test_each_coded_covariate_has_the_chi_square_test_of_r():
    arms, columns = race()
    race_south = covariate_balance({"south": columns["south"]}, arms, coded=CODED)
    arms, columns = multi()
    multi_college = covariate_balance(
        {"college": columns["college"]}, arms, coded=CODED
    )

    # R 4.2.2, chisq.test(table(south, treat), correct = FALSE) on race.csv and
    # chisq.test(table(college, treat), correct = FALSE) on multi.csv.
    (south,) = race_south.covariates
    assert south.test.statistic == pytest.approx(1.36165825461121, abs=R_TOL)
    assert south.test.p_value == pytest.approx(0.243250298249994, abs=R_TOL)
    (college,) = multi_college.covariates
    assert college.test.statistic == pytest.approx(1.19884485058956, abs=R_TOL)
    assert college.test.df == 2
    assert college.test.p_value == pytest.approx(0.549128707370324, abs=R_TOL)


def test_a_numeric_covariate_has_welchs_tests_of_r():
    arms, columns = race()
    two = covariate_balance({"age": columns["age"]}, arms)
    arms, columns = multi()
    three = covariate_balance({"age": columns["age"]}, arms)

    # R 4.2.2, t.test(age ~ treat) on race.csv: R subtracts treatment from control.
    (difference,) = two.covariates[0].differences
    assert difference.statistic == pytest.approx(-0.697210008462922, abs=R_TOL)
    assert difference.df == pytest.approx(1209.50527949943, abs=1e-6)
    assert difference.p_value == pytest.approx(0.485805362836901, abs=R_TOL)
    assert two.covariates[0].test.p_value == pytest.approx(difference.p_value)
    # R 4.2.2, oneway.test(age ~ treat, var.equal = FALSE) on multi.csv.
    test = three.covariates[0].test
    assert test.statistic == pytest.approx(1.47051021094679, abs=R_TOL)
    assert test.df2 == pytest.approx(1192.19617014384, abs=1e-6)
    assert test.p_value == pytest.approx(0.230224722503215, abs=R_TOL)


def test_few_nonrespondents_in_two_arms_get_fishers_exact_test():
    statuses = {
        "control": {"complete": 48, "missing": 2},
        "treatment": {"complete": 45, "missing": 5},
    }

    result = nonresponse_by_arm(statuses, arm_names=["control", "treatment"])

    # R 4.2.2, fisher.test(matrix(c(48, 2, 45, 5), nrow = 2, byrow = TRUE)).
    assert result.test.method == "Fisher"
    assert result.test.p_value == pytest.approx(0.436031503313109, abs=R_TOL)
    rates = {row["arm"]: row["rates"]["missing"] for row in result.to_dict()["arms"]}
    assert rates == {"control": 0.04, "treatment": 0.1}


def test_refusals_and_dont_knows_by_arm_get_the_chi_square_test():
    statuses = {
        "control": {"complete": 400, "refused": 30, "dont_know": 20},
        "treatment": {"complete": 380, "refused": 45, "dont_know": 35},
    }

    result = nonresponse_by_arm(statuses).to_dict()

    # R 4.2.2, chisq.test(matrix(c(400, 30, 20, 380, 45, 35), 2, byrow = TRUE)).
    assert result["method"] == "chi-square"
    assert result["statistic"] == pytest.approx(7.49474454691846, abs=R_TOL)
    assert result["p_value"] == pytest.approx(0.0235796253265314, abs=R_TOL)
    assert result["small"] is True
    treatment = result["arms"][1]
    assert treatment["nonresponse"] == pytest.approx(80 / 460)
    assert treatment["rates"]["refused"] == pytest.approx(45 / 460)


def test_nonresponse_without_any_nonrespondent_has_nothing_to_test():
    statuses = {"control": {"complete": 10}, "treatment": {"complete": 12}}

    result = nonresponse_by_arm(statuses)

    assert result.test.p_value is None and "nothing to test" in result.test.note


def test_a_covariate_that_predicts_the_arm_is_flagged():
    rng = np.random.default_rng(7)
    arms = np.array(["control", "treatment"] * 100)
    leaning = np.where(
        (arms == "treatment") & (rng.random(200) < 0.6), "city", "village"
    )

    balance = covariate_balance(
        {"place": leaning.astype(object), "age": rng.normal(40, 10, 200)},
        arms,
        coded={"place"},
        statuses={
            "control": {"complete": 100, "refused": 1},
            "treatment": {"complete": 100, "refused": 2},
        },
    )

    assert balance.imbalanced
    assert balance.joint.test.small and balance.covariates[0].test.small
    assert not balance.nonresponse.test.small


def test_missing_levels_are_counted_and_shares_are_within_each_arm():
    arms = np.array(["control"] * 4 + ["treatment"] * 4)
    gender = np.array(["1", "2", "2", None, "1", "1", "2", None], dtype=object)

    balance = covariate_balance({"gender": gender}, arms, coded={"gender"})
    (covariate,) = balance.covariates
    result = covariate.to_dict()

    assert result["n"] == 6 and result["n_missing"] == 2
    shares = {
        level["level"]: [arm["share"] for arm in level["arms"]]
        for level in result["levels"]
    }
    assert shares == {
        "1": pytest.approx([1 / 3, 2 / 3]),
        "2": pytest.approx([2 / 3, 1 / 3]),
    }
    assert "below 5" in result["test"]["note"]


def test_a_covariate_constant_in_the_sample_gives_no_joint_test():
    arms = np.array(["control", "treatment"] * 5)

    joint = joint_balance_test({"x": np.ones(10)}, arms)

    assert joint.test.p_value is None and "add nothing" in joint.test.note


def test_one_arm_alone_gives_no_joint_test():
    joint = joint_balance_test({"x": np.arange(5.0)}, np.array(["control"] * 5))

    assert joint.test.p_value is None and "Fewer than two arms" in joint.test.note


@pytest.mark.parametrize(
    "arms, columns, words",
    [
        (["control", "elsewhere"], {"x": [1.0, 2.0]}, "not one of"),
        (["control", None], {"x": [1.0, 2.0]}, "no arm"),
        (["control", "treatment"], {"x": [1.0, 2.0, 3.0]}, "3 values"),
    ],
)
def test_bad_input_is_refused_in_words(arms, columns, words):
    with pytest.raises(ValueError, match=words):
        covariate_balance(columns, arms, arm_names=["control", "treatment"])


def test_the_result_is_plain_json_without_nan_and_the_same_twice():
    arms, columns = multi()
    first = covariate_balance(columns, arms, coded=CODED).to_dict()
    second = covariate_balance(columns, arms, coded=CODED).to_dict()

    text = json.dumps(first, allow_nan=False)

    assert json.loads(text) == second
    assert first["arms"] == ["control", "affirm", "race"]
    assert all(not isinstance(v, float) or math.isfinite(v) for v in walk(first))


def walk(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)
    else:
        yield value


def test_a_covariate_nobody_answered_is_reported_without_a_test():
    arms = np.array(["control", "treatment"] * 3)

    balance = covariate_balance(
        {"town": np.array([None] * 6, dtype=object)}, arms, coded={"town"}
    )

    (town,) = balance.covariates
    assert town.to_dict()["n_missing"] == 6 and town.test.p_value is None
    assert balance.joint.n == 0 and balance.joint.test.p_value is None
