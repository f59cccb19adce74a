"""Schemathesis against the API's own OpenAPI schema: no 5xx, answers as documented.

Requests go through Django's WSGI application in the test's thread, so they see the
test database. Each operation gets a few derandomized examples; the wave in the path
is the demo wave and slots in sent responses are the tablet's own, so the fuzzed
fields reach the checks behind them instead of stopping at a 404.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fielding.tablets import PLACE_OF_STRATUM, demo_interviewer, tablet_for

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# Loaded when the module is collected: the schema view needs no database.
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/?format=json", get_wsgi_application()
)


@pytest.fixture
def field(demo_wave, analyst):
    """The demo wave, a tablet with slots in two strata, and an analyst's token."""
    tablet = tablet_for(demo_interviewer())
    slots = tablet.slots(demo_wave, count=3) + tablet.slots(
        demo_wave, place="aktobe", count=3
    )
    analyst_token = tablet_for(analyst, label="script", kind="personal")

    # Django closes old connections around each request it handles, which would close
    # the one holding the test's transaction. The test client stops that for its own
    # requests only (and reconnects after them), so calls straight into the WSGI
    # application need it stopped here, after the test client's last request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield demo_wave, tablet, slots, analyst_token
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def steer(case, wave, slots) -> None:
    """Aim the case at the demo wave, and sent responses at the tablet's slots and
    their places, leaving every other field as generated."""
    if "wave_id" in (case.path_parameters or {}):
        case.path_parameters["wave_id"] = wave.pk
    body = case.body if isinstance(case.body, dict) else {}
    if isinstance(body.get("place"), str):
        body["place"] = "almaty"
    items = body.get("responses")
    for index, item in enumerate(items if isinstance(items, list) else []):
        slot = slots[index % len(slots)]
        if isinstance(item, dict) and isinstance(item.get("slot"), int):
            item["slot"] = slot.pk
        if isinstance(item, dict) and isinstance(item.get("place"), str):
            item["place"] = PLACE_OF_STRATUM[slot.stratum.code]


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_fails_or_breaks_its_schema(case, field):
    wave, tablet, slots, analyst_token = field
    steer(case, wave, slots)
    reading_microdata = case.operation.path.startswith("/api/v1/waves/{wave_id}/resp")
    token = analyst_token.raw if reading_microdata else tablet.raw

    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
