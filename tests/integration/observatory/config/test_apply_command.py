import io
import textwrap

import pytest
from django.core.management import CommandError, call_command

from observatory.regions.models import Region

GOOD = """
regions:
  us-east-1:
    group: storefront
    role: primary
    rpo_seconds: 30
    probe: {url: "https://use1.example.com/healthz", interval_seconds: 10, timeout_seconds: 2, failure_threshold: 3}
  eu-west-1: {group: storefront, role: standby, rpo_seconds: 30, probe: {url: "https://euw1.example.com/healthz"}}
"""


def write(tmp_path, text, name="observatory.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def apply(*args) -> str:
    out = io.StringIO()
    call_command("apply", *args, stdout=out)
    return out.getvalue()


def snapshot():
    return list(Region.objects.order_by("name").values())


@pytest.mark.django_db
def test_apply_creates_then_second_apply_changes_nothing(tmp_path):
    path = write(tmp_path, GOOD)
    first = apply(path)
    assert "region us-east-1: created" in first and "region eu-west-1: created" in first
    before = snapshot()
    second = apply(path)
    assert "region us-east-1: unchanged" in second and "region eu-west-1: unchanged" in second
    assert second.strip().endswith("changed 0 of 2 object(s)")
    assert snapshot() == before  # updated_at untouched too: nothing was written
    east = Region.objects.get(name="us-east-1")
    assert (east.group, east.role, east.rpo_seconds, east.probe_url, east.probe_failure_threshold) == (
        "storefront", "primary", 30, "https://use1.example.com/healthz", 3)


@pytest.mark.django_db
def test_apply_updates_only_what_changed(tmp_path):
    apply(write(tmp_path, GOOD))
    output = apply(write(tmp_path, GOOD.replace("rpo_seconds: 30,", "rpo_seconds: 90,"), "v2.yaml"))
    assert "region eu-west-1: updated (rpo_seconds 30 -> 90)" in output
    assert "region us-east-1: unchanged" in output
    assert Region.objects.get(name="eu-west-1").rpo_seconds == 90


@pytest.mark.django_db
def test_check_validates_and_writes_nothing(tmp_path):
    output = apply(write(tmp_path, GOOD), "--check")
    assert "region us-east-1: created" in output
    assert "valid; would change 2 of 2" in output
    assert not Region.objects.exists()


@pytest.mark.django_db
def test_bad_file_applies_nothing_and_names_file_field_and_problem(tmp_path):
    apply(write(tmp_path, GOOD))
    before = snapshot()
    bad = GOOD.replace("rpo_seconds: 30\n", "rpo_seconds: 45\n") + "  ap-south-1: {role: leader}\n"
    path = write(tmp_path, bad, "bad.yaml")
    with pytest.raises(CommandError) as info:
        apply(path)
    message = str(info.value)
    assert f"{path}: not applied, 1 error(s)" in message
    assert f"{path}:9: regions.ap-south-1.role: must be one of primary, standby, got 'leader'" in message
    assert snapshot() == before  # the valid rpo change to us-east-1 was not applied either
    assert not Region.objects.filter(name="ap-south-1").exists()


@pytest.mark.django_db
def test_invalid_yaml_and_missing_file(tmp_path):
    with pytest.raises(CommandError, match=r"broken.yaml:3:1: invalid YAML: .*while parsing a flow mapping started at line 2"):
        apply(write(tmp_path, "regions:\n  a: {b\n", "broken.yaml"))
    with pytest.raises(CommandError, match=r"nope.yaml: cannot read \(No such file or directory\)"):
        apply(str(tmp_path / "nope.yaml"))
    assert not Region.objects.exists()


@pytest.mark.django_db
def test_secrets_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EAST_HOST", "use1.internal")
    apply(write(tmp_path, "regions:\n  us-east-1:\n    probe: {url: 'https://${EAST_HOST}/healthz'}\n"))
    assert Region.objects.get(name="us-east-1").probe_url == "https://use1.internal/healthz"


SECRET = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"
FULL = GOOD + """
webhooks:
  controller: {url: "https://failover.internal/hook", secret: "${CONTROLLER_SECRET}", events: ["failover.*"]}
failover:
  storefront: {mode: auto, candidates: [eu-west-1], cooldown_seconds: 600, notify: [controller]}
"""


@pytest.mark.django_db
def test_webhooks_and_failover_policies_apply_idempotently(tmp_path, monkeypatch):
    from observatory.delivery.models import Endpoint
    from observatory.failover.models import FailoverPolicy

    monkeypatch.setenv("CONTROLLER_SECRET", SECRET)
    path = write(tmp_path, FULL)
    first = apply(path)
    assert "webhook controller: created" in first and "failover storefront: created" in first
    second = apply(path)
    assert second.strip().endswith("changed 0 of 4 object(s)")
    endpoint = Endpoint.objects.get(name="controller")
    assert (endpoint.url, endpoint.secret, endpoint.events) == ("https://failover.internal/hook", SECRET, ["failover.*"])
    policy = FailoverPolicy.objects.get(group="storefront")
    assert (policy.mode, policy.candidates, policy.cooldown_seconds, policy.notify) == (
        "auto", ["eu-west-1"], 600, ["controller"])
    monkeypatch.setenv("CONTROLLER_SECRET", "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY")
    rotated = apply(path)
    assert "webhook controller: updated (secret changed)" in rotated
    assert SECRET not in rotated


@pytest.mark.django_db
def test_failover_references_are_checked_and_nothing_is_applied(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTROLLER_SECRET", SECRET)
    bad = FULL.replace("candidates: [eu-west-1]", "candidates: [ap-south-1]").replace(
        "storefront: {mode", "checkout: {mode: advise}\n  storefront: {mode")
    with pytest.raises(CommandError) as info:
        apply(write(tmp_path, bad))
    message = str(info.value)
    assert "failover.checkout: no region is in group 'checkout'" in message
    assert "failover.storefront.candidates: 'ap-south-1' is not a region of group 'storefront'" in message
    assert not Region.objects.exists()


@pytest.mark.django_db
def test_anomaly_watch_list_is_made_exact_and_left_alone_without_the_section(tmp_path):
    from observatory.detection.models import WatchedMetric

    def watched():
        return sorted(WatchedMetric.objects.values_list("name", flat=True))

    output = apply(write(tmp_path, "anomaly:\n  watch: [shop.orders, shop.payments]\n"))
    assert "anomaly watch shop.orders: created" in output and watched() == ["shop.orders", "shop.payments"]
    output = apply(write(tmp_path, "anomaly:\n  watch: [shop.payments, shop.refunds]\n", "v2.yaml"))
    assert "anomaly watch shop.orders: deleted" in output and "anomaly watch shop.payments: unchanged" in output
    assert watched() == ["shop.payments", "shop.refunds"]
    apply(write(tmp_path, GOOD, "v3.yaml"))
    assert watched() == ["shop.payments", "shop.refunds"]
