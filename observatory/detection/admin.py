from django.contrib import admin

from observatory.detection.models import Anomaly, DetectorShard, WatchedMetric


@admin.register(Anomaly)
class AnomalyAdmin(admin.ModelAdmin):
    list_display = ("minute", "region", "series_key", "score", "value", "model_version")
    list_filter = ("region",)
    readonly_fields = [f.name for f in Anomaly._meta.fields]


@admin.register(DetectorShard)
class DetectorShardAdmin(admin.ModelAdmin):
    list_display = ("shard", "through_minute", "series_count", "model_version", "fitted_at", "lease_until")
    exclude = ("state",)
    readonly_fields = ("shard", "version", "lease_owner", "lease_until", "params_digest", "through_minute",
                       "series_count", "model_version", "fitted_at", "updated_at")


admin.site.register(WatchedMetric)
