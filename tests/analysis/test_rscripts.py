"""The R script that reproduces an estimate job from the wave's microdata.

Text-level tests run everywhere. Where Rscript is installed (Debian's r-base-core and
r-cran-survey), the scripts of real jobs are run on the wave's microdata as the API
streams it, and must report that every figure agrees with the job's to 1e-8: the
difference in means against base R, the weighted estimates against R's survey
package (svydesign, svyby, svycontrast).
"""

import os
import shutil
import subprocess
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.urls import reverse

from analysis.models import EstimateJob
from analysis.rscripts import r_number, r_script, r_string, wave_facts
from analysis.services import estimate_job_create, estimate_job_run
from fielding.models import Response
from survey.demo import places_ensure
from survey.models import Wave
from tests.conftest import import_csv

RSCRIPT = shutil.which("Rscript")
AGREE = "All figures agree to 1e-8"


def survey_installed() -> bool:
    if RSCRIPT is None:
        return False
    check = subprocess.run(
        [RSCRIPT, "-e", "library(survey)"], capture_output=True, timeout=120
    )
    return check.returncode == 0


needs_r = pytest.mark.skipif(
    RSCRIPT is None,
    reason="Rscript is not installed (apt-get install r-base-core r-cran-survey)",
)
needs_survey = pytest.mark.skipif(
    not survey_installed(),
    reason="R's survey package is not installed (apt-get install r-cran-survey)",
)


def run_job(wave, by, **options) -> EstimateJob:
    job = estimate_job_create(wave=wave, by=by, **options)
    estimate_job_run(job.pk)
    job.refresh_from_db()
    assert job.status == EstimateJob.SUCCEEDED, job.failure_reason
    return job


def plain_job(**result) -> SimpleNamespace:
    """A finished job as plain data: an overall estimate and one gender level."""
    estimate = {
        "estimate": 0.25,
        "se": 0.1,
        "ci_low": 0.054,
        "ci_high": 0.446,
        "n_treatment": 40,
        "n_control": 38,
        "mean_treatment": 2.0,
        "mean_control": 1.75,
        "share": None,
        "note": None,
    }
    return SimpleNamespace(
        pk=7,
        status="succeeded",
        kind="estimate",
        responses_used=78,
        software_version="0.1.0",
        specification={"by": ["gender"], "language": "ru"},
        result={
            "overall": estimate,
            "groups": [
                {
                    **estimate,
                    "variable": "gender",
                    "level": "ж",
                    "label": "Женский",
                    "share": 0.5,
                }
            ],
            "weighted": False,
            "items": 4,
            **result,
        },
    )


FACTS = {
    "id": 3,
    "name": "Пилот",
    "experiment": "csto",
    "experiments": 1,
    "questions": ["gender", "education", "age"],
    "numeric": ["age"],
    "recodes": {
        "university": {
            "question": "education",
            "mapping": {"5": "university", "6": "university"},
        }
    },
    "design_weights": {"almaty": 1.5, "astana": None, "other": 0.75},
}


# Text --------------------------------------------------------------------------


def test_r_strings_are_ascii_with_escapes_for_everything_else():
    assert r_string('say "hi" \\ now') == '"say \\"hi\\" \\\\ now"'
    assert r_string("пол") == '"\\u043f\\u043e\\u043b"'
    assert r_string("a\nb") == '"a\\nb"'
    assert r_string("😀") == '"\\U{1f600}"'


def test_r_numbers_read_back_as_the_same_double():
    assert r_number(None) == "NA"
    assert r_number(float("nan")) == "NA"
    assert r_number(3) == "3"
    assert float(r_number(0.1 + 0.2)) == 0.1 + 0.2
    assert r_number(0.30000000000000004) == "0.30000000000000004"


def test_the_script_reads_the_microdata_and_keeps_the_jobs_rows():
    script = r_script(plain_job(), FACTS)

    assert 'read.csv(microdata, encoding = "UTF-8", check.names = FALSE' in script
    assert 'else "wave3-responses.csv"' in script
    assert 'data$status %in% "complete"' in script
    assert 'data$arm %in% c("control", "treatment")' in script
    assert 'unweighted_table(variables[c("gender")])' in script
    assert "svydesign" not in script
    assert script.isascii()


def test_the_jobs_figures_and_labels_are_written_into_the_script():
    script = r_script(plain_job(), FACTS)

    assert 'level = c("overall", "\\u0436")' in script
    assert (
        'label = c("overall", "\\u0416\\u0435\\u043d\\u0441\\u043a\\u0438\\u0439")'
        in (script)
    )
    assert "estimate = c(0.25, 0.25)" in script
    assert "share = c(NA, 0.5)" in script
    assert "job_responses_used <- 78" in script
    assert AGREE in script


def test_a_recode_is_worked_out_from_its_question_with_the_mapping_written_out():
    job = plain_job()
    job.specification["by"] = ["university"]

    script = r_script(job, FACTS)

    assert 'variables[["university"]] <- recode(data[["education"]],' in script
    assert 'from = c("5", "6"),' in script
    assert 'to = c("university", "university"))' in script
    assert '"education"' in script.split("needed <- ")[1].split("\n")[0]


def test_a_weighted_job_sets_design_weights_by_stratum_when_respondents_have_none():
    job = plain_job(design={"weights": True, "strata": True, "clusters": False})
    job.result["weighted"] = True

    script = r_script(job, FACTS)

    assert "library(survey)" in script
    assert 'stratum = c("almaty", "astana", "other")' in script
    assert "weight = c(1.5, NA, 0.75)" in script
    assert "if (all(is.na(weight)))" in script
    assert "svydesign(ids = ~1, strata = ~stratum, weights = ~weight," in script
    assert "within_strata <- (max(shares) - min(shares)) > 0.1" in script
    assert "svyby(~count, ~cell" in script and "svycontrast(means" in script


def test_a_clustered_job_without_weights_uses_the_place_as_psu():
    job = plain_job(design={"weights": False, "strata": False, "clusters": True})
    job.result["weighted"] = True

    script = r_script(job, FACTS)

    assert "weight <- rep(1, nrow(data))" in script
    assert "design_data$cluster <- data$place" in script
    assert "svydesign(ids = ~cluster, strata = NULL, weights = ~weight," in script
    assert "within_strata <- FALSE" in script


def test_differences_the_design_test_and_models_call_the_list_package():
    model = {
        "method": "ml",
        "sensitive": {
            "coef": {"(Intercept)": -1.0, "age": 0.02, "gender:ж": 0.3},
            "se": {"(Intercept)": 0.5, "age": 0.01, "gender:ж": 0.2},
        },
        "control": {
            "coef": {"(Intercept)": 0.1, "age": 0.0, "gender:ж": 0.1},
            "se": {"(Intercept)": 0.2, "age": 0.01, "gender:ж": 0.1},
        },
        "predicted": {"estimate": 0.3, "se": 0.05},
        "predicted_by": [
            {"variable": "gender", "level": "ж", "estimate": 0.31, "se": 0.06}
        ],
    }
    job = plain_job(
        differences=[
            {
                "variable": "gender",
                "a": "ж",
                "b": "м",
                "estimate": 0.1,
                "se": 0.2,
                "ci_low": -0.29,
                "ci_high": 0.49,
                "p_value": 0.6,
            }
        ],
        design_test={
            "p_value": 0.5,
            "gms": True,
            "proportions": [{"y": 0, "z": 1, "estimate": 0.1, "se": 0.02}],
        },
        model=model,
        model_linear={**model, "method": "lm"},
    )
    job.specification.update(covariates=["age", "gender"], predict_by=["gender"])

    script = r_script(job, FACTS)

    assert 'unweighted_difference("gender", "\\u0436", "\\u043c")' in script
    assert "ict.test(count[answered], treat[answered], J = J, gms = TRUE)" in script
    assert 'requireNamespace("list", quietly = TRUE)' in script
    assert "model_data$x1 <- suppressWarnings(as.numeric(" in script
    assert 'model_data$x2 <- as.numeric(variables[["gender"]] == "\\u0436")' in script
    assert "model_formula <- count ~ x1 + x2" in script
    assert "ictreg(model_formula" in script
    assert 'job_models[["ml"]]' in script and 'job_models[["lm"]]' in script


def test_a_wave_with_several_experiments_needs_an_experiment_column():
    script = r_script(plain_job(), {**FACTS, "experiments": 2})

    assert 'data$experiment %in% "csto"' in script
    assert "answered 2 list experiments" in script


def test_a_job_it_cannot_reproduce_is_refused():
    change = plain_job()
    change.kind = "compare"
    failed = plain_job()
    failed.status = "failed"
    double = plain_job(list_design="double")

    for job in (change, failed, double):
        with pytest.raises(ValueError, match="cannot|Only"):
            r_script(job, FACTS)


# The download ------------------------------------------------------------------


def test_an_analyst_downloads_the_script_from_the_job_page(analyst_client, race_wave):
    job = run_job(race_wave, ["south"])

    page = analyst_client.get(reverse("analysis:job", args=[job.pk]))
    reply = analyst_client.get(reverse("analysis:job-reproduce", args=[job.pk]))

    assert reverse("analysis:job-reproduce", args=[job.pk]) in page.text
    assert reply.status_code == 200
    assert reply["Content-Type"] == "text/plain; charset=utf-8"
    assert f'filename="reproduce-job{job.pk}.R"' in reply["Content-Disposition"]
    assert f"wave{race_wave.pk}-responses.csv" in reply.text


def test_a_failed_job_has_no_script(analyst_client, db):
    wave = import_csv(b"y,treat\n1,0\n2,0\n", items=3, outcome="y", treat="treat").wave
    job = estimate_job_create(wave=wave, by=[])
    estimate_job_run(job.pk)

    reply = analyst_client.get(reverse("analysis:job-reproduce", args=[job.pk]))

    assert reply.status_code == 404


def test_the_wave_facts_come_from_the_jobs_rows(demo_wave):
    job = run_job(demo_wave, ["university"])

    facts = wave_facts(job)

    assert facts["id"] == demo_wave.pk and facts["experiments"] == 1
    assert facts["recodes"]["university"]["question"] == "education"
    assert facts["recodes"]["university"]["mapping"]["6"] == "university"
    assert facts["numeric"] == ["age"]
    assert set(facts["design_weights"]) == {"almaty", "astana", "other"}


# Running the script ------------------------------------------------------------


def reproduce(client, job, tmp_path, env=None) -> subprocess.CompletedProcess:
    """Download the wave's microdata and the job's script as a reviewer would, and
    run the script on the microdata."""
    microdata = client.get(f"/api/v1/waves/{job.wave_id}/responses.csv")
    assert microdata.status_code == 200
    csv_path = tmp_path / f"wave{job.wave_id}-responses.csv"
    csv_path.write_bytes(b"".join(microdata.streaming_content))
    script = client.get(reverse("analysis:job-reproduce", args=[job.pk]))
    assert script.status_code == 200
    script_path = tmp_path / "reproduce.R"
    script_path.write_bytes(script.content)

    return subprocess.run(
        [RSCRIPT, str(script_path), str(csv_path), str(tmp_path / "table.csv")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )


def assert_agrees(run: subprocess.CompletedProcess):
    assert run.returncode == 0, run.stdout + run.stderr
    assert AGREE in run.stdout, run.stdout + run.stderr


@needs_r
def test_r_reproduces_an_unweighted_job_with_breakdowns_and_a_difference(
    analyst_client, demo_wave, tmp_path
):
    job = run_job(
        demo_wave,
        ["gender", "university", "stratum"],
        compare=[("gender", "1", "2"), ("stratum", "almaty", "other")],
        design_test=True,
        language="ru",
    )

    run = reproduce(analyst_client, job, tmp_path)

    assert_agrees(run)
    assert "Not checked" in run.stdout or "design-effect test's p-value" in run.stdout
    table = (tmp_path / "table.csv").read_text(encoding="utf-8")
    assert table.splitlines()[0] == (
        '"variable","level","estimate","se","ci_low","ci_high","n_treatment",'
        '"n_control","mean_treatment","mean_control","share","note","label"'
    )
    assert "Мужской" in table


@needs_survey
def test_r_reproduces_a_weighted_job_with_strata_and_design_weights(
    analyst_client, demo_wave, tmp_path
):
    for code, weight in (("almaty", 0.6), ("astana", 0.9), ("other", 1.7)):
        demo_wave.strata.filter(code=code).update(design_weight=weight)
    job = run_job(
        demo_wave,
        ["gender", "university", "ethnicity"],
        compare=[("gender", "1", "2")],
        weighted=True,
    )
    assert job.result["design"] == {"weights": True, "strata": True, "clusters": False}

    run = reproduce(analyst_client, job, tmp_path)

    assert_agrees(run)


@needs_survey
def test_r_reproduces_a_weighted_job_estimated_within_strata(
    analyst_client, demo_wave, tmp_path
):
    # Two treatment responses in three in Almaty become refusals, so the share
    # given the treatment list differs between strata and the job estimates the
    # difference within each stratum.
    almaty = Response.objects.filter(
        assignment__respondent__wave=demo_wave,
        assignment__respondent__stratum__code="almaty",
        assignment__arm="treatment",
        status=Response.COMPLETE,
    ).order_by("pk")
    refused = [r.pk for i, r in enumerate(almaty) if i % 3]
    Response.objects.filter(pk__in=refused).update(status=Response.REFUSED, count=None)
    job = run_job(
        demo_wave, ["gender", "stratum"], compare=[("gender", "1", "2")], weighted=True
    )
    assert "within each stratum" in (job.result["overall"]["note"] or "")

    run = reproduce(analyst_client, job, tmp_path)

    assert_agrees(run)


@needs_survey
def test_r_reproduces_respondent_weights_clusters_and_text_in_any_alphabet(
    analyst_client, tmp_path, db
):
    places_ensure()
    towns = ["almaty", "astana", "shymkent", "karaganda", "aktobe", "pavlodar"]
    rows = ["y,treat,w,пол,place"]
    for i in range(300):
        treat = i % 2
        count = (i * 7 + i // 3) % 4 + treat * int((i * 11) % 10 < 4)
        gender = "ж" if (i // 2) % 3 else "м"
        rows.append(f"{count},{treat},{1 + (i % 7) / 3},{gender},{towns[i % 6]}")
    wave = import_csv(
        "\n".join(rows).encode(),
        name="веса.csv",
        items=3,
        outcome="y",
        treat="treat",
        weight="w",
        place="place",
        covariates=("пол",),
    ).wave
    Wave.objects.filter(pk=wave.pk).update(cluster=Wave.CLUSTER_PLACE)
    job = run_job(
        wave, ["пол", "region", "place"], compare=[("пол", "ж", "м")], weighted=True
    )
    assert job.result["design"] == {"weights": True, "strata": False, "clusters": True}

    run = reproduce(analyst_client, job, tmp_path)

    assert_agrees(run)


# A stand-in for the list package (which Debian does not package): its ictreg fits
# the linear model exactly as list 9.2.6 does (least squares of the count on x and
# x * treat, HC3 covariance as sandwich::vcovHC gives it, sensitive-item terms
# first in vcov), so the script's model code runs end to end.
STANDIN = {
    "DESCRIPTION": (
        "Package: list\nVersion: 0.0.1\nTitle: Stand-in for the linear ictreg\n"
        "Description: Test stand-in.\nLicense: GPL-2\nImports: stats\n"
    ),
    "NAMESPACE": (
        "export(ictreg, ict.test)\nimportFrom(stats, vcov)\nS3method(vcov, ictreg)\n"
    ),
    "R/list.R": """\
ictreg <- function(formula, data, treat = "treat", J, method = "ml", ...) {
  if (method != "lm") stop("this stand-in fits only the linear model")
  frame <- model.frame(formula, data, na.action = na.omit)
  y <- model.response(frame)
  x <- model.matrix(attr(frame, "terms"), frame)
  both <- cbind(x, x * data[rownames(frame), treat])
  bread <- solve(crossprod(both))
  coef <- drop(bread %*% crossprod(both, y))
  h <- rowSums((both %*% bread) * both)
  e <- drop(y - both %*% coef) / (1 - h)
  v <- bread %*% crossprod(both * e) %*% bread
  k <- ncol(x)
  s <- (k + 1):(2 * k)
  structure(list(par.treat = coef[s], se.treat = sqrt(diag(v))[s],
                 par.control = coef[1:k], se.control = sqrt(diag(v))[1:k],
                 vcov = v, method = "lm", coef.names = colnames(x)),
            class = "ictreg")
}
vcov.ictreg <- function(object, ...) {
  k <- length(object$coef.names)
  order <- c((k + 1):(2 * k), 1:k)
  object$vcov[order, order]
}
ict.test <- function(...) stop("this stand-in has no ict.test")
""",
}


@needs_r
def test_r_checks_a_linear_model_with_the_list_packages_calls(
    analyst_client, demo_wave, tmp_path
):
    source, library = tmp_path / "list", tmp_path / "library"
    for name, text in STANDIN.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    library.mkdir()
    subprocess.run(
        ["R", "CMD", "INSTALL", f"--library={library}", str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    job = run_job(
        demo_wave,
        ["gender"],
        model="lm",
        covariates=["age", "gender", "university"],
        predict_by=["stratum", "university"],
    )

    run = reproduce(
        analyst_client, job, tmp_path, env={**os.environ, "R_LIBS": str(library)}
    )

    assert_agrees(run)
    assert "(the lm model to 1e-06)" in run.stdout


@needs_r
def test_r_reads_the_microdata_export_with_its_recode_columns_too(
    analyst_client, demo_wave, tmp_path
):
    job = run_job(
        demo_wave,
        ["university", "region"],
        compare=[("region", "almaty-city", "astana-city")],
    )
    exported = tmp_path / "export.csv"
    call_command(
        "export_wave", str(demo_wave.pk), "--format", "csv", "--output", str(exported)
    )
    script = tmp_path / "reproduce.R"
    script.write_bytes(
        analyst_client.get(reverse("analysis:job-reproduce", args=[job.pk])).content
    )

    run = subprocess.run(
        [RSCRIPT, str(script), str(exported)],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert_agrees(run)


@needs_r
def test_r_lists_the_figures_that_differ(analyst_client, race_wave, tmp_path):
    job = run_job(race_wave, ["south"])
    result = job.result
    result["groups"][0]["estimate"] += 1e-6
    EstimateJob.objects.filter(pk=job.pk).update(result=result)

    run = reproduce(analyst_client, job, tmp_path)

    assert run.returncode == 1
    assert "1 figures differ from the job's" in run.stdout
    assert "south = 0 estimate" in run.stdout
