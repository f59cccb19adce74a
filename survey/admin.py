"""Django admin for administrators: surveys, cards, questions, places and waves.

A closed wave and everything recorded in it shows read-only here, and the models refuse
any save or delete of them whatever the admin allows. Every add, change and delete made
in the admin is written to the audit log, which the admin shows read-only; so are the
login lockouts, which an administrator lifts by deleting them.
"""

from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import transaction
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from fielding.models import AllocationSlot
from survey.audit import audit_record
from survey.errors import SurveyError
from survey.models import (
    AuditEvent,
    CardText,
    Choice,
    CovariateQuestion,
    Item,
    ItemList,
    ListExperiment,
    Recode,
    Region,
    Settlement,
    Stratum,
    Survey,
    Wave,
    WaveGuarded,
)
from survey.roles import ADMINISTRATOR, has_role
from survey.services import wave_close, wave_open


class AuditedAdmin:
    """Admin mixin: every add, change and delete made here goes to the audit log.

    A change names the fields changed, never their values. Inline rows are recorded
    one by one. A deletion is recorded before the row goes, in the same transaction, so
    a refused deletion leaves no record.
    """

    def audit_name(self, obj) -> str:
        """How the log names a row: rows recorded in a wave by their wave (their own
        names can hold a respondent's id or count, which the log must not repeat)."""
        if isinstance(obj, WaveGuarded):
            return f"in wave {obj.guarded_wave().pk}"
        return f"“{obj}”"

    def audit(self, request, action: str, obj, changed=(), note: str = "") -> None:
        description = f"admin: {self.audit_name(obj)}"
        if changed:
            description += f"; changed {', '.join(changed)}"
        if note:
            description += f"; {note}"
        audit_record(request.user, action, obj, description)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            self.audit(request, AuditEvent.CREATED, obj)
        elif form.changed_data:
            self.audit(request, AuditEvent.EDITED, obj, form.changed_data)

    def save_formset(self, request, form, formset, change):
        for doomed in formset.deleted_forms:
            if doomed.instance.pk is not None:
                self.audit(request, AuditEvent.DELETED, doomed.instance)
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            self.audit(request, AuditEvent.CREATED, obj)
        for obj, changed in formset.changed_objects:
            self.audit(request, AuditEvent.EDITED, obj, changed)

    def delete_model(self, request, obj):
        with transaction.atomic():
            self.audit(request, AuditEvent.DELETED, obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                self.audit(request, AuditEvent.DELETED, obj)
            super().delete_queryset(request, queryset)


class ClosedWaveReadOnly:
    """Admin mixin: no change or delete once the object's wave is closed."""

    def wave_of(self, obj):
        return getattr(obj, "wave", None)

    def closed(self, obj) -> bool:
        wave = self.wave_of(obj) if obj is not None else None
        return wave is not None and wave.is_closed

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not self.closed(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not self.closed(obj)

    def has_add_permission(self, request, obj=None):
        args = (
            (request, obj)
            if isinstance(self, admin.options.InlineModelAdmin)
            else (request,)
        )
        return super().has_add_permission(*args) and not self.closed(obj)


class OwnRowsFormSet(BaseInlineFormSet):
    """Inline rows whose select lists offer only the parent's own rows.

    A select over a whole table (every item of every list experiment) made each
    change page as slow and as heavy as the largest experiment stored, and let a row
    point at another parent's item. `own_querysets` gives each such field the
    parent's rows it may take; they are read once for all the forms of the formset,
    and a row of another parent, posted anyway, is refused as an invalid choice.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.restricted = self.own_querysets()
        self.shared_choices = {}

    def own_querysets(self) -> dict:
        """The parent's rows by field name; none restricted by default."""
        return {}

    def add_fields(self, form, index):
        super().add_fields(form, index)
        for name, queryset in self.restricted.items():
            field = form.fields.get(name)
            if field is None:
                continue
            field.queryset = queryset
            if name not in self.shared_choices:
                self.shared_choices[name] = list(field.choices)
            field.choices = self.shared_choices[name]


class ExperimentRowsFormSet(OwnRowsFormSet):
    """An experiment's items and texts: the lists and items they name are the
    experiment's own, and there are none before the experiment is saved."""

    def own_querysets(self) -> dict:
        experiment = self.instance.pk
        if experiment is None:
            return {"item": Item.objects.none(), "item_list": ItemList.objects.none()}
        return {
            "item": Item.objects.filter(experiment=experiment),
            "item_list": ItemList.objects.filter(experiment=experiment).select_related(
                "experiment__survey"
            ),
        }


class ItemListInline(admin.TabularInline):
    model = ItemList
    extra = 0


class ItemInline(admin.TabularInline):
    model = Item
    extra = 0
    fields = ["code", "kind", "item_list", "position"]
    formset = ExperimentRowsFormSet


class CardTextInline(admin.TabularInline):
    model = CardText
    extra = 0
    fields = ["item", "language", "text", "version", "needs_review"]
    readonly_fields = ["version"]
    formset = ExperimentRowsFormSet

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("item")


@admin.register(ListExperiment)
class ListExperimentAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["name", "survey", "code", "design", "texts_to_review"]
    list_select_related = ["survey"]
    inlines = [ItemListInline, ItemInline, CardTextInline]

    @admin.display(description=_("translations awaiting review"))
    def texts_to_review(self, obj):
        return obj.texts.filter(needs_review=True).count()


class ChoiceInline(admin.TabularInline):
    model = Choice
    extra = 0


@admin.register(CovariateQuestion)
class CovariateQuestionAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["code", "survey", "kind", "position", "needs_review"]
    list_filter = ["survey"]
    inlines = [ChoiceInline]


@admin.register(Recode)
class RecodeAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["name", "survey", "question", "mapping"]


class ExperimentInline(admin.TabularInline):
    model = ListExperiment
    extra = 0
    fields = ["code", "name", "design", "position"]
    show_change_link = True


@admin.register(Survey)
class SurveyAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["name", "code", "languages", "created_at"]
    inlines = [ExperimentInline]


@admin.register(Region)
class RegionAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["name", "code"]


@admin.register(Settlement)
class SettlementAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["name", "code", "region", "kind", "official_code"]
    list_filter = ["region", "kind"]
    search_fields = ["name", "code"]


class StratumInline(ClosedWaveReadOnly, admin.TabularInline):
    model = Stratum
    extra = 0
    # Places are searched for, not listed: a country has thousands.
    autocomplete_fields = ["settlements"]
    fields = [
        "code",
        "name",
        "settlements",
        "is_rest",
        "quota",
        "design_weight",
        "position",
    ]

    def wave_of(self, obj):
        return obj

    def get_readonly_fields(self, request, obj=None):
        """Codes seed the allocation streams: fixed once the wave opens."""
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status != Wave.DRAFT:
            fields.append("code")
        return fields


@admin.register(Wave)
class WaveAdmin(AuditedAdmin, ClosedWaveReadOnly, admin.ModelAdmin):
    list_display = ["name", "survey", "status", "starts_on", "ends_on", "opened_at"]
    list_filter = ["status", "survey"]
    readonly_fields = ["status", "seed", "opened_at", "closed_at", "frozen_cards"]
    filter_horizontal = ["interviewers"]
    inlines = [StratumInline]
    actions = ["open_waves", "close_waves"]

    def wave_of(self, obj):
        return obj

    def get_readonly_fields(self, request, obj=None):
        """The plan and cluster that made a wave's sequences are fixed once it opens."""
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status != Wave.DRAFT:
            fields += ["plan", "cluster"]
        return fields

    def run_action(self, request, queryset, service, done):
        for wave in queryset:
            try:
                service(wave=wave, user=request.user)
            except SurveyError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(request, done % {"wave": wave.name}, messages.SUCCESS)

    @admin.action(
        description=_("Open selected waves for fieldwork (freezes their cards)")
    )
    def open_waves(self, request, queryset):
        self.run_action(request, queryset, wave_open, _("Opened “%(wave)s”."))

    @admin.action(description=_("Close selected waves (they become read-only)"))
    def close_waves(self, request, queryset):
        held = self.slots_held(queryset)
        if held and not request.POST.get("confirmed"):
            context = {
                **self.admin_site.each_context(request),
                "title": _("Close waves while tablets still hold slots?"),
                "opts": self.model._meta,
                "waves": queryset,
                "held": held,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(
                request, "admin/survey/wave/close_confirm.html", context
            )
        self.run_action(request, queryset, wave_close, _("Closed “%(wave)s”."))

    def slots_held(self, queryset) -> list[tuple[Wave, list[dict]]]:
        """Per open wave, the tablets holding reserved slots they have not used."""
        rows = (
            AllocationSlot.objects.filter(
                wave__in=queryset, status=AllocationSlot.RESERVED
            )
            .exclude(wave__status=Wave.CLOSED)
            .values("wave", "device", "device__label", "device__user__username")
            .annotate(n=Count("id"))
            .order_by("wave", "device__label", "device")
        )
        devices = {}
        for row in rows:
            devices.setdefault(row["wave"], []).append(row)
        return [(wave, devices[wave.pk]) for wave in queryset if wave.pk in devices]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit log, read-only for everyone: rows are only ever added, by the code."""

    list_display = [
        "at",
        "username",
        "action",
        "object_type",
        "object_id",
        "description",
    ]
    list_filter = ["action", "object_type"]
    search_fields = ["username", "object_type", "object_id", "description"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AccessAttempt)
class LoginLockoutAdmin(AuditedAdmin, admin.ModelAdmin):
    """Failed logins, per user name and address. Deleting a row lifts its lockout
    (as ``python manage.py axes_reset_username NAME`` does)."""

    list_display = ["username", "ip_address", "failures_since_start", "attempt_time"]
    search_fields = ["username", "ip_address"]
    fields = ["username", "ip_address", "failures_since_start", "attempt_time"]
    readonly_fields = fields

    def audit_name(self, obj) -> str:
        return f"lockout of “{obj.username}” from {obj.ip_address} lifted"

    def has_module_permission(self, request):
        return has_role(request.user, ADMINISTRATOR)

    def has_view_permission(self, request, obj=None):
        return has_role(request.user, ADMINISTRATOR)

    def has_delete_permission(self, request, obj=None):
        return has_role(request.user, ADMINISTRATOR)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
