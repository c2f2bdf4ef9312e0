from django.apps import AppConfig


class AlertingConfig(AppConfig):
    name = "observatory.alerting"
    label = "alerting"
