from django.apps import AppConfig


class DetectionConfig(AppConfig):
    name = "observatory.detection"
    label = "detection"
    verbose_name = "Anomaly detection"
