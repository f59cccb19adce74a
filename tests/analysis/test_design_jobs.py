"""Estimate jobs on other designs: several sensitive items, the double list, a list
with a direct question, and the balance of covariates across arms.

Waves are built here with the ORM (respondents, assignments, responses), so the
tests depend on nothing but the models. The multi.csv wave is checked against the
``estimate --arms`` command on the same file (the same estimator on the same
numbers, to 1e-12); the combinedListExps.csv wave against `combinedListDirect` in
the R package `list` 9.2.6 (R 4.2.2), to 1e-6, as tests/analysis/test_direct.py.
"""

import csv
import io
import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse

from analysis.errors import AnalysisError
from analysis.estimators.balance import covariate_balance
from analysis.estimators.designs import double_list_estimates
from analysis.models import EstimateJob
from analysis.services import estimate_job_create, estimate_job_run
from fielding.models import Assignment, Respondent, Response
from survey.models import (
    Choice,
    CovariateQuestion,
    Item,
    ItemList,
    ListExperiment,
    Stratum,
    Survey,
    Wave,
)
from tests.conftest import DATA

EXACT = 1e-12
R_TOL = 1e-6


def build_wave(
    code,
    records,
    *,
    design=ListExperiment.SINGLE,
    lists=(("A", 3),),
    sensitive=("sensitive",),
    questions=(),
    direct=None,
    strata=(),
):
    """A survey, one list experiment and a draft wave holding ``records``.

    ``records`` are dicts with ``arm``, ``count`` (None for no count), and optionally
    ``second_count``, ``status`` (complete by default when there is a count),
    ``answers`` and ``stratum``. ``questions`` are (code, kind, choice codes).
    """
    survey = Survey.objects.create(code=code, name=code, languages=["en"])
    experiment = ListExperiment.objects.create(
        survey=survey, code="list", name=f"{code} list", design=design
    )
    for position, (list_code, items) in enumerate(lists, start=1):
        item_list = ItemList.objects.create(
            experiment=experiment, code=list_code, position=position
        )
        for n in range(1, items + 1):
            Item.objects.create(
                experiment=experiment,
                item_list=item_list,
                code=f"{list_code}-{n}",
                kind=Item.CONTROL,
                position=n,
            )
    for position, item in enumerate(sensitive, start=1):
        Item.objects.create(
            experiment=experiment, code=item, kind=Item.SENSITIVE, position=position
        )
    for position, (question_code, kind, choices) in enumerate(questions, start=1):
        question = CovariateQuestion.objects.create(
            survey=survey,
            code=question_code,
            kind=kind,
            position=position,
            texts={"en": question_code},
        )
        Choice.objects.bulk_create(
            Choice(question=question, code=c, position=n, labels={"en": f"{c}!"})
            for n, c in enumerate(choices, start=1)
        )
        if question_code == direct:
            experiment.direct_question = question
            experiment.save()

    wave = Wave.objects.create(survey=survey, name=f"{code} wave")
    stratum_of = {
        name: Stratum.objects.create(wave=wave, code=name, name=name, position=n)
        for n, name in enumerate(strata, start=1)
    }
    respondents = Respondent.objects.bulk_create(
        Respondent(
            wave=wave,
            answers=record.get("answers", {}),
            stratum=stratum_of.get(record.get("stratum")),
        )
        for record in records
    )
    assignments = Assignment.objects.bulk_create(
        Assignment(
            respondent=respondent,
            experiment=experiment,
            arm=record["arm"],
            source=Assignment.IMPORT,
        )
        for respondent, record in zip(respondents, records)
    )
    Response.objects.bulk_create(
        Response(
            assignment=assignment,
            status=record.get(
                "status",
                Response.COMPLETE if record["count"] is not None else Response.REFUSED,
            ),
            count=record["count"],
            second_count=record.get("second_count"),
        )
        for assignment, record in zip(assignments, records)
        if record.get("status") != "none"
    )
    return wave


def run(wave, **options):
    job = estimate_job_create(wave=wave, by=options.pop("by", []), **options)
    estimate_job_run(job.pk)
    job.refresh_from_db()
    assert job.status == EstimateJob.SUCCEEDED, job.failure_reason
    return job


def csv_rows(name):
    with (DATA / name).open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def multi_wave(db):
    """multi.csv: control, race and affirm arms (J = 3), south coded, age numeric."""
    records = [
        {
            "arm": row["treat"],
            "count": int(row["y"]),
            "answers": {"south": row["south"], "age": row["age"]},
        }
        for row in csv_rows("multi.csv")
    ]
    return build_wave(
        "multi",
        records,
        sensitive=("race", "affirm"),
        questions=[
            ("south", CovariateQuestion.CODED, ["0", "1"]),
            ("age", CovariateQuestion.NUMERIC, []),
        ],
    )


def command_json(*args):
    out = StringIO()
    call_command("estimate", *map(str, args), "--format", "json", stdout=out)
    return json.loads(out.getvalue())


def test_several_items_equal_the_estimate_command_on_the_file(multi_wave):
    job = run(multi_wave, by=["south"])
    command = command_json(
        DATA / "multi.csv",
        "--outcome",
        "y",
        "--treat",
        "treat",
        "--items",
        "3",
        "--arms",
        "control,race,affirm",
        "--by",
        "south",
    )

    result = job.result
    assert result["list_design"] == "several_items"
    assert [arm["arm"] for arm in result["arms"]] == ["race", "affirm"]
    for key in ("arms", "differences"):
        for ours, theirs in zip(result[key], command[key], strict=True):
            for field in ("estimate", "se", "ci_low", "ci_high"):
                assert ours[field] == pytest.approx(theirs[field], abs=EXACT)
    # R package list 9.2.6 / base R on race.csv: the race item, same controls.
    assert result["arms"][0]["estimate"] == pytest.approx(0.0677974402507511, abs=1e-9)
    assert [(g["level"], g["label"]) for g in result["groups"]] == [
        ("0", "0!"),
        ("1", "1!"),
    ]
    for ours, theirs in zip(result["groups"], command["groups"], strict=True):
        assert ours["arms"][0]["estimate"] == pytest.approx(
            theirs["arms"][0]["estimate"], abs=EXACT
        )
        assert ours["differences"][0]["se"] == pytest.approx(
            theirs["differences"][0]["se"], abs=EXACT
        )
    assert set(result["statuses"]) == {"control", "race", "affirm"}


def combined_list1_wave() -> Wave:
    """List 1 of combinedListExps with its direct question: the rows with
    directsfirst == 1 and no missing value, as R's example uses them."""
    kept = [
        row
        for row in csv_rows("combinedListExps.csv")
        if row["directsfirst"] == "1" and all(v != "" for v in row.values())
    ]
    records = [
        {
            "arm": "treatment" if row["list1treat"] == "1" else "control",
            "count": int(row["list1N"]),
            "answers": {"direct1": row["direct1"]},
        }
        for row in kept
    ]
    return build_wave(
        "combined",
        records,
        lists=(("A", 4),),
        questions=[("direct1", CovariateQuestion.CODED, ["1", "0"])],
        direct="direct1",
    )


def test_the_list_and_direct_question_match_the_r_package(db):
    wave = combined_list1_wave()

    result = run(wave, direct=True).result

    # R list 9.2.6, combinedListDirect on list 1, directsfirst == 1, na.omit.
    assert result["combined"]["estimate"] == pytest.approx(0.665618421052632, abs=R_TOL)
    assert result["combined"]["se"] == pytest.approx(0.0484034315116962, abs=R_TOL)
    assert result["direct"]["estimate"] == pytest.approx(0.656, abs=R_TOL)
    assert result["direct"]["se"] == pytest.approx(0.0212657580379788, abs=R_TOL)
    assert result["list"]["estimate"] == pytest.approx(0.747739095638258, abs=R_TOL)
    assert result["list"]["se"] == pytest.approx(0.084410100112213, abs=R_TOL)
    assert {"placebo_1", "placebo_2"} <= set(result["combined"])
    assert "sensitivity_bias" in result and result["overall"]["n_control"] > 0


def double_records(n=240, seed=11):
    """A double list (lists A and B, J = 3 each) with 30% holding the item."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        on_a = i % 2 == 0
        holds = rng.random() < 0.3
        a = int(rng.binomial(3, 0.5)) + int(on_a and holds)
        b = int(rng.binomial(3, 0.4)) + int(not on_a and holds)
        records.append(
            {
                "arm": "A" if on_a else "B",
                "count": a,
                "second_count": b,
                "answers": {"g": "x" if i % 3 else "y"},
            }
        )
    return records


def test_a_double_list_gives_each_list_and_the_combined_estimate_by_group(db):
    records = double_records()
    wave = build_wave(
        "double",
        records,
        design=ListExperiment.DOUBLE,
        lists=(("A", 3), ("B", 3)),
        questions=[("g", CovariateQuestion.CODED, ["x", "y"])],
    )

    result = run(wave, by=["g"]).result

    a = np.array([r["count"] for r in records], dtype=float)
    b = np.array([r["second_count"] for r in records], dtype=float)
    on_a = np.array([r["arm"] == "A" for r in records])
    expected = double_list_estimates(a, b, on_a, 3, 3).to_dict()
    assert result["list_design"] == "double"
    assert [item["code"] for item in result["lists"]] == ["A", "B"]
    assert result["combined"]["estimate"] == pytest.approx(
        expected["combined"]["estimate"], abs=EXACT
    )
    assert result["combined"]["se"] == pytest.approx(
        expected["combined"]["se"], abs=EXACT
    )
    y = np.array([r["answers"]["g"] == "y" for r in records])
    in_y = double_list_estimates(a[y], b[y], on_a[y], 3, 3).to_dict()
    group = next(g for g in result["groups"] if g["level"] == "y")
    assert group["combined"]["estimate"] == pytest.approx(
        in_y["combined"]["estimate"], abs=EXACT
    )
    assert group["share"] == pytest.approx(y.mean())


def race_records(refused=()):
    """race.csv as records, south and male coded; the rows in ``refused`` refused."""
    records = []
    for i, row in enumerate(csv_rows("race.csv")):
        arm = "treatment" if row["treat"] == "1" else "control"
        record = {
            "arm": arm,
            "count": int(row["y"]),
            "answers": {"south": row["south"], "male": row["male"], "age": row["age"]},
        }
        if i in refused:
            record.update(count=None, status=Response.REFUSED)
        records.append(record)
    return records


RACE_QUESTIONS = [
    ("south", CovariateQuestion.CODED, ["1", "0"]),
    ("male", CovariateQuestion.CODED, ["0", "1"]),
    ("age", CovariateQuestion.NUMERIC, []),
]


def test_balance_in_a_job_is_the_balance_of_the_responses_it_used(db):
    records = race_records(refused={0, 1, 2, 3, 5, 8, 13})
    wave = build_wave("race-balance", records, questions=RACE_QUESTIONS)

    balance = run(wave, balance=["south", "male", "age"]).result["balance"]

    used = [r for r in records if r["count"] is not None]
    expected = covariate_balance(
        {
            "south": np.array([r["answers"]["south"] for r in used], dtype=object),
            "male": np.array([r["answers"]["male"] for r in used], dtype=object),
            "age": np.array([float(r["answers"]["age"]) for r in used]),
        },
        np.array([r["arm"] for r in used], dtype=object),
        coded={"south", "male"},
        arm_names=["control", "treatment"],
    ).to_dict()
    assert balance["joint"]["statistic"] == pytest.approx(
        expected["joint"]["statistic"], abs=EXACT
    )
    assert balance["joint"]["n"] == len(used) == 1206
    south = balance["covariates"][0]
    assert [level["label"] for level in south["levels"]] == ["1!", "0!"]
    refused = {
        arm["arm"]: arm["counts"]["refused"] for arm in balance["nonresponse"]["arms"]
    }
    assert sum(refused.values()) == 7
    assert "no_response" not in balance["nonresponse"]["statuses"]


def test_stratum_fixed_effects_come_from_the_waves_strata(db):
    records = race_records()
    for record in records:
        record["stratum"] = "south" if record["answers"]["south"] == "1" else "north"
    wave = build_wave(
        "race-strata", records, questions=RACE_QUESTIONS, strata=("north", "south")
    )

    joint = run(wave, balance=["male", "age", "south"]).result["balance"]["joint"]

    # R 4.2.2, glm(treat ~ factor(south) + factor(male) + age) against
    # glm(treat ~ factor(south)) on race.csv (tests/analysis/balance_reference.R
    # prints the same comparison with college as well).
    assert joint["strata"] is True
    assert joint["dropped"] == ["south=1"]
    assert joint["df"] == 2


def test_a_job_on_arms_that_differ_warns_before_the_estimates(analyst_client, db):
    rng = np.random.default_rng(3)
    records = []
    for i in range(300):
        arm = "treatment" if i % 2 else "control"
        city = rng.random() < (0.8 if arm == "treatment" else 0.3)
        records.append(
            {
                "arm": arm,
                "count": int(rng.integers(0, 4)),
                "answers": {"town": "city" if city else "village"},
            }
        )
    wave = build_wave(
        "skewed",
        records,
        questions=[("town", CovariateQuestion.CODED, ["city", "village"])],
    )

    job = run(wave, balance=["town"])
    page = analyst_client.get(reverse("analysis:job", args=[job.pk])).text

    assert job.result["balance"]["imbalanced"] is True
    warning = page.index('id="balance-warning"')
    assert warning < page.index('id="estimate-table"') < page.index('id="balance"')
    assert "joint test p = 0.0000" in page


def test_the_job_page_shows_several_items_and_their_differences(
    analyst_client, multi_wave
):
    job = run(multi_wave, by=["south"], balance=["south", "age"])

    page = analyst_client.get(reverse("analysis:job", args=[job.pk])).text

    assert 'id="items-table"' in page and 'id="item-differences"' in page
    assert "6.8" in page  # the race item, in percent
    assert 'id="balance-table"' in page and "multinomial logit" in page
    assert 'id="estimate-table"' not in page


def test_the_job_page_shows_a_double_list(analyst_client, db):
    wave = build_wave(
        "double-page",
        double_records(),
        design=ListExperiment.DOUBLE,
        lists=(("A", 3), ("B", 3)),
        questions=[("g", CovariateQuestion.CODED, ["x", "y"])],
    )
    job = run(wave, by=["g"])

    page = analyst_client.get(reverse("analysis:job", args=[job.pk])).text

    assert 'id="double-list-table"' in page and "List A" in page


def test_the_downloads_carry_each_design(analyst_client, multi_wave):
    job = run(multi_wave, by=["south"])

    body = analyst_client.get(reverse("analysis:job-csv", args=[job.pk])).content
    data = analyst_client.get(reverse("analysis:job-json", args=[job.pk])).content

    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8")[1:])))
    race = next(r for r in rows if r["variable"] == "overall" and r["term"] == "race")
    assert float(race["estimate"]) == pytest.approx(
        job.result["arms"][0]["estimate"], abs=EXACT
    )
    assert {r["kind"] for r in rows} == {"item", "difference"}
    assert {r["label"] for r in rows if r["variable"] == "south"} == {"0!", "1!"}
    assert json.loads(data)["differences"][0]["a"] == "race"


def test_the_direct_question_is_in_the_csv_and_on_the_page(analyst_client, db):
    rng = np.random.default_rng(5)
    records = []
    for i in range(200):
        arm = "treatment" if i % 2 else "control"
        holds = rng.random() < 0.4
        records.append(
            {
                "arm": arm,
                "count": int(rng.integers(0, 4)) + int(arm == "treatment" and holds),
                "answers": {"asked": "1" if holds and rng.random() < 0.7 else "0"},
            }
        )
    wave = build_wave(
        "direct",
        records,
        questions=[("asked", CovariateQuestion.CODED, ["1", "0"])],
        direct="asked",
    )
    job = run(wave, direct=True)

    page = analyst_client.get(reverse("analysis:job", args=[job.pk])).text
    body = analyst_client.get(reverse("analysis:job-csv", args=[job.pk])).content

    assert 'id="direct-table"' in page and 'id="placebo-tests"' in page
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8")[1:])))
    combined = next(r for r in rows if r["level"] == "combined")
    assert combined["variable"] == "direct_question"
    assert float(combined["estimate"]) == pytest.approx(
        job.result["combined"]["estimate"], abs=EXACT
    )


def test_the_form_starts_a_job_with_balance_and_the_direct_question(analyst_client, db):
    wave = build_wave(
        "form",
        [
            {"arm": a, "count": c, "answers": {"asked": d}}
            for a, c, d in [
                ("control", 1, "0"),
                ("control", 2, "1"),
                ("treatment", 2, "0"),
                ("treatment", 3, "1"),
            ]
        ],
        questions=[("asked", CovariateQuestion.CODED, ["1", "0"])],
        direct="asked",
    )
    experiment = wave.survey.experiments.get()

    response = analyst_client.post(
        reverse("analysis:estimate", args=[wave.pk]),
        {
            "experiment": experiment.pk,
            "direct": "on",
            "balance": ["asked"],
            "gms": "on",
        },
    )

    job = EstimateJob.objects.get()
    assert response.status_code == 302
    assert job.specification["direct"] is True
    assert job.specification["balance"] == ["asked"]


def test_the_form_refuses_the_direct_question_where_there_is_none(
    analyst_client, race_wave
):
    experiment = race_wave.survey.experiments.get()

    page = analyst_client.post(
        reverse("analysis:estimate", args=[race_wave.pk]),
        {"experiment": experiment.pk, "direct": "on"},
    ).text

    assert "has no direct question" in page
    assert not EstimateJob.objects.exists()


@pytest.mark.parametrize(
    "options, words",
    [
        ({"weighted": True}, "weights"),
        ({"compare": [("south", "0", "1")]}, "differences between groups"),
        ({"design_test": True}, "design-effect test"),
        ({"model": "lm"}, "regression model"),
        ({"direct": True}, "direct question"),
    ],
)
def test_several_items_refuse_what_only_one_item_supports(multi_wave, options, words):
    with pytest.raises(AnalysisError, match=words):
        estimate_job_create(wave=multi_wave, by=[], **options)

    assert not EstimateJob.objects.exists()


def test_balance_on_something_not_asked_is_refused(race_wave):
    with pytest.raises(AnalysisError, match="stratum"):
        estimate_job_create(wave=race_wave, by=[], balance=["stratum"])


def test_a_job_with_an_empty_item_arm_set_fails_in_words(db):
    records = [{"arm": "control", "count": c} for c in (0, 1, 2, 3)]
    wave = build_wave("empty", records, sensitive=("a", "b"))

    job = estimate_job_create(wave=wave, by=[])
    estimate_job_run(job.pk)
    job.refresh_from_db()

    assert job.status == EstimateJob.FAILED
    assert "no complete responses in the a, b arm" in job.failure_reason


def test_an_experiment_without_a_sensitive_item_is_refused(db):
    wave = build_wave("none", [{"arm": "control", "count": 1}], sensitive=())

    with pytest.raises(AnalysisError, match="no sensitive item"):
        estimate_job_create(wave=wave, by=[])
