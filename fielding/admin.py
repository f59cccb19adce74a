from django.contrib import admin

from fielding.models import Assignment, Respondent, Response
from survey.admin import ClosedWaveReadOnly
from survey.models import Wave


class AssignmentInline(ClosedWaveReadOnly, admin.TabularInline):
    model = Assignment
    extra = 0
    fields = ["experiment", "arm", "item_order", "source"]
    readonly_fields = ["arm", "item_order", "source"]

    def has_add_permission(self, request, obj=None):
        """Arms come from allocation, import or simulation, never typed in."""
        return False

    def wave_of(self, obj):
        return obj.wave if obj is not None else None


@admin.register(Respondent)
class RespondentAdmin(ClosedWaveReadOnly, admin.ModelAdmin):
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
    search_fields = ["external_id"]
    readonly_fields = ["client_uuid", "received_at"]
    inlines = [AssignmentInline]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "wave":
            kwargs["queryset"] = Wave.objects.open_for_changes()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Response)
class ResponseAdmin(ClosedWaveReadOnly, admin.ModelAdmin):
    """Counts can be corrected here; the arm and item order never change.

    Responses are added by interviews, imports and simulation, never here.
    """

    list_display = ["assignment", "status", "count", "second_count", "source"]
    list_filter = ["status", "assignment__respondent__wave"]
    readonly_fields = ["assignment"]

    def has_add_permission(self, request):
        return False

    def wave_of(self, obj):
        return obj.assignment.respondent.wave

    @admin.display(description="source")
    def source(self, obj):
        return obj.assignment.get_source_display()
