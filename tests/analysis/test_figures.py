"""Figures: estimates by group, counts per arm and change; PNG and SVG; Kazakh text.

The pure drawing functions are checked for output and glyphs; the view for who gets
which figure of which job, and in which language its labels are.
"""

import warnings

import pytest
from django.urls import reverse
from django.utils import translation

from analysis import figures
from analysis.comparison import compare_job_create
from analysis.models import EstimateJob
from analysis.services import estimate_job_create, estimate_job_run
from tests.analysis.test_comparison import split_race_waves

KAZAKH = "ә ғ қ ң ө ұ ү һ і · Қазақ · Әйел · Жоғары білім"
RUSSIAN = "Вся выборка · Женщины · Высшее"


def estimate(x, se):
    if x is None:
        return {"estimate": None, "se": None, "ci_low": None, "ci_high": None}
    return {"estimate": x, "se": se, "ci_low": x - 1.96 * se, "ci_high": x + 1.96 * se}


RESULT = {
    "overall": estimate(0.559, 0.05),
    "groups": [
        {"variable": "gender", "level": "1", "label": "Ер", **estimate(0.873, 0.1)},
        {"variable": "gender", "level": "2", "label": "Әйел", **estimate(0.30, 0.1)},
        {"variable": "university", "level": "university", **estimate(0.379, 0.1)},
        {"variable": "university", "level": "x", **estimate(None, None)},
    ],
}
DISTRIBUTION = {
    "J": 4,
    "n_missing": 0,
    "control": {
        "n": 10,
        "rows": [{"count": c, "respondents": 2, "share": 0.2} for c in range(5)],
    },
    "treatment": {
        "n": 12,
        "rows": [{"count": c, "respondents": 2, "share": 2 / 12} for c in range(6)],
    },
}


def change_result():
    def row(a, b, **extra):
        return {
            **extra,
            "earlier": estimate(a, 0.05),
            "later": estimate(b, 0.05),
            **estimate(b - a, 0.07),
        }

    return {
        "earlier": {"wave": {"id": 1, "name": "Пилот 2022"}},
        "later": {"wave": {"id": 2, "name": "Екінші толқын"}},
        "overall": row(0.55, 0.45),
        "groups": [row(0.8, 0.6, variable="gender", level="1", label="Ер")],
    }


def draw_all(fmt: str, text: str = KAZAKH) -> list[bytes]:
    sections = figures.estimate_sections(RESULT, text, {"gender": text})
    return [
        figures.estimates_chart(sections, title=text, axis_label=text, fmt=fmt),
        figures.count_histogram(
            DISTRIBUTION,
            title=text,
            axis_label=text,
            share_label=text,
            arm_labels={"control": text, "treatment": text},
            fmt=fmt,
        ),
        figures.change_chart(
            figures.change_sections(change_result(), text),
            title=text,
            earlier_label="Пилот 2022",
            later_label="Екінші толқын",
            estimate_axis_label=text,
            change_title=text,
            change_axis_label=text,
            note=text,
            fmt=fmt,
        ),
    ]


def missing_glyphs(draw) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw()
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_kazakh_and_russian_letters_have_glyphs_in_png_and_svg():
    drawn = {}

    def draw():
        for fmt in ("png", "svg"):
            drawn[fmt] = draw_all(fmt, f"{KAZAKH} · {RUSSIAN}")

    assert missing_glyphs(draw) == []
    for image in drawn["png"]:
        assert image.startswith(b"\x89PNG\r\n\x1a\n")
    for image in drawn["svg"]:
        assert b"<svg" in image[:500]


def test_the_glyph_check_would_catch_a_letter_the_font_lacks():
    sections = figures.estimate_sections(RESULT, "漢字")

    assert missing_glyphs(
        lambda: figures.estimates_chart(sections, title="", axis_label="")
    )


def test_the_same_figure_gives_the_same_svg_twice():
    sections = figures.estimate_sections(RESULT, KAZAKH)

    def draw():
        return figures.estimates_chart(sections, title="", axis_label="", fmt="svg")

    assert draw() == draw()


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="png or svg"):
        figures.estimates_chart(
            figures.estimate_sections(RESULT, "All"), title="", axis_label="", fmt="gif"
        )


def test_sections_put_the_overall_first_then_each_variable_with_labels():
    sections = figures.estimate_sections(RESULT, "Entire sample", {"gender": "Жынысы"})

    assert [s.heading for s in sections] == ["", "Жынысы", "university"]
    assert sections[0].rows[0] == figures.Point(
        "Entire sample",
        0.559,
        RESULT["overall"]["ci_low"],
        RESULT["overall"]["ci_high"],
    )
    assert [p.label for p in sections[1].rows] == ["Ер", "Әйел"]
    assert [p.label for p in sections[2].rows] == ["university", "x"]
    assert sections[2].rows[1].estimate is None


def test_change_sections_carry_both_waves_and_the_change():
    (overall,), (group,) = [
        s.rows for s in figures.change_sections(change_result(), "All")
    ]

    assert overall.earlier.estimate == 0.55 and overall.later.estimate == 0.45
    assert overall.change.estimate == pytest.approx(-0.1)
    assert group.label == "Ер"


def finished(wave, **kwargs) -> EstimateJob:
    job = estimate_job_create(wave=wave, **kwargs)
    estimate_job_run(job.pk)
    job.refresh_from_db()
    return job


def figure_url(job, name, fmt="png"):
    return reverse("analysis:job-figure", args=[job.pk, name, fmt])


def test_an_estimate_job_has_its_estimates_and_counts_as_png_and_svg(
    analyst_client, race_wave
):
    job = finished(race_wave, by=["south"])

    page = analyst_client.get(reverse("analysis:job", args=[job.pk]))
    png = analyst_client.get(figure_url(job, "estimates"))
    svg = analyst_client.get(figure_url(job, "counts", "svg") + "?download=1")

    assert figure_url(job, "estimates") in page.text
    assert figure_url(job, "counts", "svg") in page.text
    assert png["Content-Type"] == "image/png" and png.content[:4] == b"\x89PNG"
    assert png["Content-Disposition"].startswith("inline;")
    assert svg["Content-Type"] == "image/svg+xml"
    assert svg["Content-Disposition"].startswith("attachment;")
    assert 'filename="counts-racecsv-job' in svg["Content-Disposition"]


def test_the_histogram_uses_the_stored_distribution_when_there_is_one(
    analyst_client, race_wave, monkeypatch
):
    job = finished(race_wave, by=[], design_test=True)
    drawn = {}

    def fake(distribution, **labels):
        drawn["distribution"] = distribution
        return b"png"

    monkeypatch.setattr(figures, "count_histogram", fake)
    analyst_client.get(figure_url(job, "counts"))

    assert drawn["distribution"] == job.result["count_distribution"]


def test_figure_labels_are_in_the_language_of_the_job(
    analyst_client, demo_wave, monkeypatch
):
    with translation.override("kk"):
        job = finished(demo_wave, by=["gender"], language="kk")
    drawn = {}

    def fake(sections, **labels):
        drawn["sections"], drawn["labels"] = sections, labels
        return b"png"

    monkeypatch.setattr(figures, "estimates_chart", fake)
    analyst_client.get(figure_url(job, "estimates"))

    overall, gender = drawn["sections"]
    assert overall.rows[0].label == "Бүкіл іріктеме"
    assert [row.label for row in gender.rows] == ["Ер", "Әйел"]
    monkeypatch.undo()
    assert (
        missing_glyphs(
            lambda: figures.estimates_chart(drawn["sections"], **drawn["labels"])
        )
        == []
    )


def test_a_comparison_job_has_the_change_figure_only(analyst_client, db):
    earlier, later = split_race_waves()
    job = compare_job_create(earlier=earlier, later=later, by=["male"])
    estimate_job_run(job.pk)

    change = analyst_client.get(figure_url(job, "change", "svg"))
    counts = analyst_client.get(figure_url(job, "counts"))

    assert change.status_code == 200 and change["Content-Type"] == "image/svg+xml"
    assert counts.status_code == 404


def test_no_figure_for_a_job_not_finished_or_an_unknown_name(analyst_client, race_wave):
    pending = estimate_job_create(wave=race_wave, by=[])
    done = finished(race_wave, by=[])

    assert analyst_client.get(figure_url(pending, "estimates")).status_code == 404
    assert analyst_client.get(figure_url(done, "change")).status_code == 404
    assert analyst_client.get(figure_url(done, "estimates", "gif")).status_code == 404


def test_interviewers_get_no_figures(interviewer_client, race_wave):
    job = finished(race_wave, by=[])

    assert interviewer_client.get(figure_url(job, "estimates")).status_code == 403
