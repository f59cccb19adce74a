"""Chromium driven by Playwright, a phone-sized screen, and logging in as people do.

Debian's Chromium at /usr/bin/chromium is used; browsers are never downloaded. While
Playwright's sync API runs, its event loop counts as running in the test's thread, so
Django's async-safety check is relaxed for as long as the browser is open, and only
then: the browser lives for this package, not the whole run, so the rest of the suite
keeps the check.
"""

import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}
PASSWORD = "pw-for-browser-tests"


@pytest.fixture(scope="package")
def browser():
    """One headless Chromium for every test here; fails loudly when it is missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}; the browser tests need it. "
            "Install it with `apt-get install -y chromium`.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    was = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
        if was is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = was


@pytest.fixture
def phone(browser, live_server):
    """A fresh phone-sized browser context whose relative addresses go to the server.

    The phone's own language is English, so a page in another language is there
    because the respondent or the interview chose it.
    """
    context = browser.new_context(**PHONE, base_url=live_server.url, locale="en-US")
    context.set_default_timeout(5_000)
    yield context
    context.close()


@pytest.fixture
def pilot_interviewer(demo_wave):
    """The demo's interviewer, assigned to the pilot wave, with a known password."""
    user = get_user_model().objects.get(username="interviewer")
    assert demo_wave.interviewers.filter(pk=user.pk).exists()
    user.set_password(PASSWORD)
    user.save()
    return user


def log_in(page, user, password: str = PASSWORD) -> None:
    """Log in through the real login page and wait until it has let the user in."""
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(user.get_username())
    page.locator("#id_password").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def fits_the_screen(page) -> bool:
    """True when the page needs no sideways scrolling."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
