"""The persona groups: viewer (no permissions: signed-in users can look), operator (acknowledge,
silence, approve/abort and manual failover) and admin (operator plus user and access management)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from dashboards.access import ensure_groups


def create_groups(apps, schema_editor):
    # Permissions are normally made after all migrations; the groups need them now.
    for config in apps.get_app_configs():
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = None
    ensure_groups(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["viewer", "operator", "admin"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("dashboards", "0001_initial"),
        ("failover", "0001_initial"),
        ("alerting", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
