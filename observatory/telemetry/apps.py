from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "observatory.telemetry"
    label = "telemetry"
