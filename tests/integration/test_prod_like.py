"""gunicorn with the production settings, over HTTPS, against PostgreSQL.

What `make run-prod-like` starts, reduced to the web process: a self-signed
certificate, DEBUG off, static files collected and served by the app (WhiteNoise),
HSTS and secure cookies, and a login whose password is checked with Argon2.
"""

import http.client
import re
import socket
import ssl
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.db import connection

from tests.conftest import make_user
from tests.integration.test_celery_estimate_job import database_url_for
from tests.survey.test_security import PASSWORD, production_env, production_hashers

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    """gunicorn on a free port over HTTPS, on the test database; yields the port.

    One server for the module: starting it (collectstatic included) is most of the time.
    """
    if connection.vendor != "postgresql":
        pytest.fail("this integration test needs DATABASE_URL set to PostgreSQL")
    tmp_path = tmp_path_factory.mktemp("prodlike")
    port = free_port()
    cert, key = self_signed(tmp_path)
    env = production_env(
        tmp_path,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]),
        STATIC_ROOT=str(tmp_path / "static"),
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    gunicorn = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "survey.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--certfile",
            str(cert),
            "--keyfile",
            str(key),
            "--workers",
            "1",
            "--no-control-socket",
            "--graceful-timeout",
            "5",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_tls(port, gunicorn)
        yield port
    finally:
        gunicorn.terminate()
        try:
            output, _unused = gunicorn.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            gunicorn.kill()
            output, _unused = gunicorn.communicate()
        print(output)


def insecure() -> ssl.SSLContext:
    """Trust the self-signed certificate (curl -k)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def wait_for_tls(port: int, process, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn stopped: {process.stdout.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as raw:
                with insecure().wrap_socket(raw, server_hostname="localhost"):
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer over HTTPS on port {port} in {seconds}s")


def fetch(port, path, method="GET", body=None, headers=None):
    conn = http.client.HTTPSConnection(
        "127.0.0.1", port, context=insecure(), timeout=20
    )
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def cookies_of(response) -> dict[str, str]:
    """Each Set-Cookie header by cookie name, as sent (attributes included)."""
    return {
        header.split("=", 1)[0]: header
        for header in response.headers.get_all("Set-Cookie")
    }


def test_gunicorn_serves_the_login_page_and_static_files_over_https(server):
    page, html = fetch(server, "/accounts/login/")

    assert page.status == 200
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Secure" in cookies_of(page)["csrftoken"]
    stylesheet = re.search(rb'href="(/static/[^"]+\.css)"', html)[1].decode()
    assert re.search(r"\.[0-9a-f]{12}\.css$", stylesheet)  # the manifest's name

    static, css = fetch(server, stylesheet)

    assert static.status == 200
    assert static.headers["Content-Type"].startswith("text/css")
    assert b"Bootstrap" in css[:200]
    assert "immutable" in static.headers["Cache-Control"]


def test_a_login_over_https_sets_secure_cookies(server, settings):
    settings.PASSWORD_HASHERS = production_hashers()
    make_user("olga", None)
    page, html = fetch(server, "/accounts/login/")
    csrf = SimpleCookie(cookies_of(page)["csrftoken"])["csrftoken"].value
    form = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1].decode()

    reply, _body = fetch(
        server,
        "/accounts/login/",
        method="POST",
        body=urlencode(
            {"csrfmiddlewaretoken": form, "username": "olga", "password": PASSWORD}
        ),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf}",
            "Referer": f"https://127.0.0.1:{server}/accounts/login/",
            "Origin": f"https://127.0.0.1:{server}",
        },
    )

    assert reply.status == 302, _body[:2000]
    session = cookies_of(reply)["sessionid"]
    assert "Secure" in session and "HttpOnly" in session


def test_plain_http_is_not_served_on_the_https_port(server):
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
    try:
        conn.request("GET", "/accounts/login/")
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            conn.getresponse().read()
    finally:
        conn.close()
