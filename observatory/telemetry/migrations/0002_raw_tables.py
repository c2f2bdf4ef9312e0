from django.db import migrations


def forwards(apps, schema_editor):
    from observatory.telemetry.partitions import create_raw_tables

    create_raw_tables(schema_editor)


def backwards(apps, schema_editor):
    from observatory.telemetry.partitions import drop_raw_tables

    drop_raw_tables(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("telemetry", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
