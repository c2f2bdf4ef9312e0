"""The overview, region and failover pages: the numbers they show, a fixed number of queries
whatever the number of services, links that keep filters, htmx partials, manual failover."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboards.models import AuditRecord
from observatory.delivery.models import Endpoint
from observatory.detection.models import Anomaly
from observatory.failover.models import Decision, FailoverPolicy, GroupState, RegionHealth
from observatory.regions.models import Region
from observatory.slos.models import Slo, SloStatus
from observatory.telemetry.models import RegionSignal
from tests.personas import firing_alert, make_user, span_minutes


@pytest.fixture
def regions(db):
    use1 = Region.objects.create(name="us-east-1", group="storefront", role="primary", rpo_seconds=30)
    euw1 = Region.objects.create(name="eu-west-1", group="storefront", role="standby", rpo_seconds=30)
    RegionHealth.objects.create(region=use1, state="unhealthy", kinds=["probe", "partition"])
    RegionHealth.objects.create(region=euw1, state="healthy")
    return use1, euw1


def services(region, first, count):
    """Span rollups, an alert and an anomaly for each of ``count`` more services."""
    for i in range(first, first + count):
        span_minutes(region, f"svc-{i:02d}", minutes=10)
        firing_alert({"alertname": "Anomaly", "severity": "ticket", "region": region.name, "service": f"svc-{i:02d}"})
        Anomaly.objects.create(region=region, series_key=f"red.requests|service=svc-{i:02d}", service=f"svc-{i:02d}",
                               minute=timezone.now() - timedelta(minutes=3), value=1, score=0.9, model_version=1,
                               explanation={})


def test_overview_tile_shows_the_regions_numbers(client, regions):
    use1, euw1 = regions
    span_minutes(use1, "checkout", minutes=10, requests=600, errors=60)
    RegionSignal.objects.create(region=euw1, signal="observatory.replication.lag", key="us-east-1", value=45.0,
                                observed_at=timezone.now())
    slo = Slo.objects.create(name="checkout-availability", service="checkout", objective=0.999, kind="availability")
    SloStatus.objects.create(slo=slo, region=use1, evaluated_at=timezone.now(), as_of=timezone.now(),
                             burn_rates={"3600": 100.0, "300": 90.0}, tiers=[], budget_remaining=0.25, events=1000)
    SloStatus.objects.create(slo=slo, region=None, evaluated_at=timezone.now(), as_of=timezone.now(),
                             burn_rates={"3600": 50.0}, tiers=[], budget_remaining=0.5, events=2000, page=True)
    firing_alert({"alertname": "RegionUnhealthy", "severity": "page", "region": "us-east-1"})
    Anomaly.objects.create(region=use1, series_key="red.requests|service=checkout", service="checkout",
                           minute=timezone.now() - timedelta(minutes=2), value=1, score=0.9, model_version=1,
                           explanation={})
    client.force_login(make_user("v", "viewer"))
    page = client.get("/").content.decode()
    tile = page[page.index('id="tile-us-east-1"'):page.index('id="tile-eu-west-1"')]
    assert 'data-state="unhealthy"' in tile and "state-bad" in page[page.index('id="tile-us-east-1"') - 60:]
    for text in ("10 req/s", "10.00 %", "checkout-availability: 100x, 25.00 % left", "1 firing", "1 active",
                 "evidence: probe, partition", 'href="/regions/us-east-1/"'):
        assert text in tile, text
    assert "45.0 s / RPO 30 s" in page and "bad-text" in page
    assert page.index('id="tile-us-east-1"') < page.index('id="tile-eu-west-1"')  # trouble first
    assert '<span class="badge bad">page</span>' in page  # the global SLO


def test_pages_query_count_does_not_grow_with_services(client, regions, django_assert_max_num_queries):
    use1, _ = regions
    client.force_login(make_user("v", "viewer"))
    services(use1, 0, 2)
    urls = ("/", "/regions/us-east-1/", "/alerts/", "/failover/")
    counts = {}
    for url in urls:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as few:
            assert client.get(url).status_code == 200
        counts[url] = len(few)
    services(use1, 2, 30)
    for url in urls:
        with django_assert_max_num_queries(counts[url]):
            assert client.get(url).status_code == 200


def test_region_page_links_keep_the_filters_and_htmx_gets_the_live_part(client, regions):
    use1, _ = regions
    span_minutes(use1, "checkout", minutes=10)
    span_minutes(use1, "search", minutes=10, requests=60)
    client.force_login(make_user("v", "viewer"))
    page = client.get("/regions/us-east-1/?service=search&range=6h").content.decode()
    assert "search: request rate" in page and "one point per 300 s" in page
    assert 'href="?range=24h&amp;service=search"' in page  # the range picker keeps the service
    assert 'href="?range=6h&amp;service=checkout"' in page  # the service links keep the range
    live = client.get("/regions/us-east-1/?service=search", headers={"HX-Request": "true"}).content.decode()
    assert live.startswith('<div id="region-live"') and "<html" not in live


def test_anomaly_link_centres_the_chart_on_its_minute(client, regions):
    use1, _ = regions
    minute = (timezone.now() - timedelta(hours=3)).replace(second=0, microsecond=0)
    Anomaly.objects.create(region=use1, series_key="red.latency_p95_ms|service=checkout", service="checkout",
                           minute=minute, value=900, score=0.8, model_version=1, explanation={"summary": "slow"})
    client.force_login(make_user("v", "viewer"))
    page = client.get(f"/regions/us-east-1/?series=red.latency_p95_ms%7Cservice%3Dcheckout"
                      f"&at={minute:%Y-%m-%dT%H:%MZ}").content.decode()
    assert "checkout: request rate" in page
    assert f"{minute - timedelta(minutes=30):%Y-%m-%d %H:%M} – {minute + timedelta(minutes=30):%H:%M}" in page
    assert "red.latency_p95_ms 900 at" in page


def test_manual_failover_shows_the_risk_first_and_needs_the_typed_target(client, regions):
    use1, euw1 = regions
    FailoverPolicy.objects.create(group="storefront", mode="approve")
    GroupState.objects.create(group="storefront", active_region=use1)
    Endpoint.objects.create(name="controller", url="https://failover.example/hook", events=["failover.*"],
                            secret="whsec_" + "A" * 32)
    RegionSignal.objects.create(region=euw1, signal="observatory.replication.lag", key="us-east-1", value=12.0,
                                observed_at=timezone.now())
    client.force_login(make_user("op", "operator"))
    page = client.get("/failover/groups/storefront/manual?target=eu-west-1").content.decode()
    assert 'id="data-at-risk">12.0 s' in page and "Type <code>eu-west-1</code> to confirm" in page
    url = "/failover/groups/storefront/manual"
    refused = client.post(url, {"target": "eu-west-1", "reason": "drill", "confirm": "eu-west"}, follow=True)
    assert "type the target region" in refused.content.decode() and not Decision.objects.exists()
    done = client.post(url, {"target": "eu-west-1", "reason": "drill", "confirm": "eu-west-1"})
    decision = Decision.objects.get()
    assert done.status_code == 302 and done["Location"] == f"/failover/{decision.id}/"
    assert (decision.manual, decision.requested_by, decision.state) == (True, "op", "dispatched")
    assert AuditRecord.objects.get(action="manual_failover").details == {"target": "eu-west-1", "reason": "drill"}
    detail = client.get(done["Location"]).content.decode()
    deliveries = detail[detail.index("<h4>Deliveries</h4>"):]
    assert "failover.requested" in deliveries and "controller" in deliveries and "none yet" in deliveries
    assert "op manual_failover: drill" in detail  # the failover app's own audit entry


def test_viewer_cannot_run_a_manual_failover(client, regions):
    use1, _ = regions
    FailoverPolicy.objects.create(group="storefront")
    GroupState.objects.create(group="storefront", active_region=use1)
    client.force_login(make_user("v", "viewer"))
    page = client.get("/failover/groups/storefront/manual?target=eu-west-1").content.decode()
    assert "Only operators can run a manual failover" in page and 'id="manual-form"' not in page
    response = client.post("/failover/groups/storefront/manual", {"target": "eu-west-1", "reason": "x",
                                                                  "confirm": "eu-west-1"})
    assert response.status_code == 403 and not Decision.objects.exists()


def test_without_npm_packages_pages_show_tables_and_link_no_chart_files(client, regions, monkeypatch):
    from dashboards import views

    monkeypatch.setattr(views, "CHARTS", False)  # as when `npm ci` never ran
    use1, _ = regions
    span_minutes(use1, "checkout", minutes=5)
    client.force_login(make_user("v", "viewer"))
    page = client.get("/regions/us-east-1/").content.decode()
    assert "vendor/uplot" not in page and 'class="chart"' not in page
    assert 'id="chart-numbers"' in page


def test_console_shows_the_latest_gate_assessment_of_each_group(client, regions):
    use1, _ = regions
    FailoverPolicy.objects.create(group="storefront")
    GroupState.objects.create(group="storefront", active_region=use1, last_assessment={
        "at": timezone.now().isoformat(), "source": "us-east-1", "target": "eu-west-1", "outcome": "no_action",
        "gates": [{"name": "source_unhealthy", "passed": True, "detail": "probe, partition"},
                  {"name": "not_global_incident", "passed": False, "detail": "0 of 2 regions healthy"}]})
    client.force_login(make_user("v", "viewer"))
    page = client.get("/failover/").content.decode()
    row = page[page.index('class="assessment"'):]
    assert "<strong>no_action</strong>" in row and "not_global_incident</span>: 0 of 2 regions healthy" in row
    assert "source_unhealthy" not in row.split("</tr>")[0]  # passing gates stay out of the way


def test_operator_limited_to_other_regions_cannot_approve_or_see_a_decision(client, regions):
    use1, euw1 = regions
    ap = Region.objects.create(name="ap-south-1", group="apac")
    FailoverPolicy.objects.create(group="storefront")
    decision = Decision.objects.create(group="storefront", epoch=1, source=use1, target=euw1,
                                       state="awaiting_approval", mode="approve", reason="us-east-1 is unhealthy",
                                       expires_at=timezone.now() + timedelta(minutes=5))
    client.force_login(make_user("apac-op", "operator", regions=(ap.name,)))
    assert client.get(f"/failover/{decision.id}/").status_code == 403
    assert "us-east-1 is unhealthy" not in client.get("/failover/").content.decode()
    assert client.post(f"/failover/{decision.id}/approve", {"reason": "x"}).status_code == 403
    decision.refresh_from_db()
    assert decision.state == "awaiting_approval"
    assert AuditRecord.objects.get().details == {"reason": "no access to its regions"}
