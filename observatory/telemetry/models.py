"""Telemetry metadata and rollups as Django models.

The raw tables (telemetry_point, telemetry_histogram_point, telemetry_span) are
range-partitioned by day on PostgreSQL, so they are created by SQL in the
migrations and written only by telemetry.ingest, read only by telemetry.queries.
The rollup models' tables are partitioned too (telemetry.rollup_partitions): by day
for minutes, by month for hours; their ORM writes make the partitions they need.
"""

from django.db import models
from django.utils import timezone

from observatory.regions.models import Region
from observatory.telemetry.rollup_partitions import PartitionedModel, PartitionedQuerySet


class Series(models.Model):
    """One metric time series: region + resource + name + kind + sorted typed attributes."""

    fingerprint = models.BigIntegerField(primary_key=True)
    region = models.ForeignKey(Region, on_delete=models.CASCADE, db_constraint=False, related_name="+")
    name = models.CharField(max_length=255)
    kind = models.PositiveSmallIntegerField(help_text="1 gauge, 2 sum, 3 histogram")
    unit = models.CharField(max_length=63, blank=True)
    temporality = models.PositiveSmallIntegerField(default=0, help_text="1 delta, 2 cumulative")
    monotonic = models.BooleanField(default=False)
    service = models.CharField(max_length=255)
    resource = models.JSONField(default=dict)
    attributes = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "telemetry_series"
        indexes = [models.Index(fields=["region", "name"])]
        verbose_name_plural = "series"

    def __str__(self):
        return f"{self.name}{self.attributes} @ {self.region_id}"


class DirtyMinute(models.Model):
    """A minute that received data since its rollup was last computed (work queue for rollups)."""

    class Kind(models.IntegerChoices):
        SPANS = 1
        POINTS = 2

    kind = models.PositiveSmallIntegerField(choices=Kind.choices)
    region = models.ForeignKey(Region, on_delete=models.CASCADE, db_constraint=False, related_name="+")
    minute = models.DateTimeField()

    class Meta:
        db_table = "telemetry_dirty_minute"
        constraints = [models.UniqueConstraint(fields=["kind", "region", "minute"], name="telemetry_dirty_minute_key")]


class SpanMinute(PartitionedModel, models.Model):
    """RED rollup from SERVER spans: requests, errors and a latency histogram per minute."""

    objects = PartitionedQuerySet.as_manager()

    region = models.ForeignKey(Region, on_delete=models.CASCADE, db_constraint=False, related_name="+")
    service = models.CharField(max_length=255)
    operation = models.CharField(max_length=255)
    minute = models.DateTimeField()
    requests = models.BigIntegerField()
    errors = models.BigIntegerField()
    duration_sum_ms = models.FloatField()
    latency_buckets = models.JSONField(help_text="counts per LATENCY_BOUNDS_MS bucket, plus overflow")
    rolled_at = models.DateTimeField(db_index=True, default=timezone.now, help_text="when this minute was last (re)computed")

    class Meta:
        db_table = "telemetry_span_minute"
        constraints = [
            models.UniqueConstraint(fields=["region", "service", "operation", "minute"], name="telemetry_span_minute_key")
        ]
        indexes = [models.Index(fields=["minute"])]


class SeriesMinute(PartitionedModel, models.Model):
    """Per-series minute rollup. For sums, ``increase`` is the counter increase in the minute (resets handled)."""

    objects = PartitionedQuerySet.as_manager()

    series = models.ForeignKey(Series, on_delete=models.CASCADE, db_constraint=False, related_name="+")
    minute = models.DateTimeField()
    samples = models.IntegerField()
    minimum = models.FloatField()
    maximum = models.FloatField()
    total = models.FloatField()
    last = models.FloatField()
    increase = models.FloatField(null=True)
    rolled_at = models.DateTimeField(db_index=True, default=timezone.now, help_text="when this minute was last (re)computed")

    class Meta:
        db_table = "telemetry_series_minute"
        constraints = [models.UniqueConstraint(fields=["series", "minute"], name="telemetry_series_minute_key")]
        indexes = [models.Index(fields=["minute"])]


class SignalMapping(models.Model):
    """Lets another metric name count as one of the health signals (e.g. a postgres_exporter lag gauge)."""

    class Signal(models.TextChoices):
        REPLICATION_LAG = "observatory.replication.lag"
        CIRCUIT_BREAKER = "observatory.circuit_breaker.state"
        QUEUE_BACKLOG = "observatory.queue.backlog"
        NETWORK_PARTITION = "observatory.network.partition"

    metric_name = models.CharField(max_length=255, unique=True)
    signal = models.CharField(max_length=64, choices=Signal.choices)
    key_attribute = models.CharField(
        max_length=255, blank=True, help_text="attribute that names the peer/target/queue (default: the signal's own)"
    )
    scale = models.FloatField(default=1.0, help_text="multiply values by this, e.g. 0.001 for milliseconds to seconds")

    class Meta:
        db_table = "telemetry_signal_mapping"

    def __str__(self):
        return f"{self.metric_name} -> {self.signal}"


class RegionSignal(models.Model):
    """The latest value of one health signal in one region (e.g. lag from peer eu-west-1)."""

    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="signals")
    signal = models.CharField(max_length=64, choices=SignalMapping.Signal.choices)
    key = models.CharField(max_length=255, blank=True, help_text="peer region, breaker target or queue name")
    value = models.FloatField()
    observed_at = models.DateTimeField()

    class Meta:
        db_table = "telemetry_region_signal"
        constraints = [models.UniqueConstraint(fields=["region", "signal", "key"], name="telemetry_region_signal_key")]


class SpanHour(PartitionedModel, models.Model):
    """Hourly RED rollup, summed from the minute rollups; kept long after they are gone."""

    objects = PartitionedQuerySet.as_manager()

    region = models.ForeignKey(Region, on_delete=models.CASCADE, db_constraint=False, related_name="+")
    service = models.CharField(max_length=255)
    operation = models.CharField(max_length=255)
    hour = models.DateTimeField()
    requests = models.BigIntegerField()
    errors = models.BigIntegerField()
    duration_sum_ms = models.FloatField()
    latency_buckets = models.JSONField()

    class Meta:
        db_table = "telemetry_span_hour"
        constraints = [
            models.UniqueConstraint(fields=["region", "service", "operation", "hour"], name="telemetry_span_hour_key")
        ]
        indexes = [models.Index(fields=["hour"])]


class SeriesHour(PartitionedModel, models.Model):
    """Hourly per-series rollup, combined from the minute rollups (min of mins, sum of increases...)."""

    objects = PartitionedQuerySet.as_manager()

    series = models.ForeignKey(Series, on_delete=models.CASCADE, db_constraint=False, related_name="+")
    hour = models.DateTimeField()
    samples = models.IntegerField()
    minimum = models.FloatField()
    maximum = models.FloatField()
    total = models.FloatField()
    last = models.FloatField()
    increase = models.FloatField(null=True)

    class Meta:
        db_table = "telemetry_series_hour"
        constraints = [models.UniqueConstraint(fields=["series", "hour"], name="telemetry_series_hour_key")]
        indexes = [models.Index(fields=["hour"])]
