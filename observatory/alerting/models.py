from django.db import models

from observatory.analytics import alerts as lifecycle
from observatory.delivery.models import Endpoint


class Alert(models.Model):
    """One alert, identified by the fingerprint of its labels. ``version`` makes every
    state change a compare-and-set, so any number of evaluators is safe."""

    STATES = [(s, s) for s in (lifecycle.INACTIVE, lifecycle.PENDING, lifecycle.FIRING, lifecycle.RESOLVED)]

    fingerprint = models.CharField(max_length=16, unique=True)
    labels = models.JSONField()
    annotations = models.JSONField(default=dict)
    state = models.CharField(max_length=16, choices=STATES, default=lifecycle.INACTIVE)
    active_since = models.DateTimeField(null=True)
    firing_since = models.DateTimeField(null=True)
    last_true_at = models.DateTimeField(null=True)
    resolved_at = models.DateTimeField(null=True)
    for_seconds = models.PositiveIntegerField(default=0)
    keep_firing_for_seconds = models.PositiveIntegerField(default=0)
    acknowledged_by = models.CharField(max_length=150, blank=True)
    acknowledged_at = models.DateTimeField(null=True)
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["state"])]

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


class AlertGroup(models.Model):
    """Alerts of one route sharing the route's group_by labels, and when the group last notified."""

    key = models.CharField(max_length=64, unique=True, help_text="route + group label values, hashed")
    receiver = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="+")
    group_labels = models.JSONField()
    created_at = models.DateTimeField()
    last_sent_at = models.DateTimeField(null=True)
    last_digest = models.CharField(max_length=16, blank=True)
    sent_resolved = models.JSONField(default=list, help_text="fingerprints whose resolution was already told")


class Silence(models.Model):
    matchers = models.JSONField(help_text='["name=\\"value\\"", "name=~\\"regex\\""]')
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    comment = models.TextField()
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    expire_when_unmatched = models.BooleanField(default=False)
    expired_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at"]


class SilenceEvent(models.Model):
    """Audit trail of silences: created, expired (by whom, or automatically)."""

    silence = models.ForeignKey(Silence, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=32)
    details = models.JSONField(default=dict)


class Route(models.Model):
    """A notification route from `manage.py apply` (alerting.routes), tried in position order."""

    position = models.PositiveIntegerField(unique=True)
    matchers = models.JSONField(default=list, help_text='["severity=\\"page\\""]; none matches every alert')
    receiver = models.ForeignKey(Endpoint, on_delete=models.PROTECT, related_name="+")
    group_by = models.JSONField(default=list)
    group_wait_seconds = models.PositiveIntegerField(null=True, help_text="null: ALERT_GROUP_WAIT_SECONDS")
    group_interval_seconds = models.PositiveIntegerField(null=True, help_text="null: ALERT_GROUP_INTERVAL_SECONDS")
    repeat_interval_seconds = models.PositiveIntegerField(null=True, help_text="null: ALERT_REPEAT_INTERVAL_SECONDS")
    continue_matching = models.BooleanField(default=False, help_text="after a match, try the next routes too")

    class Meta:
        ordering = ["position"]


class InhibitRule(models.Model):
    """A configured inhibition (alerting.inhibit_rules), applied besides the built-in ones."""

    position = models.PositiveIntegerField(unique=True)
    source = models.JSONField()
    target = models.JSONField()
    equal = models.JSONField(default=list)

    class Meta:
        ordering = ["position"]
