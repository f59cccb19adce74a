"""Shapes of the tablet API's requests and answers.

The OpenAPI schema at /api/schema/ is made from these, so every answer the API gives
has a serializer here, including the ones only used to describe it.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from fielding.models import Response
from survey.models import LANGUAGE_CODES, CovariateQuestion


class ErrorSerializer(serializers.Serializer):
    """A refused request: a sentence saying why."""

    detail = serializers.CharField()


class PlaceSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    stratum = serializers.CharField()


class CardItemSerializer(serializers.Serializer):
    code = serializers.CharField()
    text = serializers.CharField()


class CardTextsSerializer(serializers.Serializer):
    instructions = serializers.CharField(allow_blank=True)
    items = CardItemSerializer(many=True)


class CardSerializer(serializers.Serializer):
    experiment = serializers.CharField()
    code = serializers.CharField()
    languages = serializers.DictField(child=CardTextsSerializer())


class ChoiceSerializer(serializers.Serializer):
    code = serializers.CharField()
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True))


class QuestionSerializer(serializers.Serializer):
    code = serializers.CharField()
    kind = serializers.ChoiceField(choices=CovariateQuestion.KIND_CHOICES)
    texts = serializers.DictField(child=serializers.CharField(allow_blank=True))
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    choices = ChoiceSerializer(many=True)


class WaveSerializer(serializers.Serializer):
    """A wave as a tablet takes it offline (``fielding.selectors.wave_for_tablet``)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    languages = serializers.ListField(child=serializers.ChoiceField(LANGUAGE_CODES))
    settlements = PlaceSerializer(many=True)
    cards = CardSerializer(many=True)
    questions = QuestionSerializer(many=True)


class ReservationSerializer(serializers.Serializer):
    place = serializers.CharField(max_length=60)
    count = serializers.IntegerField(min_value=1)


class SlotSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    arm = serializers.CharField()
    item_order = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text=_(
            "Each list's item codes in the order to show them, by list code; a "
            "double list has both lists, asked in the order of the wave's cards."
        ),
    )
    stratum = serializers.CharField(source="stratum.code")
    position = serializers.IntegerField()


class ReservationResultSerializer(serializers.Serializer):
    slots = SlotSerializer(many=True)
    over_quota = serializers.BooleanField()


def has_null_character(value) -> bool:
    """Whether a JSON value holds U+0000 anywhere, in a key or in a string."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(
            has_null_character(k) or has_null_character(v) for k, v in value.items()
        )
    if isinstance(value, list):
        return any(has_null_character(v) for v in value)
    return False


def refuse_null_characters(value):
    # PostgreSQL cannot store U+0000 in JSON; a held copy of the response would fail.
    if has_null_character(value):
        raise serializers.ValidationError(_("Null characters are not allowed."))
    return value


#: How far ahead of the server's clock a tablet's clock may run and still be believed.
CLOCK_SLACK = timedelta(days=1)
INTERVIEW_TIMES = ("registered_at", "card_shown_at", "started_at", "finished_at")


class ZonedDateTimeField(serializers.DateTimeField):
    """A time with its zone (``Z`` or ``+06:00``); a time without one is refused.

    A tablet's clock runs in its own zone, so a time without one could be hours off;
    the tablet app always sends UTC (``Z``). Left to itself, the field would read
    such a time in the server's zone (UTC) without a word.
    """

    default_error_messages = {
        "naive": _("Give the time with its time zone, such as 2024-05-02T10:00:00Z.")
    }

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


def impossible_times(item: dict, now: datetime) -> dict[str, list[str]]:
    """Errors by field for times no interview could have: more than `CLOCK_SLACK`
    ahead of ``now``, a start before the registration, an end before the start (or,
    with no start, before the registration).

    The card is not held to the order: the monitor reports a card shown before the
    registration, a sign of a tablet's clock or of its interviewer.
    """
    errors = {}
    for name in INTERVIEW_TIMES:
        value = item.get(name)
        if value is not None and value > now + CLOCK_SLACK:
            errors[name] = [_("This time is more than a day in the future.")]

    registered, started, finished = (
        item.get(name) for name in ("registered_at", "started_at", "finished_at")
    )
    before_registration = _("This time is before the respondent was registered.")
    if registered and started and started < registered:
        errors.setdefault("started_at", []).append(before_registration)
    if started and finished and finished < started:
        errors.setdefault("finished_at", []).append(
            _("This time is before the interview started.")
        )
    elif not started and registered and finished and finished < registered:
        errors.setdefault("finished_at", []).append(before_registration)
    return errors


class SyncItemSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    slot = serializers.IntegerField(min_value=1)
    status = serializers.ChoiceField(
        choices=[code for code, _l in Response.STATUS_CHOICES]
    )
    count = serializers.IntegerField(
        min_value=0,
        max_value=100,
        allow_null=True,
        required=False,
        help_text=_(
            "The count of a single-list experiment, from 0 to the card's number of "
            "items; empty unless the status is complete. A double list sends counts."
        ),
    )
    counts = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=100, allow_null=True),
        required=False,
        allow_null=True,
        help_text=_(
            'A double list\'s counts by list code, e.g. {"A": 2, "B": 3}: one for '
            "each list when the status is complete (J, or J + 1 on the list that "
            "carries the sensitive item), none otherwise. A list out of range is "
            "refused, naming counts."
        ),
    )
    answers = serializers.DictField(
        required=False,
        default=dict,
        help_text=_(
            "Covariate answers by question code; a list experiment's direct question "
            'is answered here under its code ("1" yes, "0" no).'
        ),
    )
    place = serializers.CharField(max_length=60)
    language = serializers.CharField(max_length=5, required=False, allow_blank=True)
    registered_at = ZonedDateTimeField(required=False, allow_null=True)
    card_shown_at = ZonedDateTimeField(required=False, allow_null=True)
    started_at = ZonedDateTimeField(required=False, allow_null=True)
    finished_at = ZonedDateTimeField(required=False, allow_null=True)

    def validate_answers(self, value):
        return refuse_null_characters(value)

    def validate_counts(self, value):
        return refuse_null_characters(value)

    def validate(self, attrs):
        errors = impossible_times(attrs, timezone.now())
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class SyncRequestSerializer(serializers.Serializer):
    """The batch: any JSON per item, each checked on its own and refused alone.

    A null item refuses the whole batch, and the refusal names every item that is
    not a JSON object, not only the nulls, so one answer shows all there is to fix.
    """

    responses = serializers.ListField(
        child=serializers.JSONField(allow_null=True), allow_empty=False
    )

    def validate_responses(self, value):
        if any(item is None for item in value):
            raise serializers.ValidationError(
                {
                    index: [_("Each response is a JSON object.")]
                    for index, item in enumerate(value)
                    if not isinstance(item, dict)
                }
            )
        return value


class SyncBatchSerializer(serializers.Serializer):
    """The batch as the schema describes it: items shaped as a tablet sends them."""

    responses = serializers.ListField(
        child=SyncItemSerializer(), min_length=1, max_length=settings.SYNC_BATCH_MAX
    )


class SyncResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    uuid = serializers.CharField(allow_null=True)
    result = serializers.ChoiceField(
        choices=["created", "duplicate", "conflict", "rejected"]
    )
    errors = serializers.DictField()


class SyncAnswerSerializer(serializers.Serializer):
    results = SyncResultSerializer(many=True)


class MicrodataRowSerializer(serializers.Serializer):
    """A row of a wave's microdata: one respondent in one list experiment.

    Each covariate question of the survey adds a column named by its code.
    """

    respondent_id = serializers.IntegerField()
    external_id = serializers.CharField(
        allow_null=True,
        required=False,
        help_text="Only when the survey exports identifiers.",
    )
    wave_id = serializers.IntegerField()
    experiment = serializers.CharField(allow_null=True)
    stratum = serializers.CharField(allow_null=True)
    region = serializers.CharField(allow_null=True)
    place = serializers.CharField(allow_null=True)
    mode = serializers.CharField(allow_blank=True)
    language = serializers.CharField(allow_blank=True)
    interviewer = serializers.CharField(
        allow_null=True,
        help_text="User name when the survey exports identifiers; otherwise a number "
        "within the wave.",
    )
    arm = serializers.CharField()
    item_order = serializers.CharField(
        allow_blank=True, help_text=_("The first list's items in the order shown.")
    )
    item_order_2 = serializers.CharField(
        allow_blank=True,
        help_text=_("A double list's second list in the order shown; else empty."),
    )
    source = serializers.CharField()
    simulated = serializers.IntegerField()
    status = serializers.CharField()
    count = serializers.IntegerField(
        allow_null=True, help_text=_("The count (a double list's first list).")
    )
    second_count = serializers.IntegerField(
        allow_null=True, help_text=_("A double list's second list's count.")
    )
    weight = serializers.FloatField(allow_null=True)
    late = serializers.IntegerField()
    registered_at = serializers.DateTimeField(allow_null=True)
    card_shown_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    received_at = serializers.DateTimeField()
