from django.urls import path

from collectors import views

urlpatterns = [
    path("v1/metrics", views.export_metrics, name="otlp-metrics"),
    path("v1/traces", views.export_traces, name="otlp-traces"),
]
