from django.db import models

from observatory.regions.models import Region


class WatchedMetric(models.Model):
    """A metric name scored for anomalies besides the built-in RED rollups, lag and backlog
    (the ``anomaly.watch`` list of the config file)."""

    name = models.CharField(max_length=255, unique=True)

    def __str__(self):
        return self.name


class DetectorShard(models.Model):
    """Progress and a checkpoint of the detector state of one shard of watched series: every
    series' trailing rows, seasonal ring and fitted forest (analytics.anomaly.DetectorBank as
    compressed arrays), as of ``checkpoint_minute``; see detection/jobs.py.

    Workers claim a shard with a lease (conditional UPDATE), then advance it with a
    compare-and-set on ``version``: a worker whose lease ran out cannot overwrite newer work.
    """

    shard = models.PositiveIntegerField(primary_key=True)
    version = models.PositiveBigIntegerField(default=0)
    lease_owner = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True)
    params_digest = models.CharField(max_length=16, blank=True, help_text="detector parameters the state belongs to")
    through_minute = models.DateTimeField(null=True, help_text="last minute scored")
    checkpoint_minute = models.DateTimeField(null=True, help_text="last minute the saved state includes")
    series_count = models.PositiveIntegerField(default=0)
    model_version = models.PositiveBigIntegerField(default=0, help_text="forest refits so far, over all series")
    fitted_at = models.DateTimeField(null=True)
    state = models.BinaryField(null=True)
    updated_at = models.DateTimeField(null=True)


class Anomaly(models.Model):
    """A minute of a watched series that scored at or above the alert threshold, with why."""

    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="+")
    series_key = models.CharField(max_length=512, help_text="what was watched, e.g. red.errors|service=checkout")
    service = models.CharField(max_length=255, blank=True)
    minute = models.DateTimeField()
    value = models.FloatField()
    score = models.FloatField()
    explanation = models.JSONField(help_text="the features that drove the score and the peer comparison")
    model_version = models.PositiveIntegerField(help_text="which fit of this series' forest scored it")
    detected_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["region", "series_key", "minute"], name="detection_anomaly_key")]
        indexes = [models.Index(fields=["minute"])]
        ordering = ["-minute"]

    def __str__(self):
        return f"{self.series_key} @ {self.region_id} {self.minute:%Y-%m-%d %H:%M} ({self.score:.2f})"
