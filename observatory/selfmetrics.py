"""The service's own Prometheus metrics (prometheus-client).

With PROMETHEUS_MULTIPROC_DIR set, every gunicorn and Celery process writes its
samples there and /metrics aggregates them; otherwise the process registry is used.
"""

import os
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import REGISTRY, multiprocess

HTTP_REQUESTS = Counter(
    "observatory_http_requests",
    "HTTP requests answered, by method, route and status code.",
    ["method", "view", "status"],
)
HTTP_LATENCY = Histogram(
    "observatory_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route.",
    ["method", "view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
INGEST_REQUESTS = Counter(
    "observatory_ingest_requests", "OTLP export requests, by signal and HTTP status.", ["signal", "status"]
)
INGEST_LATENCY = Histogram(
    "observatory_ingest_request_duration_seconds",
    "Time to answer an OTLP export request (decode and commit included).",
    ["signal"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
INGEST_ITEMS = Counter(
    "observatory_ingest_items",
    "Data points or spans, by signal, region and outcome (accepted or rejected via partial success).",
    ["signal", "region", "outcome"],
)
WEBHOOK_ATTEMPTS = Counter(
    "observatory_webhook_attempts",
    "Webhook delivery attempts, by event type and outcome (delivered, retry, permanent, gone).",
    ["event", "outcome"],
)
WEBHOOK_FINISHED = Counter(
    "observatory_webhook_deliveries",
    "Webhook deliveries that reached a final state, by event type and state (delivered, failed, expired).",
    ["event", "state"],
)
INGEST_AUTH_FAILURES = Counter("observatory_ingest_auth_failures", "OTLP requests with a missing or unknown token.")
TASK_DURATION = Histogram(
    "observatory_task_duration_seconds",
    "Celery task run time, by task and outcome (success, failure, retry).",
    ["task", "outcome"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)


def _view_label(request) -> str:
    match = getattr(request, "resolver_match", None)
    # The route name, never the raw path: paths would explode label cardinality.
    return match.view_name if match and match.view_name else "unmatched"


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        view = _view_label(request)
        HTTP_LATENCY.labels(request.method, view).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(request.method, view, str(response.status_code)).inc()
        return response


_database_collector_registered = False


def render_metrics() -> tuple[bytes, str]:
    """The exposition text for /metrics and its content type: process metrics plus database gauges."""
    global _database_collector_registered
    from observatory.dbmetrics import DatabaseCollector, QueueCollector

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(DatabaseCollector())
        registry.register(QueueCollector())
    else:
        registry = REGISTRY
        if not _database_collector_registered:
            registry.register(DatabaseCollector())
            registry.register(QueueCollector())
            _database_collector_registered = True
    return generate_latest(registry), CONTENT_TYPE_LATEST
