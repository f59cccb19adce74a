"""Interviews of the other designs, online and on the web: a double list's two cards
in turn, several sensitive items sharing one control list, and a direct question
asked after the cards."""

from collections import Counter

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import model_to_dict
from django.urls import reverse

from fielding.allocation import slot_item_orders, slots_extend
from fielding.models import AllocationSlot, Assignment, Respondent, Response
from fielding.sequences import item_orders
from fielding.weblinks import weblinks_create
from survey.cards import default_order, wave_snapshot
from survey.models import CovariateQuestion, ListExperiment, Settlement
from tests.conftest import design_wave


def register(client, wave, language: str = "en") -> Assignment:
    """Register a consenting respondent in Almaty; returns their assignment."""
    data = {
        "place": Settlement.objects.get(code="almaty").pk,
        "language": language,
        "external_id": "",
        "consent": "on",
    }
    reply = client.post(reverse("fielding:interview-new", args=[wave.pk]), data)
    assert reply.status_code == 302, reply.content
    return Assignment.objects.filter(respondent__wave=wave).latest("pk")


def card_url(assignment) -> str:
    return reverse("fielding:interview-card", args=[assignment.respondent_id])


def questions_url(assignment) -> str:
    return reverse("fielding:interview-questions", args=[assignment.respondent_id])


def count_buttons(page) -> list[str]:
    return [
        value
        for value in page.context["form"].fields["outcome"].choices
        if value[0].isdigit()
    ]


# Allocation


def test_a_double_lists_slots_hold_the_order_of_both_lists(double_wave):
    stratum = double_wave.strata.get()
    slots_extend(double_wave, double_wave.survey.experiments.get(), stratum, 8)

    slots = AllocationSlot.objects.filter(wave=double_wave).order_by("position")
    assert Counter(slot.arm for slot in slots) == {"A": 4, "B": 4}
    for slot in slots:
        assert list(slot.item_order) == ["A", "B"]
        a, b = slot.item_order["A"], slot.item_order["B"]
        assert a[:3] == ["a1", "a2", "a3"] and b[:4] == ["b1", "b2", "b3", "b4"]
        assert ("sensitive" in a, "sensitive" in b) == (
            slot.arm == "A",
            slot.arm == "B",
        )


def test_shuffled_double_lists_are_prefix_stable_and_keep_their_items(double_wave):
    snapshot = wave_snapshot(double_wave)["list"]
    arms = ["A", "B", "B", "A", "A", "B"]

    orders = slot_item_orders(snapshot, arms, seed=11, key="all")
    shorter = slot_item_orders(snapshot, arms[:4], seed=11, key="all")

    assert orders[:4] == shorter
    for arm, order in zip(arms, orders):
        for code in ("A", "B"):
            assert sorted(order[code]) == sorted(default_order(snapshot, arm, code))
    assert orders != slot_item_orders(snapshot, arms)


def test_a_single_lists_shuffled_orders_are_the_ones_it_always_had(demo_wave):
    snapshot = wave_snapshot(demo_wave)["csto"]
    arms = ["control", "treatment", "treatment", "control"]

    orders = slot_item_orders(snapshot, arms, seed=5, key="almaty")

    before = item_orders(5, "almaty#items", [default_order(snapshot, a) for a in arms])
    assert [order["A"] for order in orders] == before


def test_several_items_open_with_the_default_plan_in_equal_shares(db):
    wave = design_wave("multi-default", lists={"A": 3}, sensitive=("a", "b"), plan={})
    slots_extend(wave, wave.survey.experiments.get(), wave.strata.get(), 90)

    blocks: dict[int, Counter] = {}
    for slot in AllocationSlot.objects.filter(wave=wave):
        blocks.setdefault(slot.block, Counter())[slot.arm] += 1
    *whole, _last = blocks.values()
    assert {sum(block.values()) for block in whole} <= {6, 9}
    assert all(len(set(block.values())) == 1 and len(block) == 3 for block in whole)


def test_several_items_share_the_control_arm_each_on_its_own_card(
    multi_wave, interviewer_client
):
    assignments = [register(interviewer_client, multi_wave) for _n in range(6)]

    assert Counter(a.arm for a in assignments) == {
        "control": 2,
        "race": 2,
        "affirm": 2,
    }
    for assignment in assignments:
        page = interviewer_client.get(card_url(assignment))
        items = [code for code, _text in page.context["card"].items]
        assert items[:3] == ["a1", "a2", "a3"]
        assert items[3:] == ([] if assignment.arm == "control" else [assignment.arm])
        assert len(count_buttons(page)) == len(items) + 1
        assert "List 1 of" not in page.text


def test_an_item_arms_count_runs_to_j_plus_one_and_controls_to_j(
    multi_wave, interviewer_client
):
    assignments = [register(interviewer_client, multi_wave) for _n in range(6)]
    control = next(a for a in assignments if a.arm == "control")
    race = next(a for a in assignments if a.arm == "race")

    too_many = interviewer_client.post(card_url(control), {"outcome": "4"})
    saved = interviewer_client.post(card_url(race), {"outcome": "4"})

    assert too_many.status_code == 200 and not hasattr(
        Assignment.objects.get(pk=control.pk), "response"
    )
    assert saved.status_code == 302
    assert Response.objects.get(assignment=race).count == 4


# A double list, online


def answer_both(client, assignment, first: str, second: str):
    client.post(card_url(assignment), {"outcome": first})
    return client.post(card_url(assignment), {"outcome": second})


def test_a_double_list_shows_list_one_then_list_two_and_stores_both_counts(
    double_wave, interviewer_client
):
    assignment = register(interviewer_client, double_wave)
    top_a = 3 + (assignment.arm == "A")
    top_b = 4 + (assignment.arm == "B")

    first = interviewer_client.get(card_url(assignment))
    to_second = interviewer_client.post(card_url(assignment), {"outcome": str(top_a)})
    second = interviewer_client.get(card_url(assignment))
    done = interviewer_client.post(card_url(assignment), {"outcome": str(top_b)})

    assert "List 1 of 2" in first.text and "A1 [en]" in first.text
    assert "B1 [en]" not in first.text
    assert len(count_buttons(first)) == top_a + 1
    assert to_second.url == card_url(assignment)
    assert "List 2 of 2" in second.text and "B1 [en]" in second.text
    assert "A1 [en]" not in second.text
    assert len(count_buttons(second)) == top_b + 1
    assert ("Sensitive sensitive [en]" in first.text) == (assignment.arm == "A")
    assert ("Sensitive sensitive [en]" in second.text) == (assignment.arm == "B")
    assert done.url == questions_url(assignment)
    response = Response.objects.get(assignment=assignment)
    assert (response.status, response.count, response.second_count) == (
        "complete",
        top_a,
        top_b,
    )


def test_the_second_lists_range_is_its_own(double_wave, interviewer_client):
    assignment = register(interviewer_client, double_wave)
    top_b = 4 + (assignment.arm == "B")

    past = answer_both(interviewer_client, assignment, "0", str(top_b + 1))
    page = interviewer_client.get(card_url(assignment))

    assert past.status_code == 200
    assert not Response.objects.filter(assignment=assignment).exists()
    assert "List 2 of 2" in page.text


def test_a_refusal_on_list_one_ends_the_cards_without_a_count(
    double_wave, interviewer_client
):
    assignment = register(interviewer_client, double_wave)

    reply = interviewer_client.post(card_url(assignment), {"outcome": "refused"})

    response = Response.objects.get(assignment=assignment)
    assert reply.url == questions_url(assignment)
    assert (response.status, response.count, response.second_count) == (
        "refused",
        None,
        None,
    )


def test_a_dont_know_on_list_two_keeps_neither_count(double_wave, interviewer_client):
    assignment = register(interviewer_client, double_wave)

    answer_both(interviewer_client, assignment, "2", "dont_know")

    response = Response.objects.get(assignment=assignment)
    assert (response.status, response.count, response.second_count) == (
        "dont_know",
        None,
        None,
    )


def test_the_direct_question_comes_after_the_cards_and_is_stored(
    double_wave, interviewer_client
):
    assignment = register(interviewer_client, double_wave)

    early = interviewer_client.get(questions_url(assignment))
    answer_both(interviewer_client, assignment, "1", "1")
    page = interviewer_client.get(questions_url(assignment))
    saved = interviewer_client.post(
        questions_url(assignment), {"gender": "2", "direct": "1"}
    )

    assert early.url == card_url(assignment)
    assert "Asked directly [en]" in page.text
    assert saved.status_code == 302
    respondent = Respondent.objects.get(pk=assignment.respondent_id)
    assert respondent.answers == {"gender": "2", "direct": "1"}


def test_show_cards_print_both_lists_of_each_arm(double_wave, interviewer_client):
    page = interviewer_client.get(
        reverse("fielding:show-cards", args=[double_wave.pk]) + "?language=ru"
    )

    assert [label for _name, label, _card in page.context["cards"]] == [
        "A, list A",
        "A, list B",
        "B, list A",
        "B, list B",
    ]
    assert page.text.count("Sensitive sensitive [ru]") == 2


# A double list, on the web


def test_a_web_respondent_answers_both_lists_then_the_direct_question(
    double_wave, client
):
    (token,) = weblinks_create(wave=double_wave, n=1)
    start = reverse("fielding:web-start", args=[token])
    card = reverse("fielding:web-card", args=[token])
    questions = reverse("fielding:web-questions", args=[token])

    client.post(start, {"consent": "1", "language": "ru"})
    assignment = Assignment.objects.get(respondent__wave=double_wave)
    first = client.get(card)
    client.post(card, {"outcome": "0"})
    second = client.get(card)
    early = client.get(questions)
    to_questions = client.post(card, {"outcome": "1"})
    page = client.get(questions)
    client.post(questions, {"direct": "0"})

    assert "Список 1 из 2" in first.text and "A1 [ru]" in first.text
    assert "Список 2 из 2" in second.text and "B1 [ru]" in second.text
    assert early.url == card
    assert to_questions.url == questions
    assert "Asked directly [ru]" in page.text
    response = Response.objects.get(assignment=assignment)
    assert (response.count, response.second_count) == (0, 1)
    assert Respondent.objects.get(pk=assignment.respondent_id).answers == {
        "direct": "0"
    }


# The model's own checks


def test_a_double_lists_complete_response_needs_both_counts_in_their_ranges(
    double_wave, interviewer_client
):
    assignment = register(interviewer_client, double_wave)
    top_a = 3 + (assignment.arm == "A")
    top_b = 4 + (assignment.arm == "B")

    def errors(count, second_count) -> set[str]:
        response = Response(
            assignment=assignment,
            status=Response.COMPLETE,
            count=count,
            second_count=second_count,
        )
        with pytest.raises(ValidationError) as refused:
            response.full_clean()
        return set(refused.value.message_dict)

    assert errors(1, None) == {"second_count"}
    assert errors(top_a + 1, 0) == {"count"}
    assert errors(0, top_b + 1) == {"second_count"}
    Response(
        assignment=assignment, status="complete", count=top_a, second_count=top_b
    ).full_clean()


# The direct question's own checks


def test_a_direct_question_must_be_coded_yes_no_and_of_the_same_survey(double_wave):
    experiment = double_wave.survey.experiments.get()
    gender = CovariateQuestion.objects.get(survey=double_wave.survey, code="gender")
    other = design_wave("other", lists={"A": 2}, direct=True).survey
    elsewhere = CovariateQuestion.objects.get(survey=other, code="direct")
    age = CovariateQuestion.objects.create(
        survey=double_wave.survey, code="age", kind=CovariateQuestion.NUMERIC
    )

    for question in (gender, elsewhere, age):
        experiment.direct_question = question
        with pytest.raises(ValidationError) as refused:
            experiment.full_clean()
        assert list(refused.value.message_dict) == ["direct_question"]

    experiment.direct_question = CovariateQuestion.objects.get(
        survey=double_wave.survey, code="direct"
    )
    experiment.full_clean()


def test_the_admins_form_refuses_a_direct_question_of_another_survey(
    double_wave, administrator, rf
):
    experiment = ListExperiment.objects.get(survey=double_wave.survey)
    other = design_wave("other", lists={"A": 2}, direct=True).survey
    model_admin = admin.site._registry[ListExperiment]
    request = rf.get("/")
    request.user = administrator
    data = {
        **model_to_dict(experiment),
        "direct_question": CovariateQuestion.objects.get(
            survey=other, code="direct"
        ).pk,
    }

    form = model_admin.get_form(request, experiment)(data, instance=experiment)

    assert not form.is_valid()
    assert form.errors["direct_question"] == [
        "This question belongs to another survey."
    ]
