"""Storing many respondents at once, each with an assignment and maybe a response.

Import and simulation both end here: the caller has checked every record and holds the
wave's row lock; this writes them in bulk in the caller's transaction.
"""

from dataclasses import dataclass, field

from fielding.models import Assignment, Respondent, Response
from survey.models import ListExperiment, Settlement, Wave
from survey.selectors import stratum_lookup


@dataclass
class RespondentRecord:
    arm: str
    status: str | None
    count: int | None
    external_id: str | None = None
    second_count: int | None = None
    weight: float | None = None
    place: Settlement | None = None
    answers: dict = field(default_factory=dict)
    mode: str = ""


def respondents_store(
    *,
    wave: Wave,
    experiment: ListExperiment,
    records: list[RespondentRecord],
    source: str,
) -> int:
    """Write respondents, assignments and responses; a record without status has none.

    The item order shown is not known for imported or simulated data, so none is
    recorded for them.
    """
    stratum_of = stratum_lookup(wave)
    respondents = Respondent.objects.bulk_create(
        Respondent(
            wave=wave,
            external_id=record.external_id,
            weight=record.weight,
            place=record.place,
            stratum=stratum_of(record.place),
            answers=record.answers,
            mode=record.mode,
        )
        for record in records
    )
    assignments = Assignment.objects.bulk_create(
        Assignment(
            respondent=respondent, experiment=experiment, arm=record.arm, source=source
        )
        for respondent, record in zip(respondents, records)
    )
    Response.objects.bulk_create(
        Response(
            assignment=assignment,
            status=record.status,
            count=record.count,
            second_count=record.second_count,
        )
        for assignment, record in zip(assignments, records)
        if record.status is not None
    )
    return len(records)
