"""Errors the API answers itself, beyond DRF's own: a body too large to read and the
database out of reach, each with a sentence in ``detail`` as every refusal here has."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30


def api_exception_handler(error, context):
    """DRF's answers; a 413 for a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (Django's
    own answer is a bare HTML page); a 503 when the database cannot be reached (it is
    restarting, say), so a tablet sends its batch again later, and what was stored
    before the cut is answered ``duplicate`` then."""
    response = exception_handler(error, context)
    if response is not None:
        return response
    if isinstance(error, RequestDataTooBig):
        return Response(
            {
                "detail": _(
                    "The request is larger than %(limit)s; send fewer responses at a "
                    "time."
                )
                % {"limit": filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}
            },
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(error, OperationalError | InterfaceError):
        logger.warning("API request refused, database unreachable: %s", error)
        return Response(
            {
                "detail": _(
                    "The server cannot reach its database right now. Send the "
                    "request again in a minute."
                )
            },
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return None
