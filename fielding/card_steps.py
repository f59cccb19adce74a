"""The card pages of an interview: one list, or a double list's two lists in turn.

A double list's respondent gives the first list's count and then sees the second
list. The first count waits in the session until the second is given, and both are
stored together, so a response never holds one list's count only. A refusal, a
"don't know" or a broken-off interview on either list is the response's status and
ends the cards.
"""

from dataclasses import dataclass

from fielding.interviewing import response_record
from fielding.models import Assignment, Response
from survey.cards import card, default_order


@dataclass(frozen=True)
class CardStep:
    """Which list's card to show: its code, its number among the lists and its top."""

    list_code: str
    number: int
    lists: int
    top: int
    first_count: int | None = None


def session_key(assignment: Assignment) -> str:
    return f"fielding-first-count-{assignment.pk}"


def card_step(session, assignment: Assignment) -> CardStep:
    """The card to show now: the first list, or the second once the first has a count."""
    tops = assignment.count_tops()
    codes = list(tops)
    first = session.get(session_key(assignment)) if len(codes) > 1 else None
    if isinstance(first, bool) or not isinstance(first, int):
        first = None
    elif not 0 <= first <= tops[codes[0]]:
        first = None
    at = 0 if first is None else 1
    return CardStep(codes[at], at + 1, len(codes), tops[codes[at]], first)


def card_answer(
    session, *, assignment: Assignment, step: CardStep, status: str, count
) -> bool:
    """Take what was chosen on ``step``'s card; True once the response is stored,
    False when the second list's card comes next (FieldingError if it is refused)."""
    if step.number < step.lists and status == Response.COMPLETE:
        session[session_key(assignment)] = count
        return False
    second = None
    if step.first_count is not None:
        count, second = step.first_count, count
    response_record(
        assignment=assignment, status=status, count=count, second_count=second
    )
    session.pop(session_key(assignment), None)
    return True


def step_card(snapshot: dict, language: str, assignment: Assignment, step: CardStep):
    """The card of ``step``'s list in the order stored for the respondent."""
    order = (assignment.item_order or {}).get(step.list_code)
    if order is None and step.lists == 1 and assignment.item_order:
        order = next(iter(assignment.item_order.values()))
    if order is None:
        order = default_order(snapshot, assignment.arm, step.list_code)
    return card(snapshot, language, order)
