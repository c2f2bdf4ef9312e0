from django.contrib import admin

from observatory.regions.models import Region, RegionToken


class RegionTokenInline(admin.TabularInline):
    model = RegionToken
    fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # tokens are issued by `manage.py issue_token`, shown once


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("name", "group", "role", "rpo_seconds", "probe_url", "updated_at")
    list_filter = ("group", "role")
    search_fields = ("name", "group")
    inlines = [RegionTokenInline]
