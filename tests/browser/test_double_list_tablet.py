"""A double-list interview on the tablet page, in Chromium on a phone-sized screen:
list one's card and count, then list two's, then the questions with the direct
question, and the interview reaches the server with both counts."""

import pytest
from playwright.sync_api import expect

from fielding.models import AllocationSlot, Respondent
from fielding.tokens import token_issue
from tests.browser.conftest import fits_the_screen

pytestmark = pytest.mark.browser


def enrol_and_reserve(page, raw_token: str, wave, count: int) -> None:
    # The first page of a run loads every language's catalogue: give it time.
    page.goto(f"/fielding/tablet/#token={raw_token}&label=Tablet%209", timeout=30_000)
    expect(page.locator("#wave")).to_have_value(str(wave.pk))
    page.locator("#reserve-place").select_option(label="Almaty")
    page.locator("#reserve-count").fill(str(count))
    page.get_by_role("button", name="Reserve", exact=True).tap()
    expect(page.locator("#reserve-status")).to_have_text(f"Slots reserved: {count}")


def register(page) -> None:
    page.locator("#new-interview").tap()
    page.locator("#register-place").select_option(label="Almaty")
    page.locator("#register-language").select_option("ru")
    page.locator("#register-consent").check()
    page.locator("#register-form button[type=submit]").tap()


def count(page, n: int) -> None:
    page.locator(f"label[for=count-{n}]").tap()
    page.locator("#count-form button[type=submit]").tap()


def test_a_double_list_interview_shows_both_cards_in_turn_and_sends_both_counts(
    phone, double_wave, interviewer, tmp_path
):
    _token, raw = token_issue(user=interviewer, label="Tablet 9")
    page = phone.new_page()
    enrol_and_reserve(page, raw, double_wave, 2)
    first_slot = AllocationSlot.objects.filter(wave=double_wave).order_by("position")[0]
    top_a = 3 + (first_slot.arm == "A")
    top_b = 4 + (first_slot.arm == "B")

    register(page)
    expect(page.locator("#list-step")).to_be_visible()
    expect(page.locator("#list-step")).to_have_attribute("data-list", "A")
    expect(page.locator("#card-items li").first).to_have_text("A1 [ru]")
    expect(page.locator("#card-items li")).to_have_count(top_a)
    expect(page.locator("label[for^=count-]")).to_have_count(top_a + 1)
    assert fits_the_screen(page)
    page.screenshot(path=tmp_path / "double-list-one.png", full_page=True)
    count(page, top_a)

    expect(page.locator("#list-step")).to_have_attribute("data-list", "B")
    expect(page.locator("#card-items li").first).to_have_text("B1 [ru]")
    expect(page.locator("#card-items li")).to_have_count(top_b)
    expect(page.locator("label[for^=count-]")).to_have_count(top_b + 1)
    expect(page.locator("#count-form input:checked")).to_have_count(0)
    page.screenshot(path=tmp_path / "double-list-two.png", full_page=True)
    count(page, 1)

    expect(page.locator("#screen-questions")).to_be_visible()
    direct = page.locator("#questions fieldset[data-question=direct]")
    expect(direct).to_contain_text("Asked directly [ru]")
    direct.locator("input[value='1']").check()
    page.locator("#questions-form button[type=submit]").tap()
    expect(page.locator("#screen-done")).to_be_visible()
    page.locator("#screen-done [data-action=home]").tap()
    expect(page.locator("#queue-count")).to_have_text("0", timeout=10_000)

    respondent = Respondent.objects.get(client_uuid__isnull=False)
    assignment = respondent.assignments.get()
    assert assignment.slot == first_slot and assignment.arm == first_slot.arm
    assert (assignment.response.count, assignment.response.second_count) == (top_a, 1)
    assert respondent.answers == {"direct": "1"}
    assert respondent.language == "ru"


def test_a_refusal_on_the_first_list_skips_the_second(phone, double_wave, interviewer):
    _token, raw = token_issue(user=interviewer, label="Tablet 9")
    page = phone.new_page()
    enrol_and_reserve(page, raw, double_wave, 1)

    register(page)
    page.locator("#status-refused + label").tap()
    page.locator("#count-form button[type=submit]").tap()

    expect(page.locator("#screen-questions")).to_be_visible()
    page.locator("#questions-form button[type=submit]").tap()
    page.locator("#screen-done [data-action=home]").tap()
    expect(page.locator("#queue-count")).to_have_text("0", timeout=10_000)
    response = Respondent.objects.get(client_uuid__isnull=False).assignments.get()
    assert (response.response.status, response.response.count) == ("refused", None)
    assert response.response.second_count is None
