"""Clock skew: a region whose clock runs 10 minutes fast or slow, exporting with the real SDK.

Documented bounds (README, "Sending telemetry"): data up to INGEST_MAX_AGE_SECONDS old (2 days)
is accepted; more than INGEST_MAX_FUTURE_SECONDS ahead (5 minutes) is rejected item by item
and reported as partial success, so the rest of the batch lands.
"""

import time

import requests
from django.db import connection
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from observatory.regions.models import Region
from observatory.regions.tokens import issue_token

SKEW_NS = 600 * 10**9


def stored_spans() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT operation, count(*) FROM telemetry_span GROUP BY operation")
        return dict(cursor.fetchall())


def send_with_clock(url: str, token: str, skew_ns: int, name: str) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(
        endpoint=f"{url}/v1/traces", headers={"authorization": f"Bearer {token}"}, timeout=10)))
    start = time.time_ns() + skew_ns
    provider.get_tracer("skew").start_span(name, kind=SpanKind.SERVER, start_time=start).end(end_time=start + 10**7)
    provider.shutdown()


def test_slow_clocks_are_accepted_and_fast_clocks_rejected_as_partial_success(transactional_db, start_web,
                                                                              test_database_url):
    url = start_web(DATABASE_URL=test_database_url)
    token = issue_token(Region.objects.create(name="us-east-1"))
    send_with_clock(url, token, -SKEW_NS, "GET /slow-clock")
    send_with_clock(url, token, +SKEW_NS, "GET /fast-clock")
    send_with_clock(url, token, 0, "GET /right-clock")
    assert stored_spans() == {"GET /slow-clock": 1, "GET /right-clock": 1}

    # What the exporter was told: 200 with partial success naming the bound, not an error.
    now = time.time_ns()
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": f"{i:016x}", "name": name, "kind": 2,
         "startTimeUnixNano": str(now + skew), "endTimeUnixNano": str(now + skew + 10**7)}
        for i, (name, skew) in enumerate([("GET /a", SKEW_NS), ("GET /b", -SKEW_NS)], start=1)]}]}]}
    answer = requests.post(f"{url}/v1/traces", json=body, headers={"authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200
    partial = answer.json()["partialSuccess"]
    assert int(partial["rejectedSpans"]) == 1 and "too far in the future" in partial["errorMessage"]
    assert stored_spans()["GET /b"] == 1
