"""What a respondent row may hold, whoever edits it (the admin calls full_clean)."""

import pytest
from django.core.exceptions import ValidationError

from fielding.models import Respondent


def respondent_in(wave, **fields) -> Respondent:
    return Respondent(wave=wave, **fields)


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"answers": "just a string"}, "answers"),
        ({"weight": -5}, "weight"),
        ({"weight": 0}, "weight"),
        ({"language": "zz"}, "language"),
    ],
)
def test_it_refuses_values_that_would_break_estimates(demo_wave, fields, field):
    with pytest.raises(ValidationError) as raised:
        respondent_in(demo_wave, **fields).full_clean()

    assert field in raised.value.message_dict


def test_it_refuses_a_stratum_of_another_wave(demo_wave, db):
    from survey.models import Stratum, Wave

    other = Wave.objects.create(survey=demo_wave.survey, name="Another wave")
    foreign = Stratum.objects.create(wave=other, code="x", name="X")

    with pytest.raises(ValidationError) as raised:
        respondent_in(demo_wave, stratum=foreign).full_clean()

    assert "stratum" in raised.value.message_dict


def test_a_duplicated_id_is_refused_in_plain_words(demo_wave):
    Respondent.objects.create(wave=demo_wave, external_id="R-1")

    with pytest.raises(ValidationError, match="already used in the wave"):
        respondent_in(demo_wave, external_id="R-1").full_clean()
