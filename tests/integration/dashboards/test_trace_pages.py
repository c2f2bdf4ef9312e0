"""Traces: slow and failed requests per region and service, and one trace as a waterfall. Spans go
in through the real OTLP endpoint."""

from datetime import datetime, timedelta, timezone

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1 import trace_pb2

from observatory.regions.models import Region
from observatory.regions.tokens import issue_token
from tests.personas import make_user

TRACE = bytes(range(1, 17))
START = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=3)


def ns(dt: datetime) -> int:
    return int(dt.timestamp()) * 10**9


def spans_request() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for service, spans in (("frontend", [(1, None, "GET /checkout", 2, 0, 1500, False)]),
                           ("checkout", [(2, 1, "POST /pay", 2, 100, 1200, True), (3, 2, "SELECT orders", 3, 200, 50,
                                                                                  False)])):
        resource = request.resource_spans.add()
        resource.resource.attributes.append(KeyValue(key="service.name"))
        resource.resource.attributes[0].value.string_value = service
        scope = resource.scope_spans.add()
        for span_no, parent, name, kind, offset_ms, duration_ms, error in spans:
            span = scope.spans.add(trace_id=TRACE, span_id=bytes([0] * 7 + [span_no]), name=name, kind=kind,
                                   start_time_unix_nano=ns(START) + offset_ms * 10**6,
                                   end_time_unix_nano=ns(START) + (offset_ms + duration_ms) * 10**6)
            if parent:
                span.parent_span_id = bytes([0] * 7 + [parent])
            if error:
                span.status.code = trace_pb2.Status.STATUS_CODE_ERROR
    return request


@pytest.fixture
def traced(transactional_db, client):
    region = Region.objects.create(name="us-east-1")
    Region.objects.create(name="eu-west-1")
    response = client.post("/v1/traces", spans_request().SerializeToString(), content_type="application/x-protobuf",
                           HTTP_AUTHORIZATION=f"Bearer {issue_token(region)}")
    assert response.status_code == 200, response.content
    return region


def test_traces_page_lists_slow_and_failed_requests(client, traced):
    client.force_login(make_user("v", "viewer"))
    page = client.get("/regions/us-east-1/traces/?slow_ms=1000").content.decode()
    slow = page[page.index('id="slow-spans"'):page.index('id="error-spans"')]
    failed = page[page.index('id="error-spans"'):]
    assert slow.index("GET /checkout") < slow.index("POST /pay")  # slowest first
    assert "SELECT orders" not in slow  # a CLIENT span, not a request
    assert "POST /pay" in failed and "GET /checkout" not in failed
    only = client.get("/regions/us-east-1/traces/?service=checkout&slow_ms=1000").content.decode()
    assert "GET /checkout" not in only and "POST /pay" in only
    assert client.get(f"/regions/us-east-1/traces/?trace={TRACE.hex()}")["Location"] == f"/traces/{TRACE.hex()}/"


def test_waterfall_nests_spans_under_their_parents(client, traced):
    client.force_login(make_user("v", "viewer"))
    page = client.get(f"/traces/{TRACE.hex()}/").content.decode()
    assert "3 spans across checkout, frontend; 1,500 ms" in page
    assert page.index("GET /checkout") < page.index("POST /pay") < page.index("SELECT orders")
    assert "padding-left: 3em" in page  # SELECT orders is two levels down
    assert "margin-left: 6.67%; width: 80.00%" in page  # POST /pay: +100 ms, 1,200 of 1,500 ms
    assert client.get("/traces/not-hex/").status_code == 404


def test_region_limited_viewer_cannot_open_other_regions_traces(client, traced):
    client.force_login(make_user("eu", "viewer", regions=("eu-west-1",)))
    assert client.get("/regions/us-east-1/traces/").status_code == 403
    assert client.get(f"/traces/{TRACE.hex()}/").status_code == 403
