from django.contrib import admin

from observatory.delivery.models import Delivery, DeliveryAttempt, Endpoint


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ("name", "url", "format", "events", "enabled", "disabled_reason")
    exclude = ("secret",)  # set through `manage.py apply`, never shown


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("number", "at", "status_code", "duration_ms", "outcome", "error")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("webhook_id", "event_type", "endpoint", "state", "attempts", "created_at", "expires_at")
    list_filter = ("state", "event_type", "endpoint")
    readonly_fields = [f.name for f in Delivery._meta.fields]
    inlines = [AttemptInline]

    def has_add_permission(self, request):
        return False
