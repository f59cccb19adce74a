"""Opening and closing waves, the card snapshot an opened wave keeps, text versions."""

import pytest

from survey.cards import card_snapshot
from survey.demo import CONTROL_ITEMS, DEMO_SEED, INSTRUCTIONS, SENSITIVE_ITEM
from survey.errors import SurveyError
from survey.models import CardText, Wave
from survey.services import wave_close, wave_open


def stored(wave: Wave) -> Wave:
    return Wave.objects.get(pk=wave.pk)


def test_opening_a_draft_wave_moves_it_to_fielding_with_the_given_seed(small_wave):
    wave_open(wave=small_wave, seed=42)

    wave = stored(small_wave)
    assert wave.status == Wave.FIELDING
    assert wave.seed == 42
    assert wave.opened_at is not None
    assert wave.closed_at is None


def test_opening_without_a_seed_draws_and_records_one(small_wave):
    wave_open(wave=small_wave)

    seed = stored(small_wave).seed
    assert seed is not None
    assert 0 <= seed < 2**63


def test_opening_a_wave_twice_is_refused_and_keeps_the_first_seed(small_wave):
    wave_open(wave=small_wave, seed=7)
    opened_at = stored(small_wave).opened_at

    with pytest.raises(SurveyError) as raised:
        wave_open(wave=small_wave, seed=8)

    assert str(raised.value) == (
        "Only a draft wave can be opened; “small.csv” is fielding."
    )
    assert (stored(small_wave).seed, stored(small_wave).opened_at) == (7, opened_at)


def test_a_closed_wave_cannot_be_opened(small_wave):
    wave_open(wave=small_wave)
    wave_close(wave=small_wave)

    with pytest.raises(SurveyError, match="“small.csv” is closed"):
        wave_open(wave=small_wave)

    assert stored(small_wave).status == Wave.CLOSED


def test_closing_a_wave_records_when(small_wave):
    wave_open(wave=small_wave)

    wave_close(wave=small_wave)

    wave = stored(small_wave)
    assert wave.status == Wave.CLOSED
    assert wave.closed_at is not None


def test_closing_a_wave_twice_is_refused_and_keeps_when_it_was_closed(small_wave):
    wave_open(wave=small_wave)
    closed_at = wave_close(wave=small_wave).closed_at

    with pytest.raises(SurveyError, match="“small.csv” is already closed"):
        wave_close(wave=small_wave)

    assert stored(small_wave).closed_at == closed_at


def test_the_demo_wave_froze_its_card_in_every_language(demo_wave):
    card = stored(demo_wave).frozen_cards["csto"]

    control = [code for code, _texts in CONTROL_ITEMS]
    sensitive_code, sensitive_texts = SENSITIVE_ITEM
    assert card["arms"] == ["control", "treatment"]
    assert card["lists"] == {"A": control}
    assert card["sensitive"] == [sensitive_code]
    assert set(card["texts"]) == {"en", "ru", "kk"}
    for language, texts in card["texts"].items():
        assert texts["instructions"] == {
            "text": INSTRUCTIONS[language],
            "version": 1,
        }
        expected = {code: wording[language] for code, wording in CONTROL_ITEMS}
        expected[sensitive_code] = sensitive_texts[language]
        assert texts["items"] == {
            code: {"text": text, "version": 1} for code, text in expected.items()
        }
    assert stored(demo_wave).seed == DEMO_SEED


def test_a_later_edit_of_a_text_leaves_an_opened_waves_card_alone(small_wave):
    wave_open(wave=small_wave)
    text = CardText.objects.get(item__code="sensitive")
    frozen = text.text

    text.text = "Support for the policy (final wording)"
    text.save()

    frozen_card = stored(small_wave).frozen_cards["list"]["texts"]["en"]["items"]
    assert frozen_card["sensitive"] == {"text": frozen, "version": 1}
    current = card_snapshot(small_wave.survey)["list"]["texts"]["en"]["items"]
    assert current["sensitive"] == {
        "text": "Support for the policy (final wording)",
        "version": 2,
    }


def test_a_card_text_version_goes_up_each_time_its_wording_changes(small_wave):
    text = CardText.objects.get(item__code="sensitive")

    for wording in ["First wording", "Second wording"]:
        text.text = wording
        text.save()

    assert CardText.objects.get(pk=text.pk).version == 3


def test_a_card_text_version_stays_when_its_wording_does_not_change(small_wave):
    text = CardText.objects.get(item__code="sensitive")

    text.save()
    text.needs_review = True
    text.save()
    CardText.objects.get(pk=text.pk).save()

    assert CardText.objects.get(pk=text.pk).version == 1


def test_the_plan_of_an_open_wave_cannot_change(demo_wave):
    from survey.errors import SurveyError

    demo_wave.plan = {"kind": "simple", "p": 0.9}

    with pytest.raises(SurveyError, match="frozen"):
        demo_wave.save()


def test_the_admin_shows_an_open_waves_plan_read_only(admin_client, demo_wave):
    from django.urls import reverse

    page = admin_client.get(reverse("admin:survey_wave_change", args=[demo_wave.pk]))

    assert page.status_code == 200
    assert 'name="plan"' not in page.text


@pytest.mark.parametrize(
    "plan, words",
    [
        ({"ratio": 2}, "not shaped like"),
        ({"kind": "blocked", "block_sizes": 4}, "not shaped like"),
        ({"kind": "blocked", "block_sizes": [10_000_000]}, "larger than"),
        ({"seed": -5}, "seed must be"),
        ({"seed": "abc"}, "seed must be"),
    ],
)
def test_a_plan_that_cannot_be_drawn_is_refused_in_words(small_wave, plan, words):
    from survey.errors import SurveyError
    from survey.models import Wave

    Wave.objects.filter(pk=small_wave.pk).update(plan=plan)

    with pytest.raises(SurveyError, match=words):
        wave_open(wave=Wave.objects.get(pk=small_wave.pk))

    assert Wave.objects.get(pk=small_wave.pk).status == Wave.DRAFT


def test_a_strata_code_is_fixed_once_the_wave_opens(demo_wave):
    from survey.errors import SurveyError

    stratum = demo_wave.strata.get(code="astana")
    stratum.code = "astana-x"

    with pytest.raises(SurveyError, match="fixed since its wave opened"):
        stratum.save()
