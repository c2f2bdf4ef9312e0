from django.db import models

from observatory.regions.models import Region
from observatory.telemetry.rollup_partitions import PartitionedModel, PartitionedQuerySet


class Slo(models.Model):
    class Kind(models.TextChoices):
        AVAILABILITY = "availability"
        LATENCY = "latency"
        REPLICATION = "replication"  # share of minutes with lag within the region's RPO

    class Source(models.TextChoices):
        SPANS = "spans"
        METRICS = "metrics"

    name = models.CharField(max_length=63, unique=True)
    service = models.CharField(max_length=255, blank=True)
    operations = models.JSONField(default=list, blank=True, help_text="span names to count; empty: all")
    objective = models.FloatField()
    window_days = models.PositiveSmallIntegerField(default=30)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.SPANS)
    threshold_ms = models.FloatField(null=True, blank=True)
    good_metric = models.CharField(max_length=255, blank=True)
    total_metric = models.CharField(max_length=255, blank=True)
    min_events = models.PositiveIntegerField(default=100, help_text="fewer events in a page tier's long window "
                                                                    "downgrade the page to a ticket")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.name


class SliMinute(PartitionedModel, models.Model):
    """Good and total events of one SLO in one region and minute: what the windows added.

    Partitioned by day on PostgreSQL, like the minute rollups (telemetry.rollup_partitions)."""

    objects = PartitionedQuerySet.as_manager()

    slo = models.ForeignKey(Slo, on_delete=models.CASCADE, related_name="+")
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    good = models.FloatField()
    total = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["slo", "region", "minute"], name="slos_sli_minute_key")]
        indexes = [models.Index(fields=["minute"])]


class WindowState(models.Model):
    """Running sums of every window for one SLO and region, as of a minute."""

    slo = models.ForeignKey(Slo, on_delete=models.CASCADE, related_name="+")
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="+")
    as_of = models.DateTimeField(help_text="sums cover minutes up to and including this one")
    sums = models.JSONField(default=dict, help_text="{window seconds: [good, total]}")
    data_since = models.DateTimeField(null=True, help_text="the first minute with events: how far back history goes")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["slo", "region"], name="slos_window_state_key")]


class _Result(models.Model):
    evaluated_at = models.DateTimeField()
    as_of = models.DateTimeField()
    burn_rates = models.JSONField(help_text="{window seconds: burn rate}")
    tiers = models.JSONField()
    budget_remaining = models.FloatField(null=True)
    exhaustion_seconds = models.FloatField(null=True)
    events = models.FloatField(help_text="total events over the SLO window")
    page = models.BooleanField(default=False, help_text="a page tier notifies")
    ticket = models.BooleanField(default=False, help_text="a ticket tier notifies")

    class Meta:
        abstract = True


class SloStatus(_Result):
    """The latest evaluation of one SLO in one region, or globally (region null)."""

    slo = models.ForeignKey(Slo, on_delete=models.CASCADE, related_name="statuses")
    region = models.ForeignKey(Region, null=True, on_delete=models.CASCADE, related_name="+")


class Evaluation(_Result):
    """One evaluation of one SLO in one region, or globally (region null): the history."""

    slo = models.ForeignKey(Slo, on_delete=models.CASCADE, related_name="evaluations")
    region = models.ForeignKey(Region, null=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["slo", "region", "-evaluated_at"])]
