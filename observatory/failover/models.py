import uuid

from django.db import models
from django.db.models import Q

from observatory.analytics import failover as gates
from observatory.analytics import health
from observatory.regions.models import Region


class FailoverPolicy(models.Model):
    group = models.CharField(max_length=63, unique=True)
    mode = models.CharField(max_length=16, choices=[(m, m) for m in gates.MODES], default=gates.APPROVE)
    candidates = models.JSONField(default=list, help_text="target regions in order of preference")
    cooldown_seconds = models.PositiveIntegerField(default=3600)
    command_ttl_seconds = models.PositiveIntegerField(default=300, help_text="a command not delivered by then expires")
    notify = models.JSONField(default=list, help_text="endpoint names; empty: every endpoint subscribed to failover.*")

    class Meta:
        verbose_name_plural = "failover policies"

    def __str__(self):
        return f"{self.group} ({self.mode})"


class GroupState(models.Model):
    """Which region of a group serves traffic, and the group's fencing epoch."""

    group = models.CharField(max_length=63, unique=True)
    active_region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    epoch = models.BigIntegerField(default=0)
    last_failover_at = models.DateTimeField(null=True, blank=True)
    last_assessment = models.JSONField(default=dict, blank=True, help_text="the latest gate evaluation, for the console")


class RegionHealth(models.Model):
    region = models.OneToOneField(Region, on_delete=models.CASCADE, primary_key=True, related_name="health")
    state = models.CharField(max_length=16, default=health.UNKNOWN)
    since = models.DateTimeField(auto_now_add=True)
    clean_streak = models.PositiveIntegerField(default=0)
    kinds = models.JSONField(default=list)
    evidence = models.JSONField(default=dict)
    evaluated_at = models.DateTimeField(null=True)
    probe_failures = models.PositiveIntegerField(default=0)
    probe_successes = models.PositiveIntegerField(default=0)
    next_probe_at = models.DateTimeField(null=True)
    last_probe_at = models.DateTimeField(null=True)


class HealthTransition(models.Model):
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=16)
    to_state = models.CharField(max_length=16)
    at = models.DateTimeField()
    kinds = models.JSONField(default=list)
    evidence = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["region", "-at"])]


class ProbeResult(models.Model):
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="probe_results")
    at = models.DateTimeField()
    ok = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True)
    duration_ms = models.FloatField()
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["region", "-at"])]


class Decision(models.Model):
    class State(models.TextChoices):
        PROPOSED = "proposed"
        AWAITING_APPROVAL = "awaiting_approval"
        APPROVED = "approved"
        DISPATCHED = "dispatched"
        COMPLETED = "completed"
        FAILED = "failed"
        EXPIRED = "expired"
        ABORTED = "aborted"
        DRY_RUN = "dry_run"

    OPEN = (State.PROPOSED, State.AWAITING_APPROVAL, State.APPROVED, State.DISPATCHED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    group = models.CharField(max_length=63)
    epoch = models.BigIntegerField()
    manual = models.BooleanField(default=False)
    source = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    target = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=24, choices=State.choices)
    mode = models.CharField(max_length=16)
    reason = models.TextField()
    gates = models.JSONField(default=list)
    evidence = models.JSONField(default=dict)
    replication = models.JSONField(default=dict)
    accept_data_loss = models.BooleanField(default=False)
    requested_by = models.CharField(max_length=150, blank=True)
    approvals = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField()
    outcome_detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("operate_failover", "Can approve, abort and request failovers")]
        constraints = [
            models.UniqueConstraint(fields=["group", "epoch"], name="failover_decision_epoch"),
            # At most one open decision per group: racing deciders cannot both create one.
            models.UniqueConstraint(fields=["group"], condition=Q(state__in=["proposed", "awaiting_approval",
                                                                           "approved", "dispatched"]),
                                    name="failover_one_open_decision"),
        ]


class Lease(models.Model):
    """A named lease held by one worker at a time (the decider)."""

    name = models.CharField(max_length=63, primary_key=True)
    holder = models.CharField(max_length=100)
    expires_at = models.DateTimeField()


class AuditEntry(models.Model):
    at = models.DateTimeField(auto_now_add=True)
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    subject = models.CharField(max_length=255)
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "audit entries"
