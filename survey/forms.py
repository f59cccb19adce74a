from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    """Django's login form with this project's own wording, translated in its catalogues
    (Django's own Kazakh catalogue lacks some of these strings)."""

    username = forms.CharField(label=_("User name"), max_length=150)
    password = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput
    )

    error_messages = {
        "invalid_login": _(
            "The user name or password is not right. Both are case-sensitive."
        ),
        "inactive": _("This account is switched off. Ask an administrator."),
    }
