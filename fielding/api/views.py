"""The JSON API for tablets (waves, reservations, responses) and for analysts (data).

Views check the request's shape and call one service or selector. A malformed request
is a 400 naming the problem; a bad token a 401 saying why; nothing here answers 5xx.
"""

import csv

from django.conf import settings
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from fielding.api.permissions import IsAnalyst, IsInterviewer, IsTablet
from fielding.api.serializers import (
    ErrorSerializer,
    MicrodataRowSerializer,
    ReservationResultSerializer,
    ReservationSerializer,
    SyncAnswerSerializer,
    SyncBatchSerializer,
    SyncItemSerializer,
    SyncRequestSerializer,
    WaveSerializer,
)
from fielding.errors import FieldingError
from fielding.reservations import slots_reserve
from fielding.selectors import (
    microdata_assignments,
    microdata_columns,
    microdata_rows,
    wave_for_tablet,
    waves_for_tablet,
)
from fielding.sync import REJECTED, SyncResult, responses_sync
from survey.audit import audit_record
from survey.models import AuditEvent, Wave

# What every endpoint may answer instead: a 400 names the fields (or gives a detail),
# the others give a sentence in ``detail``.
REFUSED = {401: ErrorSerializer, 403: ErrorSerializer}
NOT_FOUND = {404: ErrorSerializer}
BAD_REQUEST = {400: OpenApiTypes.OBJECT}


class WaveListView(APIView):
    """The waves this tablet's interviewer may work on, with everything to go offline."""

    permission_classes = [IsInterviewer]

    @extend_schema(responses={200: WaveSerializer(many=True), **REFUSED})
    def get(self, request):
        waves = [wave_for_tablet(wave) for wave in waves_for_tablet(request.user)]
        return Response(WaveSerializer(waves, many=True).data)


class ReservationView(APIView):
    """Reserve the next slots of a place's stratum for this tablet."""

    # New slots only for someone who still interviews; sending what was collected
    # on slots already held stays open to the tablet (ResponsesView).
    permission_classes = [IsTablet, IsInterviewer]

    @extend_schema(
        request=ReservationSerializer,
        responses={
            201: ReservationResultSerializer,
            **BAD_REQUEST,
            **REFUSED,
            **NOT_FOUND,
        },
    )
    def post(self, request, wave_id: int):
        wave = get_object_or_404(waves_for_tablet(request.user), pk=wave_id)
        shape = ReservationSerializer(data=request.data)
        shape.is_valid(raise_exception=True)
        try:
            slots, over_quota = slots_reserve(
                token=request.auth,
                wave=wave,
                place=shape.validated_data["place"],
                count=shape.validated_data["count"],
            )
        except FieldingError as error:
            raise ValidationError({"detail": str(error)}) from None
        body = ReservationResultSerializer(
            {"slots": slots, "over_quota": over_quota}
        ).data
        return Response(body, status=status.HTTP_201_CREATED)


class ResponsesView(APIView):
    """Store a batch of interviews; each gets its own result, in request order."""

    permission_classes = [IsTablet]

    @extend_schema(
        request=SyncBatchSerializer,
        responses={200: SyncAnswerSerializer, **BAD_REQUEST, **REFUSED},
        description=(
            "Each response is checked and stored on its own, and gets its own "
            "result. A single list's count comes in `count`; a double list's in "
            '`counts`, one per list code (`{"A": 2, "B": 3}`). A count outside its '
            "list's range (0..J, or 0..J + 1 on the list carrying the sensitive "
            "item) rejects that response with an error under `count` or `counts`. "
            "The answer to a list experiment's direct question travels in `answers` "
            "under the question's code. Times carry their zone (`Z` or `+06:00`); a "
            "time without one, more than a day ahead of the server's clock, a start "
            "before the registration or an end before the start rejects that "
            "response, naming the time. A null among the responses refuses the "
            "batch with a 400 naming every item that is not a JSON object."
        ),
    )
    def post(self, request):
        shape = SyncRequestSerializer(data=request.data)
        shape.is_valid(raise_exception=True)
        raw_items = shape.validated_data["responses"]
        if len(raw_items) > settings.SYNC_BATCH_MAX:
            raise ValidationError(
                {
                    "responses": [
                        _("Send at most %(n)s responses in one request.")
                        % {"n": settings.SYNC_BATCH_MAX}
                    ]
                }
            )

        results: list[SyncResult | None] = [None] * len(raw_items)
        valid, positions = [], []
        for index, raw in enumerate(raw_items):
            item = SyncItemSerializer(data=raw if isinstance(raw, dict) else {})
            if isinstance(raw, dict) and item.is_valid():
                valid.append(item.validated_data)
                positions.append(index)
            else:
                errors = (
                    item.errors
                    if isinstance(raw, dict)
                    else {"non_field_errors": [_("Each response is a JSON object.")]}
                )
                uuid = raw.get("uuid") if isinstance(raw, dict) else None
                results[index] = SyncResult(
                    str(uuid) if uuid else None, REJECTED, errors
                )

        for index, result in zip(
            positions, responses_sync(token=request.auth, items=valid)
        ):
            results[index] = result
        body = {
            "results": [
                {"index": i, "uuid": r.uuid, "result": r.result, "errors": r.errors}
                for i, r in enumerate(results)
            ]
        }
        return Response(body)


class ResponsePagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class WaveResponsesView(ListAPIView):
    """A wave's microdata, one object per respondent and list experiment, paginated."""

    permission_classes = [IsAnalyst]
    pagination_class = ResponsePagination
    serializer_class = MicrodataRowSerializer  # describes the rows in the schema

    def get_queryset(self):
        self.wave = get_object_or_404(Wave, pk=self.kwargs["wave_id"])
        return microdata_assignments(self.wave)

    @extend_schema(
        responses={200: MicrodataRowSerializer(many=True), **REFUSED, **NOT_FOUND}
    )
    def get(self, request, *args, **kwargs):
        """Only the requested page is read from the database."""
        page = self.paginate_queryset(self.get_queryset())
        ids = [assignment.pk for assignment in page]
        rows = microdata_rows(
            self.wave,
            microdata_assignments(self.wave).filter(pk__in=ids),
            identifiers=self.wave.survey.export_identifiers,
        )
        return self.get_paginated_response(list(rows))


class Echo:
    def write(self, value):
        return value


class WaveResponsesCsvView(APIView):
    """The same microdata as CSV (UTF-8 with a BOM), streamed at any size."""

    permission_classes = [IsAnalyst]

    def perform_content_negotiation(self, request, force=False):
        # The answer is CSV whatever the client accepts (a script asking for
        # text/csv was refused with a 406); refusals are JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            **REFUSED,
            **NOT_FOUND,
        }
    )
    def get(self, request, wave_id: int):
        wave = get_object_or_404(Wave, pk=wave_id)
        identifiers = wave.survey.export_identifiers
        columns = microdata_columns(wave, identifiers=identifiers)
        writer = csv.DictWriter(Echo(), fieldnames=columns, extrasaction="ignore")
        audit_record(request.user, AuditEvent.EXPORTED, wave, "microdata csv (API)")

        def lines():
            yield "\ufeff" + writer.writeheader()
            for row in microdata_rows(wave, identifiers=identifiers):
                yield writer.writerow(row)

        response = StreamingHttpResponse(
            lines(), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="wave{wave.pk}-responses.csv"'
        )
        return response
