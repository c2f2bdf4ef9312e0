from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "observatory.delivery"
    label = "delivery"
    verbose_name = "Webhook delivery"
