"""SLI minutes partitioned by day, like the minute rollups (PostgreSQL; rows kept). A no-op on SQLite."""

from django.db import migrations


def forwards(apps, schema_editor):
    from observatory.telemetry.repartition import partition

    partition(schema_editor, "slos_sliminute")


def backwards(apps, schema_editor):
    from observatory.telemetry.repartition import unpartition

    unpartition(schema_editor, "slos_sliminute")


class Migration(migrations.Migration):
    dependencies = [("slos", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
