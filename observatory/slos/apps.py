from django.apps import AppConfig


class SlosConfig(AppConfig):
    name = "observatory.slos"
    label = "slos"
    verbose_name = "SLOs"
