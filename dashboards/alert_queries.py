"""Read models for the alerts page: filtered alerts split into active and silenced, and the
silence builder's preview (the same matcher semantics as dispatch, from analytics.alerts)."""

from __future__ import annotations

from datetime import datetime

from observatory.alerting import silences as silencing
from observatory.alerting.models import Alert, Silence
from observatory.analytics import alerts as lifecycle

STATES = ("firing", "pending", "resolved")
SEVERITIES = ("page", "ticket")
# Labels offered as matchers when a silence is started from an alert.
SILENCE_LABELS = ("alertname", "region", "service", "slo", "series", "peer", "group")
DURATIONS = {"1h": 3600, "4h": 4 * 3600, "1d": 86400, "3d": 3 * 86400, "7d": 7 * 86400}


def active_silences(now: datetime) -> list[tuple[Silence, list]]:
    return [(s, [lifecycle.parse_matcher(m) for m in s.matchers])
            for s in Silence.objects.filter(starts_at__lte=now, ends_at__gt=now)]


def silenced_labels(labels: dict, silences: list[tuple[Silence, list]]) -> Silence | None:
    return next((s for s, matchers in silences if lifecycle.matches_all(matchers, labels)), None)


def silenced_by(alert: Alert, silences: list[tuple[Silence, list]]) -> Silence | None:
    return silenced_labels(alert.labels, silences)


def unsilenced(alerts, now: datetime) -> list[Alert]:
    silences = active_silences(now)
    return [a for a in alerts if silenced_by(a, silences) is None]


def for_region(region: str, now: datetime) -> list[Alert]:
    alerts = Alert.objects.filter(state__in=["firing", "pending"], labels__region=region).order_by("-firing_since")
    return unsilenced(alerts, now)


def alerts_page(filters: dict, allowed: set[str] | None, now: datetime) -> dict:
    """Alerts matching the filters: active (firing or pending, not silenced), silenced, and resolved."""
    alerts = Alert.objects.exclude(state="inactive").order_by("-updated_at")
    if filters.get("state") in STATES:
        alerts = alerts.filter(state=filters["state"])
    for label in ("region", "service", "severity"):
        if filters.get(label):
            alerts = alerts.filter(**{f"labels__{label}": filters[label]})
    silences = active_silences(now)
    active, silenced, resolved = [], [], []
    for alert in alerts[:500]:
        if allowed is not None and alert.labels.get("region") not in allowed:
            continue
        if alert.state == "resolved":
            resolved.append(alert)
            continue
        silence = silenced_by(alert, silences)
        alert.silence = silence
        (silenced if silence else active).append(alert)
    return {"active": active, "silenced": silenced, "resolved": resolved[:50],
            "silences": [s for s, _ in silences]}


def label_values() -> dict[str, list[str]]:
    """Values seen on current alerts, for the filter drop-downs."""
    seen: dict[str, set] = {"region": set(), "service": set()}
    for labels in Alert.objects.exclude(state="inactive").values_list("labels", flat=True)[:2000]:
        for name in seen:
            if labels.get(name):
                seen[name].add(labels[name])
    return {name: sorted(values) for name, values in seen.items()}


def matchers_for(fingerprint: str) -> list[str]:
    """Equality matchers built from an alert's identifying labels (the silence builder's start)."""
    alert = Alert.objects.filter(fingerprint=fingerprint).first()
    if alert is None:
        return []
    return [f'{k}="{alert.labels[k]}"' for k in SILENCE_LABELS if alert.labels.get(k)]


def parse_matchers(text: str) -> tuple[list[str], str]:
    """One matcher per line; returns (matchers, error)."""
    matchers = [line.strip() for line in text.splitlines() if line.strip()]
    for i, m in enumerate(matchers):
        try:
            lifecycle.parse_matcher(m)
        except ValueError as exc:
            return matchers, f"line {i + 1}: {exc}"
    return matchers, "" if matchers else "give at least one matcher"


def preview(matchers: list[str], allowed: set[str] | None) -> list[Alert]:
    return [a for a in silencing.preview(matchers) if allowed is None or a.labels.get("region") in allowed]
