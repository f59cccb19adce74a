"""The founding survey as the demo: ``demo_load`` and ``manage.py setup_demo``."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from fielding.models import Assignment, Respondent, Response
from survey.demo import DEMO_USERS, demo_load
from survey.models import (
    CardText,
    Choice,
    CovariateQuestion,
    Recode,
    Settlement,
    Stratum,
    Survey,
    Wave,
)
from survey.roles import ADMINISTRATOR, ANALYST, INTERVIEWER

MODELS = [
    Survey,
    Wave,
    Stratum,
    CardText,
    CovariateQuestion,
    Choice,
    Recode,
    Settlement,
    Respondent,
    Assignment,
    Response,
    Group,
    get_user_model(),
]


def stored_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def test_it_writes_the_card_in_english_russian_and_kazakh(demo_wave):
    survey = demo_wave.survey
    assert survey.code == "kz-csto-2022"
    assert survey.languages == ["en", "ru", "kk"]

    experiment = survey.experiments.get()
    assert [item.code for item in experiment.control_items()] == [
        "foreign-investment",
        "eaeu",
        "tourism",
        "open-borders",
    ]
    assert [item.code for item in experiment.sensitive_items()] == ["csto"]

    parts = [None, "foreign-investment", "eaeu", "tourism", "open-borders", "csto"]
    texts = experiment.texts.values_list("item__code", "language")
    assert len(texts) == 18
    assert set(texts) == {
        (part, language) for part in parts for language in ["en", "ru", "kk"]
    }


def test_it_marks_the_russian_and_kazakh_texts_for_review_and_english_not(
    demo_wave,
):
    texts = CardText.objects.filter(experiment__survey=demo_wave.survey)

    marks = set(texts.values_list("language", "needs_review"))
    assert marks == {("en", False), ("ru", True), ("kk", True)}
    questions = demo_wave.survey.questions.all()
    assert {tuple(q.needs_review) for q in questions} == {("ru", "kk")}


def test_it_asks_gender_education_ethnicity_and_age(demo_wave):
    questions = {q.code: q for q in demo_wave.survey.questions.all()}

    assert list(questions) == ["gender", "education", "ethnicity", "age"]
    assert questions["age"].kind == CovariateQuestion.NUMERIC
    assert not questions["age"].choices.exists()
    codes = {
        code: list(q.choices.values_list("code", flat=True))
        for code, q in questions.items()
        if q.kind == CovariateQuestion.CODED
    }
    assert codes == {
        "gender": ["1", "2"],
        "education": ["1", "2", "3", "4", "5", "6"],
        "ethnicity": ["kazakh", "russian", "other"],
    }
    assert questions["gender"].choices.get(code="2").label("kk") == "Әйел"


def test_it_groups_education_5_and_6_as_university(demo_wave):
    recode = demo_wave.survey.recodes.get()

    assert (recode.name, recode.question.code) == ("university", "education")
    assert recode.mapping == {
        "1": "secondary_or_less",
        "2": "secondary_or_less",
        "3": "secondary_or_less",
        "4": "secondary_or_less",
        "5": "university",
        "6": "university",
    }


def test_it_plans_the_pilot_wave_by_almaty_astana_and_the_rest(demo_wave):
    strata = list(demo_wave.strata.all())

    assert [s.code for s in strata] == ["almaty", "astana", "other"]
    assert [s.is_rest for s in strata] == [False, False, True]
    assert [list(s.settlements.values_list("code", flat=True)) for s in strata] == [
        ["almaty"],
        ["astana"],
        [],
    ]


def test_it_fills_the_pilot_wave_with_1000_simulated_respondents(demo_wave):
    assert demo_wave.status == Wave.FIELDING
    assert demo_wave.respondents.count() == 1000

    sources = Assignment.objects.filter(respondent__wave=demo_wave).values_list(
        "source", flat=True
    )
    assert list(sources) == [Assignment.SIMULATION] * 1000
    assert list(demo_wave.interviewers.values_list("username", flat=True)) == [
        "interviewer"
    ]


def test_it_makes_the_demo_users_in_their_groups(demo_wave):
    User = get_user_model()

    for username, password, role in DEMO_USERS:
        user = User.objects.get(username=username)
        assert user.check_password(password)
        assert list(user.groups.values_list("name", flat=True)) == [role]
        assert user.is_staff == (role == ADMINISTRATOR)
    assert {role for _u, _p, role in DEMO_USERS} == {
        ADMINISTRATOR,
        ANALYST,
        INTERVIEWER,
    }


def test_loading_the_demo_twice_changes_nothing(demo_wave):
    before = stored_counts()

    assert demo_load() is None

    assert stored_counts() == before
    survey = Survey.objects.get()
    assert survey.waves.get(status=Wave.FIELDING) == demo_wave
    assert survey.waves.get(status=Wave.DRAFT).strata.count() == 3


# manage.py setup_demo


def setup_demo(*args) -> str:
    out = StringIO()
    call_command("setup_demo", *args, stdout=out)
    return out.getvalue()


def test_setup_demo_refuses_when_debug_and_testing_are_off(db, settings):
    settings.DEBUG = False
    settings.TESTING = False

    with pytest.raises(CommandError, match="DEBUG is off"):
        setup_demo()

    assert not Survey.objects.exists()
    assert not get_user_model().objects.exists()


def test_setup_demo_loads_without_debug_when_allowed_and_twice_says_so(db, settings):
    settings.DEBUG = False
    settings.TESTING = False

    first = setup_demo("--allow-without-debug")
    second = setup_demo("--allow-without-debug")

    wave = Wave.objects.get(status=Wave.FIELDING)
    assert f"Loaded the demo survey and wave {wave.pk}" in first
    assert "The demo survey is already loaded." in second
    assert "password admin-demo" in second
    assert wave.respondents.count() == 1000
