"""The text tables of ``manage.py estimate``: how they print p-values."""

import pytest

from analysis.formatting import design_text, extra_sections, p_text


@pytest.mark.parametrize(
    "value, digits, equals, text",
    [
        (0.0344675, 3, False, "p 0.034"),
        (0.0443111, 4, True, "p = 0.0443"),
        (0.001, 3, False, "p 0.001"),
        (0.00049, 3, False, "p < 0.001"),
        (0.00004, 4, True, "p < 0.001"),
        (0.0, 3, False, "p < 0.001"),
        (None, 3, False, "p -"),
    ],
)
def test_a_p_value_below_0_001_reads_as_less_than_0_001(value, digits, equals, text):
    assert p_text(value, digits, equals=equals) == text


def test_the_design_test_and_the_placebo_tests_print_no_zero_p_value():
    part = {"estimate": 0.5, "se": 0.1, "p_value": 1e-9}
    placebo = {"p_value": 2e-5, "note": "", "estimate": 0.1, "se": 0.01, "null": 0}
    result = {
        "design_test": {"gms": True, "p_value": 3e-6, "proportions": []},
        "direct": part,
        "list": part,
        "sensitivity_bias": part,
        "combined": {**part, "placebo_1": placebo, "placebo_2": placebo},
    }

    lines = extra_sections(result)

    assert lines[0].endswith("Bonferroni-corrected p < 0.001")
    assert "  placebo_1: p < 0.001" in lines
    assert "  placebo_2: p < 0.001" in lines
    assert not any("0.000)" in line or line.endswith("0.0000") for line in lines)


def test_several_items_print_a_tiny_difference_p_value_as_below_0_001():
    arm = {"estimate": 0.3, "se": 0.05, "ci_low": 0.2, "ci_high": 0.4, "n": 100}
    result = {
        "arms": [{**arm, "arm": "race"}, {**arm, "arm": "affirm"}],
        "differences": [
            {"a": "race", "b": "affirm", "estimate": 0.4, "se": 0.06, "p_value": 1e-11}
        ],
    }

    text = design_text(result)

    assert "race minus affirm: 0.400 (SE 0.060, p < 0.001)" in text.splitlines()
