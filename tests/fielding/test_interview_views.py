"""Tablet interviews online, through the pages: register, card, count, questions."""

import pytest
from django.urls import reverse

from fielding.models import AllocationSlot, Assignment, Respondent, Response
from survey.models import Settlement


@pytest.fixture
def field(demo_wave, interviewer, interviewer_client):
    demo_wave.interviewers.add(interviewer)
    return demo_wave, interviewer_client


def register(client, wave, consent=True, language="kk", place="almaty"):
    data = {
        "place": Settlement.objects.get(code=place).pk,
        "language": language,
        "external_id": "",
    }
    if consent:
        data["consent"] = "on"
    return client.post(reverse("fielding:interview-new", args=[wave.pk]), data)


def test_an_interviewer_sees_the_waves_assigned_to_them(field):
    wave, client = field

    page = client.get(reverse("fielding:interview-home"))

    assert wave.name in page.text


def test_a_wave_not_assigned_to_the_interviewer_is_not_found(
    demo_wave, interviewer_client
):
    response = interviewer_client.get(
        reverse("fielding:interview-new", args=[demo_wave.pk])
    )

    assert response.status_code == 404


def test_registration_leads_to_the_card_in_the_interview_language(field):
    wave, client = field

    response = register(client, wave)
    respondent = Respondent.objects.get(interviewer__isnull=False)
    card = client.get(response.url)

    assert response.url == reverse("fielding:interview-card", args=[respondent.pk])
    assert "Қазақстан экономикасына шетелдік инвестиция тарту." in card.text
    assert respondent.language == "kk" and respondent.stratum.code == "almaty"
    assert Assignment.objects.get(respondent=respondent).card_shown_at is not None


def test_without_consent_nothing_is_stored_and_the_interviewer_is_told(field):
    wave, client = field
    before = Respondent.objects.count()

    response = register(client, wave, consent=False)
    page = client.get(response.url)

    assert Respondent.objects.count() == before
    assert not AllocationSlot.objects.filter(status=AllocationSlot.USED).exists()
    assert "nothing was recorded" in page.text


def test_the_count_is_limited_to_the_card_and_saved_once(field):
    wave, client = field
    register(client, wave, language="en")
    respondent = Respondent.objects.get(interviewer__isnull=False)
    assignment = Assignment.objects.get(respondent=respondent)
    url = reverse("fielding:interview-card", args=[respondent.pk])
    top = 5 if assignment.arm == "treatment" else 4

    too_many = client.post(url, {"outcome": str(top + 1)})
    stored_after_too_many = Response.objects.filter(assignment=assignment).exists()
    saved = client.post(url, {"outcome": str(top)})
    again = client.post(url, {"outcome": "0"})

    assert too_many.status_code == 200 and not stored_after_too_many
    assert saved.status_code == 302 and again.status_code == 302
    assert Response.objects.get(assignment=assignment).count == top


@pytest.mark.parametrize(
    ("language", "posted", "says"),
    [
        ("en", {"outcome": "9"}, "Choose how many, or why there is no count."),
        ("en", {}, "Choose how many, or why there is no count."),
        ("ru", {"outcome": "many"}, "Выберите количество или причину"),
    ],
)
def test_a_refused_count_is_shown_beside_the_count_buttons(
    field, language, posted, says
):
    wave, client = field
    register(client, wave, language=language)
    respondent = Respondent.objects.get(interviewer__isnull=False)

    page = client.post(reverse("fielding:interview-card", args=[respondent.pk]), posted)

    assert page.status_code == 200
    error = page.text.index('class="alert alert-danger"')
    assert says in page.text[error:]
    assert error < page.text.index('name="outcome"')
    assert not Response.objects.filter(assignment__respondent=respondent).exists()


def test_a_refusal_is_stored_as_a_refusal_not_a_zero(field):
    wave, client = field
    register(client, wave, language="ru")
    respondent = Respondent.objects.get(interviewer__isnull=False)

    client.post(
        reverse("fielding:interview-card", args=[respondent.pk]), {"outcome": "refused"}
    )

    response = Response.objects.get(assignment__respondent=respondent)
    assert response.status == Response.REFUSED and response.count is None


def test_the_questions_are_saved_and_the_interview_finished(field):
    wave, client = field
    register(client, wave, language="en")
    respondent = Respondent.objects.get(interviewer__isnull=False)
    client.post(
        reverse("fielding:interview-card", args=[respondent.pk]), {"outcome": "2"}
    )

    response = client.post(
        reverse("fielding:interview-questions", args=[respondent.pk]),
        {"gender": "2", "education": "6", "ethnicity": "kazakh", "age": "34"},
    )

    respondent.refresh_from_db()
    assert response.status_code == 302
    assert respondent.answers == {
        "gender": "2",
        "education": "6",
        "ethnicity": "kazakh",
        "age": 34,
    }
    assert respondent.finished_at is not None


def test_an_age_outside_the_question_range_is_refused_with_the_field_named(field):
    wave, client = field
    register(client, wave, language="en")
    respondent = Respondent.objects.get(interviewer__isnull=False)
    client.post(
        reverse("fielding:interview-card", args=[respondent.pk]), {"outcome": "1"}
    )

    page = client.post(
        reverse("fielding:interview-questions", args=[respondent.pk]), {"age": "7"}
    )

    assert page.status_code == 200 and "18" in page.text
    respondent.refresh_from_db()
    assert respondent.finished_at is None


def test_another_interviewers_respondent_is_forbidden(field, administrator):
    wave, client = field
    from fielding.allocation import respondent_register

    other = respondent_register(
        wave=wave,
        consented=True,
        interviewer=administrator,
        place=Settlement.objects.get(code="astana"),
        language="en",
    )

    response = client.get(reverse("fielding:interview-card", args=[other.pk]))

    assert response.status_code == 403


def test_show_cards_print_every_arm_in_the_chosen_language(field):
    wave, client = field

    page = client.get(reverse("fielding:show-cards", args=[wave.pk]) + "?language=ru")

    assert page.text.count("Привлечение иностранных инвестиций") == 2
    assert "ОДКБ" in page.text


def test_an_enormous_number_is_refused_not_a_crash(demo_wave):
    from fielding.errors import FieldingError
    from fielding.interviewing import answers_clean

    with pytest.raises(FieldingError, match="age"):
        answers_clean(demo_wave.survey, {"age": 10**400})
