"""``survey.cli``: how commands read a flag's several values (comma-separated, repeated)."""

import pytest
from django.core.management import CommandError

from survey.cli import distinct, each, several


def test_each_keeps_every_value_in_order_with_its_repeats():
    assert each(["0.5,0.5, 0.9", "0.5", ",0.1,"]) == ["0.5", "0.5", "0.9", "0.5", "0.1"]


def test_each_of_a_flag_not_given_is_empty():
    assert each(None) == []
    assert each([]) == []


def test_several_names_are_each_kept_once_in_their_first_place():
    assert several(["south,male", "south", "age,male"]) == ["south", "male", "age"]


def test_distinct_values_come_back_in_order():
    assert distinct(["control,a", "b"], "--arms") == ["control", "a", "b"]


def test_a_value_given_twice_is_refused_with_status_two_naming_the_flag():
    with pytest.raises(CommandError) as raised:
        distinct(["control,a", "a"], "--arms")

    assert raised.value.returncode == 2
    assert str(raised.value) == "--arms: “a” is given twice; name each one once."
