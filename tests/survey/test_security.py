"""Passwords, login throttling, CSRF, HTTPS settings and token revocation.

Settings that are read once at start-up (HTTPS, hashers, the deploy check) are tested
in a subprocess started with a production environment.
"""

import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

import survey.settings as project_settings
from fielding.models import AccessToken
from fielding.tokens import token_revoke
from survey.models import AuditEvent
from survey.roles import INTERVIEWER
from tests.conftest import make_user
from tests.fielding.tablets import (
    RESPONSES_URL,
    demo_interviewer,
    response_for,
    tablet_for,
)

ROOT = Path(__file__).resolve().parents[2]
LOGIN = "/accounts/login/"
PASSWORD = "pw-for-tests"  # make_user's


# Passwords


def production_hashers() -> list[str]:
    """The hashers of a run without TESTING: the settings' list minus the fast one."""
    return [h for h in project_settings.PASSWORD_HASHERS if "MD5" not in h]


def test_new_passwords_are_hashed_with_argon2(db, settings):
    settings.PASSWORD_HASHERS = production_hashers()

    user = make_user("olga", None)

    assert user.password.startswith("argon2$")
    assert user.check_password(PASSWORD)


def test_a_password_stored_with_an_older_hasher_is_rehashed_at_login(db, settings):
    """MD5 stands in for the PBKDF2 hashes stored before Argon2: quicker, same path."""
    older = "django.contrib.auth.hashers.MD5PasswordHasher"
    settings.PASSWORD_HASHERS = [older]
    user = make_user("olga", None)
    settings.PASSWORD_HASHERS = [*production_hashers(), older]

    response = Client().post(LOGIN, {"username": "olga", "password": PASSWORD})

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$")


# Login throttling


def log_in(username: str, password: str, address: str = "127.0.0.1", url=LOGIN):
    client = Client(REMOTE_ADDR=address)
    response = client.post(url, {"username": username, "password": password})
    return client, response


def fail(times: int, username: str = "ann", address: str = "127.0.0.1"):
    return [log_in(username, "wrong", address)[1] for _ in range(times)]


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def is_lockout(response) -> bool:
    return response.status_code == 429 and "Login locked" in response.text


def test_four_wrong_passwords_show_the_ordinary_error(analyst):
    replies = fail(4)

    assert [r.status_code for r in replies] == [200] * 4
    assert all("not right" in r.text for r in replies)
    assert not any(is_lockout(r) for r in replies)


def test_the_fifth_wrong_password_locks_and_the_sixth_is_locked_out(analyst):
    *_first, fifth, sixth = fail(6)

    assert is_lockout(fifth) and is_lockout(sixth)
    assert "was wrong 5 times in a row" in sixth.text
    assert "for the next 30 minutes" in sixth.text
    assert "ann" in sixth.text
    assert 'href="/static/' in sixth.text  # the site's own layout


def test_the_right_password_is_refused_during_a_lockout(analyst):
    fail(5)

    client, response = log_in("ann", PASSWORD)

    assert is_lockout(response)
    assert not logged_in(client)


def test_a_lockout_holds_only_for_that_user_name_from_that_address(
    analyst, administrator
):
    fail(5, "ann", "127.0.0.1")

    other_user, _reply = log_in("ada", PASSWORD, "127.0.0.1")
    other_address, _reply = log_in("ann", PASSWORD, "10.0.0.2")

    assert logged_in(other_user) and logged_in(other_address)


def test_a_lockout_ends_after_thirty_minutes(analyst):
    fail(5)
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - timedelta(minutes=30, seconds=1)
    )

    client, _reply = log_in("ann", PASSWORD)

    assert logged_in(client)


def test_a_right_password_before_the_limit_starts_the_count_again(analyst):
    fail(4)
    log_in("ann", PASSWORD)

    replies = fail(4)

    assert not any(is_lockout(r) for r in replies)


def test_the_admin_login_is_throttled_too(administrator):
    admin_login = "/admin/login/"
    for _ in range(5):
        log_in("ada", "wrong", url=admin_login)

    client, response = log_in("ada", PASSWORD, url=admin_login)

    assert is_lockout(response) and not logged_in(client)


@pytest.mark.parametrize(
    "command", [["axes_reset_username", "ann"], ["axes_reset"]], ids=" ".join
)
def test_an_administrator_lifts_a_lockout_with_a_command(analyst, command):
    fail(5)

    call_command(*command)
    client, _reply = log_in("ann", PASSWORD)

    assert logged_in(client)


def test_an_administrator_lifts_a_lockout_in_the_admin(analyst, admin_client):
    fail(5)
    attempt = AccessAttempt.objects.get(username="ann")

    listing = admin_client.get("/admin/axes/accessattempt/")
    admin_client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "y"})
    client, _reply = log_in("ann", PASSWORD)

    assert listing.status_code == 200 and "ann" in listing.text
    assert logged_in(client)
    event = AuditEvent.objects.get(action=AuditEvent.DELETED)
    assert event.description == "admin: lockout of “ann” from 127.0.0.1 lifted"


def test_only_administrators_see_the_lockouts(analyst, interviewer):
    staff = make_user("sam", INTERVIEWER)
    staff.is_staff = True
    staff.save()
    fail(5)
    client = Client()
    client.force_login(staff)

    assert client.get("/admin/axes/accessattempt/").status_code == 403


def test_a_locked_out_interviewers_tablet_keeps_working(demo_wave):
    """A tablet's token is its own credential, revoked on its own; a lockout of the
    password does not stop fieldwork already under way."""
    tablet = tablet_for(demo_interviewer())
    fail(5, "interviewer")
    assert is_lockout(log_in("interviewer", "interviewer-demo")[1])

    assert tablet.waves().status_code == 200
    assert tablet.reserve(demo_wave).status_code == 201


def test_wrong_tokens_do_not_count_as_failed_logins(db):
    api = Client(headers={"Authorization": "Token made-up"})
    for _ in range(6):
        api.get("/api/v1/waves/")

    assert not AccessAttempt.objects.exists()


# CSRF

TEMPLATES = ROOT / "templates"
POST_FORM = re.compile(
    r"<form\b[^>]*method=[\"']?post[\"']?[^>]*>(.*?)</form>", re.I | re.S
)


def test_every_post_form_in_the_templates_carries_a_csrf_token():
    forms = {}
    for template in sorted(TEMPLATES.rglob("*.html")):
        for number, body in enumerate(POST_FORM.findall(template.read_text())):
            forms[f"{template.relative_to(TEMPLATES)} form {number + 1}"] = body

    missing = [name for name, body in forms.items() if "{% csrf_token %}" not in body]

    assert len(forms) >= 15  # the scan finds the forms
    assert missing == []


def test_a_login_without_the_csrf_token_is_refused(analyst):
    client = Client(enforce_csrf_checks=True)

    response = client.post(LOGIN, {"username": "ann", "password": PASSWORD})

    assert response.status_code == 403
    assert not logged_in(client)


def test_a_session_cannot_post_to_the_api_without_the_csrf_token(interviewer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(interviewer)

    response = client.post(RESPONSES_URL, {}, content_type="application/json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_a_tablet_posts_with_its_token_and_no_csrf_token(demo_wave):
    """The API is exempt for tokens: a browser never adds the Authorization header by
    itself, so another site cannot make a tablet send a request it did not mean."""
    tablet = tablet_for(demo_interviewer())
    tablet.client = Client(
        enforce_csrf_checks=True, headers={"Authorization": f"Token {tablet.raw}"}
    )
    [slot] = tablet.slots(demo_wave)

    results = tablet.sync(response_for(slot))

    assert results[0]["result"] == "created"


# Revocation


def test_a_revoked_tablet_is_refused_at_every_tablet_endpoint(demo_wave):
    tablet = tablet_for(demo_interviewer())
    [slot] = tablet.slots(demo_wave)

    token_revoke(token=tablet.token)
    replies = {
        "waves": tablet.waves(),
        "reserve": tablet.reserve(demo_wave),
        "send": tablet.send(response_for(slot)),
    }

    assert {k: r.status_code for k, r in replies.items()} == dict.fromkeys(replies, 401)
    assert all("revoked" in r.json()["detail"] for r in replies.values())
    assert not demo_wave.respondents.filter(client_uuid__isnull=False).exists()


def test_a_revoked_personal_token_no_longer_reads_microdata(demo_wave, analyst):
    script = tablet_for(analyst, label="script", kind=AccessToken.PERSONAL)
    url = f"/api/v1/waves/{demo_wave.pk}/responses/"
    assert script.client.get(url).status_code == 200

    token_revoke(token=script.token)

    assert script.client.get(url).status_code == 401
    assert (
        script.client.get(url.replace("/responses/", "/responses.csv")).status_code
        == 401
    )


# HTTPS and the deploy check, with production settings in a subprocess


def production_env(tmp_path, **extra) -> dict:
    """What a production server is started with: no TESTING or DEBUG, a long random
    key, named hosts. SQLite in a temporary directory stands in for the database."""
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "VIRTUAL_ENV", "SYSTEMROOT"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        DEBUG="0",
        ALLOWED_HOSTS="survey.example.org",
        VAR_DIR=str(tmp_path / "var"),
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def manage(env, *args, timeout=120):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def last_line(run) -> list[str]:
    """The words of the last line printed (the shell announces its imports first)."""
    return run.stdout.strip().splitlines()[-1].split()


SHOW_SETTINGS = """
from django.conf import settings as s
print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,
      s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS,
      s.PASSWORD_HASHERS[0].rsplit(".", 1)[1], s.SECURE_PROXY_SSL_HEADER)
"""


def test_check_deploy_finds_nothing_with_production_settings(tmp_path):
    run = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "INFO")

    assert run.returncode == 0, run.stdout + run.stderr
    assert "System check identified no issues (0 silenced)." in run.stdout
    assert "WARNING" not in run.stdout + run.stderr


def test_production_settings_use_https_secure_cookies_hsts_and_argon2(tmp_path):
    run = manage(production_env(tmp_path), "shell", "-c", SHOW_SETTINGS)

    assert run.returncode == 0, run.stderr
    assert last_line(run) == [
        "True",
        "True",
        "True",
        str(365 * 24 * 3600),
        "True",
        "Argon2PasswordHasher",
        "None",
    ]


def test_a_proxy_names_its_https_header(tmp_path):
    env = production_env(tmp_path, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")

    run = manage(env, "shell", "-c", SHOW_SETTINGS)

    assert run.returncode == 0, run.stderr
    assert last_line(run)[-2:] == ["('HTTP_X_FORWARDED_PROTO',", "'https')"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto: https"),
        ("PROXY_COUNT", "-1"),
        ("LOGIN_FAILURE_LIMIT", "0"),
        ("HTTPS", "maybe"),
    ],
)
def test_a_bad_security_setting_stops_the_process_naming_it(tmp_path, variable, value):
    run = manage(production_env(tmp_path, **{variable: value}), "check")

    assert run.returncode != 0
    assert "ImproperlyConfigured" in run.stderr
    assert variable in run.stderr


def request_from(remote: str, forwarded: str = ""):
    meta = {"REMOTE_ADDR": remote}
    if forwarded:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return type("Request", (), {"META": meta})()


def test_without_a_proxy_the_client_is_the_peer_whatever_it_forwards(monkeypatch):
    monkeypatch.setattr(project_settings, "PROXY_COUNT", 0)

    address = project_settings.client_ip(request_from("203.0.113.9", "10.1.1.1"))

    assert address == "203.0.113.9"


def test_behind_one_proxy_the_client_is_the_address_the_proxy_saw(monkeypatch):
    monkeypatch.setattr(project_settings, "PROXY_COUNT", 1)
    forged_then_real = "10.1.1.1, 198.51.100.7"

    address = project_settings.client_ip(request_from("127.0.0.1", forged_then_real))

    assert address == "198.51.100.7"


def test_plain_http_is_redirected_and_https_answers_with_hsts(db, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    client = Client()

    plain = client.get(LOGIN)
    secure = client.get(LOGIN, secure=True)

    assert plain.status_code == 301
    assert plain["Location"] == f"https://testserver{LOGIN}"
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"].startswith("max-age=3600")


def test_the_deployment_guide_lists_every_variable_the_settings_read():
    source = (ROOT / "survey" / "settings.py").read_text()
    read = set(
        re.findall(r'(?:env_\w+|os\.environ\.get|os\.environ\[)\(?"([A-Z_]+)"', source)
    )
    guide = (ROOT / "docs" / "deployment.md").read_text()
    listed = set(re.findall(r"^\| `([A-Z_]+)` \|", guide, re.M))

    assert len(read) > 20
    assert sorted(read - listed) == []
