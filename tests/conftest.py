"""Personas and small builders shared by the tests.

Tests ask for what they need by name (``analyst_client``, ``race_wave``), so no test
repeats setup; anything bigger is built by the functions here.
"""

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from fielding.importing import ImportSpec, responses_import
from fielding.tabular import read_table
from survey.demo import demo_load
from survey.roles import ADMINISTRATOR, ANALYST, INTERVIEWER, groups_ensure

DATA = Path(__file__).resolve().parent / "data"
RACE_CSV = DATA / "race.csv"


def make_user(username: str, role: str | None):
    user = get_user_model().objects.create_user(
        username=username, password="pw-for-tests"
    )
    if role:
        user.groups.add(groups_ensure()[role])
    if role == ADMINISTRATOR:
        user.is_staff = True
        user.save()
    return user


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def administrator(db):
    return make_user("ada", ADMINISTRATOR)


@pytest.fixture
def analyst(db):
    return make_user("ann", ANALYST)


@pytest.fixture
def interviewer(db):
    return make_user("ivan", INTERVIEWER)


@pytest.fixture
def admin_client(administrator):
    return client_for(administrator)


@pytest.fixture
def analyst_client(analyst):
    return client_for(analyst)


@pytest.fixture
def interviewer_client(interviewer):
    return client_for(interviewer)


def import_csv(data: bytes, name: str = "data.csv", wave=None, **spec):
    """Import CSV bytes with the given ImportSpec fields; returns the summary."""
    return responses_import(
        table=read_table(data, name=name), spec=ImportSpec(**spec), wave=wave
    )


RACE_SPEC = {
    "items": 3,
    "outcome": "y",
    "treat": "treat",
    "covariates": ("south", "male"),
}


@pytest.fixture
def race_wave(db):
    """race.csv imported as its own survey and draft wave, south and male as covariates."""
    return import_csv(RACE_CSV.read_bytes(), name="race.csv", **RACE_SPEC).wave


@pytest.fixture
def demo_wave(db):
    """The founding survey's pilot wave with its 1,000 simulated respondents."""
    return demo_load()


@pytest.fixture
def stored_rows(db):
    """A function giving how many surveys, waves and data rows are stored, by model.

    Tests of refused imports and commands compare it before and after, to show that
    nothing was written.
    """
    from fielding.models import Assignment, Respondent, Response
    from survey.models import CovariateQuestion, Survey, Wave

    models = [Survey, Wave, CovariateQuestion, Respondent, Assignment, Response]

    def counts() -> dict[str, int]:
        return {model.__name__: model.objects.count() for model in models}

    return counts


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Hash new passwords quickly; the default hasher takes a third of a second each.

    PBKDF2 stays second in the list so that passwords stored by a real run (a demo
    database, a subprocess) still check.
    """
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


@pytest.fixture
def small_wave(db):
    """A draft wave of four imported respondents (J = 3), the last without a count.

    For tests that need a wave with data but not race.csv's 1,213 rows.
    """
    data = b"y,treat,south\n1,0,1\n3,1,0\n2,0,0\n,1,1\n"
    summary = import_csv(
        data,
        name="small.csv",
        items=3,
        outcome="y",
        treat="treat",
        covariates=("south",),
    )
    return summary.wave
