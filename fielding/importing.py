"""Import of respondent-level data from earlier fieldwork into a wave.

The whole file is checked before anything is stored: every bad row is reported with its
line, column and reason, and nothing is written unless every row is valid. Without a
target wave the import makes a survey, a list experiment with placeholder item texts and
a draft wave named after the file; with one, it fills that draft wave.

Three designs besides one treatment list against one control list come in the same
way: several sensitive items sharing one control list (the arm column names the arm),
a double list (each list has its count and treatment columns, and the sensitive item
is on exactly one of them), and a list with a direct question (its column holds 1 for
yes and 0 for no, stored as the answer to the experiment's direct question).
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
    parse_treatment,
    read_arm_columns,
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
ITEM_CODE = re.compile(r"^[-a-zA-Z0-9_]+$")
MAX_ITEM_CODE = Item._meta.get_field("code").max_length
DOUBLE_LISTS = ("A", "B")
MAX_ID = Respondent._meta.get_field("external_id").max_length
MAX_CODE = Choice._meta.get_field("code").max_length
MAX_NAME = Wave._meta.get_field("name").max_length
#: The most control items a list may have, on the web form and the command line:
#: a new survey gets a card text for every item in every language.
MAX_ITEMS = 50


@dataclass(frozen=True)
class ImportSpec:
    """Which columns hold what. ``numeric`` columns are covariates read as numbers.

    ``arms`` names the arms the treatment column holds, the control arm first (several
    sensitive items); ``second_outcome`` and ``second_treat`` are a double list's
    second list (``second_items`` its J, the first list's J when 0); ``direct`` is the
    column of the direct question (1 yes, 0 no).
    """

    items: int
    outcome: str
    treat: str
    id_column: str = ""
    covariates: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    weight: str = ""
    place: str = ""
    arms: tuple[str, ...] = ()
    second_outcome: str = ""
    second_treat: str = ""
    second_items: int = 0
    direct: str = ""

    @property
    def double(self) -> bool:
        return bool(self.second_outcome or self.second_treat)

    def items_second(self) -> int:
        return self.second_items or self.items

    def covariate_columns(self) -> list[str]:
        return list(dict.fromkeys([*self.covariates, *self.numeric]))

    def list_columns(self) -> list[str]:
        named = [self.outcome, self.treat, self.second_outcome, self.second_treat]
        return [c for c in named if c]

    def columns(self) -> list[str]:
        named = [
            *self.list_columns(),
            self.direct,
            self.id_column,
            self.weight,
            self.place,
        ]
        return list(dict.fromkeys([c for c in named if c] + self.covariate_columns()))


@dataclass(frozen=True)
class Design:
    """How a file's rows become arms and answers: each arm label's arm, a double
    list's two list codes, and the question code the direct answers go under."""

    arm_of: dict = field(default_factory=dict)
    lists: tuple[str, ...] = DOUBLE_LISTS
    direct_code: str = ""


@dataclass
class RowDesign:
    arm: str
    count: int | None
    second_count: int | None
    valid: bool


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
    arm: str
    second_count: int | None = None
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
    problems = spec_problems(spec)
    if problems:
        raise TableError(problems)
    require_columns(table, spec.columns())
    experiment = None
    if wave is not None:
        experiment = check_target_wave(wave, spec)
    design = design_for(spec, experiment)

    rows, problems, partial = parse_rows(table, spec, wave, design)
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
    notes = []
    if partial:
        notes.append(
            _(
                "%(n)s rows have a count on one list only; a double list's response "
                "needs both, so they were stored without a count."
            )
            % {"n": partial}
        )
    logger.info(
        "Imported %s respondents (%s without a count) from %s into wave %s",
        len(rows),
        missing,
        table.name or "an upload",
        wave.pk,
    )
    return ImportSummary(wave, len(rows), missing, created, notes)


def spec_problems(spec: ImportSpec) -> list[Problem]:
    """What is wrong with the options themselves, before any row is read."""
    problems = []
    if spec.items < 1:
        problems.append(
            Problem(1, "", _("the number of control items J must be 1 or more."))
        )
    if spec.items > MAX_ITEMS:
        problems.append(
            Problem(
                1,
                "",
                _("the number of control items J must be at most %(max)s.")
                % {"max": MAX_ITEMS},
            )
        )
    if spec.second_items < 0:
        problems.append(
            Problem(1, "", _("the second list's J must be 1 or more (or left out)."))
        )
    if spec.second_items > MAX_ITEMS:
        problems.append(
            Problem(
                1,
                "",
                _("the second list's J must be at most %(max)s.") % {"max": MAX_ITEMS},
            )
        )
    if spec.arms and spec.double:
        problems.append(
            Problem(
                1,
                spec.treat,
                _("name arms or give a second list, not both: they are two designs."),
            )
        )
    if spec.arms and len(spec.arms) < 2:
        problems.append(
            Problem(
                1,
                spec.treat,
                _(
                    "name the control arm and at least one sensitive item's arm, "
                    "control first (e.g. control,a,b)."
                ),
            )
        )
    if spec.double and not (spec.second_outcome and spec.second_treat):
        problems.append(
            Problem(
                1,
                spec.second_outcome or spec.second_treat,
                _("a second list needs its count column and its treatment column."),
            )
        )
    lists = spec.list_columns()
    if len(set(lists)) < len(lists):
        problems.append(
            Problem(
                1,
                "",
                _("every count and treatment column must be a different column."),
            )
        )
    if spec.direct and spec.direct in {*lists, *spec.covariate_columns()}:
        problems.append(
            Problem(
                1,
                spec.direct,
                _(
                    "the direct question's column is named for something else too; "
                    "name it once."
                ),
            )
        )
    return problems


def design_for(spec: ImportSpec, experiment: ListExperiment | None) -> Design:
    """The arm of each label, the list codes and the direct question's code.

    A new survey's double list has lists A and B; its direct question is named after
    its column; with a single sensitive item its arm is ``treatment``.
    """
    arm_of = {}
    if spec.arms:
        control, *items = spec.arms
        arm_of[control] = "control"
        if experiment is None:
            arm_of.update({label: label for label in items})
            if len(items) == 1:
                arm_of[items[0]] = "treatment"
        else:
            arms = experiment.arms()
            arm_of.update(
                {label: label if label in arms else "treatment" for label in items}
            )
    if experiment is None:
        return Design(arm_of=arm_of, direct_code=spec.direct)
    lists = tuple(item_list.code for item_list in experiment.lists.all())
    direct = experiment.direct_question.code if experiment.direct_question else ""
    return Design(arm_of=arm_of, lists=lists, direct_code=direct)


def target_not_draft(wave: Wave) -> str:
    return _(
        "wave “%(wave)s” is %(status)s; data can be imported only into a draft wave."
    ) % {
        "wave": wave.name,
        "status": wave.get_status_display(),
    }


def check_target_wave(wave: Wave, spec: ImportSpec) -> ListExperiment:
    """The target wave's list experiment, if the file fits its design."""
    if wave.status != Wave.DRAFT:
        raise TableError([Problem(1, "", target_not_draft(wave))])

    experiment = wave.survey.experiments.order_by("position", "id").first()
    if experiment is None:
        raise TableError(
            [Problem(1, "", _("the wave's survey has no list experiment."))]
        )
    problems = design_problems(experiment, spec)
    if problems:
        raise TableError(problems)

    questions = {q.code: q for q in wave.survey.questions.all()}
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


def design_problems(experiment: ListExperiment, spec: ImportSpec) -> list[Problem]:
    """Why the file's design does not fit the wave's list experiment, if it does not."""
    lists = list(experiment.lists.all())
    if spec.double:
        if experiment.design != ListExperiment.DOUBLE or len(lists) != 2:
            return [
                Problem(
                    1,
                    spec.second_outcome,
                    _(
                        "the wave's list experiment is not a double list; leave out "
                        "the second list."
                    ),
                )
            ]
        wanted = [(lists[0], spec.items), (lists[1], spec.items_second())]
    elif experiment.design == ListExperiment.DOUBLE:
        return [
            Problem(
                1,
                "",
                _(
                    "the wave's list experiment is a double list: give the second "
                    "list's count and treatment columns too."
                ),
            )
        ]
    else:
        wanted = [(lists[0] if lists else None, spec.items)]

    problems = []
    arms = experiment.arms()
    if spec.arms:
        allowed = arms[1:] + [item.code for item in experiment.sensitive_items()]
        for label in spec.arms[1:]:
            if label not in allowed:
                problems.append(
                    Problem(
                        1,
                        spec.treat,
                        _(
                            "“%(label)s” is not a sensitive item of the wave's list "
                            "experiment (its arms: %(arms)s)."
                        )
                        % {"label": label, "arms": ", ".join(arms)},
                    )
                )
    elif not spec.double and len(arms) != 2:
        problems.append(
            Problem(
                1,
                spec.treat,
                _(
                    "the wave's list experiment has several sensitive items: name the "
                    "arms the column holds, control first (%(arms)s)."
                )
                % {"arms": ", ".join(arms)},
            )
        )
    for item_list, given in wanted:
        have = experiment.items_count(item_list.code if item_list else None)
        if have == given:
            continue
        if spec.double:
            reason = _("J is %(given)s but the wave's list %(list)s has %(j)s items.")
        else:
            reason = _("J is %(given)s but the wave's control list has %(j)s items.")
        problems.append(
            Problem(
                1,
                "",
                reason
                % {"given": given, "list": getattr(item_list, "code", ""), "j": have},
            )
        )
    if spec.direct and experiment.direct_question is None:
        problems.append(
            Problem(
                1,
                spec.direct,
                _(
                    "the wave's list experiment has no direct question; set one "
                    "in the admin first."
                ),
            )
        )
    return problems


def design_rows(
    table: Table, spec: ImportSpec, design: Design
) -> tuple[list[RowDesign], list[Problem], int]:
    """Each row's arm and counts, the problems found, and how many rows of a double
    list have a count on one list only (kept without a count)."""
    if spec.double:
        return double_rows(table, spec, design)
    if spec.arms:
        columns = read_arm_columns(
            table,
            outcome=spec.outcome,
            treat=spec.treat,
            arms=list(spec.arms),
            items=spec.items,
        )
        arms = [design.arm_of.get(label, "") for label in columns.labels]
    else:
        columns = read_list_columns(
            table, outcome=spec.outcome, treat=spec.treat, items=spec.items
        )
        arms = ["treatment" if treated else "control" for treated in columns.treated]
    rows = [
        RowDesign(arm, whole_or_none(count), None, valid)
        for arm, count, valid in zip(arms, columns.counts, columns.valid)
    ]
    return rows, list(columns.problems), 0


def double_rows(
    table: Table, spec: ImportSpec, design: Design
) -> tuple[list[RowDesign], list[Problem], int]:
    first = read_list_columns(
        table, outcome=spec.outcome, treat=spec.treat, items=spec.items
    )
    second = read_list_columns(
        table,
        outcome=spec.second_outcome,
        treat=spec.second_treat,
        items=spec.items_second(),
    )
    problems = list(first.problems)
    problems += [p for p in second.problems if p not in table.problems]
    rows, partial = [], 0
    for line, on_first, on_second, count_a, count_b, valid_a, valid_b in zip(
        table.lines,
        first.treated,
        second.treated,
        first.counts,
        second.counts,
        first.valid,
        second.valid,
    ):
        valid = valid_a and valid_b
        if valid and on_first == on_second:
            problems.append(
                Problem(
                    line,
                    spec.second_treat,
                    _(
                        "the sensitive item is on exactly one list: one of "
                        "“%(a)s” and “%(b)s” is 1, the other 0."
                    )
                    % {"a": spec.treat, "b": spec.second_treat},
                )
            )
            valid = False
        count, second_count = whole_or_none(count_a), whole_or_none(count_b)
        if (count is None) != (second_count is None):
            partial += valid
            count = second_count = None
        arm = design.lists[0] if on_first else design.lists[1]
        rows.append(RowDesign(arm, count, second_count, valid))
    return rows, problems, partial


def whole_or_none(count: float) -> int | None:
    return None if count != count else int(count)


def parse_rows(table: Table, spec: ImportSpec, wave: Wave | None, design: Design):
    """Every row checked; returns the parsed rows, every problem found, and how many
    rows of a double list had a count on one list only."""
    designs, problems, partial = design_rows(table, spec, design)
    index = {name: table.header.index(name) for name in spec.columns()}
    choices = existing_choices(wave)
    places = place_lookup() if spec.place else {}
    seen_ids: dict[str, int] = {}
    rows = []

    for row, line, row_design in zip(table.rows, table.lines, designs):
        parsed = ParsedRow(
            line, row_design.count, row_design.arm, row_design.second_count
        )
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

        if spec.direct:
            raw = row[index[spec.direct]]
            answer = parse_treatment(raw) if raw and raw.upper() != "NA" else False
            if answer is None:
                row_problems.append(
                    Problem(
                        line,
                        spec.direct,
                        _(
                            "the direct answer must be 1 (yes), 0 (no) or empty, "
                            "not “%(v)s”."
                        )
                        % {"v": raw},
                    )
                )
            elif raw and raw.upper() != "NA":
                parsed.answers[design.direct_code] = "1" if answer else "0"

        problems.extend(row_problems)
        if row_design.valid and not row_problems:
            rows.append(parsed)

    if wave is None:
        problems.extend(new_code_problems(spec))
    return rows, problems, partial


def new_code_problems(spec: ImportSpec) -> list[Problem]:
    problems = []
    taken = {"control", *control_codes(spec.items)}
    for label in spec.arms[1:]:
        if not ITEM_CODE.match(label) or len(label) > MAX_ITEM_CODE or label in taken:
            problems.append(
                Problem(
                    1,
                    spec.treat,
                    _(
                        "arm “%(label)s” cannot name a sensitive item: use up to "
                        "%(n)s letters, digits, - and _, other than control and "
                        "item1 … item%(j)s (the control items)."
                    )
                    % {"label": label, "n": MAX_ITEM_CODE, "j": spec.items},
                )
            )
    named = spec.covariate_columns() + ([spec.direct] if spec.direct else [])
    for column in named:
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


def control_codes(items: int, prefix: str = "item") -> list[str]:
    return [f"{prefix}{n}" for n in range(1, items + 1)]


def create_survey_for(table: Table, spec: ImportSpec, rows: list[ParsedRow], user):
    """A survey, a list experiment with placeholder texts and a draft wave for a file.

    The experiment has the file's design: one list (``item1`` ...) with one sensitive
    item or one per named arm, or a double list A (``a1`` ...) and B (``b1`` ...); a
    direct question column becomes a coded question (1 yes, 0 no) set as the
    experiment's direct question.
    """
    name = (table.name or _("Imported data"))[:MAX_NAME]
    survey = Survey.objects.create(
        code=unique_survey_code(name),
        name=name,
        languages=["en"],
        description=_("Made by importing %(file)s. Item texts are placeholders.")
        % {"file": name},
    )
    experiment = ListExperiment.objects.create(
        survey=survey,
        code="list",
        name=name,
        design=ListExperiment.DOUBLE if spec.double else ListExperiment.SINGLE,
    )
    CardText.objects.create(
        experiment=experiment,
        language="en",
        text=_("Placeholder: the card's instructions were not part of the import."),
    )
    if spec.double:
        for position, (code, items) in enumerate(
            zip(DOUBLE_LISTS, [spec.items, spec.items_second()]), start=1
        ):
            list_create(experiment, code, position, control_codes(items, code.lower()))
    else:
        list_create(experiment, "A", 1, control_codes(spec.items))
    sensitive = spec.arms[1:] or ["sensitive"]
    for position, code in enumerate(sensitive, start=1):
        item = Item.objects.create(
            experiment=experiment, code=code, kind=Item.SENSITIVE, position=position
        )
        text = (
            _("Sensitive item “%(code)s” (placeholder)") % {"code": code}
            if spec.arms
            else _("Sensitive item (placeholder)")
        )
        CardText.objects.create(
            experiment=experiment, item=item, language="en", text=text
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
    if spec.direct:
        experiment.direct_question = direct_question_create(
            survey, spec.direct, len(spec.covariate_columns()) + 1
        )
        experiment.full_clean()
        experiment.save(update_fields=["direct_question"])

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


def list_create(
    experiment: ListExperiment, code: str, position: int, item_codes: list[str]
) -> ItemList:
    item_list = ItemList.objects.create(
        experiment=experiment, code=code, position=position
    )
    for n, item_code in enumerate(item_codes, start=1):
        item = Item.objects.create(
            experiment=experiment,
            item_list=item_list,
            code=item_code,
            kind=Item.CONTROL,
            position=n,
        )
        text = (
            _("List %(list)s, control item %(n)s (placeholder)")
            % {"list": code, "n": n}
            if experiment.design == ListExperiment.DOUBLE
            else _("Control item %(n)s (placeholder)") % {"n": n}
        )
        CardText.objects.create(
            experiment=experiment, item=item, language="en", text=text
        )
    return item_list


def direct_question_create(survey: Survey, code: str, position: int):
    """The coded yes/no question a direct-question column is imported as."""
    question = CovariateQuestion.objects.create(
        survey=survey,
        code=code,
        kind=CovariateQuestion.CODED,
        position=position,
        texts={"en": code},
    )
    Choice.objects.bulk_create(
        [
            Choice(question=question, code="1", position=1, labels={"en": _("yes")}),
            Choice(question=question, code="0", position=2, labels={"en": _("no")}),
        ]
    )
    return question


def store_rows(wave: Wave, experiment: ListExperiment, rows: list[ParsedRow]) -> None:
    """Imported rows as records; a row without a count has an assignment only."""
    respondents_store(
        wave=wave,
        experiment=experiment,
        source=Assignment.IMPORT,
        records=[
            RespondentRecord(
                arm=row.arm,
                status=None if row.count is None else Response.COMPLETE,
                count=row.count,
                second_count=row.second_count,
                external_id=row.external_id,
                weight=row.weight,
                place=row.place,
                answers=row.answers,
            )
            for row in rows
        ],
    )
