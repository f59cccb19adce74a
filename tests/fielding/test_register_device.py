"""python manage.py register_device: a tablet's token for an interviewer, shown once."""

import io
import re

import pytest
from django.core.management import CommandError, call_command

from fielding.models import AccessToken
from fielding.tokens import token_digest
from tests.fielding.tablets import WAVES_URL, token_client


def register(*args) -> str:
    out = io.StringIO()
    call_command("register_device", *args, stdout=out)
    return out.getvalue()


def printed_token(output: str) -> str:
    return re.search(r"Token \(shown once\): (\S+)", output).group(1)


def test_it_prints_a_token_that_opens_the_api(demo_wave):
    output = register("interviewer", "--label", "tablet 12")

    raw = printed_token(output)
    token = AccessToken.objects.get()
    assert "Registered “tablet 12” to interviewer." in output
    assert token.kind == AccessToken.DEVICE and token.label == "tablet 12"
    assert token_client(raw).get(WAVES_URL).status_code == 200


def test_it_prints_the_token_once_and_stores_only_its_hash(interviewer):
    output = register("ivan")

    raw = printed_token(output)
    token = AccessToken.objects.get()
    assert output.count(raw) == 1
    assert token.token_hash == token_digest(raw) != raw
    assert token.label == "tablet of ivan"


def test_registering_twice_makes_two_tokens_each_printed_once(interviewer):
    first = printed_token(register("ivan"))
    second = printed_token(register("ivan"))

    assert first != second
    assert AccessToken.objects.filter(user=interviewer).count() == 2


def test_it_refuses_an_unknown_user_with_exit_code_2(db):
    with pytest.raises(CommandError, match="No user named 'nobody'") as raised:
        register("nobody")

    assert raised.value.returncode == 2
    assert not AccessToken.objects.exists()


def test_it_refuses_a_user_who_is_not_an_interviewer_with_exit_code_2(analyst):
    with pytest.raises(CommandError, match="not an interviewer") as raised:
        register("ann")

    assert raised.value.returncode == 2
    assert not AccessToken.objects.exists()
