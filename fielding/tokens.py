"""Issuing and revoking API tokens for tablets and people.

A token is shown once, when it is made; only its SHA-256 hash is kept, so a copy of
the database cannot be used to pose as a tablet.
"""

import hashlib
import logging
import secrets

from django.utils import timezone
from django.utils.translation import gettext as _

from fielding.errors import FieldingError
from fielding.models import AccessToken, AllocationSlot
from survey.roles import INTERVIEWER, has_role

logger = logging.getLogger(__name__)

MAX_LABEL = AccessToken._meta.get_field("label").max_length


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_issue(*, user, label: str, kind: str = AccessToken.DEVICE, by=None):
    """A new token for ``user``; returns the row and the raw token (shown once)."""
    if kind == AccessToken.DEVICE and not has_role(user, INTERVIEWER):
        raise FieldingError(
            _("%(user)s is not an interviewer; tablets are registered to interviewers.")
            % {"user": user.get_username()}
        )
    if not label.strip():
        raise FieldingError(_("Give the tablet or token a name, such as its number."))
    if len(label.strip()) > MAX_LABEL:
        raise FieldingError(
            _("A tablet's name has at most %(n)s characters.") % {"n": MAX_LABEL}
        )
    raw = secrets.token_urlsafe(32)
    token = AccessToken.objects.create(
        user=user,
        kind=kind,
        label=label.strip(),
        token_hash=token_digest(raw),
        created_by=by,
    )
    logger.info("Issued a %s token %s for %s", kind, token.pk, user.get_username())
    return token, raw


def token_find(raw: str) -> AccessToken | None:
    return (
        AccessToken.objects.select_related("user")
        .filter(token_hash=token_digest(raw))
        .first()
    )


def token_revoke(*, token: AccessToken) -> None:
    AccessToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    logger.info("Revoked token %s (%s)", token.pk, token.label)


def slots_release(*, token: AccessToken) -> int:
    """Mark a device's unused reserved slots skipped (a lost tablet): never reissued."""
    released = AllocationSlot.objects.filter(
        device=token, status=AllocationSlot.RESERVED
    ).update(status=AllocationSlot.SKIPPED)
    logger.info(
        "Released %s unused slots of device %s (%s)", released, token.pk, token.label
    )
    return released
