from django.contrib import admin

from observatory.telemetry.models import RegionSignal, Series, SignalMapping


@admin.register(SignalMapping)
class SignalMappingAdmin(admin.ModelAdmin):
    list_display = ("metric_name", "signal", "key_attribute", "scale")
    search_fields = ("metric_name",)


@admin.register(RegionSignal)
class RegionSignalAdmin(admin.ModelAdmin):
    list_display = ("region", "signal", "key", "value", "observed_at")
    list_filter = ("signal", "region")

    def has_add_permission(self, request):
        return False  # written by ingest only


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):
    list_display = ("name", "region", "service", "kind", "unit", "created_at")
    list_filter = ("kind", "region")
    search_fields = ("name", "service")

    def has_add_permission(self, request):
        return False
