from django.contrib import admin

from analysis.models import EstimateJob
from survey.admin import AuditedAdmin


@admin.register(EstimateJob)
class EstimateJobAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["pk", "wave", "status", "progress", "created_by", "created_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in EstimateJob._meta.fields]

    def has_add_permission(self, request):
        return False
