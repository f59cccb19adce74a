"""Importing the other designs: several sensitive items, a double list, a direct question.

multi.csv and combinedListExps.csv are the R package `list` 9.2.6's data (see
tests/data/README.md). After an import, the stored arms, counts and direct answers
are read back from the database and given to the project's estimators, whose results
must match the R package's values on the same files: the import lost or changed
nothing. The tolerances are the estimator tests' own (tests/analysis/test_designs.py
and test_direct.py).
"""

import csv
import io
from io import StringIO

import numpy as np
import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from analysis.estimators.designs import multi_item_estimates
from analysis.estimators.direct import list_and_direct
from fielding.models import Assignment, Response
from fielding.tabular import TableError
from survey.models import CovariateQuestion, ListExperiment, Survey, Wave
from tests.conftest import DATA, design_wave, import_csv

MULTI_CSV = DATA / "multi.csv"
COMBINED_CSV = DATA / "combinedListExps.csv"
TOL = 1e-9  # tests/analysis/test_designs.py
R_TOL = 1e-6  # tests/analysis/test_direct.py

DOUBLE_ROWS = """id,ya,ta,yb,tb,direct,gender
r1,3,1,2,0,1,1
r2,1,0,5,1,0,2
r3,0,1,4,0,,1
r4,,0,,1,1,2
r5,2,0,,1,0,1
"""


def import_command(path, *flags) -> str:
    out = StringIO()
    call_command("import_responses", str(path), *map(str, flags), stdout=out)
    return out.getvalue()


def refused_command(path, *flags) -> list[str]:
    err = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("import_responses", str(path), *map(str, flags), stderr=err)
    assert raised.value.returncode == 2
    return err.getvalue().splitlines()


def csv_text(path) -> str:
    return path.read_text(encoding="utf-8")


def rows_of(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def written(tmp_path, rows: list[dict], name: str):
    """``rows`` as a CSV file named ``name`` in ``tmp_path``."""
    path = tmp_path / name
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def stored(wave) -> list[tuple]:
    """(arm, status, count, second_count, answers) of every respondent, in order."""
    return [
        (
            a.arm,
            getattr(getattr(a, "response", None), "status", None),
            getattr(getattr(a, "response", None), "count", None),
            getattr(getattr(a, "response", None), "second_count", None),
            a.respondent.answers,
        )
        for a in Assignment.objects.filter(respondent__wave=wave)
        .select_related("respondent", "response")
        .order_by("respondent_id")
    ]


# Several sensitive items sharing one control list


def test_multi_csv_imports_with_one_arm_per_item_and_rs_estimates(db, stored_rows):
    output = import_command(
        MULTI_CSV,
        *("--items", 3, "--outcome", "y", "--treat", "treat"),
        *("--arms", "control,race,affirm", "--covariate", "south"),
    )

    wave = Wave.objects.get()
    experiment = wave.survey.experiments.get()
    assert "Imported 1795 respondents (0 without a count)" in output
    assert experiment.arms() == ["control", "race", "affirm"]
    rows = stored(wave)
    arms = np.array([row[0] for row in rows], dtype=object)
    counts = np.array([row[2] for row in rows], dtype=float)
    assert {arm: int((arms == arm).sum()) for arm in experiment.arms()} == {
        "control": 589,
        "race": 624,
        "affirm": 582,
    }

    estimates = multi_item_estimates(counts, arms, J=3)
    affirm, race = estimates.arms
    # R package list 9.2.6 / base R on race.csv (the same control rows)
    assert race.estimate == pytest.approx(0.0677974402507511, abs=TOL, rel=0)
    assert race.se == pytest.approx(0.049578289054338, abs=TOL, rel=0)
    # Base R 4.2.2 on multi.csv: mean(y[affirm]) - mean(y[control]), and its SE
    assert affirm.estimate == pytest.approx(0.494740342709117, abs=TOL, rel=0)
    assert affirm.se == pytest.approx(0.0542519176228079, abs=TOL, rel=0)


def test_with_one_item_named_the_arm_is_treatment_and_the_item_keeps_its_name(db):
    data = b"y,treat\n1,none\n4,race\n3,race\n"

    summary = import_csv(
        data, items=3, outcome="y", treat="treat", arms=("none", "race")
    )

    experiment = summary.wave.survey.experiments.get()
    assert [row[0] for row in stored(summary.wave)] == [
        "control",
        "treatment",
        "treatment",
    ]
    assert [item.code for item in experiment.sensitive_items()] == ["race"]


def test_an_unknown_arm_and_a_count_past_its_arm_are_refused_by_line(db, stored_rows):
    before = stored_rows()
    data = b"y,treat\n3,control\n4,control\n4,race\n2,both\n5,affirm\n"

    with pytest.raises(TableError) as refused:
        import_csv(
            data,
            items=3,
            outcome="y",
            treat="treat",
            arms=("control", "race", "affirm"),
        )

    assert refused.value.lines() == [
        "line 3, column “y”: the count must be a whole number from 0 to 3 on the "
        "control list, not “4”.",
        "line 5, column “treat”: the arm must be one of control, race, affirm, not "
        "“both”.",
        "line 6, column “y”: the count must be a whole number from 0 to 4 on the "
        "affirm list, not “5”.",
    ]
    assert stored_rows() == before


def test_an_arm_that_cannot_name_an_item_is_refused(db, stored_rows):
    before = stored_rows()

    with pytest.raises(TableError) as refused:
        import_csv(
            b"y,treat\n1,c\n",
            items=3,
            outcome="y",
            treat="treat",
            arms=("c", "item2", "black family"),
        )

    assert [p.line for p in refused.value.problems] == [1, 1]
    assert "“item2” cannot name a sensitive item" in refused.value.lines()[0]
    assert "“black family” cannot name" in refused.value.lines()[1]
    assert stored_rows() == before


def test_arms_fill_a_draft_wave_of_several_items(db):
    wave = design_wave("multi-draft", lists={"A": 3}, sensitive=("race", "affirm"))
    Wave.objects.filter(pk=wave.pk).update(status=Wave.DRAFT)
    wave.refresh_from_db()

    import_csv(
        b"y,treat\n2,c\n4,affirm\n",
        wave=wave,
        items=3,
        outcome="y",
        treat="treat",
        arms=("c", "affirm"),
    )

    assert [row[:3] for row in stored(wave)] == [
        ("control", "complete", 2),
        ("affirm", "complete", 4),
    ]


def test_a_wave_of_several_items_refuses_a_plain_treatment_column(db):
    wave = design_wave("multi-plain", lists={"A": 3}, sensitive=("race", "affirm"))
    Wave.objects.filter(pk=wave.pk).update(status=Wave.DRAFT)
    wave.refresh_from_db()

    with pytest.raises(TableError) as refused:
        import_csv(b"y,treat\n2,0\n", wave=wave, items=3, outcome="y", treat="treat")
    with pytest.raises(TableError) as unknown:
        import_csv(
            b"y,treat\n2,c\n",
            wave=wave,
            items=3,
            outcome="y",
            treat="treat",
            arms=("c", "gay"),
        )

    assert (
        "name the arms the column holds, control first (control, race, affirm)"
        in (refused.value.lines()[0])
    )
    assert unknown.value.lines() == [
        "line 1, column “treat”: “gay” is not a sensitive item of the wave's list "
        "experiment (its arms: control, race, affirm)."
    ]


# A double list


def test_a_double_list_stores_both_counts_and_the_list_that_carried_the_item(db):
    summary = import_csv(
        DOUBLE_ROWS.encode(),
        name="double.csv",
        items=3,
        outcome="ya",
        treat="ta",
        second_outcome="yb",
        second_treat="tb",
        second_items=4,
        id_column="id",
        covariates=("gender",),
    )

    experiment = summary.wave.survey.experiments.get()
    assert experiment.design == ListExperiment.DOUBLE
    assert experiment.arms() == ["A", "B"]
    assert (experiment.items_count("A"), experiment.items_count("B")) == (3, 4)
    assert [row[:4] for row in stored(summary.wave)] == [
        ("A", "complete", 3, 2),
        ("B", "complete", 1, 5),
        ("A", "complete", 0, 4),
        ("B", None, None, None),
        ("B", None, None, None),
    ]
    assert summary.missing_counts == 2
    assert summary.notes == [
        "1 rows have a count on one list only; a double list's response needs both, "
        "so they were stored without a count."
    ]


def test_a_double_list_checks_each_lists_range_and_one_sensitive_list(db, stored_rows):
    before = stored_rows()
    data = b"ya,ta,yb,tb\n4,1,3,0\n4,0,1,1\n1,1,5,0\n1,1,1,1\n1,0,1,0\n1,0,1,\n"

    with pytest.raises(TableError) as refused:
        import_csv(
            data,
            items=3,
            outcome="ya",
            treat="ta",
            second_outcome="yb",
            second_treat="tb",
        )

    assert refused.value.lines() == [
        "line 3, column “ya”: the count must be a whole number from 0 to 3 on the "
        "control list, not “4”.",
        "line 4, column “yb”: the count must be a whole number from 0 to 3 on the "
        "control list, not “5”.",
        "line 5, column “tb”: the sensitive item is on exactly one list: one of "
        "“ta” and “tb” is 1, the other 0.",
        "line 6, column “tb”: the sensitive item is on exactly one list: one of "
        "“ta” and “tb” is 1, the other 0.",
        "line 7, column “tb”: treatment must be 0 (control) or 1 (treatment), not “”.",
    ]
    assert stored_rows() == before


def test_two_separate_lists_are_not_a_double_list_and_nothing_is_stored(
    tmp_path, db, stored_rows
):
    """combinedListExps.csv's lists 1 and 2 were randomized apart: about half the
    respondents saw the sensitive item on both lists or on neither."""
    rows = rows_of(csv_text(COMBINED_CSV))
    same = [
        line
        for line, row in enumerate(rows, start=2)
        if row["list1treat"] != "" != row["list2treat"]
        and row["list1treat"] == row["list2treat"]
    ]
    blanks = sum((r["list1treat"] == "") + (r["list2treat"] == "") for r in rows)
    before = stored_rows()

    problems = refused_command(
        COMBINED_CSV,
        *("--items", 4, "--outcome", "list1N", "--treat", "list1treat"),
        *("--second-list", "list2N,list2treat", "--second-items", 3),
    )

    first_same = next(p for p in problems if "exactly one list" in p)
    assert (len(same), blanks) == (505, 5)
    assert len(problems) == 201  # the first 200 problems, then how many more
    assert first_same == (
        f"combinedListExps.csv: line {same[0]}, column “list2treat”: the sensitive "
        "item is on exactly one list: one of “list1treat” and “list2treat” is 1, the "
        "other 0."
    )
    assert problems[-1] == "combinedListExps.csv: … and 310 more problems."
    assert stored_rows() == before


def test_a_double_list_fills_a_draft_double_list_wave(db):
    wave = design_wave("double-draft", lists={"A": 3, "B": 4})
    Wave.objects.filter(pk=wave.pk).update(status=Wave.DRAFT)
    wave.refresh_from_db()
    spec = {"outcome": "ya", "treat": "ta", "second_outcome": "yb"}

    with pytest.raises(TableError) as wrong_j:
        import_csv(DOUBLE_ROWS.encode(), wave=wave, items=3, second_treat="tb", **spec)
    import_csv(
        DOUBLE_ROWS.encode(),
        wave=wave,
        items=3,
        second_treat="tb",
        second_items=4,
        **spec,
    )

    assert wrong_j.value.lines() == [
        "line 1: J is 3 but the wave's list B has 4 items."
    ]
    assert [row[:4] for row in stored(wave)][:2] == [
        ("A", "complete", 3, 2),
        ("B", "complete", 1, 5),
    ]


def test_a_double_list_wave_refuses_a_single_list_file_and_the_reverse(db, race_wave):
    double = design_wave("double-only", lists={"A": 3, "B": 3})
    Wave.objects.filter(pk=double.pk).update(status=Wave.DRAFT)
    double.refresh_from_db()

    with pytest.raises(TableError) as single_into_double:
        import_csv(b"y,treat\n1,0\n", wave=double, items=3, outcome="y", treat="treat")
    with pytest.raises(TableError) as double_into_single:
        import_csv(
            b"y,treat,y2,t2\n1,0,1,1\n",
            wave=race_wave,
            items=3,
            outcome="y",
            treat="treat",
            second_outcome="y2",
            second_treat="t2",
        )

    assert (
        "is a double list: give the second list" in single_into_double.value.lines()[0]
    )
    assert "is not a double list" in double_into_single.value.lines()[0]


@pytest.mark.parametrize(
    "options, message",
    [
        ({"second_outcome": "y2"}, "needs its count column and its treatment column"),
        ({"second_outcome": "y", "second_treat": "t2"}, "a different column"),
        (
            {"arms": ("c", "a"), "second_outcome": "y2", "second_treat": "t2"},
            "not both",
        ),
        ({"arms": ("c",)}, "at least one sensitive item's arm"),
        ({"direct": "treat"}, "named for something else too"),
    ],
)
def test_options_that_contradict_each_other_are_refused_before_reading(
    db, options, message
):
    with pytest.raises(TableError) as refused:
        import_csv(
            b"y,treat,y2,t2\n1,0,1,1\n", items=3, outcome="y", treat="treat", **options
        )

    assert message in refused.value.lines()[0]


# A direct question


def test_a_direct_question_becomes_the_experiments_coded_question(tmp_path, db):
    """The package's example: complete rows with the direct question asked first."""
    rows = [
        row
        for row in rows_of(csv_text(COMBINED_CSV))
        if all(value != "" for value in row.values()) and row["directsfirst"] == "1"
    ]
    path = written(tmp_path, rows, "combined-example.csv")

    import_command(
        path,
        *("--items", 4, "--outcome", "list1N", "--treat", "list1treat"),
        *("--direct", "direct1", "--covariate", "gender"),
    )

    wave = Wave.objects.get()
    experiment = wave.survey.experiments.get()
    question = experiment.direct_question
    assert question.code == "direct1" and question.kind == CovariateQuestion.CODED
    assert [(c.code, c.labels["en"]) for c in question.choices.all()] == [
        ("1", "yes"),
        ("0", "no"),
    ]
    experiment.full_clean()
    data = stored(wave)
    counts = np.array([row[2] for row in data], dtype=float)
    treated = np.array([row[0] == "treatment" for row in data])
    direct = np.array([float(row[4]["direct1"]) for row in data])
    result = list_and_direct(counts, treated, direct, J=4)
    assert result.n == 500  # the data README's count for the package's example
    # R list 9.2.6, combinedListDirect(...)$comb.est and $comb.se
    assert result.combined.estimate == pytest.approx(0.665618421052632, abs=R_TOL)
    assert result.combined.se == pytest.approx(0.0484034315116962, abs=R_TOL)
    # R list 9.2.6, combinedListDirect(...)$direct.est and $conv.est
    assert result.direct.estimate == pytest.approx(0.656, abs=R_TOL)
    assert result.list_only.estimate == pytest.approx(0.747739095638258, abs=R_TOL)


def test_the_whole_combined_file_is_refused_for_its_two_rows_without_an_arm(
    db, stored_rows
):
    rows = rows_of(csv_text(COMBINED_CSV))
    blank = [line for line, row in enumerate(rows, start=2) if row["list1treat"] == ""]
    before = stored_rows()

    problems = refused_command(
        COMBINED_CSV,
        *("--items", 4, "--outcome", "list1N", "--treat", "list1treat"),
        *("--direct", "direct1"),
    )

    assert problems == [
        f"combinedListExps.csv: line {line}, column “list1treat”: treatment must be 0 "
        "(control) or 1 (treatment), not “”."
        for line in blank
    ]
    assert stored_rows() == before


def test_direct_answers_are_one_zero_or_blank_and_bad_ones_named_by_line(
    db, stored_rows
):
    before = stored_rows()
    data = b"y,treat,direct\n1,0,1\n2,1,0\n1,0,\n1,1,NA\n1,0,yes\n2,1,2\n"

    with pytest.raises(TableError) as refused:
        import_csv(data, items=3, outcome="y", treat="treat", direct="direct")
    summary = import_csv(
        b"y,treat,direct\n1,0,1\n2,1,0\n1,0,\n1,1,NA\n1,0,1.0\n",
        items=3,
        outcome="y",
        treat="treat",
        direct="direct",
    )

    assert refused.value.lines() == [
        "line 6, column “direct”: the direct answer must be 1 (yes), 0 (no) or "
        "empty, not “yes”.",
        "line 7, column “direct”: the direct answer must be 1 (yes), 0 (no) or "
        "empty, not “2”.",
    ]
    assert [row[4] for row in stored(summary.wave)] == [
        {"direct": "1"},
        {"direct": "0"},
        {},
        {},
        {"direct": "1"},
    ]
    assert Survey.objects.count() == before["Survey"] + 1


def test_direct_answers_fill_a_waves_direct_question_under_its_own_code(db):
    wave = design_wave("direct-draft", lists={"A": 3}, direct=True)
    Wave.objects.filter(pk=wave.pk).update(status=Wave.DRAFT)
    wave.refresh_from_db()
    plain = design_wave("no-direct", lists={"A": 3})
    Wave.objects.filter(pk=plain.pk).update(status=Wave.DRAFT)
    plain.refresh_from_db()

    import_csv(
        b"y,treat,asked\n1,0,1\n2,1,0\n",
        wave=wave,
        items=3,
        outcome="y",
        treat="treat",
        direct="asked",
    )
    with pytest.raises(TableError) as refused:
        import_csv(
            b"y,treat,asked\n1,0,1\n",
            wave=plain,
            items=3,
            outcome="y",
            treat="treat",
            direct="asked",
        )

    assert [row[4] for row in stored(wave)] == [{"direct": "1"}, {"direct": "0"}]
    assert refused.value.lines() == [
        "line 1, column “asked”: the wave's list experiment has no direct question; "
        "set one in the admin first."
    ]


# The upload form


def upload(client, data: bytes, name: str, **fields):
    form = {
        "items": 3,
        "outcome": "y",
        "treat": "treat",
        **fields,
        "file": SimpleUploadedFile(name, data, content_type="text/csv"),
    }
    return client.post("/fielding/import/", form)


def test_the_form_imports_multi_csv_with_its_arms(admin_client):
    response = upload(
        admin_client, MULTI_CSV.read_bytes(), "multi.csv", arms="control, race, affirm"
    )

    assert response.status_code == 302
    wave = Wave.objects.get()
    assert wave.survey.experiments.get().arms() == ["control", "race", "affirm"]
    assert Response.objects.filter(assignment__arm="affirm").count() == 582


def test_the_form_imports_a_double_list_and_says_what_it_left_without_a_count(
    admin_client,
):
    response = upload(
        admin_client,
        DOUBLE_ROWS.encode(),
        "double.csv",
        outcome="ya",
        treat="ta",
        second_outcome="yb",
        second_treat="tb",
        second_items=4,
        direct="direct",
    )

    assert response.status_code == 302
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages[0] == "Imported 5 respondents into wave “double.csv”."
    assert messages[1].startswith("1 rows have a count on one list only")
    experiment = Wave.objects.get().survey.experiments.get()
    assert experiment.design == ListExperiment.DOUBLE
    assert experiment.direct_question.code == "direct"


def test_the_form_lists_every_bad_row_of_a_double_list(admin_client, stored_rows):
    before = stored_rows()

    response = upload(
        admin_client,
        b"ya,ta,yb,tb\n1,1,1,1\n9,0,1,1\n",
        "double.csv",
        outcome="ya",
        treat="ta",
        second_outcome="yb",
        second_treat="tb",
    )

    assert response.status_code == 200
    assert "line 2, column “tb”: the sensitive item is on exactly one list" in (
        response.text
    )
    assert "line 3, column “ya”" in response.text
    assert stored_rows() == before


def test_the_form_wants_both_columns_of_a_second_list(admin_client, stored_rows):
    before = stored_rows()

    response = upload(
        admin_client, b"y,treat,y2\n1,0,1\n", "half.csv", second_outcome="y2"
    )

    assert response.status_code == 200
    assert "A second list needs both its count column and its treatment column." in (
        response.text
    )
    assert stored_rows() == before
