"""GET /api/v1/waves/: the waves a tablet may work on, with everything to go offline."""

import pytest

from survey.demo import CONTROL_ITEMS, INSTRUCTIONS, SENSITIVE_ITEM
from survey.models import Wave
from survey.roles import INTERVIEWER
from survey.services import wave_close
from tests.conftest import client_for, make_user
from tests.fielding.tablets import WAVES_URL, demo_interviewer, tablet_for


@pytest.fixture
def waves(demo_wave) -> list:
    reply = tablet_for(demo_interviewer()).waves()
    assert reply.status_code == 200
    return reply.json()


def test_it_is_a_plain_list_of_the_interviewers_waves_in_fieldwork(waves, demo_wave):
    assert isinstance(waves, list)
    assert [wave["id"] for wave in waves] == [demo_wave.pk]
    assert waves[0]["name"] == demo_wave.name


def test_each_wave_names_its_languages(waves):
    assert waves[0]["languages"] == ["en", "ru", "kk"]


def test_each_place_comes_with_its_stratum(waves):
    strata = {place["code"]: place["stratum"] for place in waves[0]["settlements"]}

    assert strata["almaty"] == "almaty"
    assert strata["astana"] == "astana"
    assert strata["aktobe"] == strata["shamalgan"] == "other"
    assert len(strata) == 11


def test_each_list_has_a_card_with_instructions_and_items_in_every_language(waves):
    (card,) = waves[0]["cards"]
    codes = [code for code, _texts in CONTROL_ITEMS] + [SENSITIVE_ITEM[0]]

    assert (card["experiment"], card["code"]) == ("csto", "A")
    assert set(card["languages"]) == {"en", "ru", "kk"}
    for language, texts in card["languages"].items():
        assert texts["instructions"] == INSTRUCTIONS[language]
        assert [item["code"] for item in texts["items"]] == codes
    kazakh = {item["code"]: item["text"] for item in card["languages"]["kk"]["items"]}
    assert kazakh["csto"] == SENSITIVE_ITEM[1]["kk"]


def test_the_questions_come_with_their_choices_and_ranges(waves):
    questions = {question["code"]: question for question in waves[0]["questions"]}

    assert list(questions) == ["gender", "education", "ethnicity", "age"]
    assert [c["code"] for c in questions["gender"]["choices"]] == ["1", "2"]
    assert questions["gender"]["choices"][1]["labels"]["kk"] == "Әйел"
    assert questions["gender"]["texts"]["ru"] == "Пол респондента"
    assert questions["age"]["kind"] == "numeric"
    assert (questions["age"]["min"], questions["age"]["max"]) == (18, 100)


def test_waves_not_assigned_to_the_interviewer_are_not_listed(demo_wave):
    other = tablet_for(make_user("olga", INTERVIEWER))

    reply = other.waves()

    assert reply.status_code == 200
    assert reply.json() == []


def test_a_closed_wave_is_not_listed(demo_wave):
    wave_close(wave=demo_wave)

    reply = tablet_for(demo_interviewer()).waves()

    assert reply.json() == []


def test_a_draft_wave_is_not_listed_even_when_assigned(demo_wave):
    draft = Wave.objects.create(survey=demo_wave.survey, name="Second wave")
    draft.interviewers.add(demo_interviewer())

    reply = tablet_for(demo_interviewer()).waves()

    assert [wave["id"] for wave in reply.json()] == [demo_wave.pk]


def test_an_administrator_sees_every_wave_in_fieldwork(demo_wave, administrator):
    reply = client_for(administrator).get(WAVES_URL)

    assert [wave["id"] for wave in reply.json()] == [demo_wave.pk]
