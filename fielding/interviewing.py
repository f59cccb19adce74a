"""Recording what happens in an interview after allocation: the count, then answers."""

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fielding.errors import FieldingError
from fielding.models import Assignment, Respondent, Response
from survey.models import CovariateQuestion

logger = logging.getLogger(__name__)


def count_range(assignment: Assignment) -> int:
    """The highest count possible on this respondent's card."""
    return len(next(iter(assignment.item_order.values()), [])) or (
        assignment.experiment.items_count() + (assignment.arm != "control")
    )


def card_show(*, assignment: Assignment) -> None:
    """Record when the card was first shown (for the concealment audit)."""
    if assignment.card_shown_at is None:
        Assignment.objects.filter(pk=assignment.pk, card_shown_at__isnull=True).update(
            card_shown_at=timezone.now()
        )


def response_record(
    *, assignment: Assignment, status: str, count: int | None
) -> Response:
    """Store the respondent's count (or why there is none) once; a second call is refused."""
    if status not in dict(Response.STATUS_CHOICES):
        raise FieldingError(_("Unknown response status “%(s)s”.") % {"s": status})
    if status != Response.COMPLETE:
        count = None
    elif count is None or not 0 <= count <= count_range(assignment):
        raise FieldingError(
            _("The count must be a whole number from 0 to %(top)s.")
            % {"top": count_range(assignment)}
        )

    with transaction.atomic():
        if Response.objects.filter(assignment=assignment).exists():
            raise FieldingError(_("This respondent's count is already recorded."))
        response = Response(assignment=assignment, status=status, count=count)
        response.full_clean()
        response.save()
    return response


def answers_clean(survey, answers: dict) -> dict:
    """Covariate answers checked against the survey's questions; blanks dropped."""
    if not isinstance(answers, dict):
        raise FieldingError(_("Answers are a mapping of question codes to answers."))
    questions = {q.code: q for q in survey.questions.prefetch_related("choices")}
    clean = {}
    for code, value in answers.items():
        question = questions.get(code)
        if question is None:
            raise FieldingError(
                _("“%(code)s” is not a question of this survey.") % {"code": code}
            )
        if value in (None, ""):
            continue
        if question.kind == CovariateQuestion.CODED:
            codes = {choice.code for choice in question.choices.all()}
            if str(value) not in codes:
                raise FieldingError(
                    _("“%(value)s” is not an answer code of %(code)s.")
                    % {"value": value, "code": code}
                )
            clean[code] = str(value)
        else:
            clean[code] = numeric_answer(question, value)
    return clean


def answers_record(*, respondent: Respondent, answers: dict) -> Respondent:
    """Store covariate answers (checked against the survey's questions) and finish."""
    clean = answers_clean(respondent.wave.survey, answers)
    respondent.answers = {**respondent.answers, **clean}
    respondent.finished_at = timezone.now()
    respondent.save(update_fields=["answers", "finished_at"])
    return respondent


def numeric_answer(question: CovariateQuestion, value) -> float | int:
    try:
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise FieldingError(
            _("%(code)s must be a number, not “%(value)s”.")
            % {"code": question.code, "value": value}
        ) from None
    low, high = question.min_value, question.max_value
    if (low is not None and number < low) or (high is not None and number > high):
        raise FieldingError(
            _("%(code)s must be between %(low)s and %(high)s.")
            % {"code": question.code, "low": low, "high": high}
        )
    return int(number) if number.is_integer() else number
