"""Web self-completion through a single-use link, on a phone, as a respondent does it."""

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from fielding.models import Assignment, Response
from fielding.weblinks import weblinks_create
from survey.demo import DEMO_RESPONDENTS
from tests.browser.conftest import fits_the_screen

pytestmark = pytest.mark.browser

# survey/demo.py: a control item (on every card) and the end of the instructions.
RU_CONTROL_ITEM = "Привлечение иностранных инвестиций в экономику Казахстана."
RU_ONLY_HOW_MANY = "назовите только их количество"


def in_russian(text: str) -> str:
    with translation.override("ru"):
        return gettext(text)


def looks_like_an_error_page(html: str) -> bool:
    """Signs of Django's error pages (debug or not) instead of the plain message."""
    signs = ("Traceback", "Request Method:", "Server Error", "Page not found")
    return any(sign in html for sign in signs)


@pytest.fixture
def link(demo_wave):
    """The path of one fresh link to the demo's pilot wave."""
    [token] = weblinks_create(wave=demo_wave, n=1)
    return reverse("fielding:web-start", args=[token])


def test_a_respondent_answers_in_russian_and_the_link_then_says_it_is_used(
    phone, link, demo_wave, tmp_path
):
    page = phone.new_page()
    page.goto(link)
    page.get_by_role("link", name="Русский").tap()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    page.locator("#consent").check()
    page.locator("main form button[type=submit]").tap()

    expect(page.locator("#card")).to_contain_text(RU_ONLY_HOW_MANY)
    expect(page.locator("#card")).to_contain_text(RU_CONTROL_ITEM)
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    assert fits_the_screen(page)
    page.screenshot(path=tmp_path / "web-card.png", full_page=True)

    page.locator("label[for=count-3]").tap()
    page.get_by_role("button", name=in_russian("Save"), exact=True).tap()
    page.get_by_label("Женский", exact=True).check()
    page.get_by_label("Сколько вам полных лет?").fill("41")
    page.get_by_role("button", name=in_russian("Submit")).tap()

    expect(page.locator("main")).to_have_text(
        in_russian("Your answers are saved. Thank you for taking part.")
    )
    assignment = Assignment.objects.select_related("respondent", "response").get(
        respondent__mode="web"
    )
    assert assignment.respondent.language == "ru"
    assert assignment.respondent.answers == {"gender": "2", "age": 41}
    assert assignment.source == "allocation"
    assert assignment.card_shown_at >= assignment.respondent.registered_at
    assert (assignment.response.status, assignment.response.count) == (
        Response.COMPLETE,
        3,
    )

    again = page.goto(link)

    assert again.status == 410
    expect(page.locator("main")).to_have_text(
        in_russian("This link has been used already. Thank you.")
    )
    assert not looks_like_an_error_page(page.content())
    assert demo_wave.respondents.count() == DEMO_RESPONDENTS + 1


def test_an_unknown_link_gets_a_plain_page(phone, demo_wave):
    page = phone.new_page()

    response = page.goto(reverse("fielding:web-start", args=["no-such-link"]))

    assert response.status == 404
    expect(page.locator("main")).to_have_text(
        "This link is not known. Please check the address."
    )
    assert not looks_like_an_error_page(page.content())
    assert fits_the_screen(page)
