from django.contrib import admin

from dashboards.models import AuditRecord, RegionAccess


@admin.register(RegionAccess)
class RegionAccessAdmin(admin.ModelAdmin):
    list_display = ("region", "user", "group")
    list_filter = ("region", "group")


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is written by the dashboards, never edited."""

    list_display = ("at", "actor", "action", "subject", "allowed")
    list_filter = ("action", "allowed")
    search_fields = ("actor", "subject")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
