from django.db import models


class Region(models.Model):
    class Role(models.TextChoices):
        PRIMARY = "primary"
        STANDBY = "standby"

    name = models.CharField(max_length=63, unique=True)
    group = models.CharField(max_length=63, default="default", help_text="failover group")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.PRIMARY)
    rpo_seconds = models.PositiveIntegerField(default=60, help_text="recovery point objective")
    probe_url = models.URLField(max_length=2048, blank=True, help_text="empty: not probed")
    probe_interval_seconds = models.PositiveIntegerField(default=10)
    probe_timeout_seconds = models.FloatField(default=2.0)
    probe_failure_threshold = models.PositiveSmallIntegerField(default=3)
    last_seen_at = models.DateTimeField(null=True, blank=True, help_text="last accepted telemetry")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["group", "name"]

    def __str__(self):
        return self.name


class RegionToken(models.Model):
    """An ingest credential. Only the SHA-256 of the token is kept; the token
    itself is shown once, by `manage.py issue_token`."""

    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16, help_text="first characters, to tell tokens apart")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.prefix}… ({self.region.name})"


class AuthFailure(models.Model):
    """Rejected ingest requests (401) per minute, source address and token prefix: one upsert each."""

    minute = models.DateTimeField()
    remote_addr = models.CharField(max_length=45)
    token_prefix = models.CharField(max_length=16, help_text="first characters of the token presented")
    failures = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["minute", "remote_addr", "token_prefix"],
                                               name="auth_failure_minute_source")]
