import textwrap

import pytest
import yaml

from observatory.config.openslo import parse_openslo, to_openslo
from observatory.config.reader import ConfigError
from observatory.config.slos import SloSpec

AVAILABILITY = """
apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout-availability}
spec:
  service: checkout
  description: Checkout answers
  indicator:
    metadata: {name: checkout-sli}
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: Observatory, spec: {kind: availability, source: spans}}}
        total: {metricSource: {type: Observatory, spec: {kind: availability, source: spans}}}
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.999}]
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: orders}
spec:
  service: orders
  indicator:
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: Prometheus, spec: {query: orders_ok_total}}}
        total: {metricSource: {type: Prometheus, spec: {query: orders_total}}}
  timeWindow: [{duration: 30d, isRolling: true}]
  objectives: [{target: 0.995}]
"""


def test_import_observatory_and_foreign_metric_sources():
    checkout, orders = parse_openslo(AVAILABILITY)
    assert (checkout.name, checkout.service, checkout.objective, checkout.window_days, checkout.kind,
            checkout.source, checkout.description) == (
        "checkout-availability", "checkout", 0.999, 28, "availability", "spans", "Checkout answers")
    assert (orders.source, orders.good_metric, orders.total_metric) == ("metrics", "orders_ok_total", "orders_total")


@pytest.mark.parametrize("spec", [
    SloSpec(name="latency", objective=0.99, kind="latency", service="checkout", threshold_ms=250,
            operations=("POST /pay", "GET /cart"), min_events=50, description="fast"),
    SloSpec(name="orders", objective=0.995, kind="availability", service="orders", source="metrics",
            good_metric="orders.ok", total_metric="orders.total", window_days=28),
    SloSpec(name="replication", objective=0.99, kind="replication"),
])
def test_export_then_import_round_trips(spec):
    assert parse_openslo(yaml.safe_dump(to_openslo(spec))) == [spec]


def test_errors_name_the_document_and_field():
    bad = textwrap.dedent("""
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: a}
        spec: {service: s, timeWindow: [{duration: 1w}], objectives: [{target: 0.99}]}
        ---
        apiVersion: openslo/v1alpha
        kind: Service
        metadata: {name: b}
        ---
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: c}
        spec:
          service: s
          objectives: [{target: 0.5}]
          indicator: {spec: {ratioMetric: {good: {metricSource: {type: Observatory, spec: {kind: availability}}}}}}
    """)
    with pytest.raises(ConfigError) as info:
        parse_openslo(bad, "slos.yaml")
    assert info.value.errors == [
        "slos.yaml document 1: spec.timeWindow.0.duration: expected 28d or 30d, got '1w'",
        "slos.yaml document 2: apiVersion: expected openslo/v1, got 'openslo/v1alpha'",
        "slos.yaml document 2: kind: only SLO documents are supported, got 'Service'",
        "slos.yaml document 3: objective: the page tier can never fire: a total outage burns at most 2.0x, under "
        "the 14.4x threshold; use an objective of at least 0.9306",
    ]


def test_duplicate_names_and_invalid_yaml():
    with pytest.raises(ConfigError, match="defined more than once"):
        parse_openslo(AVAILABILITY.split("---")[0] + "---" + AVAILABILITY.split("---")[0])
    with pytest.raises(ConfigError, match=r"slos.yaml:\d+: invalid YAML"):
        parse_openslo("a: [1\n", "slos.yaml")
