"""Real opentelemetry-sdk exporters over HTTP against the live server."""

from django.db import connection
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode


def fetch(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_sdk_metrics_land_in_postgres(live_server, token, region):
    exporter = OTLPMetricExporter(endpoint=f"{live_server.url}/v1/metrics", headers={"Authorization": f"Bearer {token}"})
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=Resource.create({"service.name": "checkout"}), metric_readers=[reader])
    meter = provider.get_meter("test")
    lag = meter.create_gauge("observatory.replication.lag", unit="s")
    lag.set(4.5, {"peer.region": "eu-west-1"})
    requests_counter = meter.create_counter("app.requests")
    requests_counter.add(7, {"route": "/pay"})
    latency = meter.create_histogram("http.server.request.duration", unit="s")
    for v in (0.01, 0.2, 0.3):
        latency.record(v, {"http.route": "/pay"})
    provider.shutdown()  # collects and exports once

    series = dict(fetch("SELECT name, kind FROM telemetry_series WHERE region_id = %s", [region.id]))
    assert series == {"observatory.replication.lag": 1, "app.requests": 2, "http.server.request.duration": 3}
    values = dict(fetch("SELECT s.name, p.value FROM telemetry_point p JOIN telemetry_series s ON s.fingerprint = p.series_id"))
    assert values == {"observatory.replication.lag": 4.5, "app.requests": 7.0}
    [(count, total, counts)] = fetch("SELECT count, sum, counts FROM telemetry_histogram_point")
    assert count == 3 and abs(total - 0.51) < 1e-9 and sum(counts) == 3
    [(signal, key, value)] = fetch("SELECT signal, key, value FROM telemetry_region_signal")
    assert (signal, key, value) == ("observatory.replication.lag", "eu-west-1", 4.5)
    region.refresh_from_db()
    assert region.last_seen_at is not None


def test_sdk_spans_land_with_hot_columns(live_server, token, region):
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    exporter = OTLPSpanExporter(endpoint=f"{live_server.url}/v1/traces", headers={"Authorization": f"Bearer {token}"})
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("POST /pay", kind=SpanKind.SERVER,
                                      attributes={"http.route": "/pay", "http.response.status_code": 503}) as span:
        span.set_status(Status(StatusCode.ERROR, "upstream down"))
        with tracer.start_as_current_span("db.query", kind=SpanKind.CLIENT):
            pass
    provider.shutdown()

    rows = fetch("SELECT operation, kind, status_code, status_message, http_route, http_status_code, service,"
                 " parent_span_id IS NULL FROM telemetry_span ORDER BY kind")
    assert rows == [
        ("POST /pay", 2, 2, "upstream down", "/pay", 503, "checkout", True),
        ("db.query", 3, 0, "", None, None, "checkout", False),
    ]
