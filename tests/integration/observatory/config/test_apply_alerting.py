import io
import textwrap

import pytest
from django.core.management import CommandError, call_command

from observatory.alerting.models import InhibitRule, Route
from observatory.regions.models import Region

SECRET = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"
WEBHOOKS = f"""
webhooks:
  oncall: {{url: "https://oncall.example.com/am", secret: "{SECRET}", events: ["alert.*"], format: alertmanager}}
"""
ALERTING = """
alerting:
  routes:
    - {matchers: ['severity="page"', 'region=~"us-.*"'], receiver: oncall, group_by: [region], group_wait_seconds: 5}
    - {receiver: oncall, continue: true}
  inhibit_rules:
    - {source: ['alertname="RegionUnhealthy"'], target: ['severity="ticket"'], equal: [region]}
"""


def apply(tmp_path, text, *args) -> str:
    path = tmp_path / "observatory.yaml"
    path.write_text(textwrap.dedent(text))
    out = io.StringIO()
    call_command("apply", str(path), *args, stdout=out)
    return out.getvalue()


def routes():
    return list(Route.objects.values("position", "matchers", "receiver__name", "group_by", "group_wait_seconds",
                                     "group_interval_seconds", "repeat_interval_seconds", "continue_matching"))


@pytest.mark.django_db
def test_routes_and_rules_apply_idempotently_and_replace_as_a_whole(tmp_path):
    assert "would change" in apply(tmp_path, WEBHOOKS + ALERTING, "--check") and not Route.objects.exists()
    first = apply(tmp_path, WEBHOOKS + ALERTING)
    assert "alerting routes: created (2 routes)" in first and "alerting inhibit_rules: created (1 inhibit rules)" in first
    assert routes() == [
        {"position": 0, "matchers": ['severity="page"', 'region=~"us-.*"'], "receiver__name": "oncall",
         "group_by": ["region"], "group_wait_seconds": 5, "group_interval_seconds": None,
         "repeat_interval_seconds": None, "continue_matching": False},
        {"position": 1, "matchers": [], "receiver__name": "oncall", "group_by": ["alertname", "region"],
         "group_wait_seconds": None, "group_interval_seconds": None, "repeat_interval_seconds": None,
         "continue_matching": True}]
    assert list(InhibitRule.objects.values_list("source", "target", "equal")) == [
        (['alertname="RegionUnhealthy"'], ['severity="ticket"'], ["region"])]
    assert apply(tmp_path, WEBHOOKS + ALERTING).strip().endswith("changed 0 of 3 object(s)")
    assert apply(tmp_path, WEBHOOKS).strip().endswith("changed 0 of 1 object(s)")  # no section: left alone
    assert len(routes()) == 2
    changed = apply(tmp_path, WEBHOOKS + ALERTING.replace("group_wait_seconds: 5", "group_wait_seconds: 10"))
    assert "alerting routes: updated (2 routes)" in changed and routes()[0]["group_wait_seconds"] == 10
    cleared = apply(tmp_path, "alerting: {routes: [], inhibit_rules: []}\n")
    assert "alerting routes: updated (0 routes)" in cleared and not Route.objects.exists()


@pytest.mark.django_db
def test_a_receiver_missing_from_the_database_names_file_line_and_field_and_applies_nothing(tmp_path):
    text = "regions:\n  us-east-1: {}\n" + ALERTING
    with pytest.raises(CommandError) as info:
        apply(tmp_path, text)
    path = tmp_path / "observatory.yaml"
    assert str(info.value).splitlines()[1:] == [
        f"{path}:6: alerting.routes.0.receiver: no webhook named 'oncall'",
        f"{path}:7: alerting.routes.1.receiver: no webhook named 'oncall'"]
    assert not Region.objects.exists() and not Route.objects.exists()


@pytest.mark.django_db
def test_bad_matchers_are_reported_with_every_other_error(tmp_path):
    with pytest.raises(CommandError) as info:
        apply(tmp_path, WEBHOOKS + ALERTING.replace('region=~"us-.*"', 'region=~"us-("').replace(
            "receiver: oncall, continue", "receiver: pager, continue"))
    message = str(info.value)
    assert "not applied, 2 error(s)" in message
    assert ":7: alerting.routes.0.matchers.1: invalid regular expression 'us-('" in message
    assert ":8: alerting.routes.1.receiver: no webhook named 'pager' in this file" in message
