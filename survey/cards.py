"""Cards as shown: the frozen wording of a wave, or the live wording before it opens.

A card is a list experiment's instructions and items in one language and one order.
``card_problems`` is the check run before a wave opens: every language of the survey
must have the instructions and every item, and nothing else.
"""

from dataclasses import dataclass

from django.utils.translation import gettext as _

from survey.models import Survey, Wave


@dataclass(frozen=True)
class Card:
    language: str
    instructions: str
    items: list[tuple[str, str]]

    @property
    def size(self) -> int:
        return len(self.items)


def card_snapshot(survey: Survey) -> dict:
    """Every list experiment's items and texts, with their versions, as plain data."""
    snapshot = {}
    for experiment in survey.experiments.prefetch_related(
        "lists", "items", "texts__item"
    ):
        texts: dict[str, dict] = {}
        for text in experiment.texts.all():
            entry = {"text": text.text, "version": text.version}
            by_language = texts.setdefault(
                text.language, {"instructions": None, "items": {}}
            )
            if text.item_id is None:
                by_language["instructions"] = entry
            else:
                by_language["items"][text.item.code] = entry
        snapshot[experiment.code] = {
            "name": experiment.name,
            "design": experiment.design,
            "arms": experiment.arms(),
            # PostgreSQL's jsonb does not keep the keys of "lists" in order.
            "list_order": [item_list.code for item_list in experiment.lists.all()],
            "lists": {
                item_list.code: [
                    item.code for item in experiment.control_items(item_list.code)
                ]
                for item_list in experiment.lists.all()
            },
            "sensitive": [item.code for item in experiment.sensitive_items()],
            "texts": texts,
        }
    return snapshot


def wave_snapshot(wave: Wave) -> dict:
    """What the wave shows: its frozen cards once open, the live texts before."""
    return wave.frozen_cards or card_snapshot(wave.survey)


def list_codes(experiment: dict) -> list[str]:
    """A snapshot's list codes in the order they are asked, the first list first.

    Cards frozen before the order was recorded fall back to the keys of ``lists``.
    """
    return list(experiment.get("list_order") or experiment["lists"])


def default_order(
    experiment: dict, arm: str, list_code: str | None = None
) -> list[str]:
    """Control items in their order, the sensitive item last on a treatment list.

    In a double list the sensitive item is on the list the arm names; with several
    sensitive items, an item's arm adds that item.
    """
    list_code = list_code or list_codes(experiment)[0]
    order = list(experiment["lists"][list_code])
    sensitive = experiment["sensitive"]
    if experiment["design"] == "double":
        if arm == list_code:
            order += sensitive[:1]
    elif arm == "treatment":
        order += sensitive[:1]
    elif arm in sensitive:
        order.append(arm)
    return order


def card(experiment: dict, language: str, item_codes: list[str]) -> Card:
    texts = experiment["texts"].get(language) or {"instructions": None, "items": {}}
    instructions = (texts.get("instructions") or {}).get("text", "")
    items = [
        (code, texts["items"].get(code, {}).get("text", code)) for code in item_codes
    ]
    return Card(language=language, instructions=instructions, items=items)


def card_problems(snapshot: dict, survey: Survey) -> list[str]:
    """Missing or extra texts, one plain sentence each; empty when the cards are whole."""
    problems = []
    for code, experiment in snapshot.items():
        items = {i for codes in experiment["lists"].values() for i in codes}
        items |= set(experiment["sensitive"])
        for language in survey.languages:
            texts = experiment["texts"].get(language)
            if not texts or not (texts.get("instructions") or {}).get("text"):
                problems.append(
                    _("%(experiment)s: the instructions have no %(language)s text.")
                    % {"experiment": code, "language": language}
                )
                texts = texts or {"items": {}}
            have = {i for i, entry in texts["items"].items() if entry.get("text")}
            for item in sorted(items - have):
                problems.append(
                    _("%(experiment)s: item “%(item)s” has no %(language)s text.")
                    % {"experiment": code, "item": item, "language": language}
                )
        for language in sorted(set(experiment["texts"]) - set(survey.languages)):
            problems.append(
                _(
                    "%(experiment)s: has %(language)s texts, a language the survey lacks."
                )
                % {"experiment": code, "language": language}
            )
    return problems
