"""A tablet interview online, driven in Chromium on a phone-sized screen."""

import re

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from fielding.models import AllocationSlot, Respondent, Response
from survey.demo import DEMO_RESPONDENTS
from survey.models import Settlement
from tests.browser.conftest import fits_the_screen, log_in

pytestmark = pytest.mark.browser

CARD_URL = re.compile(r"/fielding/interviews/\d+/card/$")
QUESTIONS_URL = re.compile(r"/fielding/interviews/\d+/questions/$")
DONE_URL = re.compile(r"/fielding/interviews/\d+/done/$")

# survey/demo.py: a control item (on every card), the sensitive item (on the
# treatment card only), and the end of the instructions ("say only how many").
KK_CONTROL_ITEM = "Қазақстан экономикасына шетелдік инвестиция тарту."
KK_SENSITIVE_ITEM = "Ұжымдық қауіпсіздік туралы шарт ұйымына (ҰҚШҰ)"
KK_ONLY_HOW_MANY = "тек қаншасы екенін ғана айтыңыз"


def in_kazakh(text: str) -> str:
    with translation.override("kk"):
        return gettext(text)


def register(page, *, place: str, language: str, consent: bool) -> None:
    """From the start page: Interviews, New interview, then the registration form."""
    page.goto("/")
    page.locator(".navbar-toggler").tap()
    page.get_by_role("link", name="Interviews").tap()
    page.get_by_role("link", name="New interview").tap()

    page.locator("#id_place").select_option(label=place)
    page.locator("#id_language").select_option(language)
    if consent:
        page.locator("#id_consent").check()
    page.get_by_role("button", name="Register and show the card").tap()


def test_an_interviewer_runs_a_whole_interview_in_kazakh_on_a_phone(
    phone, pilot_interviewer, demo_wave, tmp_path
):
    page = phone.new_page()
    log_in(page, pilot_interviewer)
    register(page, place="Almaty", language="kk", consent=True)

    expect(page).to_have_url(CARD_URL)
    expect(page.locator("#card")).to_contain_text(KK_ONLY_HOW_MANY)
    respondent = Respondent.objects.get(interviewer=pilot_interviewer)
    assignment = respondent.assignments.select_related("slot").get()
    top = 4 if assignment.arm == "control" else 5
    expect(page.locator("html")).to_have_attribute("lang", "kk")
    expect(page.locator("#card")).to_contain_text(KK_CONTROL_ITEM)
    expect(page.locator("#card li")).to_have_count(top)
    if assignment.arm == "control":
        expect(page.locator("#card")).not_to_contain_text(KK_SENSITIVE_ITEM)
    else:
        expect(page.locator("#card")).to_contain_text(KK_SENSITIVE_ITEM)
    expect(
        page.get_by_text(in_kazakh("Please do not say which ones, only how many."))
    ).to_be_visible()
    expect(page.locator("label[for^=count-]")).to_have_text(
        [str(n) for n in range(top + 1)]
    )
    assert fits_the_screen(page)
    page.screenshot(path=tmp_path / "tablet-card.png", full_page=True)

    page.locator("label[for=count-2]").tap()
    page.get_by_role("button", name=in_kazakh("Save"), exact=True).tap()

    expect(page).to_have_url(QUESTIONS_URL)
    page.get_by_label("Әйел", exact=True).check()
    page.get_by_label("Жоғары білім", exact=True).check()
    page.get_by_label("Қазақ", exact=True).check()
    page.get_by_label("Сіз неше жастасыз?").fill("34")
    assert fits_the_screen(page)
    page.get_by_role("button", name=in_kazakh("Save the interview")).tap()

    expect(page).to_have_url(DONE_URL)
    expect(page.get_by_role("status")).to_have_text(
        in_kazakh("The interview is saved. Thank you.")
    )
    assert fits_the_screen(page)

    assert demo_wave.respondents.count() == DEMO_RESPONDENTS + 1
    respondent.refresh_from_db()
    assignment.refresh_from_db()
    assert respondent.language == "kk"
    assert respondent.mode == "tablet"
    assert respondent.place == Settlement.objects.get(code="almaty")
    assert respondent.stratum.code == "almaty"
    assert respondent.answers == {
        "gender": "2",
        "education": "6",
        "ethnicity": "kazakh",
        "age": 34,
    }
    assert respondent.finished_at is not None
    assert assignment.source == "allocation"
    assert assignment.slot.status == AllocationSlot.USED
    assert assignment.slot.allocated_by == pilot_interviewer
    assert assignment.slot.arm == assignment.arm
    assert assignment.card_shown_at >= respondent.registered_at
    assert (assignment.response.status, assignment.response.count) == (
        Response.COMPLETE,
        2,
    )


def test_without_consent_nothing_is_stored_and_the_interviewer_is_told(
    phone, pilot_interviewer, demo_wave
):
    used = AllocationSlot.objects.filter(status=AllocationSlot.USED).count()
    page = phone.new_page()
    log_in(page, pilot_interviewer)

    register(page, place="Almaty", language="kk", consent=False)

    expect(page).to_have_url(re.compile(r"/fielding/interviews/$"))
    expect(page.get_by_role("alert")).to_have_text(
        "No consent, no interview: nothing was recorded."
    )
    assert demo_wave.respondents.count() == DEMO_RESPONDENTS
    assert AllocationSlot.objects.filter(status=AllocationSlot.USED).count() == used


def test_a_refusal_is_stored_as_refused_with_no_count(
    phone, pilot_interviewer, demo_wave, tmp_path
):
    page = phone.new_page()
    log_in(page, pilot_interviewer)
    register(page, place="Astana (Nur-Sultan in 2022)", language="ru", consent=True)

    expect(page).to_have_url(CARD_URL)
    expect(page.locator("#card li")).not_to_have_count(0)
    page.screenshot(path=tmp_path / "refusal-card.png", full_page=True)
    page.locator("label[for=status-refused]").tap()
    page.locator("main form button[type=submit]").tap()
    expect(page).to_have_url(QUESTIONS_URL)
    expect(page.locator("main form")).to_be_visible()

    response = Response.objects.get(
        assignment__respondent__interviewer=pilot_interviewer
    )
    assert response.status == Response.REFUSED
    assert response.count is None
    assert response.assignment.respondent.stratum.code == "astana"
