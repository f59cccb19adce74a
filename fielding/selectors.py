"""Reads that the tablet API and the microdata download share."""

from django.db.models import Min, QuerySet

from fielding.models import Assignment, Respondent
from survey.cards import list_codes, wave_snapshot
from survey.models import ItemList, Settlement, Wave
from survey.roles import ADMINISTRATOR, has_role
from survey.selectors import stratum_lookup


def waves_for_tablet(user) -> QuerySet:
    """Waves in fieldwork that ``user`` may interview in."""
    waves = Wave.objects.filter(status=Wave.FIELDING).select_related("survey")
    if has_role(user, ADMINISTRATOR):
        return waves
    return waves.filter(interviewers=user)


def wave_for_tablet(wave: Wave) -> dict:
    """Everything a tablet needs to interview offline in ``wave``: places, cards,
    questions, in every language of the survey."""
    lookup = stratum_lookup(wave)
    settlements = [
        {"code": s.code, "name": s.name, "stratum": getattr(lookup(s), "code", None)}
        for s in Settlement.objects.order_by("name")
    ]
    cards = []
    for code, experiment in wave_snapshot(wave).items():
        items = [i for codes in experiment["lists"].values() for i in codes]
        items += experiment["sensitive"]
        for list_code in list_codes(experiment):
            languages = {}
            for language, texts in experiment["texts"].items():
                languages[language] = {
                    "instructions": (texts.get("instructions") or {}).get("text", ""),
                    "items": [
                        {"code": i, "text": texts["items"].get(i, {}).get("text", i)}
                        for i in items
                    ],
                }
            cards.append(
                {"experiment": code, "code": list_code, "languages": languages}
            )
    questions = [
        {
            "code": q.code,
            "kind": q.kind,
            "texts": q.texts,
            "min": q.min_value,
            "max": q.max_value,
            "choices": [{"code": c.code, "labels": c.labels} for c in q.choices.all()],
        }
        for q in wave.survey.questions.prefetch_related("choices")
    ]
    return {
        "id": wave.pk,
        "name": wave.name,
        "languages": wave.survey.languages,
        "settlements": [s for s in settlements if s["stratum"] is not None],
        "cards": cards,
        "questions": questions,
    }


MICRODATA_FIXED = [
    "respondent_id",
    "external_id",
    "wave_id",
    "experiment",
    "stratum",
    "region",
    "place",
    "mode",
    "language",
    "interviewer",
    "arm",
    "item_order",
    "item_order_2",
    "source",
    "simulated",
    "status",
    "count",
    "second_count",
    "weight",
    "late",
    "registered_at",
    "card_shown_at",
    "started_at",
    "finished_at",
    "received_at",
]


def microdata_columns(
    wave: Wave, recodes: bool = False, identifiers: bool = True
) -> list[str]:
    """The fixed columns, one per question and, with ``recodes``, one per recode
    (named by the recode, holding the level its question's answer falls in).
    Without ``identifiers`` there is no ``external_id``."""
    columns = MICRODATA_FIXED + [q.code for q in wave.survey.questions.all()]
    if recodes:
        columns += [r.name for r in wave.survey.recodes.all()]
    if not identifiers:
        columns.remove("external_id")
    return columns


def interviewer_numbers(wave: Wave) -> dict[str, int]:
    """Each interviewer's number within the wave, in the order of their first
    respondent, so an interviewer keeps their number as the wave grows."""
    firsts = (
        Respondent.objects.filter(wave=wave, interviewer__isnull=False)
        .values("interviewer__username")
        .annotate(first=Min("pk"))
        .order_by("first")
    )
    return {row["interviewer__username"]: n for n, row in enumerate(firsts, start=1)}


def microdata_assignments(wave: Wave) -> QuerySet:
    """The wave's assignments in the microdata's order (one row each)."""
    return Assignment.objects.filter(respondent__wave=wave).order_by(
        "respondent_id", "experiment_id"
    )


def experiment_lists(wave: Wave) -> dict[int, list[str]]:
    """Each experiment's list codes in the order they are asked, by experiment id."""
    lists = ItemList.objects.filter(experiment__survey=wave.survey).order_by(
        "experiment", "position", "id"
    )
    by_experiment: dict[int, list[str]] = {}
    for experiment_id, code in lists.values_list("experiment_id", "code"):
        by_experiment.setdefault(experiment_id, []).append(code)
    return by_experiment


def list_orders(order, lists: list[str]) -> tuple[str, str]:
    """The first and second list's item order as ``a;b;c`` (empty when not shown)."""
    order = order if isinstance(order, dict) else {}
    if len(order) == 1:
        (first,) = order.values()
        return ";".join(first), ""
    codes = [code for code in lists if code in order]
    codes += [code for code in order if code not in codes]
    shown = [";".join(order[code]) for code in codes[:2]] + ["", ""]
    return shown[0], shown[1]


def microdata_rows(
    wave: Wave,
    assignments: QuerySet | None = None,
    recodes: bool = False,
    identifiers: bool = True,
):
    """One dict per assignment of ``wave`` (or of ``assignments``, a slice of
    `microdata_assignments`, for one page), streamed from the database in chunks.
    With ``recodes``, the columns `microdata_columns` adds for them too. Without
    ``identifiers``, no ``external_id`` and interviewers by number, not user name."""
    questions = [q.code for q in wave.survey.questions.all()]
    lists_of = experiment_lists(wave)
    experiments = dict(wave.survey.experiments.values_list("id", "code"))
    numbers = {} if identifiers else interviewer_numbers(wave)
    mappings = {
        r.name: (r.question.code, r.mapping)
        for r in (wave.survey.recodes.select_related("question") if recodes else [])
    }
    rows = (
        assignments if assignments is not None else microdata_assignments(wave)
    ).values_list(
        "respondent_id",
        "respondent__external_id",
        "respondent__stratum__code",
        "respondent__place__region__code",
        "respondent__place__code",
        "respondent__mode",
        "respondent__language",
        "respondent__interviewer__username",
        "experiment_id",
        "arm",
        "item_order",
        "source",
        "response__status",
        "response__count",
        "response__second_count",
        "respondent__weight",
        "respondent__late",
        "respondent__registered_at",
        "card_shown_at",
        "respondent__started_at",
        "respondent__finished_at",
        "respondent__received_at",
        "respondent__answers",
    )
    for row in rows.iterator(chunk_size=2000):
        (
            rid,
            external,
            stratum,
            region,
            place,
            mode,
            language,
            interviewer,
            experiment_id,
            arm,
            order,
            source,
            status,
            count,
            second,
            weight,
            late,
            registered,
            shown,
            started,
            finished,
            received,
            answers,
        ) = row
        answers = answers if isinstance(answers, dict) else {}
        order_1, order_2 = list_orders(order, lists_of.get(experiment_id, []))
        record = {
            "respondent_id": rid,
            "external_id": external,
            "wave_id": wave.pk,
            "experiment": experiments.get(experiment_id),
            "stratum": stratum,
            "region": region,
            "place": place,
            "mode": mode,
            "language": language,
            "interviewer": interviewer,
            "arm": arm,
            "item_order": order_1,
            "item_order_2": order_2,
            "source": source,
            "simulated": int(source == Assignment.SIMULATION),
            "status": status or "no_response",
            "count": count,
            "second_count": second,
            "weight": weight,
            "late": int(bool(late)),
            "registered_at": registered,
            "card_shown_at": shown,
            "started_at": started,
            "finished_at": finished,
            "received_at": received,
        }
        record.update({code: answers.get(code) for code in questions})
        for name, (question, mapping) in mappings.items():
            value = answers.get(question)
            record[name] = None if value is None else mapping.get(str(value))
        if not identifiers:
            del record["external_id"]
            record["interviewer"] = numbers.get(interviewer)
        yield record
