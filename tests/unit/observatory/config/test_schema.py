import textwrap

import pytest

from observatory.config.schema import ConfigError, ProbeSpec, RegionSpec, parse_config, validate_region


def parse(text: str, environ=None):
    return parse_config(textwrap.dedent(text), source="obs.yaml", environ=environ or {})


def errors_of(text: str, environ=None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(text, environ)
    return info.value.errors


def test_full_region_with_probe():
    config = parse("""
        regions:
          us-east-1:
            group: storefront
            role: primary
            rpo_seconds: 30
            probe: {url: "https://use1.example.com/healthz", interval_seconds: 5, timeout_seconds: 1.5, failure_threshold: 2}
          eu-west-1: {group: storefront, role: standby}
    """)
    assert config.regions["us-east-1"] == RegionSpec(
        name="us-east-1", group="storefront", role="primary", rpo_seconds=30,
        probe=ProbeSpec(url="https://use1.example.com/healthz", interval_seconds=5, timeout_seconds=1.5,
                        failure_threshold=2),
    )
    assert config.regions["eu-west-1"] == RegionSpec(name="eu-west-1", group="storefront", role="standby")


def test_defaults_and_empty_documents():
    assert parse("").regions == {}
    assert parse("regions:\n").regions == {}
    spec = parse("regions:\n  ap-south-1:\n").regions["ap-south-1"]
    assert spec == RegionSpec(name="ap-south-1", group="default", role="primary", rpo_seconds=60, probe=None)
    probe = parse("regions:\n  a:\n    probe: {url: 'http://a.test/'}\n").regions["a"].probe
    assert probe == ProbeSpec(url="http://a.test/", interval_seconds=10, timeout_seconds=2.0, failure_threshold=3)


def test_as_fields_clears_probe_when_absent():
    fields = RegionSpec(name="a").as_fields()
    assert fields["probe_url"] == ""
    assert fields["probe_failure_threshold"] == 3


def test_unknown_field_names_file_line_and_path():
    errors = errors_of("""
        regions:
          us-east-1:
            group: storefront
            colour: red
    """)
    assert errors == ["obs.yaml:5: regions.us-east-1.colour: unknown field; expected one of: group, role, rpo_seconds, probe"]


def test_unknown_top_level_section():
    assert errors_of("regoins: {}\n") == [
        "obs.yaml:1: regoins: unknown field; expected one of: regions, webhooks, failover, slos, anomaly, alerting"
    ]


def test_anomaly_watch_list():
    assert parse("anomaly:\n  watch: [checkout.orders, observatory.replication.lag]\n").anomaly.watch == (
        "checkout.orders", "observatory.replication.lag")
    assert parse("anomaly: {}\n").anomaly.watch == ()
    assert parse("regions: {}\n").anomaly is None  # no section: the watch list is left alone


def test_anomaly_errors_name_the_entry():
    assert errors_of("anomaly:\n  watch: [a]\n  threshold: 3\n") == [
        "obs.yaml:3: anomaly.threshold: unknown field; expected one of: watch"]
    errors = errors_of("anomaly:\n  watch: [a, '', a]\n")
    assert errors == ["obs.yaml:2: anomaly.watch.1: expected a metric name of 1 to 255 characters, got ''",
                      "obs.yaml:2: anomaly.watch.2: 'a' is listed twice"]
    assert errors_of("anomaly:\n  watch: a\n")[0].startswith("obs.yaml:2: anomaly.watch:")


def test_every_error_is_reported_at_once():
    errors = errors_of("""
        regions:
          EU: {}
          us-east-1: {role: leader, rpo_seconds: "30"}
          eu-west-1:
            probe: {url: "ftp://x.example.com", interval_seconds: 0, failure_threshold: 11}
    """)
    assert errors == [
        "obs.yaml:3: regions.EU: 'EU' is not a valid name: use 1-63 lowercase letters, digits and '-'",
        "obs.yaml:4: regions.us-east-1.role: must be one of primary, standby, got 'leader'",
        "obs.yaml:4: regions.us-east-1.rpo_seconds: expected an integer, got a string ('30')",
        "obs.yaml:6: regions.eu-west-1.probe.url: expected an http:// or https:// URL with a host, got 'ftp://x.example.com'",
        "obs.yaml:6: regions.eu-west-1.probe.interval_seconds: must be between 1 and 3600, got 0",
        "obs.yaml:6: regions.eu-west-1.probe.failure_threshold: must be between 1 and 10, got 11",
    ]


@pytest.mark.parametrize("probe,message", [
    ("{interval_seconds: 5}", "probe.url: required when a probe is given"),
    ("{url: 'https://a.test', interval_seconds: 5, timeout_seconds: 5}", "must be shorter than interval_seconds (5), got 5"),
    ("{url: 'https://a.test', timeout_seconds: 0}", "must be greater than 0 and at most 60, got 0"),
    ("{url: 'https://a.test', timeout_seconds: true}", "expected a number, got a boolean (True)"),
    ("{url: 'https://a.test', failure_threshold: 2.5}", "expected an integer, got a number (2.5)"),
    ("[1, 2]", "expected a mapping, got a list"),
])
def test_probe_validation(probe, message):
    [error] = errors_of(f"regions:\n  a:\n    probe: {probe}\n")
    assert message in error
    assert error.startswith("obs.yaml:3: regions.a.probe")


def test_rpo_bounds():
    assert parse("regions:\n  a: {rpo_seconds: 0}\n").regions["a"].rpo_seconds == 0
    [error] = errors_of("regions:\n  a: {rpo_seconds: -1}\n")
    assert "regions.a.rpo_seconds: must be between 0 and 604800, got -1" in error


def test_regions_must_be_a_mapping():
    [error] = errors_of("regions: [us-east-1]\n")
    assert error == "obs.yaml:1: regions: expected a mapping of name to settings, got a list"
    [error] = errors_of("regions:\n  123: {}\n")
    assert "names must be strings, got an integer (123)" in error


def test_top_level_must_be_a_mapping():
    assert errors_of("- a\n- b\n") == ["obs.yaml: expected a mapping of sections at the top level, got a list"]


def test_invalid_yaml_names_line_and_column():
    [error] = errors_of("regions:\n  a: [1\n")
    assert error.startswith("obs.yaml:3:1: invalid YAML:")


def test_duplicate_keys_are_errors_not_silently_merged():
    [error] = errors_of("regions:\n  a: {}\n  a: {role: standby}\n")
    assert error == "obs.yaml:3: regions.a: duplicate key"


def test_environment_interpolation():
    config = parse("regions:\n  a:\n    probe: {url: 'https://${HOST}/healthz?cost=$$5'}\n", {"HOST": "a.example.com"})
    assert config.regions["a"].probe.url == "https://a.example.com/healthz?cost=$5"
    [error] = errors_of("regions:\n  a:\n    group: '${GROUP}'\n")
    assert error == "obs.yaml:3: regions.a.group: environment variable GROUP is not set (used as ${GROUP})"


def test_validate_region_for_the_command_line():
    spec = validate_region("us-east-1", {"group": "storefront", "probe": {"url": "https://x.test/h"}})
    assert spec.group == "storefront" and spec.probe.url == "https://x.test/h"
    with pytest.raises(ConfigError, match="'Bad_Name' is not a valid name"):
        validate_region("Bad_Name", {})
    with pytest.raises(ConfigError, match="rpo_seconds: must be between 0 and 604800"):
        validate_region("a", {"rpo_seconds": 10**9})


SECRET = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"


def test_webhooks_and_failover_sections():
    config = parse(f"""
        regions:
          us-east-1: {{group: storefront}}
          eu-west-1: {{group: storefront, role: standby}}
        webhooks:
          controller: {{url: "https://failover.internal/hook", secret: "${{CONTROLLER_SECRET}}", events: ["failover.*"]}}
          oncall: {{url: "https://oncall.internal/am", secret: "{SECRET}", events: ["alert.*"], format: alertmanager}}
        failover:
          storefront: {{mode: auto, candidates: [eu-west-1], cooldown_seconds: 600, notify: [controller]}}
    """, {"CONTROLLER_SECRET": SECRET})
    assert config.webhooks["controller"].secret == SECRET
    assert config.webhooks["controller"].events == ("failover.*",)
    assert config.webhooks["oncall"].format == "alertmanager"
    spec = config.failover["storefront"]
    assert (spec.mode, spec.candidates, spec.cooldown_seconds, spec.command_ttl_seconds, spec.notify) == (
        "auto", ("eu-west-1",), 600, 300, ("controller",))


def test_webhook_errors_never_echo_the_secret():
    errors = errors_of("""
        webhooks:
          hook: {url: "ftp://x", secret: "supersecretvalue", events: ["failover.*", "Bad Event"], format: xml}
          bare: {}
    """)
    assert all("supersecretvalue" not in e for e in errors)
    assert errors == [
        "obs.yaml:3: webhooks.hook.url: expected an http:// or https:// URL with a host, got 'ftp://x'",
        "obs.yaml:3: webhooks.hook.secret: expected a Standard Webhooks secret: whsec_ followed by base64 of at "
        "least 16 bytes (the value is not shown)",
        "obs.yaml:3: webhooks.hook.events.1: 'Bad Event' is not an event pattern like failover.* or alert.firing",
        "obs.yaml:3: webhooks.hook.format: must be one of standard, alertmanager, pagerduty, got 'xml'",
        "obs.yaml:4: webhooks.bare.url: required",
        "obs.yaml:4: webhooks.bare.secret: required",
        "obs.yaml:4: webhooks.bare.events: required",
    ]


def test_failover_errors():
    errors = errors_of(f"""
        webhooks:
          controller: {{url: "https://c.internal/hook", secret: "{SECRET}", events: ["failover.*"]}}
        failover:
          storefront: {{mode: yolo, cooldown_seconds: -5, candidates: eu-west-1, notify: [pager]}}
    """)
    assert errors == [
        "obs.yaml:5: failover.storefront.mode: must be one of auto, approve, advise, got 'yolo'",
        "obs.yaml:5: failover.storefront.candidates: expected a list of strings, got a string ('eu-west-1')",
        "obs.yaml:5: failover.storefront.cooldown_seconds: must be between 0 and 604800, got -5",
    ]
    [error] = errors_of(f"""
        webhooks:
          controller: {{url: "https://c.internal/hook", secret: "{SECRET}", events: ["failover.*"]}}
        failover:
          storefront: {{notify: [pager]}}
    """)
    assert error == "obs.yaml:5: failover.storefront.notify.0: no webhook named 'pager' in this file"


def test_slos_section():
    config = parse("""
        slos:
          checkout-availability: {service: checkout, objective: 0.999, sli: {kind: availability, source: spans}}
          checkout-latency: {service: checkout, objective: 0.99, window_days: 28, operations: [POST /pay],
                             sli: {kind: latency, threshold_ms: 250}}
          orders: {service: orders, objective: 0.995, min_events: 10,
                   sli: {kind: availability, source: metrics, good: orders.ok, total: orders.total}}
          replication: {objective: 0.99, sli: {kind: replication}}
    """)
    availability = config.slos["checkout-availability"]
    assert (availability.kind, availability.source, availability.window_days, availability.min_events) == (
        "availability", "spans", 30, 100)
    latency = config.slos["checkout-latency"]
    assert (latency.threshold_ms, latency.window_days, latency.operations) == (250, 28, ("POST /pay",))
    orders = config.slos["orders"]
    assert (orders.good_metric, orders.total_metric, orders.min_events) == ("orders.ok", "orders.total", 10)
    assert config.slos["replication"].kind == "replication"
    assert availability.detection_note() == "a total outage pages after 52s"


def test_slo_errors_name_the_field():
    errors = errors_of("""
        slos:
          loose: {service: checkout, objective: 0.9, sli: {kind: availability}}
          slow: {service: checkout, objective: 0.99, sli: {kind: latency, threshold_ms: 300}}
          odd: {objective: 1.5, window_days: 29, sli: {kind: uptime}}
          metric: {service: x, objective: 0.99, sli: {kind: availability, source: metrics, good: a}}
          nameless: {objective: 0.99, sli: {kind: availability}}
    """)
    assert errors == [
        "obs.yaml:3: slos.loose.objective: the page tier can never fire: a total outage burns at most 10.0x, "
        "under the 14.4x threshold; use an objective of at least 0.9306",
        "obs.yaml:4: slos.slow.sli.threshold_ms: must be a latency bucket bound: "
        "5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000",
        "obs.yaml:5: slos.odd.objective: must be greater than 0 and at most 0.99999, got 1.5",
        "obs.yaml:5: slos.odd.window_days: must be 28 or 30, got 29",
        "obs.yaml:5: slos.odd.sli.kind: must be one of availability, latency, replication, got 'uptime'",
        "obs.yaml:6: slos.metric.sli.total: required: the counter metric name",
        "obs.yaml:7: slos.nameless.service: required for span-based SLIs",
    ]
