from django.apps import AppConfig


class ConfigAppConfig(AppConfig):
    name = "observatory.config"
    label = "config"
    verbose_name = "Configuration as code"
