"""Recording what happens in an interview after allocation: the count, then answers."""

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fielding.errors import FieldingError
from fielding.models import Assignment, Respondent, Response
from survey.models import CovariateQuestion

logger = logging.getLogger(__name__)


def counts_checked(
    *, tops: dict[str, int], status: str, count=None, counts=None
) -> tuple[int | None, int | None]:
    """The first and second list's counts, checked against the card's range.

    ``tops`` maps each list the respondent answers (first list first) to its highest
    count. A single list's count comes in ``count``; a double list's come in
    ``counts``, by list code, one for each list. Errors name the field they are about
    (``count`` or ``counts``).
    """
    lists = list(tops)
    double = len(lists) > 1
    if counts is not None and not isinstance(counts, dict):
        raise FieldingError(
            _('Counts are an object of list codes and counts, e.g. {"A": 2, "B": 3}.'),
            field="counts",
        )
    counts = counts or {}
    if counts and not double:
        raise FieldingError(
            _("This list experiment has a single list; send count."), field="counts"
        )
    if double and count is not None:
        raise FieldingError(
            _("This is a double list: send counts, one for each of %(lists)s.")
            % {"lists": ", ".join(lists)},
            field="count",
        )
    unknown = [str(code) for code in counts if code not in tops]
    if unknown:
        raise FieldingError(
            _("“%(codes)s” is not a list of this card; its lists are %(lists)s.")
            % {"codes": ", ".join(unknown), "lists": ", ".join(lists)},
            field="counts",
        )

    field = "counts" if double else "count"
    given = counts if double else {lists[0]: count}
    if status != Response.COMPLETE:
        if any(value is not None for value in given.values()):
            raise FieldingError(_("Only a complete response has a count."), field=field)
        return None, None

    values = []
    for code in lists:
        value, top = given.get(code), tops[code]
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 0 <= value <= top
        ):
            if double:
                message = _(
                    "List “%(list)s”: the count must be a whole number from 0 to "
                    "%(top)s."
                )
            else:
                message = _("The count must be a whole number from 0 to %(top)s.")
            raise FieldingError(message % {"top": top, "list": code}, field=field)
        values.append(value)
    return values[0], (values[1] if double else None)


def card_show(*, assignment: Assignment) -> None:
    """Record when the card was first shown (for the concealment audit)."""
    if assignment.card_shown_at is None:
        Assignment.objects.filter(pk=assignment.pk, card_shown_at__isnull=True).update(
            card_shown_at=timezone.now()
        )


def response_record(
    *,
    assignment: Assignment,
    status: str,
    count: int | None,
    second_count: int | None = None,
) -> Response:
    """Store the respondent's count (or why there is none) once; a second call is refused.

    A double list's ``count`` is the first list's and ``second_count`` the second's.
    """
    if status not in dict(Response.STATUS_CHOICES):
        raise FieldingError(_("Unknown response status “%(s)s”.") % {"s": status})
    if status != Response.COMPLETE:
        count = second_count = None
    tops = assignment.count_tops()
    if len(tops) > 1:
        counts = dict(zip(tops, [count, second_count]))
        count, second_count = counts_checked(tops=tops, status=status, counts=counts)
    else:
        count, second_count = counts_checked(tops=tops, status=status, count=count)

    with transaction.atomic():
        if Response.objects.filter(assignment=assignment).exists():
            raise FieldingError(_("This respondent's count is already recorded."))
        response = Response(
            assignment=assignment,
            status=status,
            count=count,
            second_count=second_count,
        )
        response.full_clean()
        response.save()
    return response


def survey_questions(survey) -> dict:
    """The survey's questions by code, with their choices."""
    return {q.code: q for q in survey.questions.prefetch_related("choices")}


def answers_clean(survey, answers: dict, questions: dict | None = None) -> dict:
    """Covariate answers checked against the survey's questions; blanks dropped.
    ``questions``, from `survey_questions`, saves reading them for every answer set."""
    if not isinstance(answers, dict):
        raise FieldingError(_("Answers are a mapping of question codes to answers."))
    if questions is None:
        questions = survey_questions(survey)
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
