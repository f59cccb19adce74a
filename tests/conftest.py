"""Personas and small builders shared by the tests.

Tests ask for what they need by name (``analyst_client``, ``race_wave``), so no test
repeats setup; anything bigger is built by the functions here.
"""

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import translation

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
def language_reset():
    """Put the default language back after each test.

    The interview and web-link views switch the thread's language to the
    respondent's, as each request starts again from LocaleMiddleware in a server;
    the test client runs views in the test's own thread, so without this a test
    after a Russian interview would read its messages in Russian.
    """
    yield
    translation.deactivate()


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


def design_wave(
    code: str,
    *,
    lists: dict[str, int],
    sensitive: tuple[str, ...] = ("sensitive",),
    direct: bool = False,
    languages: tuple[str, ...] = ("en", "ru"),
    seed: int = 20240501,
    plan: dict | None = None,
):
    """An open wave of a new survey whose list experiment has the given design.

    ``lists`` gives each list's code and number of control items (two lists make a
    double list); every text exists in every language, ending in the language code,
    e.g. "A1 [ru]". With ``direct``, a yes/no question ``direct`` (1 yes, 0 no) is
    the experiment's direct question. A ``gender`` question (1, 2) comes first. The
    wave has one stratum of every place (the demo's places) and both modes; its plan
    is ``plan``, by default blocks of two rounds of equal shares.
    """
    from survey.demo import places_ensure
    from survey.models import (
        CardText,
        Choice,
        CovariateQuestion,
        Item,
        ItemList,
        ListExperiment,
        Survey,
        Wave,
    )
    from survey.services import wave_open

    def texts(experiment, item, name):
        CardText.objects.bulk_create(
            CardText(
                experiment=experiment,
                item=item,
                language=language,
                text=f"{name} [{language}]",
            )
            for language in languages
        )

    places_ensure()
    survey = Survey.objects.create(code=code, name=code, languages=list(languages))
    experiment = ListExperiment.objects.create(
        survey=survey,
        code="list",
        name=f"{code} list",
        design=ListExperiment.DOUBLE if len(lists) > 1 else ListExperiment.SINGLE,
    )
    texts(experiment, None, "Say only how many")
    for position, (list_code, items) in enumerate(lists.items(), start=1):
        item_list = ItemList.objects.create(
            experiment=experiment, code=list_code, position=position
        )
        for n in range(1, items + 1):
            item = Item.objects.create(
                experiment=experiment,
                item_list=item_list,
                code=f"{list_code.lower()}{n}",
                kind=Item.CONTROL,
                position=n,
            )
            texts(experiment, item, f"{list_code}{n}")
    for position, item_code in enumerate(sensitive, start=1):
        item = Item.objects.create(
            experiment=experiment,
            code=item_code,
            kind=Item.SENSITIVE,
            position=position,
        )
        texts(experiment, item, f"Sensitive {item_code}")

    gender = CovariateQuestion.objects.create(
        survey=survey, code="gender", position=1, texts={"en": "Gender"}
    )
    Choice.objects.bulk_create(
        Choice(question=gender, code=c, position=n, labels={"en": label})
        for n, (c, label) in enumerate([("1", "Man"), ("2", "Woman")], start=1)
    )
    if direct:
        question = CovariateQuestion.objects.create(
            survey=survey,
            code="direct",
            position=2,
            texts={language: f"Asked directly [{language}]" for language in languages},
        )
        Choice.objects.bulk_create(
            Choice(question=question, code=c, position=n, labels={"en": label})
            for n, (c, label) in enumerate([("1", "Yes"), ("0", "No")], start=1)
        )
        experiment.direct_question = question
        experiment.save()

    wave = Wave.objects.create(
        survey=survey,
        name=f"{code} wave",
        modes=[Wave.TABLET, Wave.WEB],
        plan={
            "kind": "blocked",
            "ratio": [1] * len(experiment.arms()),
            "block_sizes": [2 * len(experiment.arms())],
        }
        if plan is None
        else plan,
    )
    return wave_open(wave=wave, seed=seed)


@pytest.fixture
def double_wave(db, interviewer):
    """An open double-list wave: list A (3 items), list B (4), one sensitive item,
    a direct question; the interviewer ``ivan`` is assigned to it."""
    wave = design_wave("double", lists={"A": 3, "B": 4}, direct=True)
    wave.interviewers.add(interviewer)
    return wave


@pytest.fixture
def multi_wave(db, interviewer):
    """An open wave whose one list (3 items) has two sensitive items, race and
    affirm, sharing the control arm; ``ivan`` is assigned to it."""
    wave = design_wave("multi", lists={"A": 3}, sensitive=("race", "affirm"))
    wave.interviewers.add(interviewer)
    return wave
