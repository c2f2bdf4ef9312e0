import textwrap

import pytest

from observatory.config.alerting import AlertingSpec, InhibitSpec, RouteSpec
from observatory.config.schema import ConfigError, parse_config

WEBHOOKS = """
webhooks:
  oncall: {url: "https://oncall.example.com/am", secret: "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3", events: ["alert.*"]}
  pd: {url: "https://events.pagerduty.com/v2/enqueue", secret: "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3",
       events: [], format: pagerduty, routing_key: R0UT1NG}
"""


def parse(text: str):
    return parse_config(textwrap.dedent(text), source="obs.yaml", environ={})


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(text)
    return info.value.errors


def test_routes_and_inhibit_rules_with_defaults():
    config = parse(WEBHOOKS + """
alerting:
  routes:
    - matchers: ['severity="page"', 'region=~"us-.*"', "service!=", "source!~test.*"]
      receiver: pd
      group_by: [region]
      group_wait_seconds: 10
      group_interval_seconds: 60
      repeat_interval_seconds: 3600
      continue: true
    - {receiver: oncall}
  inhibit_rules:
    - {source: ['alertname="RegionUnhealthy"'], target: ['severity="ticket"'], equal: [region]}
""")
    first, second = config.alerting.routes
    assert first.as_fields() == {
        "matchers": ['severity="page"', 'region=~"us-.*"', 'service!=""', 'source!~"test.*"'], "group_by": ["region"],
        "group_wait_seconds": 10, "group_interval_seconds": 60, "repeat_interval_seconds": 3600,
        "continue_matching": True}
    assert first.receiver == "pd" and first.where == "obs.yaml:10: alerting.routes.0.receiver"
    assert second == RouteSpec(receiver="oncall", where="obs.yaml:16: alerting.routes.1.receiver")
    assert config.alerting.inhibit_rules == (
        InhibitSpec(('alertname="RegionUnhealthy"',), ('severity="ticket"',), ("region",)),)


def test_no_alerting_section_leaves_routes_alone_and_an_empty_one_clears_them():
    assert parse(WEBHOOKS).alerting is None
    assert parse("alerting: {routes: [], inhibit_rules: []}\n").alerting == AlertingSpec()


def test_every_error_names_file_line_and_field():
    errors = errors_of(WEBHOOKS + """
alerting:
  routes:
    - matchers: ['severity=="page"', 'region=~"us-("']
      receiver: nobody
      group_by: ["not a label"]
      group_wait_seconds: -1
      continue: "yes"
      colour: red
    - matchers: []
  inhibit_rules:
    - {source: [], equal: region}
""")
    text = "\n".join(errors)
    for expected in [
        "obs.yaml:14: alerting.routes.0.colour: unknown field",
        "obs.yaml:10: alerting.routes.0.receiver: no webhook named 'nobody' in this file",
        "obs.yaml:9: alerting.routes.0.matchers.1: invalid regular expression 'us-('",
        "obs.yaml:11: alerting.routes.0.group_by.0: 'not a label' is not a label name",
        "obs.yaml:12: alerting.routes.0.group_wait_seconds: must be between 0 and 86400, got -1",
        "obs.yaml:13: alerting.routes.0.continue: expected true or false, got 'yes'",
        "obs.yaml:15: alerting.routes.1.receiver: required: the name of a webhook to notify",
        "obs.yaml:17: alerting.inhibit_rules.0.source: at least one matcher is required",
        "obs.yaml:17: alerting.inhibit_rules.0.target: required",
        "obs.yaml:17: alerting.inhibit_rules.0.equal: expected a list of strings",
    ]:
        assert expected in text, f"{expected!r} not in:\n{text}"
