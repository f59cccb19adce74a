from rest_framework.permissions import BasePermission

from fielding.models import AccessToken
from survey.roles import ADMINISTRATOR, ANALYST, INTERVIEWER, has_role


class IsTablet(BasePermission):
    """A registered tablet: the request carries a device token."""

    message = "This needs a tablet's token (Authorization: Token <token>)."

    def has_permission(self, request, view):
        token = request.auth
        return isinstance(token, AccessToken) and token.kind == AccessToken.DEVICE


class IsInterviewer(BasePermission):
    def has_permission(self, request, view):
        return has_role(request.user, INTERVIEWER, ADMINISTRATOR)


class IsAnalyst(BasePermission):
    def has_permission(self, request, view):
        return has_role(request.user, ANALYST, ADMINISTRATOR)
