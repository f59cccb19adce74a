"""The wave planner page: the demo's national draft planned from its pilot, refusals
of bad input, and the rehearsal as a background job.

Reference values are computed here from the pilot's raw counts with numpy and scipy,
by the closed forms of docs/planning.md, not by the planning functions; they agree to
1e-12 (floating point only).
"""

import math

import numpy as np
import pytest
from django.urls import reverse
from scipy import stats

from analysis.models import EstimateJob
from analysis.planning.waves import draft_allocation
from analysis.selectors import default_experiment, wave_list_data
from analysis.services import estimate_job_run
from survey.models import Stratum, Wave

EXACT = 1e-12
Z = stats.norm.ppf(0.975)
MDE_FACTOR = Z + stats.norm.ppf(0.80)

#: The demo's national draft: quotas and design weights (survey/demo.py).
QUOTAS = {"almaty": 800, "astana": 800, "other": 2400}
WEIGHTS = {"almaty": 0.556, "astana": 0.354, "other": 1.364}


@pytest.fixture
def draft(demo_wave):
    return Wave.objects.get(survey=demo_wave.survey, status=Wave.DRAFT)


def plan_url(wave) -> str:
    return reverse("analysis:plan", args=[wave.pk])


def query(pilot, **changes) -> dict:
    """The planner's form as the page submits it, with the demo's defaults."""
    data = {
        "source": pilot.pk,
        "ratio": "1:1",
        "contrasts": ["almaty-rest"],
        "target_kind": "mde",
        "target": "0.10",
        "alpha": "0.05",
        "power": "0.80",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def pilot_by_stratum(pilot) -> dict:
    """Per stratum of the pilot: the arms' counts, by hand from the raw data."""
    data = wave_list_data(pilot, default_experiment(pilot), ["stratum"])
    answered = ~np.isnan(data.counts)
    strata = data.variables["stratum"]
    out = {}
    for code in QUOTAS:
        here = answered & (strata == code)
        out[code] = (
            data.counts[here & data.treated],
            data.counts[here & ~data.treated],
        )
    out["all"] = (
        data.counts[answered & data.treated],
        data.counts[answered & ~data.treated],
    )
    return out


def neyman(treatment, control) -> tuple[float, float]:
    estimate = treatment.mean() - control.mean()
    se = math.sqrt(
        treatment.var(ddof=1) / treatment.size + control.var(ddof=1) / control.size
    )
    return estimate, se


def power(effect, se) -> float:
    shift = abs(effect) / se
    return stats.norm.cdf(shift - Z) + stats.norm.cdf(-shift - Z)


def test_the_demo_draft_planned_from_the_pilot_shows_every_quantity(
    admin_client, demo_wave, draft
):
    counts = pilot_by_stratum(demo_wave)

    page = admin_client.get(plan_url(draft), query(demo_wave, change="-0.10"))

    assert page.status_code == 200
    tables = page.context["tables"]
    strata = {row["label"]: row for row in tables["strata"]}
    assert list(strata) == ["almaty", "astana", "other"]

    # Each stratum: 400 per arm; V_C the pilot's control variance (n - 1); p the
    # pilot's estimate minus 0.10.
    expected = {}
    for code, n in QUOTAS.items():
        treatment, control = counts[code]
        v_c = control.var(ddof=1)
        p = treatment.mean() - control.mean() - 0.10
        se = math.sqrt((v_c + p * (1 - p)) / (n / 2) + v_c / (n / 2))
        expected[code] = (v_c, p, se)
        row = strata[code]
        assert (row["n"], row["n_treatment"], row["n_control"]) == (n, n / 2, n / 2)
        assert row["prevalence"] == pytest.approx(p, abs=EXACT)
        assert row["se"] == pytest.approx(se, abs=EXACT)
        assert row["mde"] == pytest.approx(MDE_FACTOR * se, abs=EXACT)
        assert row["power"] == pytest.approx(power(p, se), abs=EXACT)

    # Overall: population shares n_h w_h / sum, Kish's deff of the weights.
    n = np.array(list(QUOTAS.values()), dtype=float)
    w = np.array(list(WEIGHTS.values()))
    shares = n * w / (n * w).sum()
    deff = n.sum() * (n * w * w).sum() / (n * w).sum() ** 2
    v_c = np.array([expected[c][0] for c in QUOTAS])
    p = np.array([expected[c][1] for c in QUOTAS])
    v_t = v_c + p * (1 - p)
    se_overall = math.sqrt(deff * ((shares @ v_t) / 2000 + (shares @ v_c) / 2000))
    overall = tables["overall"]
    assert tables["design"]["deff"] == pytest.approx(deff, abs=EXACT)
    assert overall["se"] == pytest.approx(se_overall, abs=EXACT)
    assert overall["effect"] == pytest.approx(shares @ p, abs=EXACT)

    # Almaty minus the rest: the rest's own overall (astana and other), then the
    # variances add.
    rest_shares = shares[1:] / shares[1:].sum()
    rest_deff = n[1:].sum() * (n[1:] * w[1:] ** 2).sum() / (n[1:] * w[1:]).sum() ** 2
    se_rest = math.sqrt(
        rest_deff * ((rest_shares @ v_t[1:]) / 1600 + (rest_shares @ v_c[1:]) / 1600)
    )
    (contrast,) = tables["contrasts"]
    se_contrast = math.sqrt(expected["almaty"][2] ** 2 + se_rest**2)
    difference = p[0] - rest_shares @ p[1:]
    assert contrast["title"] == "Almaty minus the rest"
    assert contrast["se"] == pytest.approx(se_contrast, abs=EXACT)
    assert contrast["power"] == pytest.approx(power(difference, se_contrast), abs=EXACT)
    assert "Almaty minus the rest" in page.text

    # The change from the pilot: the new wave's estimate minus the pilot's
    # (unweighted, as the pilot has no design weights); the variances add.
    pilot_estimate, pilot_se = neyman(*counts["all"])
    change = {row["label"]: row for row in tables["changes"]}
    overall_change = change["change overall"]
    se_change = math.sqrt(se_overall**2 + pilot_se**2)
    assert overall_change["source_estimate"] == pytest.approx(pilot_estimate, abs=EXACT)
    assert overall_change["se"] == pytest.approx(se_change, abs=EXACT)
    assert overall_change["effect"] == pytest.approx(
        shares @ p - pilot_estimate, abs=EXACT
    )
    assert overall_change["power"] == pytest.approx(
        power(shares @ p - pilot_estimate, se_change), abs=EXACT
    )
    almaty_estimate, almaty_se = neyman(*counts["almaty"])
    assert change["change almaty"]["effect"] == pytest.approx(-0.10, abs=EXACT)
    assert change["change almaty"]["se"] == pytest.approx(
        math.sqrt(expected["almaty"][2] ** 2 + almaty_se**2), abs=EXACT
    )
    # The pilot over-represents the capitals, so the overall change is not -0.10,
    # and the page says why.
    assert "not -10.0" in tables["change_note"]


def test_the_sample_needed_is_the_fewest_respondents_reaching_the_target(
    admin_client, demo_wave, draft
):
    counts = pilot_by_stratum(demo_wave)

    page = admin_client.get(plan_url(draft), query(demo_wave, target="0.10"))

    target_se = 0.10 / MDE_FACTOR
    for row in page.context["tables"]["strata"]:
        treatment, control = counts[row["label"]]
        v_c = control.var(ddof=1)
        p = min(max(treatment.mean() - control.mean(), 0.0), 1.0)

        def se(n, v_c=v_c, p=p):
            n_t = math.floor(n / 2 + 0.5)
            return math.sqrt((v_c + p * (1 - p)) / n_t + v_c / (n - n_t))

        assert se(row["needed"]) <= target_se < se(row["needed"] - 1)
    assert "n for an MDE of 10.0 points" in page.text
    assert page.context["tables"]["contrasts"][0]["needed"] > 4000


def test_the_page_opens_with_the_pilot_and_the_capitals_against_the_rest(
    analyst_client, demo_wave, draft
):
    page = analyst_client.get(plan_url(draft))

    assert page.status_code == 200
    form = page.context["form"]
    assert form.cleaned_data["source"] == demo_wave
    assert form.cleaned_data["contrasts"] == ["almaty-rest", "astana-rest"]
    assert "Almaty minus the rest" in page.text
    assert "Astana minus the rest" in page.text
    # The pilot's control lists pile up at J = 4 in every stratum.
    assert all(check["ceiling_warning"] for check in page.context["tables"]["checks"])
    assert 'name="draws" value="2000"' in page.text
    assert 'name="seed" value="1"' in page.text


def test_an_address_with_only_the_source_plans_with_the_defaults(
    analyst_client, demo_wave, draft
):
    bare = analyst_client.get(plan_url(draft)).context["form"].cleaned_data

    page = analyst_client.get(plan_url(draft), {"source": demo_wave.pk})

    form = page.context["form"]
    assert form.errors == {}
    assert page.context["tables"] is not None
    assert "This field is required." not in page.text
    for name in ("ratio", "target_kind", "target", "alpha", "power", "draws", "seed"):
        assert form.cleaned_data[name] == bare[name], name


def test_an_address_missing_the_source_takes_the_latest_and_keeps_what_it_gives(
    analyst_client, demo_wave, draft
):
    page = analyst_client.get(plan_url(draft), {"ratio": "2:1"})

    form = page.context["form"]
    assert form.errors == {}
    assert form.cleaned_data["source"] == demo_wave
    assert form.cleaned_data["ratio"] == (2, 1)
    assert form.cleaned_data["alpha"] == 0.05


def test_inputs_sent_blank_stay_blank_and_unticked_contrasts_stay_unticked(
    analyst_client, demo_wave, draft
):
    page = analyst_client.get(
        plan_url(draft), query(demo_wave, target="", contrasts=None)
    )

    form = page.context["form"]
    assert form.errors == {}
    assert form.cleaned_data["target"] is None
    assert form.cleaned_data["contrasts"] == []
    assert page.context["tables"]["contrasts"] == []


def test_a_wave_that_is_not_a_draft_gets_an_explanation(admin_client, demo_wave, draft):
    page = admin_client.get(plan_url(demo_wave))

    assert page.status_code == 200
    assert "form" not in page.context
    assert "nothing left to plan" in page.text
    assert plan_url(draft) in page.text


def test_interviewers_may_not_plan(interviewer_client, draft):
    assert interviewer_client.get(plan_url(draft)).status_code == 403


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"prevalence": "-0.2"}, "prevalence"),
        ({"prevalence": "1.5"}, "prevalence"),
        ({"prevalence": "nan"}, "prevalence"),
        ({"prevalence": "0.4", "change": "-0.1"}, "change"),
        ({"change": "-3"}, "change"),
        ({"ratio": "0:1"}, "ratio"),
        ({"ratio": "two to one"}, "ratio"),
        ({"target": "0"}, "target"),
        ({"target": "1e308"}, "target"),
        ({"target": "1.5", "target_kind": "se"}, "target"),
        ({"target": "0.000001", "target_kind": "se"}, "target"),
        ({"alpha": "2"}, "alpha"),
        ({"total": "-5"}, "total"),
        ({"total": "3"}, "total"),
        ({"contrasts": ["almaty-nowhere"]}, "contrasts"),
        ({"source": "999999"}, "source"),
    ],
)
def test_bad_input_is_a_form_error_beside_its_field(
    admin_client, demo_wave, draft, changes, field
):
    page = admin_client.get(plan_url(draft), query(demo_wave, **changes))

    assert page.status_code == 200
    form = page.context["form"]
    assert field in form.errors, form.errors
    assert page.context["tables"] is None


@pytest.mark.parametrize(
    ("kind", "words"),
    [("mde", "An MDE of 1e-06"), ("se", "A standard error of 1e-06")],
)
def test_a_target_beyond_any_sample_is_refused_as_it_was_typed(
    admin_client, demo_wave, draft, kind, words
):
    changes = {"target": "0.000001", "target_kind": kind}
    page = admin_client.get(plan_url(draft), query(demo_wave, **changes))

    (message,) = page.context["form"].errors["target"]
    assert message.startswith(f"{words} needs more than 100,000,000 respondents")


def test_a_source_wave_of_another_survey_is_refused(
    admin_client, demo_wave, draft, race_wave
):
    page = admin_client.get(plan_url(draft), query(demo_wave, source=race_wave.pk))

    assert page.status_code == 200
    assert page.context["form"].errors["source"] == [
        "Choose a wave of this survey that has responses to plan from."
    ]


def test_missing_quotas_ask_for_quotas_or_a_total(admin_client, demo_wave, draft):
    Stratum.objects.filter(wave=draft, code="astana").update(quota=None)

    refused = admin_client.get(plan_url(draft), query(demo_wave))
    split = admin_client.get(plan_url(draft), query(demo_wave, total="3000"))

    assert refused.status_code == 200
    (message,) = refused.context["form"].errors["total"]
    assert "quotas are missing for Astana" in message and "total" in message
    sizes = {row["label"]: row["n"] for row in split.context["tables"]["strata"]}
    assert sum(sizes.values()) == 3000
    assert sizes["other"] > sizes["almaty"] > sizes["astana"]  # the pilot's shares


def test_a_total_scales_the_quotas(admin_client, demo_wave, draft):
    page = admin_client.get(plan_url(draft), query(demo_wave, total="2000"))

    sizes = {row["label"]: row["n"] for row in page.context["tables"]["strata"]}
    assert sizes == {"almaty": 400, "astana": 400, "other": 1200}


def test_weights_on_some_strata_only_are_refused_in_words(
    admin_client, demo_wave, draft
):
    Stratum.objects.filter(wave=draft, code="other").update(design_weight=None)

    page = admin_client.get(plan_url(draft), query(demo_wave))

    (message,) = page.context["form"].non_field_errors()
    assert "All others" in message and "design weight" in message


# The rehearsal as a background job.


def rehearse(client, pilot, draft, **options):
    data = {**query(pilot), "draws": "300", "seed": "11", "deflators": "0"}
    data.update(options)
    return client.post(plan_url(draft), data)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"draws": "1000000000"}, "draws"),
        ({"draws": "1"}, "draws"),
        ({"seed": "-1"}, "seed"),
        ({"deflators": "1.5"}, "deflators"),
    ],
)
def test_absurd_rehearsal_options_are_refused_and_no_job_is_saved(
    admin_client, demo_wave, draft, options, field
):
    page = rehearse(admin_client, demo_wave, draft, **options)

    assert page.status_code == 200
    assert field in page.context["form"].errors
    assert not EstimateJob.objects.exists()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"draws": "100001"}, "draws"),
        ({"draws": "1e9"}, "draws"),
        ({"seed": "-1"}, "seed"),
        ({"seed": "99999999999999999999999"}, "seed"),
        ({"deflators": "2"}, "deflators"),
        ({"deflators": "nan"}, "deflators"),
    ],
)
def test_a_refused_rehearsal_shows_the_plan_and_its_form_with_the_error(
    admin_client, demo_wave, draft, options, field
):
    page = rehearse(admin_client, demo_wave, draft, **options)

    assert page.status_code == 200
    assert page.context["tables"] is not None
    html = page.content.decode()
    assert 'id="plan-strata"' in html and 'id="rehearse-form"' in html
    (message,) = page.context["form"].errors[field]
    rehearsal_form = html[html.index('id="rehearse-form"') :]
    assert f'id="error_1_id_{field}"' in rehearsal_form, message
    assert not EstimateJob.objects.exists()


def test_the_rehearsal_runs_as_a_job_with_coverage_for_each_quantity(
    admin_client, demo_wave, draft
):
    response = rehearse(admin_client, demo_wave, draft, change="-0.10")

    job = EstimateJob.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("analysis:job", args=[job.pk])
    assert job.kind == EstimateJob.REHEARSAL and job.wave == draft
    assert job.experiment == default_experiment(draft)
    spec = job.specification
    assert (spec["draws"], spec["seed"]) == (300, 11)
    assert [s["code"] for s in spec["plan"]["strata"]] == list(QUOTAS)
    assert spec["contrasts"] == ["almaty-rest"]

    estimate_job_run(job.pk)
    job.refresh_from_db()

    assert job.status == EstimateJob.SUCCEEDED, job.failure_reason
    assert job.responses_used == spec["source"]["n_used"] > 0
    quantities = {q["label"]: q for q in job.result["quantities"]}
    assert set(quantities) == {
        "overall",
        "overall (unweighted)",
        "almaty",
        "astana",
        "other",
        "almaty-rest",
        "change overall",
        "change almaty",
        "change astana",
        "change other",
    }
    for q in quantities.values():
        assert 0 <= q["coverage"] <= 1 and q["draws"] == 300
    # 300 draws: a coverage of 95% is within 0.03 of it (2.4 Monte Carlo SEs).
    assert quantities["overall"]["coverage"] == pytest.approx(0.95, abs=0.03)
    assert quantities["change almaty"]["truth"] == pytest.approx(-0.10, abs=EXACT)

    page = admin_client.get(reverse("analysis:job", args=[job.pk]))
    assert "Coverage of the 95% interval" in page.text
    assert "Almaty minus the rest" in page.text
    assert "seed 11" in page.text


def test_the_same_seed_gives_the_same_rehearsal_twice(admin_client, demo_wave, draft):
    rehearse(admin_client, demo_wave, draft)
    rehearse(admin_client, demo_wave, draft)
    first, second = EstimateJob.objects.order_by("id")

    for job in (first, second):
        estimate_job_run(job.pk)
        estimate_job_run(job.pk)  # a second delivery finds the job done
        job.refresh_from_db()

    assert first.result == second.result
    assert first.attempts == second.attempts == 1


def test_the_job_page_shows_progress_for_a_rehearsal_not_yet_run(
    analyst_client, demo_wave, draft
):
    rehearse(analyst_client, demo_wave, draft)
    job = EstimateJob.objects.get()

    page = analyst_client.get(reverse("analysis:job", args=[job.pk]))

    assert 'role="progressbar"' in page.text


# Links to the planner.


def test_the_wave_list_links_drafts_to_the_planner(analyst_client, demo_wave, draft):
    page = analyst_client.get(reverse("analysis:waves"))

    assert plan_url(draft) in page.text
    assert plan_url(demo_wave) not in page.text


def test_the_admin_links_a_draft_wave_to_the_planner(admin_client, demo_wave, draft):
    draft_page = admin_client.get(reverse("admin:survey_wave_change", args=[draft.pk]))
    pilot_page = admin_client.get(
        reverse("admin:survey_wave_change", args=[demo_wave.pk])
    )

    assert plan_url(draft) in draft_page.text
    assert plan_url(demo_wave) not in pilot_page.text


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        ({}, ((1, 1), "blocked", (4, 6))),
        (
            {"kind": "blocked", "ratio": [1, 2], "block_sizes": [3]},
            ((2, 1), "blocked", (3,)),
        ),
        ({"kind": "simple", "p": 2 / 3}, ((2, 1), "simple", ())),
        ({"kind": "complete", "ratio": [2, 3]}, ((3, 2), "complete", ())),
    ],
)
def test_the_ratio_is_read_from_the_draft_plan_treatment_first(plan, expected):
    assert draft_allocation(plan, ["control", "treatment"]) == expected
