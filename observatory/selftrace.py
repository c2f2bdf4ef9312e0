"""Observatory traces itself with the OpenTelemetry SDK when an OTLP endpoint is configured.

Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; the
exporter then takes the standard OTEL_* variables (headers, timeout, compression). Web
requests are traced by the Django instrumentation, tasks by the Celery one. /healthz and
/metrics are left out (OTEL_PYTHON_DJANGO_EXCLUDED_URLS overrides): scrapes are noise.
Pointing the endpoint at Observatory itself works too, with one region's token in
OTEL_EXPORTER_OTLP_HEADERS: each export is one more traced request, a trickle, not a loop.
"""

from __future__ import annotations

import os

_configured = False


def enabled() -> bool:
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def configure(process: str) -> bool:
    """Install the tracer provider and instrumentations once per process; returns whether tracing is on."""
    global _configured
    if _configured or not enabled():
        return _configured
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    os.environ.setdefault("OTEL_PYTHON_DJANGO_EXCLUDED_URLS", "healthz,metrics")
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "observatory"),
                                "observatory.process": process})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    if process == "web":
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        DjangoInstrumentor().instrument(tracer_provider=provider)
    else:
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        CeleryInstrumentor().instrument(tracer_provider=provider)
    _configured = True
    return True
