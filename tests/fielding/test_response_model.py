"""A response holds a count only when complete, within the card's range for the arm."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from fielding.models import Assignment, Respondent, Response


def assignment_to(wave, arm: str) -> Assignment:
    """A new respondent in ``wave`` given ``arm``, with no response yet."""
    return Assignment.objects.create(
        respondent=Respondent.objects.create(wave=wave),
        experiment=wave.survey.experiments.get(),
        arm=arm,
        source=Assignment.IMPORT,
    )


@pytest.mark.parametrize(
    "status", [Response.REFUSED, Response.DONT_KNOW, Response.BROKEN_OFF]
)
def test_the_database_refuses_a_count_on_a_response_that_is_not_complete(
    small_wave, status
):
    assignment = assignment_to(small_wave, "control")

    with pytest.raises(IntegrityError), transaction.atomic():
        Response.objects.create(assignment=assignment, status=status, count=0)

    assert not Response.objects.filter(assignment=assignment).exists()


def test_the_database_refuses_a_second_count_on_a_refusal(small_wave):
    assignment = assignment_to(small_wave, "control")

    with pytest.raises(IntegrityError), transaction.atomic():
        Response.objects.create(
            assignment=assignment, status=Response.REFUSED, second_count=1
        )


def test_the_database_refuses_a_complete_response_without_a_count(small_wave):
    assignment = assignment_to(small_wave, "treatment")

    with pytest.raises(IntegrityError), transaction.atomic():
        Response.objects.create(assignment=assignment, status=Response.COMPLETE)

    assert not Response.objects.filter(assignment=assignment).exists()


def test_the_database_stores_a_refusal_without_a_count(small_wave):
    assignment = assignment_to(small_wave, "treatment")

    Response.objects.create(assignment=assignment, status=Response.REFUSED)

    assert Response.objects.get(assignment=assignment).count is None


@pytest.mark.parametrize(
    "arm, count", [("control", 0), ("control", 3), ("treatment", 4)]
)
def test_full_clean_accepts_a_count_within_the_card(small_wave, arm, count):
    response = Response(
        assignment=assignment_to(small_wave, arm), status=Response.COMPLETE, count=count
    )

    response.full_clean()


@pytest.mark.parametrize("arm, count, top", [("control", 4, 3), ("treatment", 5, 4)])
def test_full_clean_refuses_a_count_above_the_card(small_wave, arm, count, top):
    response = Response(
        assignment=assignment_to(small_wave, arm), status=Response.COMPLETE, count=count
    )

    with pytest.raises(ValidationError) as raised:
        response.full_clean()

    assert raised.value.message_dict["count"] == [
        f"The count on this card is at most {top}."
    ]


def test_full_clean_asks_a_complete_response_for_its_count(small_wave):
    response = Response(
        assignment=assignment_to(small_wave, "control"), status=Response.COMPLETE
    )

    with pytest.raises(ValidationError) as raised:
        response.full_clean()

    messages = raised.value.message_dict["count"]
    assert "A complete response needs its count." in messages


def test_full_clean_refuses_a_count_on_a_refusal(small_wave):
    response = Response(
        assignment=assignment_to(small_wave, "control"),
        status=Response.REFUSED,
        count=2,
    )

    with pytest.raises(ValidationError) as raised:
        response.full_clean()

    messages = raised.value.message_dict["count"]
    assert "Only a complete response has a count; leave it empty." in messages
