"""The list-and-direct example the README and docs/designs.md give, as a user runs it."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

DATA = Path(__file__).resolve().parents[1] / "data"


def test_the_shipped_subset_gives_combined_list_direct_values():
    out = io.StringIO()

    call_command(
        "estimate",
        str(DATA / "combined_list1_directsfirst.csv"),
        outcome="list1N",
        treat="list1treat",
        items=4,
        direct="direct1",
        format="json",
        stdout=out,
    )

    result = json.loads(out.getvalue())
    assert result["combined"]["estimate"] == pytest.approx(0.665618421052632, abs=1e-6)
    assert result["combined"]["se"] == pytest.approx(0.0484034315116962, abs=1e-6)
    assert result["direct"]["estimate"] == pytest.approx(0.656, abs=1e-6)
    assert result["list"]["estimate"] == pytest.approx(0.747739095638258, abs=1e-6)
