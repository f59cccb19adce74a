"""An estimate table as XLSX (a sheet per section) and Stata (the main table), read
back with pandas."""

import io

import pandas as pd
import pytest
from django.urls import reverse

from analysis.exports.tables import main_section, table_dta, table_sections, table_xlsx
from analysis.services import estimate_job_create, estimate_job_run
from tests.analysis.test_estimate_command import RACE_OVERALL, RACE_SOUTH, TOLERANCE

KAZAKH = "әғқңөұүһі"


@pytest.fixture
def race_job(race_wave):
    """race.csv by south, with south 1 minus 0, the design-effect test and a linear
    model (the ML fit's sheets follow the same rule and take longer to make)."""
    job = estimate_job_create(
        wave=race_wave,
        by=["south"],
        compare=[("south", "1", "0")],
        design_test=True,
        model="lm",
        covariates=["south", "male"],
        predict_by=["south"],
    )
    estimate_job_run(job.pk)
    job.refresh_from_db()
    return job


def estimate(row) -> dict:
    return {"estimate": row["estimate"], "se": row["se"]}


def close(got: dict, want: dict) -> bool:
    return all(abs(got[k] - want[k]) < TOLERANCE for k in want)


def lettered_result() -> dict:
    """A result as a job stores it, with Russian and Kazakh levels and labels."""
    cell = {
        "estimate": 0.25,
        "se": 0.1,
        "ci_low": 0.054,
        "ci_high": 0.446,
        "n_treatment": 40,
        "n_control": 38,
        "mean_treatment": 2.5,
        "mean_control": 2.25,
        "share": 0.5,
        "note": None,
    }
    return {
        "overall": {**cell, "share": None},
        "groups": [
            {"variable": "ұлт", "level": "қазақ", "label": f"Қазақ {KAZAKH}", **cell},
            {"variable": "ұлт", "level": "орыс", "label": "Русский / русская", **cell},
            {"variable": "ұлт", "level": "=1+1", "label": "=1+1", **cell},
        ],
        "missing": {"ұлт": 2},
        "arms": [{"arm": "ғ", "estimate": 0.1, "se": 0.05, "n": {"a": 1, "b": 2}}],
        "balance": {"p_value": 0.5, "rows": [{"variable": "ұлт", "level": "қазақ"}]},
        "wave": {"id": 1, "name": "Толқын"},
        "interval": "95% confidence intervals use the normal approximation.",
    }


def test_the_xlsx_has_a_sheet_for_every_section_of_the_job(analyst_client, race_job):
    reply = analyst_client.get(reverse("analysis:job-xlsx", args=[race_job.pk]))

    sheets = pd.read_excel(
        io.BytesIO(b"".join(reply.streaming_content)), sheet_name=None
    )
    assert reply.status_code == 200
    assert f"job{race_job.pk}.xlsx" in reply["Content-Disposition"]
    expected = [
        "table",
        "missing",
        "statuses",
        "differences",
        "design_test",
        "design_test_shares",
        "floor_ceiling",
        "count_distribution",
        "model",
        "model_predicted",
        "model_fit",
    ]
    assert [name for name in sheets if name in expected] == expected
    assert list(sheets)[-2:] == ["about", "columns"]
    assert "Support" not in sheets["columns"]["meaning"]


def test_the_xlsx_table_holds_the_r_package_list_values(analyst_client, race_job):
    reply = analyst_client.get(reverse("analysis:job-xlsx", args=[race_job.pk]))

    sheets = pd.read_excel(
        io.BytesIO(b"".join(reply.streaming_content)),
        sheet_name=None,
        dtype={"level": str},
    )
    table = sheets["table"].set_index(["variable", "level"])
    assert close(estimate(table.loc[("overall", "overall")]), RACE_OVERALL)
    for level, want in RACE_SOUTH.items():
        assert close(estimate(table.loc[("south", level)]), want)
    differences = sheets["differences"].iloc[0]
    assert (
        abs(differences["estimate"] - (0.258651286601597 - 0.00542800216002792)) < 1e-9
    )
    assert sheets["design_test"]["p_value"][0] == pytest.approx(
        race_job.result["design_test"]["p_value"], abs=1e-15
    )
    assert len(sheets["design_test_shares"]) == 8
    assert set(sheets["model"]["term"]) == {"(Intercept)", "south:1", "male:1"}
    assert sheets["count_distribution"]["respondents"].sum() == 1213


def test_the_stata_table_holds_the_same_rows_with_labels(analyst_client, race_job):
    reply = analyst_client.get(reverse("analysis:job-dta", args=[race_job.pk]))

    with pd.io.stata.StataReader(
        io.BytesIO(b"".join(reply.streaming_content))
    ) as reader:
        frame = reader.read()
        labels = reader.variable_labels()
    assert reply.status_code == 200
    assert list(frame["variable"]) == ["overall", "south", "south"]
    assert close(estimate(frame.iloc[2]), RACE_SOUTH["1"])
    assert list(frame["n_treatment"]) == [624, 486, 138]
    assert labels["se"] == "Standard error"
    assert labels["estimate"].startswith("Estimate: treatment mean minus control mean")


def test_the_job_page_links_the_xlsx_and_stata_downloads(analyst_client, race_job):
    page = analyst_client.get(reverse("analysis:job", args=[race_job.pk]))

    assert reverse("analysis:job-xlsx", args=[race_job.pk]) in page.text
    assert reverse("analysis:job-dta", args=[race_job.pk]) in page.text


def test_an_unfinished_job_has_no_download(analyst_client, race_wave):
    job = estimate_job_create(wave=race_wave, by=[])

    for name in ("analysis:job-xlsx", "analysis:job-dta"):
        assert analyst_client.get(reverse(name, args=[job.pk])).status_code == 404


def test_the_xlsx_keeps_kazakh_and_cyrillic_letters_and_formulas_as_text():
    target = io.BytesIO()

    table_xlsx(lettered_result(), target)

    sheets = pd.read_excel(io.BytesIO(target.getvalue()), sheet_name=None)
    table = sheets["table"]
    assert list(table["variable"]) == ["overall", "ұлт", "ұлт", "ұлт"]
    assert list(table["level"]) == ["overall", "қазақ", "орыс", "=1+1"]
    assert list(table["label"]) == [
        "overall",
        f"Қазақ {KAZAKH}",
        "Русский / русская",
        "=1+1",
    ]
    assert sheets["missing"].to_dict("records") == [{"variable": "ұлт", "left_out": 2}]
    assert sheets["arms"].to_dict("records") == [
        {"arm": "ғ", "estimate": 0.1, "se": 0.05, "n_a": 1, "n_b": 2}
    ]
    assert sheets["balance"]["p_value"][0] == 0.5
    assert sheets["balance_rows"]["level"][0] == "қазақ"
    about = sheets["about"].set_index("key")["value"]
    assert about["wave_name"] == "Толқын"


def test_the_stata_table_keeps_kazakh_and_cyrillic_letters():
    target = io.BytesIO()

    table_dta(lettered_result(), target, title=f"Толқын {KAZAKH}")

    target.seek(0)
    with pd.io.stata.StataReader(target) as reader:
        frame = reader.read()
        title = reader.data_label
    assert list(frame["level"]) == ["overall", "қазақ", "орыс", "=1+1"]
    assert frame["label"][1] == f"Қазақ {KAZAKH}"
    assert frame["note"][0] == ""
    assert pd.isna(frame["share"][0]) and frame["share"][1] == 0.5
    assert title == f"Толқын {KAZAKH}"


def test_a_result_without_estimates_puts_its_first_section_in_the_stata_file():
    result = {"arms": [{"arm": "a", "estimate": 0.1}, {"arm": "ә", "estimate": 0.2}]}
    target = io.BytesIO()

    table_dta(result, target)

    target.seek(0)
    assert main_section(result).name == "arms"
    assert list(pd.read_stata(target)["arm"]) == ["a", "ә"]


def test_every_section_has_a_unique_name_and_known_columns():
    sections = table_sections(lettered_result())

    names = [s.name for s in sections]
    assert len(names) == len(set(names))
    assert all(set(row) <= set(s.columns) for s in sections for row in s.rows)
