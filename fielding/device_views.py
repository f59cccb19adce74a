"""Administrator pages for tablets: register one, revoke it, release its unused slots.

A tablet's token is shown once, on the page that registers it, as text and as a QR
code of the enrolment address; only its hash is stored. The token travels in the
address's fragment, which the browser never sends to a server.
"""

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache

from fielding.errors import FieldingError
from fielding.models import AccessToken, AllocationSlot, HeldSubmission
from fielding.tokens import slots_release, token_issue, token_revoke
from survey.roles import ADMINISTRATOR, INTERVIEWER, role_required


class DeviceForm(forms.Form):
    interviewer = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(),
        label=gettext_lazy("Interviewer"),
        help_text=gettext_lazy("The tablet's interviews are recorded as theirs."),
    )
    label = forms.CharField(
        max_length=100,
        label=gettext_lazy("Tablet name"),
        help_text=gettext_lazy("What is written on the tablet, such as “Tablet 7”."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["interviewer"].queryset = (
            get_user_model()
            .objects.filter(groups__name=INTERVIEWER, is_active=True)
            .order_by("username")
        )


def tokens_listed():
    """Every token, newest first, with how many reserved slots it has not used."""
    unused = Q(slots__status=AllocationSlot.RESERVED)
    return (
        AccessToken.objects.select_related("user")
        .annotate(unused_slots=Count("slots", filter=unused))
        .order_by("-created_at")
    )


ISSUED_KEY = "fielding-issued-token"


@role_required(ADMINISTRATOR)
@never_cache
def devices(request):
    """The tablets, and registration. A new token is shown on the page the browser is
    sent to after registering, once: a reload shows the list, never a second token."""
    issued = request.session.pop(ISSUED_KEY, None) if request.method == "GET" else None
    if issued:
        token = AccessToken.objects.filter(pk=issued["token_id"]).first()
        if token is not None:
            return device_issued(request, token, issued["raw"])

    form = DeviceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = token_issue(
                user=form.cleaned_data["interviewer"],
                label=form.cleaned_data["label"],
                by=request.user,
            )
        except FieldingError as error:
            form.add_error(None, str(error))
        else:
            request.session[ISSUED_KEY] = {"token_id": token.pk, "raw": raw}
            return redirect("fielding:devices")

    context = {
        "form": form,
        "tokens": tokens_listed(),
        "held_open": HeldSubmission.objects.filter(
            resolution=HeldSubmission.OPEN
        ).count(),
    }
    return render(request, "fielding/devices/list.html", context)


def device_issued(request, token: AccessToken, raw: str):
    """The one page that shows the raw token; not cached anywhere."""
    url = request.build_absolute_uri(reverse("fielding:tablet")) + "#token=" + raw
    # segno draws the SVG from the address alone; nothing in it comes from the user.
    qr = mark_safe(segno.make(url, micro=False).svg_inline(scale=5))
    context = {"token": token, "raw": raw, "url": url, "qr": qr}
    return render(request, "fielding/devices/issued.html", context)


@role_required(ADMINISTRATOR)
def device_revoke(request, token_id: int):
    token = get_object_or_404(tokens_listed(), pk=token_id)
    if request.method != "POST":
        return render(
            request, "fielding/devices/confirm.html", {"token": token, "do": "revoke"}
        )

    if token.is_revoked:
        messages.info(
            request,
            _("“%(label)s” was revoked already.") % {"label": token.label},
        )
    else:
        token_revoke(token=token)
        messages.success(
            request,
            _("“%(label)s” is revoked: the server refuses its next request.")
            % {"label": token.label},
        )
    return redirect("fielding:devices")


@role_required(ADMINISTRATOR)
def device_release(request, token_id: int):
    token = get_object_or_404(tokens_listed(), pk=token_id)
    if request.method != "POST":
        return render(
            request, "fielding/devices/confirm.html", {"token": token, "do": "release"}
        )

    released = slots_release(token=token)
    messages.success(
        request,
        ngettext(
            "Released %(n)s unused slot of “%(label)s”; it will never be handed "
            "out again.",
            "Released %(n)s unused slots of “%(label)s”; they will never be handed "
            "out again.",
            released,
        )
        % {"n": released, "label": token.label},
    )
    return redirect("fielding:devices")
