"""Single-use links for web self-completion.

Tokens are random, shown once (in the CSV an administrator downloads when making them)
and stored only as SHA-256 hashes, so a copy of the database does not hand out links.
"""

import hashlib
import logging
import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fielding.errors import FieldingError
from fielding.models import WebLink
from survey.models import Stratum, Wave

logger = logging.getLogger(__name__)

MAX_LINKS_AT_ONCE = 10_000


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def weblinks_create(*, wave: Wave, n: int, stratum: Stratum | None = None) -> list[str]:
    """Make ``n`` links for ``wave`` (optionally tied to a stratum); returns the tokens."""
    if not 1 <= n <= MAX_LINKS_AT_ONCE:
        raise FieldingError(
            _("Make between 1 and %(max)s links at a time.")
            % {"max": MAX_LINKS_AT_ONCE}
        )
    if wave.is_closed:
        raise FieldingError(_("Wave “%(wave)s” is closed.") % {"wave": wave.name})
    if Wave.WEB not in (wave.modes or []):
        raise FieldingError(
            _(
                "Wave “%(wave)s” is not fielded on the web: add the web mode to it first."
            )
            % {"wave": wave.name}
        )
    if stratum is not None and stratum.wave_id != wave.pk:
        raise FieldingError(_("That stratum belongs to another wave."))

    tokens = [secrets.token_urlsafe(18) for _unused in range(n)]
    with transaction.atomic():
        WebLink.objects.bulk_create(
            WebLink(wave=wave, stratum=stratum, token_hash=token_hash(t))
            for t in tokens
        )
    logger.info("Made %s web links for wave %s", n, wave.pk)
    return tokens


def weblink_find(token: str) -> WebLink | None:
    return (
        WebLink.objects.select_related("wave__survey", "respondent")
        .filter(token_hash=token_hash(token))
        .first()
    )


def weblink_use(*, link: WebLink) -> None:
    WebLink.objects.filter(pk=link.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    )
