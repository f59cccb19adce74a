"""Import of respondent-level data from earlier fieldwork into a wave.

The whole file is checked before anything is stored: every bad row is reported with its
line, column and reason, and nothing is written unless every row is valid. Without a
target wave the import makes a survey, a list experiment with placeholder item texts and
a draft wave named after the file; with one, it fills that draft wave.
"""

import logging
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from fielding.models import Assignment, Respondent, Response
from fielding.records import RespondentRecord, respondents_store
from fielding.tabular import (
    Problem,
    Table,
    TableError,
    parse_number,
    read_list_columns,
    require_columns,
)
from survey.models import (
    CardText,
    Choice,
    CovariateQuestion,
    Item,
    ItemList,
    ListExperiment,
    Settlement,
    Survey,
    Wave,
)

logger = logging.getLogger(__name__)

QUESTION_CODE = re.compile(r"^[^\s,:]+$")
MAX_ID = Respondent._meta.get_field("external_id").max_length
MAX_CODE = Choice._meta.get_field("code").max_length
MAX_NAME = Wave._meta.get_field("name").max_length


@dataclass(frozen=True)
class ImportSpec:
    """Which columns hold what. ``numeric`` columns are covariates read as numbers."""

    items: int
    outcome: str
    treat: str
    id_column: str = ""
    covariates: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    weight: str = ""
    place: str = ""

    def covariate_columns(self) -> list[str]:
        return list(dict.fromkeys([*self.covariates, *self.numeric]))

    def columns(self) -> list[str]:
        named = [self.outcome, self.treat, self.id_column, self.weight, self.place]
        return [c for c in named if c] + self.covariate_columns()


@dataclass
class ImportSummary:
    wave: Wave
    respondents: int
    missing_counts: int
    created_survey: bool
    notes: list[str] = field(default_factory=list)


@dataclass
class ParsedRow:
    line: int
    count: int | None
    treated: bool
    external_id: str | None = None
    weight: float | None = None
    place: Settlement | None = None
    answers: dict = field(default_factory=dict)


def size_problem(size: int) -> str | None:
    """Why a file of ``size`` bytes cannot be imported, or None if it can."""
    if size <= settings.IMPORT_MAX_BYTES:
        return None
    return _("The file (%(size)s) is larger than the import limit of %(limit)s.") % {
        "size": filesizeformat(size),
        "limit": filesizeformat(settings.IMPORT_MAX_BYTES),
    }


def natural_key(value: str):
    number = parse_number(value)
    return (0, number, value) if number is not None else (1, 0.0, value)


def responses_import(
    *, table: Table, spec: ImportSpec, wave: Wave | None = None, user=None
) -> ImportSummary:
    """Check every row of ``table`` and, if all are valid, store them in one transaction."""
    if spec.items < 1:
        raise TableError(
            [Problem(1, "", _("the number of control items J must be 1 or more."))]
        )
    require_columns(table, spec.columns())
    experiment = None
    if wave is not None:
        experiment = check_target_wave(wave, spec)

    rows, problems = parse_rows(table, spec, wave)
    if problems:
        raise TableError(sorted(problems, key=lambda p: (p.line, p.column)))
    if not rows:
        raise TableError([Problem(1, "", _("the file has a header but no rows."))])

    with transaction.atomic():
        created = wave is None
        if created:
            wave, experiment = create_survey_for(table, spec, rows, user)
        else:
            wave = Wave.objects.select_for_update().get(pk=wave.pk)
            if wave.status != Wave.DRAFT:
                raise TableError([Problem(1, "", target_not_draft(wave))])
            check_ids_unused(wave, rows)
        store_rows(wave, experiment, rows)

    missing = sum(1 for row in rows if row.count is None)
    logger.info(
        "Imported %s respondents (%s without a count) from %s into wave %s",
        len(rows),
        missing,
        table.name or "an upload",
        wave.pk,
    )
    return ImportSummary(wave, len(rows), missing, created)


def target_not_draft(wave: Wave) -> str:
    return _(
        "wave “%(wave)s” is %(status)s; data can be imported only into a draft wave."
    ) % {
        "wave": wave.name,
        "status": wave.get_status_display(),
    }


def check_target_wave(wave: Wave, spec: ImportSpec) -> ListExperiment:
    """The target wave's single-list experiment, if the file fits it."""
    if wave.status != Wave.DRAFT:
        raise TableError([Problem(1, "", target_not_draft(wave))])

    experiment = wave.survey.experiments.order_by("position", "id").first()
    if experiment is None:
        raise TableError(
            [Problem(1, "", _("the wave's survey has no list experiment."))]
        )
    if experiment.design != ListExperiment.SINGLE or len(experiment.arms()) != 2:
        raise TableError(
            [
                Problem(
                    1,
                    "",
                    _("import into a wave supports one list with one sensitive item."),
                )
            ]
        )
    if experiment.items_count() != spec.items:
        raise TableError(
            [
                Problem(
                    1,
                    "",
                    _("J is %(given)s but the wave's control list has %(j)s items.")
                    % {"given": spec.items, "j": experiment.items_count()},
                )
            ]
        )

    questions = {q.code: q for q in wave.survey.questions.all()}
    problems = []
    for column in spec.covariate_columns():
        question = questions.get(column)
        want = (
            CovariateQuestion.NUMERIC
            if column in spec.numeric
            else CovariateQuestion.CODED
        )
        if question is None:
            problems.append(
                Problem(
                    1, column, _("the survey has no covariate question with this code.")
                )
            )
        elif question.kind != want:
            problems.append(
                Problem(
                    1,
                    column,
                    _("the survey's question is %(kind)s.")
                    % {"kind": question.get_kind_display()},
                )
            )
    if problems:
        raise TableError(problems)
    return experiment


def parse_rows(table: Table, spec: ImportSpec, wave: Wave | None):
    """Every row checked; returns the parsed rows and every problem found."""
    columns = read_list_columns(
        table, outcome=spec.outcome, treat=spec.treat, items=spec.items
    )
    problems = list(columns.problems)
    index = {name: table.header.index(name) for name in spec.columns()}
    choices = existing_choices(wave)
    places = place_lookup() if spec.place else {}
    seen_ids: dict[str, int] = {}
    rows = []

    for row, line, count, treated, valid in zip(
        table.rows, table.lines, columns.counts, columns.treated, columns.valid
    ):
        parsed = ParsedRow(line, None if count != count else int(count), treated)
        row_problems = []

        if spec.id_column:
            raw = row[index[spec.id_column]]
            if not raw:
                row_problems.append(
                    Problem(line, spec.id_column, _("the id is empty."))
                )
            elif len(raw) > MAX_ID:
                row_problems.append(Problem(line, spec.id_column, too_long(MAX_ID)))
            elif raw in seen_ids:
                row_problems.append(
                    Problem(
                        line,
                        spec.id_column,
                        _("id “%(id)s” is already used on line %(first)s.")
                        % {"id": raw, "first": seen_ids[raw]},
                    )
                )
            else:
                seen_ids[raw] = line
                parsed.external_id = raw

        if spec.weight:
            raw = row[index[spec.weight]]
            if raw:
                weight = parse_number(raw)
                if weight is None or weight <= 0:
                    row_problems.append(
                        Problem(
                            line,
                            spec.weight,
                            _("a weight must be a positive number, not “%(v)s”.")
                            % {"v": raw},
                        )
                    )
                else:
                    parsed.weight = weight

        if spec.place:
            raw = row[index[spec.place]]
            if raw:
                place = places.get(raw.casefold())
                if place is None:
                    row_problems.append(
                        Problem(
                            line,
                            spec.place,
                            _(
                                "“%(v)s” is not a known settlement code or name; add it "
                                "under Settlements first."
                            )
                            % {"v": raw},
                        )
                    )
                parsed.place = place

        for column in spec.covariate_columns():
            raw = row[index[column]]
            if raw == "" or raw.upper() == "NA":
                continue
            if column in spec.numeric:
                number = parse_number(raw)
                if number is None:
                    row_problems.append(
                        Problem(
                            line, column, _("“%(v)s” is not a number.") % {"v": raw}
                        )
                    )
                parsed.answers[column] = number
            elif len(raw) > MAX_CODE:
                row_problems.append(Problem(line, column, too_long(MAX_CODE)))
            elif column in choices and raw not in choices[column]:
                row_problems.append(
                    Problem(
                        line,
                        column,
                        _("“%(v)s” is not one of the question's codes (%(codes)s).")
                        % {
                            "v": raw,
                            "codes": ", ".join(
                                sorted(choices[column], key=natural_key)
                            ),
                        },
                    )
                )
            else:
                parsed.answers[column] = raw

        problems.extend(row_problems)
        if valid and not row_problems:
            rows.append(parsed)

    if wave is None:
        problems.extend(new_code_problems(spec))
    return rows, problems


def new_code_problems(spec: ImportSpec) -> list[Problem]:
    problems = []
    for column in spec.covariate_columns():
        if not QUESTION_CODE.match(column):
            problems.append(
                Problem(
                    1,
                    column,
                    _("a covariate's name may not hold spaces, commas or colons."),
                )
            )
        elif len(column) > MAX_CODE:
            problems.append(Problem(1, column, too_long(MAX_CODE)))
    return problems


def too_long(limit: int) -> str:
    return _("longer than %(n)s characters; shorten it.") % {"n": limit}


def existing_choices(wave: Wave | None) -> dict[str, set[str]]:
    if wave is None:
        return {}
    return {
        question.code: {choice.code for choice in question.choices.all()}
        for question in wave.survey.questions.filter(kind=CovariateQuestion.CODED)
    }


def place_lookup() -> dict[str, Settlement]:
    places = {}
    for settlement in Settlement.objects.all():
        places[settlement.name.casefold()] = settlement
        places[settlement.code.casefold()] = settlement
    return places


def check_ids_unused(wave: Wave, rows: list[ParsedRow]) -> None:
    by_id = {row.external_id: row.line for row in rows if row.external_id}
    taken = Respondent.objects.filter(
        wave=wave, external_id__in=list(by_id)
    ).values_list("external_id", flat=True)
    problems = [
        Problem(
            by_id[external_id],
            "",
            _("id “%(id)s” is already in this wave.") % {"id": external_id},
        )
        for external_id in taken
    ]
    if problems:
        raise TableError(sorted(problems, key=lambda p: p.line))


def unique_survey_code(name: str) -> str:
    base = slugify(name.rsplit(".", 1)[0])[:40] or "imported"
    code, n = base, 1
    while Survey.objects.filter(code=code).exists():
        n += 1
        code = f"{base}-{n}"
    return code


def create_survey_for(table: Table, spec: ImportSpec, rows: list[ParsedRow], user):
    """A survey, a list experiment with placeholder texts and a draft wave for a file."""
    name = (table.name or _("Imported data"))[:MAX_NAME]
    survey = Survey.objects.create(
        code=unique_survey_code(name),
        name=name,
        languages=["en"],
        description=_("Made by importing %(file)s. Item texts are placeholders.")
        % {"file": name},
    )
    experiment = ListExperiment.objects.create(survey=survey, code="list", name=name)
    item_list = ItemList.objects.create(experiment=experiment, code="A")
    CardText.objects.create(
        experiment=experiment,
        language="en",
        text=_("Placeholder: the card's instructions were not part of the import."),
    )
    for position in range(1, spec.items + 1):
        item = Item.objects.create(
            experiment=experiment,
            item_list=item_list,
            code=f"item{position}",
            kind=Item.CONTROL,
            position=position,
        )
        CardText.objects.create(
            experiment=experiment,
            item=item,
            language="en",
            text=_("Control item %(n)s (placeholder)") % {"n": position},
        )
    sensitive = Item.objects.create(
        experiment=experiment, code="sensitive", kind=Item.SENSITIVE, position=1
    )
    CardText.objects.create(
        experiment=experiment,
        item=sensitive,
        language="en",
        text=_("Sensitive item (placeholder)"),
    )

    for position, column in enumerate(spec.covariate_columns(), start=1):
        numeric = column in spec.numeric
        question = CovariateQuestion.objects.create(
            survey=survey,
            code=column,
            kind=CovariateQuestion.NUMERIC if numeric else CovariateQuestion.CODED,
            position=position,
            texts={"en": column},
        )
        if not numeric:
            values = {row.answers[column] for row in rows if column in row.answers}
            Choice.objects.bulk_create(
                Choice(question=question, code=value, position=n, labels={"en": value})
                for n, value in enumerate(sorted(values, key=natural_key), start=1)
            )

    wave = Wave.objects.create(
        survey=survey,
        name=name,
        description=_("Imported from %(file)s on %(date)s%(by)s.")
        % {
            "file": name,
            "date": timezone.now().date().isoformat(),
            "by": _(" by %(user)s") % {"user": user.get_username()} if user else "",
        },
    )
    return wave, experiment


def store_rows(wave: Wave, experiment: ListExperiment, rows: list[ParsedRow]) -> None:
    """Imported rows as records; a row without a count has an assignment only."""
    respondents_store(
        wave=wave,
        experiment=experiment,
        source=Assignment.IMPORT,
        records=[
            RespondentRecord(
                arm="treatment" if row.treated else "control",
                status=None if row.count is None else Response.COMPLETE,
                count=row.count,
                external_id=row.external_id,
                weight=row.weight,
                place=row.place,
                answers=row.answers,
            )
            for row in rows
        ],
    )
