from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "observatory.ops"
    label = "ops"
    verbose_name = "Operations"
