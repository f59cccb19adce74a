"""Builders for the tablet API tests: a registered tablet, its requests, a response.

A ``Tablet`` holds a token and a test client that sends it, and knows the API's
addresses, so a test says what the tablet does (reserve, send) rather than how.
"""

import uuid
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.test import Client

from fielding.models import AccessToken, AllocationSlot
from fielding.tokens import token_issue

WAVES_URL = "/api/v1/waves/"
RESPONSES_URL = "/api/v1/responses/"

# A place in each of the demo wave's strata.
PLACE_OF_STRATUM = {"almaty": "almaty", "astana": "astana", "other": "aktobe"}


def reservations_url(wave) -> str:
    return f"/api/v1/waves/{wave.pk}/reservations/"


def token_client(raw: str) -> Client:
    return Client(headers={"Authorization": f"Token {raw}"})


@dataclass
class Tablet:
    token: AccessToken
    raw: str
    client: Client

    def waves(self):
        return self.client.get(WAVES_URL)

    def reserve(self, wave, place: str = "almaty", count=1):
        return self.client.post(
            reservations_url(wave),
            {"place": place, "count": count},
            content_type="application/json",
        )

    def slots(self, wave, place: str = "almaty", count: int = 1):
        """Reserve and return the slots as rows, in the order the API gave them."""
        reply = self.reserve(wave, place=place, count=count)
        assert reply.status_code == 201, reply.content
        ids = [slot["id"] for slot in reply.json()["slots"]]
        rows = AllocationSlot.objects.select_related("stratum").in_bulk(ids)
        return [rows[pk] for pk in ids]

    def send(self, *items):
        return self.client.post(
            RESPONSES_URL, {"responses": list(items)}, content_type="application/json"
        )

    def sync(self, *items) -> list[dict]:
        """Send a batch and return its results, one per item."""
        reply = self.send(*items)
        assert reply.status_code == 200, reply.content
        return reply.json()["results"]


def tablet_for(user, label: str = "tablet 1", kind: str = AccessToken.DEVICE):
    token, raw = token_issue(user=user, label=label, kind=kind)
    return Tablet(token=token, raw=raw, client=token_client(raw))


def demo_interviewer():
    """The demo's interviewer, assigned to the demo wave."""
    return get_user_model().objects.get(username="interviewer")


def response_for(slot: AllocationSlot, /, **changes) -> dict:
    """A complete response for ``slot`` as a tablet sends it; ``changes`` override."""
    item = {
        "uuid": str(uuid.uuid4()),
        "slot": slot.pk,
        "status": "complete",
        "count": 2,
        "place": PLACE_OF_STRATUM[slot.stratum.code],
        "language": "ru",
        "answers": {"gender": "2", "age": 34},
        "card_shown_at": "2024-05-02T10:03:00Z",
        "started_at": "2024-05-02T10:00:00Z",
        "finished_at": "2024-05-02T10:12:00Z",
    }
    item.update(changes)
    return item
