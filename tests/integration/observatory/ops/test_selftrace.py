"""With OTEL_EXPORTER_OTLP_ENDPOINT set, Observatory traces its own requests (real SDK, real server)."""

import time
import urllib.request

from django.db import connection

from observatory.regions.models import Region
from observatory.regions.tokens import issue_token


def spans_of(region: Region) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT service, operation, kind FROM telemetry_span WHERE region_id = %s", [region.id])
        return cursor.fetchall()


def test_a_traced_instance_sends_its_request_spans_over_otlp(transactional_db, start_web, test_database_url):
    region = Region.objects.create(name="observatory-self")
    token = issue_token(region)
    collector = start_web(DATABASE_URL=test_database_url)  # an Observatory receiving the traces
    traced = start_web(DATABASE_URL=test_database_url, OTEL_EXPORTER_OTLP_ENDPOINT=collector,
                       OTEL_EXPORTER_OTLP_HEADERS=f"authorization=Bearer {token}", OTEL_BSP_SCHEDULE_DELAY="200",
                       OTEL_SERVICE_NAME="observatory-test")
    for path in ("/login/", "/healthz", "/api/v1/openapi.json"):
        urllib.request.urlopen(traced + path, timeout=10).read()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(spans_of(region)) < 2:
        time.sleep(0.3)
    spans = spans_of(region)
    assert {service for service, _, _ in spans} == {"observatory-test"}
    operations = {operation for _, operation, _ in spans}
    assert any("login" in op for op in operations) and any("openapi" in op for op in operations), operations
    assert not any("healthz" in op for op in operations)  # excluded: probes and scrapes are noise
    assert {kind for _, _, kind in spans} == {2}  # SERVER


def test_without_an_endpoint_nothing_is_installed():
    from observatory import selftrace

    assert not selftrace.enabled() and selftrace.configure("web") is False
