"""``Authorization: Token <token>`` for tablets and personal tokens, checked by hash."""

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from fielding.models import AccessToken
from fielding.tokens import token_find


class HashedTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                _("Send the header as “Authorization: Token <token>”.")
            )
        try:
            raw = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(
                _("The token is not valid text.")
            ) from None

        token = token_find(raw)
        if token is None:
            raise exceptions.AuthenticationFailed(
                _("This token is not known. Register the tablet again.")
            )
        if token.is_revoked:
            raise exceptions.AuthenticationFailed(
                _(
                    "This tablet's token was revoked by an administrator. Ask for a new "
                    "registration; interviews still on the tablet can be saved to a file."
                )
            )
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("This account is switched off."))
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class HashedTokenScheme(OpenApiAuthenticationExtension):
    """Describes the token header in the OpenAPI schema."""

    target_class = "fielding.api.authentication.HashedTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "“Token <token>”: a tablet's or a personal token.",
        }
