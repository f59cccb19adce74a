import json

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from fielding.corrections import held_accept, held_dismiss, held_stored_version
from fielding.errors import FieldingError
from fielding.models import (
    AccessToken,
    AllocationSlot,
    Assignment,
    HeldSubmission,
    Respondent,
    Response,
)
from fielding.tokens import slots_release, token_revoke
from survey.admin import AuditedAdmin, ClosedWaveReadOnly, OwnRowsFormSet
from survey.models import AuditEvent, ListExperiment, Stratum, Wave


class AssignmentFormSet(OwnRowsFormSet):
    """A respondent's assignments name a list experiment of the respondent's own
    survey."""

    def own_querysets(self) -> dict:
        wave = self.instance.wave_id
        if wave is None:
            return {"experiment": ListExperiment.objects.none()}
        experiments = ListExperiment.objects.filter(survey__waves=wave)
        return {"experiment": experiments.select_related("survey")}


class AssignmentInline(ClosedWaveReadOnly, admin.TabularInline):
    model = Assignment
    extra = 0
    fields = ["experiment", "arm", "item_order", "source"]
    readonly_fields = ["arm", "item_order", "source"]
    formset = AssignmentFormSet

    def has_add_permission(self, request, obj=None):
        """Arms come from allocation, import or simulation, never typed in."""
        return False

    def wave_of(self, obj):
        return obj.wave if obj is not None else None


@admin.register(Respondent)
class RespondentAdmin(AuditedAdmin, ClosedWaveReadOnly, admin.ModelAdmin):
    list_display = [
        "__str__",
        "wave",
        "place",
        "stratum",
        "mode",
        "interviewer",
        "received_at",
    ]
    list_filter = ["wave", "mode"]
    list_select_related = ["wave", "place", "stratum", "interviewer"]
    search_fields = ["external_id"]
    readonly_fields = ["client_uuid", "received_at"]
    # Places and users are searched for, not listed: there can be thousands.
    autocomplete_fields = ["place", "interviewer"]
    inlines = [AssignmentInline]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "wave":
            kwargs["queryset"] = Wave.objects.open_for_changes()
        if db_field.name == "stratum":
            kwargs["queryset"] = Stratum.objects.filter(
                wave__in=Wave.objects.open_for_changes()
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, **kwargs):
        """A stored respondent's stratum is one of its own wave's (as the model
        checks), not one of every wave's."""
        form = super().get_form(request, obj, **kwargs)
        field = form.base_fields.get("stratum")
        if obj is not None and field is not None:
            field.queryset = Stratum.objects.filter(wave=obj.wave_id)
        return form


@admin.register(Response)
class ResponseAdmin(AuditedAdmin, ClosedWaveReadOnly, admin.ModelAdmin):
    """Counts can be corrected here; the arm and item order never change.

    Responses are added by interviews, imports and simulation, never here.
    """

    list_display = ["assignment", "status", "count", "second_count", "source"]
    list_filter = ["status", "assignment__respondent__wave"]
    list_select_related = ["assignment__respondent"]
    readonly_fields = ["assignment"]

    def has_add_permission(self, request):
        return False

    def wave_of(self, obj):
        return obj.assignment.respondent.wave

    @admin.display(description="source")
    def source(self, obj):
        return obj.assignment.get_source_display()


@admin.register(AccessToken)
class AccessTokenAdmin(AuditedAdmin, admin.ModelAdmin):
    """Tokens are listed, renamed, revoked and their unused slots released here.

    A tablet is registered on the Tablets page, the one place its token is shown. A
    token that reserved slots cannot be deleted (the slots keep it): revoke it instead.
    """

    list_display = [
        "label",
        "user",
        "kind",
        "created_at",
        "last_used_at",
        "revoked_at",
        "unused_slots",
    ]
    list_filter = ["kind", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["label", "user__username"]
    fields = [
        "label",
        "user",
        "kind",
        "token_hash",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    ]
    readonly_fields = [
        "user",
        "kind",
        "token_hash",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke_tokens", "release_slots"]

    def get_queryset(self, request):
        unused = Q(slots__status=AllocationSlot.RESERVED)
        return (
            super()
            .get_queryset(request)
            .select_related("user")
            .annotate(unused=Count("slots", filter=unused))
        )

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("reserved, unused slots"), ordering="unused")
    def unused_slots(self, obj):
        return obj.unused

    @admin.action(description=_("Revoke selected tokens"))
    def revoke_tokens(self, request, queryset):
        for token in queryset:
            token_revoke(token=token)
            self.audit(request, AuditEvent.EDITED, token, note="revoked")
        n = len(queryset)
        self.message_user(
            request,
            ngettext("Revoked %(n)s token.", "Revoked %(n)s tokens.", n) % {"n": n},
            messages.SUCCESS,
        )

    @admin.action(description=_("Release the unused slots of selected tokens"))
    def release_slots(self, request, queryset):
        released = 0
        for token in queryset:
            n = slots_release(token=token)
            if n:
                self.audit(
                    request, AuditEvent.EDITED, token, note=f"released {n} unused slots"
                )
            released += n
        self.message_user(
            request,
            ngettext(
                "Released %(n)s unused slot; it will never be handed out again.",
                "Released %(n)s unused slots; they will never be handed out again.",
                released,
            )
            % {"n": released},
            messages.SUCCESS,
        )


def pretty_json(value) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)


@admin.register(HeldSubmission)
class HeldSubmissionAdmin(AuditedAdmin, admin.ModelAdmin):
    """Responses the sync did not store, for an administrator to decide on.

    Nothing here is edited or deleted: a conflict is accepted as a correction or
    dismissed, with the decision recorded on the row.
    """

    list_display = ["kind", "wave", "uuid", "device", "received_at", "resolution"]
    list_filter = ["resolution", "kind", "wave"]
    search_fields = ["uuid", "token__label"]
    fields = [
        "kind",
        "wave",
        "uuid",
        "device",
        "received_at",
        "resolution",
        "resolved_by",
        "resolved_at",
        "sent_version",
        "stored_version",
        "previous_version",
    ]
    readonly_fields = fields
    actions = ["accept", "dismiss"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("wave", "token")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_resolve_permission(self, request):
        return request.user.has_perm("fielding.change_heldsubmission")

    @admin.display(description=_("tablet"), ordering="token__label")
    def device(self, obj):
        return obj.token.label if obj.token else "—"

    @admin.display(description=_("version sent by the tablet"))
    def sent_version(self, obj):
        return pretty_json(obj.payload)

    @admin.display(description=_("version stored now"))
    def stored_version(self, obj):
        stored = held_stored_version(obj)
        return pretty_json(stored) if stored is not None else "—"

    @admin.display(description=_("version stored before the correction"))
    def previous_version(self, obj):
        return pretty_json(obj.previous) if obj.previous is not None else "—"

    @admin.action(
        description=_("Accept as a correction (conflicts only)"),
        permissions=["resolve"],
    )
    def accept(self, request, queryset):
        done = _("%(uuid)s: accepted as a correction.")
        self.decide(request, queryset, held_accept, done)

    @admin.action(description=_("Dismiss"), permissions=["resolve"])
    def dismiss(self, request, queryset):
        self.decide(request, queryset, held_dismiss, _("%(uuid)s: dismissed."))

    def decide(self, request, queryset, service, done):
        for held in queryset:
            try:
                decided = service(held=held, by=request.user)
            except FieldingError as error:
                self.message_user(request, f"{held.uuid}: {error}", messages.ERROR)
            else:
                self.audit(request, AuditEvent.EDITED, decided, note=decided.resolution)
                self.message_user(request, done % {"uuid": held.uuid}, messages.SUCCESS)
