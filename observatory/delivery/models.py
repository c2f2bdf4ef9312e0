import uuid

from django.db import models


class Endpoint(models.Model):
    """A webhook receiver: failover controllers, Alertmanager-style receivers, PagerDuty."""

    class Format(models.TextChoices):
        STANDARD = "standard"  # our JSON event
        ALERTMANAGER = "alertmanager"  # Alertmanager v4 webhook body
        PAGERDUTY = "pagerduty"  # PagerDuty Events API v2

    name = models.CharField(max_length=63, unique=True)
    url = models.URLField(max_length=2048)
    secret = models.CharField(max_length=255, help_text="whsec_… (Standard Webhooks)")
    events = models.JSONField(default=list, help_text='event patterns, e.g. ["failover.*"]')
    format = models.CharField(max_length=16, choices=Format.choices, default=Format.STANDARD)
    routing_key = models.CharField(max_length=64, blank=True, help_text="PagerDuty integration key (format pagerduty)")
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.name

    def wants(self, event_type: str) -> bool:
        return any(event_type == p or (p.endswith(".*") and event_type.startswith(p[:-1])) or p == "*"
                   for p in self.events)


class Delivery(models.Model):
    """One message to one endpoint (the outbox row). Its id is the webhook-id on every retry."""

    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"  # permanent error, or the endpoint is gone/disabled
        EXPIRED = "expired"  # not delivered before expires_at: never sent late

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.PROTECT, related_name="deliveries")
    event_type = models.CharField(max_length=64)
    payload = models.JSONField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    claim = models.UUIDField(null=True, blank=True, help_text="the worker holding this row")
    claimed_until = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"])]
        verbose_name_plural = "deliveries"

    @property
    def webhook_id(self) -> str:
        return f"msg_{self.id.hex}"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True)
    duration_ms = models.FloatField()
    error = models.CharField(max_length=500, blank=True)
    outcome = models.CharField(max_length=16)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="delivery_attempt_number")]


class Circuit(models.Model):
    """An endpoint's circuit breaker (delivery.policy); every change is a compare-and-set on version."""

    endpoint = models.OneToOneField(Endpoint, on_delete=models.CASCADE, primary_key=True, related_name="circuit")
    state = models.CharField(max_length=16, default="closed")
    failures = models.PositiveIntegerField(default=0, help_text="consecutive failed attempts")
    open_until = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)
