"""Shapes of the tablet API's requests and answers."""

from rest_framework import serializers

from fielding.models import Response


class ReservationSerializer(serializers.Serializer):
    place = serializers.CharField(max_length=60)
    count = serializers.IntegerField(min_value=1)


class SlotSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    arm = serializers.CharField()
    item_order = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField())
    )
    stratum = serializers.CharField(source="stratum.code")
    position = serializers.IntegerField()


class ReservationResultSerializer(serializers.Serializer):
    slots = SlotSerializer(many=True)
    over_quota = serializers.BooleanField()


class SyncItemSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    slot = serializers.IntegerField(min_value=1)
    status = serializers.ChoiceField(
        choices=[code for code, _l in Response.STATUS_CHOICES]
    )
    count = serializers.IntegerField(
        min_value=0, max_value=100, allow_null=True, required=False
    )
    counts = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=100, allow_null=True),
        required=False,
        allow_null=True,
    )
    answers = serializers.DictField(required=False, default=dict)
    place = serializers.CharField(max_length=60)
    language = serializers.CharField(max_length=5, required=False, allow_blank=True)
    registered_at = serializers.DateTimeField(required=False, allow_null=True)
    card_shown_at = serializers.DateTimeField(required=False, allow_null=True)
    started_at = serializers.DateTimeField(required=False, allow_null=True)
    finished_at = serializers.DateTimeField(required=False, allow_null=True)


class SyncRequestSerializer(serializers.Serializer):
    responses = serializers.ListField(child=serializers.JSONField(), allow_empty=False)


class SyncResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    uuid = serializers.CharField(allow_null=True)
    result = serializers.ChoiceField(
        choices=["created", "duplicate", "conflict", "rejected"]
    )
    errors = serializers.DictField()


class SyncAnswerSerializer(serializers.Serializer):
    results = SyncResultSerializer(many=True)
