from django.apps import AppConfig


class RegionsConfig(AppConfig):
    name = "observatory.regions"
    label = "regions"
