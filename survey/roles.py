"""The three roles, as Django groups, and the checks views use.

A superuser counts as an administrator. Analysts read and estimate; interviewers
collect; only administrators change surveys, waves and data.
"""

from functools import wraps

from django.contrib.auth.models import Group, Permission
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

ADMINISTRATOR = "administrator"
INTERVIEWER = "interviewer"
ANALYST = "analyst"
ROLES = (ADMINISTRATOR, INTERVIEWER, ANALYST)

# Django permissions by role. Interviewers and analysts work through the project's
# pages, which check roles themselves; only administrators use the admin.
ROLE_PERMISSIONS = {
    ADMINISTRATOR: {"survey", "fielding", "analysis", "auth"},
    ANALYST: set(),
    INTERVIEWER: set(),
}


def user_roles(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_listexp_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        if user.is_superuser:
            cached.add(ADMINISTRATOR)
        user._listexp_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def role_required(*roles: str):
    """Let a view through only for users holding one of ``roles``."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, *roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def groups_ensure() -> dict[str, Group]:
    """The three role groups; administrators get every permission of the project's apps
    and of user accounts (they register interviewers and analysts)."""
    groups = {}
    for role, app_labels in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        if app_labels:
            group.permissions.set(
                Permission.objects.filter(content_type__app_label__in=app_labels)
            )
        groups[role] = group
    return groups


def groups_after_migrate(sender, **kwargs):
    """Keep the role groups current after every migrate (sent once per app, so the
    last call sees every app's permissions)."""
    groups_ensure()
