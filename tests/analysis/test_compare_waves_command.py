"""python manage.py compare_waves: the change as a table, CSV or JSON; refusals exit 2.

Reference values and the two waves are those of test_comparison.py (race.csv split by
south, R 4.2.2 with survey 4.1.1).
"""

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from survey.cards import card_snapshot
from survey.models import Wave
from tests.analysis.test_comparison import (
    TOLERANCE,
    UNWEIGHTED,
    WEIGHTED,
    split_race_waves,
    with_card_changes,
)


@pytest.fixture
def race_waves(db):
    return split_race_waves()


def compare(*args) -> str:
    out = io.StringIO()
    call_command("compare_waves", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def refused(*args) -> str:
    with pytest.raises(CommandError) as raised:
        compare(*args)
    assert raised.value.returncode == 2
    return str(raised.value)


def test_it_prints_the_change_as_a_table(race_waves):
    earlier, later = race_waves

    text = compare(earlier.pk, later.pk, "--by", "male")

    assert f"(wave {earlier.pk})" in text and "later minus earlier" in text
    overall = next(line for line in text.splitlines() if line.startswith("overall"))
    assert "0.253" in overall and "0.120" in overall  # change and its SE
    assert "0.0345" in overall  # p-value
    assert "normal approximation" in text


def test_the_csv_matches_r(race_waves):
    earlier, later = race_waves

    rows = list(
        csv.DictReader(
            io.StringIO(
                compare(earlier.pk, later.pk, "--by", "male", "--format", "csv")
            )
        )
    )

    assert [row["level"] for row in rows] == ["overall", "0", "1"]
    for row in rows:
        key = "overall" if row["level"] == "overall" else row["level"]
        assert float(row["change_estimate"]) == pytest.approx(
            UNWEIGHTED[key][0], abs=TOLERANCE
        )
        assert float(row["change_se"]) == pytest.approx(
            UNWEIGHTED[key][1], abs=TOLERANCE
        )


def test_the_weighted_json_matches_r(race_waves):
    earlier, later = race_waves

    result = json.loads(
        compare(earlier.pk, later.pk, "--by", "male", "--weighted", "--format", "json")
    )

    assert set(result) >= {"earlier", "later", "overall", "groups", "unmatched"}
    assert result["weighted"] is True
    assert result["overall"]["estimate"] == pytest.approx(
        WEIGHTED["overall"][0], abs=TOLERANCE
    )
    assert result["overall"]["se"] == pytest.approx(
        WEIGHTED["overall"][1], abs=TOLERANCE
    )
    assert [g["label"] for g in result["groups"]] == ["0", "1"]


def test_an_unknown_wave_exits_2(race_waves):
    earlier, _later = race_waves

    assert "No wave with id 999999" in refused(earlier.pk, 999999)


def test_waves_with_different_cards_exit_2_saying_what_differs(race_waves):
    earlier, later = race_waves
    changed = with_card_changes(card_snapshot(earlier.survey))
    Wave.objects.filter(pk=earlier.pk).update(frozen_cards=changed)

    message = refused(earlier.pk, later.pk)

    assert "did not show the same cards" in message
    assert "items added in the later wave: “item3”" in message
    assert "the English text changed" in message


def test_an_unknown_breakdown_or_experiment_exits_2(race_waves):
    earlier, later = race_waves

    assert "Cannot break down by nothing" in refused(
        earlier.pk, later.pk, "--by", "nothing"
    )
    assert "no list experiment with code 'other'" in refused(
        earlier.pk, later.pk, "--experiment", "other"
    )
