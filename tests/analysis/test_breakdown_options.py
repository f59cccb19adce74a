"""The breakdowns an analyst picks are named in the language of the page."""

from django.utils import translation

from analysis.selectors import breakdown_options


def labels(survey) -> dict[str, str]:
    return {option.key: option.label for option in breakdown_options(survey)}


def test_questions_are_named_in_the_active_language(demo_wave):
    survey = demo_wave.survey
    gender = survey.questions.get(code="gender")

    with translation.override("ru"):
        russian = labels(survey)
    with translation.override("kk"):
        kazakh = labels(survey)
    with translation.override("en"):
        english = labels(survey)

    assert russian["gender"] == gender.texts["ru"]
    assert kazakh["gender"] == gender.texts["kk"]
    assert english["gender"] == gender.texts["en"]
    assert russian["gender"] != english["gender"]
