"""The offline tablet page: interviews made with no network reach the server once.

Emulating offline in the browser does not stop a service worker's own requests, so
these tests serve the app themselves, on a port they keep, and take the server down
and up again. The database is committed for real (transactional tests), so the
server's threads see what the test wrote and the test sees what the server stored.
"""

import json
import socket
import threading

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.core.wsgi import get_wsgi_application
from playwright.sync_api import expect

from fielding.models import Respondent, Response
from fielding.tokens import slots_release, token_issue, token_revoke
from survey.demo import demo_load
from tests.browser.conftest import PHONE, fits_the_screen

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RESPONSES_PATH = "/api/v1/responses/"
KK_ONLY_HOW_MANY = "тек қаншасы екенін ғана айтыңыз"
CONNECTION_KEY = "tests.connection"


class QuietHandler(WSGIRequestHandler):
    """Django's request handler, which also hands the app its connection."""

    def get_environ(self):
        environ = super().get_environ()
        environ[CONNECTION_KEY] = self.connection
        return environ

    def log_message(self, format, *args):
        pass


class ClosableServer(ThreadedWSGIServer):
    """Remembers its open connections so that stopping it also cuts the kept-alive
    ones; otherwise the browser would go on talking to a server that is 'down'."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.open_connections = set()

    def process_request(self, request, client_address):
        self.open_connections.add(request)
        super().process_request(request, client_address)

    def close_request(self, request):
        self.open_connections.discard(request)
        super().close_request(request)

    def cut_connections(self):
        for connection in list(self.open_connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class RestartableServer:
    """The project's WSGI app on 127.0.0.1 and one port, across stop() and start()."""

    def __init__(self, app):
        self.app = app
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.httpd = None
        self.thread = None

    def start(self):
        self.httpd = ClosableServer(("127.0.0.1", self.port), QuietHandler)
        self.httpd.set_app(self.app)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}
        )
        self.thread.daemon = True
        self.thread.start()

    def stop(self):
        if self.httpd is None:
            return
        self.httpd.shutdown()
        self.httpd.server_close()
        self.httpd.cut_connections()
        self.thread.join(timeout=5)
        self.httpd = None


class DropsFirstBatch:
    """Stores the first batch of responses, then closes the connection unanswered,
    as a network that fails after the request arrived would."""

    def __init__(self, app):
        self.app = app
        self.posts = 0
        self.stored_when_dropped = None

    def __call__(self, environ, start_response):
        if (
            environ["REQUEST_METHOD"] != "POST"
            or environ["PATH_INFO"] != RESPONSES_PATH
        ):
            return self.app(environ, start_response)
        self.posts += 1
        if self.posts > 1:
            return self.app(environ, start_response)

        answer = self.app(environ, lambda status, headers, exc_info=None: None)
        try:
            b"".join(answer)
        finally:
            answer.close()
        self.stored_when_dropped = tablet_respondents().count()
        environ[CONNECTION_KEY].shutdown(socket.SHUT_RDWR)
        start_response("200 OK", [("Content-Type", "application/json")])
        return []


def tablet_respondents():
    return Respondent.objects.filter(client_uuid__isnull=False)


def django_app():
    return StaticFilesHandler(get_wsgi_application())


def served(app):
    server = RestartableServer(app)
    server.start()
    return server


@pytest.fixture
def server():
    server = served(django_app())
    yield server
    server.stop()


@pytest.fixture
def dropping_app():
    return DropsFirstBatch(django_app())


@pytest.fixture
def dropping_server(dropping_app):
    server = served(dropping_app)
    yield server
    server.stop()


def phone_on(browser, server):
    context = browser.new_context(**PHONE, base_url=server.url, locale="en-US")
    context.set_default_timeout(5_000)
    return context


@pytest.fixture
def phone(browser, server):
    context = phone_on(browser, server)
    yield context
    context.close()


@pytest.fixture
def dropping_phone(browser, dropping_server):
    context = phone_on(browser, dropping_server)
    yield context
    context.close()


@pytest.fixture
def demo_tablet(transactional_db):
    """The demo's pilot wave and a tablet token for its interviewer."""
    wave = demo_load()
    user = wave.interviewers.get(username="interviewer")
    token, raw = token_issue(user=user, label="Tablet 7")
    return wave, token, raw


def enrol_and_reserve(page, raw_token: str, wave) -> None:
    """Open the QR code's address, wait for the wave, reserve ten slots for Almaty."""
    page.goto(f"/fielding/tablet/#token={raw_token}&label=Tablet%207")
    expect(page.locator("#wave")).to_have_value(str(wave.pk))
    assert "token=" not in page.url

    page.locator("#reserve-place").select_option(label="Almaty")
    expect(page.locator("#reserve-count")).to_have_value("10")
    page.get_by_role("button", name="Reserve", exact=True).tap()
    expect(page.locator("#reserve-status")).to_have_text("Slots reserved: 10")
    expect(page.locator("tr[data-stratum=almaty] td.text-end")).to_have_text("10")


def cached_urls(page) -> list[str]:
    return page.evaluate(
        """async () => {
            const urls = [];
            for (const name of await caches.keys()) {
                const cache = await caches.open(name);
                urls.push(...(await cache.keys()).map((request) => request.url));
            }
            return urls;
        }"""
    )


def go_offline(context, server) -> None:
    context.set_offline(True)
    server.stop()


def come_back(context, server) -> None:
    server.start()
    context.set_offline(False)


def interview(
    page, *, language: str, outcome: str, age: str = "", screenshot=None
) -> None:
    """One interview from the start screen to the thank-you, in Almaty."""
    page.locator("#new-interview").tap()
    page.locator("#register-place").select_option(label="Almaty")
    page.locator("#register-language").select_option(language)
    page.locator("#register-consent").check()
    page.locator("#register-form button[type=submit]").tap()

    expect(page.locator("#screen-card")).to_be_visible()
    expect(page.locator("#screen-card")).to_have_attribute("lang", language)
    page.locator(f"label[for={outcome}]").tap()
    page.locator("#count-form button[type=submit]").tap()

    expect(page.locator("#screen-questions")).to_be_visible()
    page.locator("#questions fieldset[data-question=gender] input").first.check()
    if age:
        page.locator("#q-age").fill(age)
    if screenshot:
        assert fits_the_screen(page)
        page.screenshot(path=screenshot, full_page=True)
    page.locator("#questions-form button[type=submit]").tap()
    expect(page.locator("#screen-done")).to_be_visible()
    page.locator("#screen-done [data-action=home]").tap()


def five_interviews(page) -> None:
    interview(page, language="kk", outcome="count-2", age="34")
    interview(page, language="ru", outcome="count-0")
    interview(page, language="kk", outcome="status-refused", age="61")
    interview(page, language="ru", outcome="count-3", age="25")
    interview(page, language="kk", outcome="count-1")


def test_five_interviews_made_offline_are_stored_once_when_the_network_is_back(
    phone, server, demo_tablet, tmp_path
):
    wave, token, raw = demo_tablet
    page = phone.new_page()
    enrol_and_reserve(page, raw, wave)
    assert fits_the_screen(page)

    # The service worker has cached the page; from the next load on it serves it.
    assert page.evaluate("navigator.serviceWorker.ready.then(r => !!r.active)")
    page.reload()
    expect(page.locator("#wave")).to_have_value(str(wave.pk))
    assert page.evaluate("navigator.serviceWorker.controller !== null")

    go_offline(phone, server)
    expect(page.locator("#network")).to_have_text("Offline")
    page.locator("#new-interview").tap()
    page.locator("#register-place").select_option(label="Almaty")
    page.locator("#register-language").select_option("kk")
    page.locator("#register-consent").check()
    page.locator("#register-form button[type=submit]").tap()
    expect(page.locator("#card")).to_contain_text(KK_ONLY_HOW_MANY)
    expect(page.locator("label[for^=count-]").first).to_have_text("0")
    assert fits_the_screen(page)
    page.screenshot(path=tmp_path / "offline-card-kk.png", full_page=True)
    page.locator("#status-broken_off + label").tap()
    page.locator("#count-form button[type=submit]").tap()
    expect(page.locator("#screen-done")).to_be_visible()
    page.locator("#screen-done [data-action=home]").tap()
    expect(page.locator("#queue-count")).to_have_text("1")

    interview(
        page,
        language="ru",
        outcome="count-2",
        age="40",
        screenshot=tmp_path / "offline-questions-ru.png",
    )
    for outcome in ("status-refused", "count-0", "count-3"):
        interview(page, language="ru", outcome=outcome, age="40")
    expect(page.locator("#queue-count")).to_have_text("5")
    expect(page.locator("tr[data-stratum=almaty] td.text-end")).to_have_text("5")

    page.reload()
    expect(page.locator("#queue-count")).to_have_text("5")
    expect(page.locator("#network")).to_have_text("Offline")
    assert not [url for url in cached_urls(page) if "/api/" in url]
    page.screenshot(path=tmp_path / "offline-waiting.png", full_page=True)

    with page.expect_download() as download:
        page.locator("[data-action=export]:visible").tap()
    exported = json.loads(download.value.path().read_text())
    assert exported["format"] == "listexp-unsent-v1"
    assert exported["device_label"] == "Tablet 7"
    assert len(exported["responses"]) == 5
    assert raw not in json.dumps(exported)

    come_back(phone, server)
    expect(page.locator("#queue-count")).to_have_text("0", timeout=10_000)
    page.screenshot(path=tmp_path / "sent.png", full_page=True)

    stored = tablet_respondents()
    assert stored.count() == 5
    assert {str(r.client_uuid) for r in stored} == {
        item["uuid"] for item in exported["responses"]
    }
    responses = Response.objects.filter(assignment__respondent__in=stored)
    assert sorted(responses.values_list("status", flat=True)) == [
        "broken_off",
        "complete",
        "complete",
        "complete",
        "refused",
    ]
    assert sorted(r.count for r in responses if r.count is not None) == [0, 2, 3]
    assert {r.language for r in stored} == {"kk", "ru"}
    assert all(r.place.code == "almaty" for r in stored)

    page.get_by_role("button", name="Send now").tap()
    expect(page.locator("#sync-status")).to_contain_text("has been sent")
    assert tablet_respondents().count() == 5
    assert Response.objects.filter(assignment__respondent__in=stored).count() == 5


def test_a_batch_cut_off_after_the_server_stored_it_is_resent_and_stored_once(
    dropping_phone, dropping_server, dropping_app, demo_tablet
):
    wave, token, raw = demo_tablet
    page = dropping_phone.new_page()
    failed = []
    page.on(
        "requestfailed",
        lambda request: (
            failed.append(request.url) if request.url.endswith(RESPONSES_PATH) else None
        ),
    )
    enrol_and_reserve(page, raw, wave)

    go_offline(dropping_phone, dropping_server)
    five_interviews(page)
    expect(page.locator("#queue-count")).to_have_text("5")

    come_back(dropping_phone, dropping_server)
    expect(page.locator("#queue-count")).to_have_text("0", timeout=15_000)

    assert dropping_app.stored_when_dropped == 5
    # The resend comes from the app after it sees the batch fail, or, when the cut
    # connection was a reused one, from Chromium retrying the POST itself; either way
    # the server got the batch again and stored nothing twice.
    assert dropping_app.posts >= 2
    assert tablet_respondents().count() == 5
    assert (
        Response.objects.filter(assignment__respondent__in=tablet_respondents()).count()
        == 5
    )


def test_a_refused_interview_waits_for_attention_and_a_revoked_tablet_can_save_it(
    phone, server, demo_tablet, tmp_path
):
    wave, token, raw = demo_tablet
    page = phone.new_page()
    enrol_and_reserve(page, raw, wave)
    go_offline(phone, server)
    page.locator("#new-interview").tap()
    page.locator("#register-place").select_option(label="Astana (Nur-Sultan in 2022)")
    page.locator("#register-consent").check()
    page.locator("#register-form button[type=submit]").tap()
    expect(page.locator("#register-error")).to_have_text(
        "Reserve slots for this place first."
    )
    page.locator("#register-place").select_option(label="Almaty")
    expect(page.locator("#register-consent")).not_to_be_checked()
    page.locator("#register-form button[type=submit]").tap()
    expect(page.locator("#flash")).to_have_text(
        "No consent, no interview: nothing was recorded."
    )
    expect(page.locator("tr[data-stratum=almaty] td.text-end")).to_have_text("10")
    interview(page, language="kk", outcome="count-1")

    # While the tablet was away, an administrator released its slots.
    slots_release(token=token)
    come_back(phone, server)

    expect(page.locator("#queue-count")).to_have_text("0")
    expect(page.locator("#attention")).to_be_visible()
    expect(page.locator("#attention-list")).to_contain_text(
        "This slot was released by an administrator."
    )
    assert tablet_respondents().count() == 0

    token_revoke(token=token)
    page.get_by_role("button", name="Update waves").tap()
    expect(page.locator("#revoked-detail")).to_contain_text("revoked")
    page.screenshot(path=tmp_path / "revoked.png", full_page=True)
    with page.expect_download() as download:
        page.locator("#revoked").get_by_role("button", name="Save unsent").tap()
    exported = json.loads(download.value.path().read_text())
    assert [item["status"] for item in exported["responses"]] == ["complete"]
