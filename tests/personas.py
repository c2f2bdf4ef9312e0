"""Users of the dashboards' personas, and the data the dashboard tests look at."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

PASSWORD = "a-long-test-password-42"


def make_user(name: str, role: str | None = None, regions: tuple[str, ...] = ()):
    """A user in the persona group ``role`` (viewer, operator, admin; None: no group), optionally
    limited to ``regions``."""
    from django.contrib.auth.models import Permission

    from dashboards.access import ensure_groups
    from dashboards.models import RegionAccess
    from observatory.regions.models import Region

    ensure_groups(Group, Permission)  # transactional tests flush what the data migration made
    user = get_user_model().objects.create_user(name, password=PASSWORD)
    if role:
        user.groups.add(Group.objects.get(name=role))
    for region in regions:
        RegionAccess.objects.create(user=user, region=Region.objects.get(name=region))
    return user


def span_minutes(region, service: str, minutes: int = 30, requests: int = 600, errors: int = 6,
                 buckets=(0, 100, 300, 150, 40, 10, 0, 0, 0, 0, 0, 0), operation: str = "GET /"):
    """Minute RED rollups for the last ``minutes`` minutes, as the rollup job would write them."""
    from observatory.telemetry.models import SpanMinute

    now = timezone.now().replace(second=0, microsecond=0)
    SpanMinute.objects.bulk_create([
        SpanMinute(region=region, service=service, operation=operation, minute=now - timedelta(minutes=i),
                   requests=requests, errors=errors, duration_sum_ms=requests * 30.0, latency_buckets=list(buckets))
        for i in range(minutes)])


def firing_alert(labels: dict, summary: str = "something is wrong"):
    from observatory.alerting.models import Alert
    from observatory.analytics.alerts import fingerprint

    now = timezone.now()
    return Alert.objects.create(fingerprint=fingerprint(labels), labels=labels, annotations={"summary": summary},
                                state="firing", active_since=now, firing_since=now, last_true_at=now)
