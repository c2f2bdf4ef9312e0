"""Minute rollups partitioned by day, hourly rollups by month (PostgreSQL; rows kept). A no-op on SQLite."""

from django.db import migrations

TABLES = ("telemetry_span_minute", "telemetry_series_minute", "telemetry_span_hour", "telemetry_series_hour")


def forwards(apps, schema_editor):
    from observatory.telemetry.repartition import partition

    for table in TABLES:
        partition(schema_editor, table)


def backwards(apps, schema_editor):
    from observatory.telemetry.repartition import unpartition

    for table in TABLES:
        unpartition(schema_editor, table)


class Migration(migrations.Migration):
    dependencies = [("telemetry", "0004_hourly_rollups")]
    operations = [migrations.RunPython(forwards, backwards)]
