"""Change between waves: the numbers, the refusal when the cards differ, the job, pages.

The two waves of `split_race_waves` are race.csv split by ``south``: the rows with
south = 0 imported as the earlier wave, those with south = 1 as the later wave of the
same survey, with ``male`` as a covariate and the synthetic design weight of
test_weighted.py, w = 1 + (round(10 * age) mod 7) / 3. The reference values were
printed by R 4.2.2 with survey 4.1.1 (tolerance 1e-9 absolute) from this script, run
at the repository root:

    library(survey)
    race <- read.csv("tests/data/race.csv")
    race$w <- 1 + (round(race$age * 10) %% 7) / 3
    race$later <- race$south
    # unweighted: each wave's difference in means with its unpooled SE, combined
    neyman <- function(d) {
      t <- d$y[d$treat == 1]; c <- d$y[d$treat == 0]
      c(mean(t) - mean(c), sqrt(var(t) / length(t) + var(c) / length(c)))
    }
    change <- function(d) {
      a <- neyman(d[d$later == 0, ]); b <- neyman(d[d$later == 1, ])
      c(b[1] - a[1], sqrt(a[2]^2 + b[2]^2))
    }
    change(race); change(race[race$male == 0, ]); change(race[race$male == 1, ])
    # weighted: one svyglm with the waves as strata; the interaction is the change
    design <- svydesign(ids = ~1, strata = ~later, weights = ~w, data = race)
    inter <- function(design) {
      fit <- svyglm(y ~ treat * later, design)
      c(coef(fit)[["treat:later"]], sqrt(vcov(fit)["treat:later", "treat:later"]))
    }
    inter(design); inter(subset(design, male == 0)); inter(subset(design, male == 1))
    # each wave on its own
    for (s in 0:1) print(summary(svyglm(y ~ treat,
      svydesign(ids = ~1, weights = ~w, data = race[race$later == s, ]))))
"""

import copy
import csv
import io

import numpy as np
import pytest
from django.urls import reverse

from analysis.comparison import (
    card_differences,
    check_comparable,
    compare_job_create,
    wave_comparison,
)
from analysis.errors import AnalysisError
from analysis.models import EstimateJob
from analysis.services import estimate_job_run
from fielding.services import responses_simulate
from survey.cards import card_snapshot
from survey.demo import pilot_wave_create
from survey.models import CardText, Wave
from survey.services import wave_open
from tests.conftest import RACE_CSV, import_csv

TOLERANCE = 1e-9
UNWEIGHTED = {
    "overall": (0.253223284441569, 0.119752305415017),
    "0": (-0.0552259695365533, 0.16033647686614),
    "1": (0.586340299801022, 0.176331364698464),
}
WEIGHTED = {
    "overall": (0.221714389642474, 0.126843311735137),
    "0": (-0.0930071891129443, 0.171126826636966),
    "1": (0.563204422504153, 0.183878568074247),
}
WEIGHTED_P = 0.0804745658892942
WEIGHTED_WAVES = {
    "earlier": (0.0271904776141602, 0.0573214068888617),
    "later": (0.248904867256637, 0.113152472550178),
}


def race_part(south: str) -> bytes:
    """The rows of race.csv with the given south, plus the synthetic weight w."""
    with RACE_CSV.open(newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["south"] == south]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["y", "treat", "male", "w"])
    for row in rows:
        weight = 1 + (np.round(float(row["age"]) * 10) % 7) / 3
        writer.writerow([row["y"], row["treat"], row["male"], repr(float(weight))])
    return out.getvalue().encode()


def split_race_waves() -> tuple[Wave, Wave]:
    """Two draft waves of one survey: race.csv's south = 0 rows, then south = 1."""
    spec = {
        "items": 3,
        "outcome": "y",
        "treat": "treat",
        "covariates": ("male",),
        "weight": "w",
    }
    earlier = import_csv(race_part("0"), name="race earlier.csv", **spec).wave
    later = Wave.objects.create(survey=earlier.survey, name="race later")
    import_csv(race_part("1"), name="race later.csv", wave=later, **spec)
    return earlier, later


@pytest.fixture
def race_waves(db):
    return split_race_waves()


def assert_matches(result: dict, expected: dict) -> None:
    overall = result["overall"]
    assert overall["estimate"] == pytest.approx(expected["overall"][0], abs=TOLERANCE)
    assert overall["se"] == pytest.approx(expected["overall"][1], abs=TOLERANCE)
    assert [g["level"] for g in result["groups"]] == ["0", "1"]
    for group in result["groups"]:
        assert group["variable"] == "male"
        assert group["estimate"] == pytest.approx(
            expected[group["level"]][0], abs=TOLERANCE
        )
        assert group["se"] == pytest.approx(expected[group["level"]][1], abs=TOLERANCE)


def test_the_change_matches_r_overall_and_by_level(race_waves):
    earlier, later = race_waves

    result = wave_comparison(earlier=earlier, later=later, by=["male"])

    assert_matches(result, UNWEIGHTED)
    assert result["earlier"]["n_used"] + result["later"]["n_used"] == 1213
    assert result["earlier"]["wave"] == {"id": earlier.pk, "name": earlier.name}
    assert result["unmatched"] == []
    assert not result["weighted"]


def test_the_weighted_change_matches_one_svyglm_with_the_waves_as_strata(race_waves):
    earlier, later = race_waves

    result = wave_comparison(earlier=earlier, later=later, by=["male"], weighted=True)

    assert_matches(result, WEIGHTED)
    assert result["overall"]["p_value"] == pytest.approx(WEIGHTED_P, abs=TOLERANCE)
    for key, (value, se) in WEIGHTED_WAVES.items():
        assert result[key]["overall"]["estimate"] == pytest.approx(value, abs=TOLERANCE)
        assert result[key]["overall"]["se"] == pytest.approx(se, abs=TOLERANCE)
        assert result[key]["weighted"] and result[key]["design"]["weights"]


def test_each_group_has_its_label_and_both_waves_estimates(race_waves):
    earlier, later = race_waves

    result = wave_comparison(earlier=earlier, later=later, by=["male"])

    group = result["groups"][1]
    assert group["label"] == "1"
    assert group["later"]["estimate"] - group["earlier"]["estimate"] == pytest.approx(
        group["estimate"]
    )
    assert {"n_treatment", "n_control", "ci_low"} <= set(group["earlier"])


def with_card_changes(snapshot: dict) -> dict:
    """The race survey's cards with an item swapped, a text edited and Russian added."""
    changed = copy.deepcopy(snapshot)
    experiment = changed["list"]
    experiment["lists"]["A"] = ["item1", "item2", "item9"]
    experiment["texts"]["en"]["items"]["item1"]["text"] = "Gas prices"
    experiment["texts"]["ru"] = copy.deepcopy(experiment["texts"]["en"])
    return changed


def test_it_refuses_waves_whose_cards_differ_and_says_what_differs(race_waves):
    earlier, later = race_waves
    changed = with_card_changes(card_snapshot(earlier.survey))
    Wave.objects.filter(pk=earlier.pk).update(frozen_cards=changed)
    earlier.refresh_from_db()

    with pytest.raises(AnalysisError) as refused:
        wave_comparison(earlier=earlier, later=later)

    message = str(refused.value)
    assert "did not show the same cards" in message
    assert "items added in the later wave: “item3”" in message
    assert "items removed in the later wave: “item9”" in message
    assert "item “item1”: the English text changed" in message
    assert "Russian texts are only in the earlier wave" in message
    assert "item2" not in message


def test_card_differences_name_sensitive_items_instructions_and_order():
    base = {
        "design": "single",
        "arms": ["control", "treatment"],
        "lists": {"A": ["a", "b"]},
        "sensitive": ["s"],
        "texts": {
            "kk": {
                "instructions": {"text": "Нұсқау", "version": 1},
                "items": {"a": {"text": "ә"}, "b": {"text": "ғ"}, "s": {"text": "қ"}},
            }
        },
    }
    later = copy.deepcopy(base)
    later["lists"]["A"] = ["b", "a"]
    later["texts"]["kk"]["instructions"] = {"text": "Жаңа нұсқау", "version": 2}
    later["texts"]["kk"]["items"]["s"]["version"] = 3

    assert card_differences(base, copy.deepcopy(base)) == []
    assert card_differences(base, later) == [
        "control list A: the same items in a different order",
        "the instructions' Kazakh text changed",
    ]
    later["sensitive"] = ["t"]
    assert "sensitive items added in the later wave: “t”" in card_differences(
        base, later
    )
    assert card_differences(base, None) == [
        "the later wave's cards lack this list experiment"
    ]


@pytest.fixture
def demo_waves(demo_wave):
    """The demo's pilot and a second wave opened with the same cards, 400 simulated."""
    second = pilot_wave_create(demo_wave.survey)
    Wave.objects.filter(pk=second.pk).update(name="Second wave")
    second = wave_open(wave=second, seed=7)
    responses_simulate(wave=second, n=400, seed=7)
    return demo_wave, second


def test_two_waves_opened_on_the_same_cards_can_be_compared(demo_waves):
    pilot, second = demo_waves

    result = wave_comparison(earlier=pilot, later=second, by=["gender"])

    assert check_comparable(pilot, second).code == "csto"
    assert [g["label"] for g in result["groups"]] == ["Male", "Female"]
    assert result["later"]["n_used"] < result["earlier"]["n_used"]


def test_a_kazakh_text_edited_after_the_pilot_refuses_a_new_wave(demo_wave):
    text = CardText.objects.get(item__code="csto", language="kk")
    text.text += " (жаңа)"
    text.save()
    draft = Wave.objects.create(survey=demo_wave.survey, name="Draft")

    with pytest.raises(AnalysisError, match="item “csto”: the Kazakh text changed"):
        check_comparable(demo_wave, draft)


def test_it_refuses_the_same_wave_and_waves_of_two_surveys(race_waves, small_wave):
    earlier, later = race_waves

    with pytest.raises(AnalysisError, match="two different waves"):
        wave_comparison(earlier=later, later=later)
    with pytest.raises(AnalysisError, match="different surveys"):
        wave_comparison(earlier=small_wave, later=later)


def test_it_refuses_an_unknown_breakdown_and_a_weighting_without_design(race_waves):
    earlier, later = race_waves

    with pytest.raises(AnalysisError, match="Cannot break down by nothing"):
        wave_comparison(earlier=earlier, later=later, by=["nothing"])
    later.respondents.update(weight=None)
    with pytest.raises(AnalysisError, match="“race later” has no design"):
        wave_comparison(earlier=earlier, later=later, weighted=True)


def run(job: EstimateJob) -> EstimateJob:
    estimate_job_run(job.pk)
    job.refresh_from_db()
    return job


def test_a_comparison_job_stores_the_change_and_what_it_used(race_waves):
    earlier, later = race_waves

    job = run(compare_job_create(earlier=earlier, later=later, by=["male"]))

    assert job.status == EstimateJob.SUCCEEDED, job.failure_reason
    assert job.kind == EstimateJob.COMPARE
    assert (job.wave, job.earlier_wave) == (later, earlier)
    assert_matches(job.result, UNWEIGHTED)
    assert job.responses_used == 1213
    assert len(job.responses_checksum) == 64
    assert job.progress == 1.0


def test_running_a_comparison_job_twice_changes_nothing(race_waves):
    earlier, later = race_waves
    job = run(compare_job_create(earlier=earlier, later=later, by=[]))
    finished_at = job.finished_at

    assert estimate_job_run(job.pk) is True
    job.refresh_from_db()

    assert job.finished_at == finished_at and job.attempts == 1


def test_a_refused_comparison_saves_no_job(race_waves):
    earlier, later = race_waves
    changed = with_card_changes(card_snapshot(earlier.survey))
    Wave.objects.filter(pk=earlier.pk).update(frozen_cards=changed)
    earlier.refresh_from_db()

    with pytest.raises(AnalysisError):
        compare_job_create(earlier=earlier, later=later, by=[])

    assert not EstimateJob.objects.exists()


def test_a_job_fails_in_plain_words_when_the_cards_change_before_it_runs(race_waves):
    earlier, later = race_waves
    job = compare_job_create(earlier=earlier, later=later, by=[])
    changed = with_card_changes(card_snapshot(earlier.survey))
    Wave.objects.filter(pk=earlier.pk).update(frozen_cards=changed)

    job = run(job)

    assert job.status == EstimateJob.FAILED
    assert "did not show the same cards" in job.failure_reason


def test_the_wave_list_links_to_the_comparison_form(analyst_client, race_waves):
    page = analyst_client.get(reverse("analysis:waves"))

    assert reverse("analysis:compare", args=[race_waves[1].pk]) in page.text
    assert "Compare with an earlier wave" in page.text


def test_an_analyst_compares_two_waves_from_the_form(analyst_client, race_waves):
    earlier, later = race_waves
    url = reverse("analysis:compare", args=[later.pk])
    experiment = later.survey.experiments.get()

    form = analyst_client.get(url)
    response = analyst_client.post(
        url, {"earlier": earlier.pk, "experiment": experiment.pk, "by": ["male"]}
    )

    assert form.status_code == 200 and earlier.name in form.text
    job = EstimateJob.objects.get()
    assert response.url == reverse("analysis:job", args=[job.pk])
    assert (job.kind, job.earlier_wave, job.specification["by"]) == (
        EstimateJob.COMPARE,
        earlier,
        ["male"],
    )


def test_the_form_shows_the_refusal_and_saves_nothing(analyst_client, race_waves):
    earlier, later = race_waves
    changed = with_card_changes(card_snapshot(earlier.survey))
    Wave.objects.filter(pk=earlier.pk).update(frozen_cards=changed)
    url = reverse("analysis:compare", args=[later.pk])

    response = analyst_client.post(
        url,
        {"earlier": earlier.pk, "experiment": later.survey.experiments.get().pk},
    )

    assert response.status_code == 200
    assert "did not show the same cards" in response.text
    assert not EstimateJob.objects.exists()


def test_a_wave_without_another_wave_has_nothing_to_compare(analyst_client, small_wave):
    page = analyst_client.get(reverse("analysis:compare", args=[small_wave.pk]))

    assert "no other wave to compare with" in page.text


def test_the_job_page_shows_the_change_table_and_figure(analyst_client, race_waves):
    earlier, later = race_waves
    job = run(compare_job_create(earlier=earlier, later=later, by=["male"]))

    page = analyst_client.get(reverse("analysis:job", args=[job.pk]))

    assert 'id="change-table"' in page.text
    assert "25.3" in page.text  # the overall change, 0.2532, in percent
    assert reverse("analysis:job-figure", args=[job.pk, "change", "png"]) in page.text
    assert reverse("analysis:job-figure", args=[job.pk, "change", "svg"]) in page.text


def test_a_comparison_downloads_as_csv_with_both_waves(analyst_client, race_waves):
    earlier, later = race_waves
    job = run(compare_job_create(earlier=earlier, later=later, by=["male"]))

    response = analyst_client.get(reverse("analysis:job-csv", args=[job.pk]))

    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["level"] for row in rows] == ["overall", "0", "1"]
    assert float(rows[0]["change_estimate"]) == pytest.approx(
        UNWEIGHTED["overall"][0], abs=TOLERANCE
    )
    assert float(rows[0]["change_se"]) == pytest.approx(
        UNWEIGHTED["overall"][1], abs=TOLERANCE
    )
    assert rows[0]["earlier_n_treatment"] and rows[0]["later_n_control"]
