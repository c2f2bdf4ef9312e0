"""GET /api/v1/series: values pushed by the real OpenTelemetry SDK come back from the minute rollups."""

import pytest
import requests
from django.contrib.auth import get_user_model
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from observatory.api.keys import issue_api_key
from observatory.regions.models import Region
from observatory.regions.tokens import issue_token
from observatory.telemetry.rollups import roll_up_pending


@pytest.fixture
def api_key(transactional_db):
    user = get_user_model().objects.create_user("script", password="x-long-password-1")
    return issue_api_key(user)


def push_gauges(url, token, values):
    exporter = OTLPMetricExporter(endpoint=f"{url}/v1/metrics", headers={"Authorization": f"Bearer {token}"})
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=Resource.create({"service.name": "db"}), metric_readers=[reader])
    gauge = provider.get_meter("test").create_gauge("observatory.replication.lag", unit="s")
    for peer, value in values.items():
        gauge.set(value, {"peer.region": peer})
    provider.shutdown()


def test_sdk_values_read_back_through_the_api(live_server, api_key):
    east = Region.objects.create(name="us-east-1")
    west = Region.objects.create(name="eu-west-1")
    push_gauges(live_server.url, issue_token(east), {"eu-west-1": 4.5, "ap-south-1": 9.0})
    push_gauges(live_server.url, issue_token(west), {"us-east-1": 0.25})
    roll_up_pending()

    headers = {"Authorization": f"Bearer {api_key}"}
    response = requests.get(f"{live_server.url}/api/v1/series", headers=headers, timeout=10,
                            params={"name": "observatory.replication.lag", "region": "us-east-1",
                                    "attr": "peer.region=eu-west-1"})
    assert response.status_code == 200, response.text
    body = response.json()
    [series] = body["series"]
    assert (series["region"], series["kind"], series["unit"], series["aggregation"]) == ("us-east-1", "gauge", "s", "avg")
    assert series["attributes"] == {"peer.region": "eu-west-1"}
    assert [value for _, value in series["points"]] == [4.5]

    everywhere = requests.get(f"{live_server.url}/api/v1/series", headers=headers, timeout=10,
                              params={"name": "observatory.replication.lag"}).json()["series"]
    assert sorted((s["region"], s["attributes"]["peer.region"], s["points"][0][1]) for s in everywhere) == [
        ("eu-west-1", "us-east-1", 0.25), ("us-east-1", "ap-south-1", 9.0), ("us-east-1", "eu-west-1", 4.5)]


@pytest.mark.django_db
def test_api_needs_a_session_or_key(client, api_key):
    assert client.get("/api/v1/series", {"name": "x"}).status_code == 401
    assert client.get("/api/v1/series", {"name": "x"}, HTTP_AUTHORIZATION="Bearer obsk_wrong").status_code == 401
    assert client.get("/api/v1/series", {"name": "x"}, HTTP_AUTHORIZATION=f"Bearer {api_key}").status_code == 200
    client.force_login(get_user_model().objects.get(username="script"))
    assert client.get("/api/v1/series", {"name": "x"}).json()["series"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("params,message", [
    ({"name": "x", "step": 90}, "step must be a positive multiple of 60 seconds, got 90"),
    ({"name": "x", "region": "mars-1"}, "no region named 'mars-1'"),
    ({"name": "x", "attr": "novalue"}, "attr: expected key=value, got 'novalue'"),
    ({"name": "x", "start": "2026-11-22T10:00:00Z", "end": "2026-11-22T09:00:00Z"}, "end must be after start"),
    ({"name": "x", "start": "2026-11-22T10:00:00", "end": "2026-11-22T11:00:00"}, "must include a time zone"),
])
def test_bad_queries_say_what_is_wrong(client, api_key, params, message):
    response = client.get("/api/v1/series", params, HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert response.status_code == 400
    assert message in response.json()["detail"]


@pytest.mark.django_db
def test_unparsable_parameters_name_the_field(client, api_key):
    response = client.get("/api/v1/series", {"name": "x", "step": "soon"}, HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert response.status_code == 422
    assert any("step" in error["loc"] for error in response.json()["detail"])


@pytest.mark.django_db
def test_openapi_schema_is_served(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["info"]["title"] == "Observatory API"
    parameters = {p["name"] for p in schema["paths"]["/api/v1/series"]["get"]["parameters"]}
    assert {"name", "region", "attr", "start", "end", "step"} <= parameters
