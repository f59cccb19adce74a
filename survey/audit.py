"""The audit log: one row per opening, closing, edit, export or deletion.

Callers say what happened in plain words; the row keeps the user name as it was, so
the record stays readable after an account is removed.
"""

import logging

from survey.models import AuditEvent

logger = logging.getLogger(__name__)


def audit_record(user, action: str, target, description: str = "") -> AuditEvent:
    """Add one row for ``user`` doing ``action`` to ``target`` (a model instance, or
    a plain label for what has no row, such as a whole wave's microdata)."""
    if hasattr(target, "_meta"):
        object_type = target._meta.label_lower
        object_id = str(target.pk or "")
    else:
        object_type, object_id = str(target), ""
    authenticated = user is not None and getattr(user, "is_authenticated", False)
    event = AuditEvent.objects.create(
        user=user if authenticated else None,
        username=user.get_username() if authenticated else "",
        action=action,
        object_type=object_type[:60],
        object_id=object_id[:60],
        description=description[:500],
    )
    logger.info(
        "Audit: %s %s %s %s %s",
        event.username or "(system)",
        action,
        object_type,
        object_id,
        description,
    )
    return event
