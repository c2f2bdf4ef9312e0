from django.apps import AppConfig


class FailoverConfig(AppConfig):
    name = "observatory.failover"
    label = "failover"

    def ready(self):
        from observatory.failover import receivers  # noqa: F401  (delivery outcome -> decision state)
