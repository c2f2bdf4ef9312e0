from django.contrib import admin

from observatory.failover.models import AuditEntry, Decision, FailoverPolicy, GroupState, HealthTransition, RegionHealth


@admin.register(FailoverPolicy)
class FailoverPolicyAdmin(admin.ModelAdmin):
    list_display = ("group", "mode", "candidates", "cooldown_seconds", "command_ttl_seconds")


@admin.register(GroupState)
class GroupStateAdmin(admin.ModelAdmin):
    list_display = ("group", "active_region", "epoch", "last_failover_at")
    readonly_fields = ("epoch", "last_assessment")


@admin.register(RegionHealth)
class RegionHealthAdmin(admin.ModelAdmin):
    list_display = ("region", "state", "since", "kinds", "probe_failures", "probe_successes", "evaluated_at")
    readonly_fields = [f.name for f in RegionHealth._meta.fields]


@admin.register(HealthTransition)
class HealthTransitionAdmin(admin.ModelAdmin):
    list_display = ("region", "from_state", "to_state", "at", "kinds")
    list_filter = ("region", "to_state")


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = ("id", "group", "epoch", "source", "target", "state", "mode", "manual", "created_at")
    list_filter = ("state", "group")
    readonly_fields = [f.name for f in Decision._meta.fields]

    def has_add_permission(self, request):
        return False  # decisions come from the decider or the API (manual failover)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "actor", "action", "subject", "reason")
    readonly_fields = [f.name for f in AuditEntry._meta.fields]
