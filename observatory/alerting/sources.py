"""Every signal Observatory computes, as alert conditions: labels, annotations and timing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import quote

from django.conf import settings

from observatory.analytics.alerts import InhibitRule, Matcher, fingerprint


@dataclass(frozen=True)
class Condition:
    labels: dict
    annotations: dict = field(default_factory=dict)
    for_seconds: int = 0
    keep_firing_for_seconds: int = 0

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)


# Built-in inhibitions: a sick region silences its own per-service alerts; a global SLO page
# silences that SLO's regional tickets. (Faster tiers inhibit slower ones inside analytics.slo.)
BUILTIN_INHIBIT_RULES = [
    InhibitRule(source=(Matcher("alertname", "=", "RegionUnhealthy"),),
                target=(Matcher("service", "!=", ""),), equal=("region",)),
    InhibitRule(source=(Matcher("alertname", "=", "SloBurnRate"), Matcher("region", "=", "global"),
                        Matcher("severity", "=", "page")),
                target=(Matcher("alertname", "=", "SloBurnRate"), Matcher("severity", "=", "ticket")),
                equal=("slo",)),
]


def _link(path: str) -> str:
    return settings.EXTERNAL_URL.rstrip("/") + path


def collect(now) -> list[Condition]:
    return [*_regions(now), *_slos(), *_replication(now), *_failovers(now), *_anomalies(now),
            *_auth_failures(now)]


def _regions(now) -> list[Condition]:
    from observatory.failover.models import RegionHealth

    conditions = []
    for health in RegionHealth.objects.select_related("region"):
        region = health.region.name
        if health.state == "unhealthy":
            conditions.append(Condition(
                {"alertname": "RegionUnhealthy", "severity": "page", "source": "health", "region": region},
                {"summary": f"Region {region} is unhealthy",
                 "description": f"Evidence: {', '.join(health.kinds) or 'none'}",
                 "link": _link(f"/regions/{region}/")}, keep_firing_for_seconds=60))
        elif "telemetry" in health.kinds:
            conditions.append(Condition(
                {"alertname": "RegionTelemetryStale", "severity": "ticket", "source": "health", "region": region},
                {"summary": f"No telemetry from {region}",
                 "description": f"Nothing accepted for over {settings.REGION_STALE_AFTER_SECONDS}s",
                 "link": _link(f"/regions/{region}/")}, for_seconds=60))
    return conditions


def _slos() -> list[Condition]:
    from observatory.slos.models import SloStatus

    conditions = []
    # Plain tuples, not model instances: this runs every cycle over every SLO x region.
    for name, service, region, tiers in SloStatus.objects.values_list("slo__name", "slo__service", "region__name",
                                                                      "tiers"):
        scope = region or "global"
        for tier in tiers:
            if not tier["firing"] or tier["inhibited"]:
                continue
            conditions.append(Condition(
                {"alertname": "SloBurnRate", "severity": tier["severity"], "source": "slo", "slo": name,
                 "service": service, "region": scope, "tier": tier["tier"]},
                {"summary": f"{name} burns its error budget {tier['long_burn']:.1f}x too fast in {scope}",
                 "description": f"{tier['tier']} tier: long window {tier['long_burn']:.2f}x, short window "
                                f"{tier['short_burn']:.2f}x, threshold {tier['threshold']:.1f}x"
                                + _partial_history(tier.get("coverage", 1.0)),
                 "link": _link(f"/slos/{name}/")}))
    return conditions


def _partial_history(coverage: float) -> str:
    if coverage >= 1.0:
        return ""
    return f" (data covers {coverage:.0%} of the long window; the burns count the rest as error-free)"


def _replication(now) -> list[Condition]:
    from observatory.regions.models import Region
    from observatory.telemetry.models import RegionSignal, SignalMapping

    rpo = dict(Region.objects.values_list("id", "rpo_seconds"))
    names = dict(Region.objects.values_list("id", "name"))
    fresh = now - timedelta(seconds=settings.SIGNAL_MAX_AGE_SECONDS)
    conditions = []
    for signal in RegionSignal.objects.filter(signal=SignalMapping.Signal.REPLICATION_LAG, observed_at__gte=fresh):
        if signal.value > rpo.get(signal.region_id, 0):
            region = names[signal.region_id]
            conditions.append(Condition(
                {"alertname": "ReplicationLagOverRpo", "severity": "ticket", "source": "replication",
                 "region": region, "peer": signal.key},
                {"summary": f"{region} lags {signal.value:.0f}s behind {signal.key}, over its RPO "
                            f"of {rpo[signal.region_id]}s",
                 "link": _link(f"/regions/{region}/")}, for_seconds=60))
    return conditions


def _failovers(now) -> list[Condition]:
    from observatory.failover.models import Decision

    conditions = []
    for decision in Decision.objects.select_related("source", "target").filter(state="awaiting_approval"):
        conditions.append(Condition(
            {"alertname": "FailoverAwaitingApproval", "severity": "page", "source": "failover",
             "group": decision.group, "region": decision.source.name},
            {"summary": f"Failover {decision.source.name} -> {decision.target.name} awaits approval",
             "link": _link(f"/failover/{decision.id}/")}))
    recent = now - timedelta(hours=1)
    for decision in Decision.objects.select_related("source").filter(state="expired", updated_at__gte=recent):
        conditions.append(Condition(
            {"alertname": "FailoverCommandExpired", "severity": "page", "source": "failover",
             "group": decision.group, "region": decision.source.name},
            {"summary": f"Failover command for {decision.group} expired undelivered",
             "description": decision.outcome_detail, "link": _link(f"/failover/{decision.id}/")}))
    return conditions


def _anomalies(now) -> list[Condition]:
    """One alert per anomalous series, firing while its latest anomaly is recent."""
    from observatory.detection.models import Anomaly

    recent = now - timedelta(minutes=settings.ANOMALY_ALERT_MINUTES)
    latest = {}
    for anomaly in Anomaly.objects.select_related("region").filter(minute__gte=recent).order_by("minute"):
        latest[(anomaly.region_id, anomaly.series_key)] = anomaly
    conditions = []
    for anomaly in latest.values():
        region = anomaly.region.name
        labels = {"alertname": "Anomaly", "severity": "ticket", "source": "anomaly", "region": region,
                  "series": anomaly.series_key}
        if anomaly.service:
            labels["service"] = anomaly.service
        conditions.append(Condition(labels, {
            "summary": f"Anomaly in {anomaly.series_key} in {region} at {anomaly.minute:%H:%M} UTC "
                       f"(value {anomaly.value:.4g})",
            "description": anomaly.explanation.get("summary", ""),
            "link": _link(anomaly_chart_path(region, anomaly.series_key, anomaly.minute))}))
    return conditions


def anomaly_chart_path(region: str, series_key: str, minute) -> str:
    return f"/regions/{quote(region)}/?series={quote(series_key)}&at={minute:%Y-%m-%dT%H:%MZ}"


def _auth_failures(now) -> list[Condition]:
    """Repeated rejected ingest requests: a leaked, revoked or mistyped token, or someone probing."""
    from observatory.regions import auth_failures

    window = settings.INGEST_AUTH_FAILURE_WINDOW_SECONDS
    total, top = auth_failures.summarise(now - timedelta(seconds=window))
    if total <= settings.INGEST_AUTH_FAILURE_THRESHOLD:
        return []
    sources = ", ".join(f"{addr or '?'} (token {prefix + '…' if prefix else 'none'}): {n}" for addr, prefix, n in top)
    return [Condition(
        {"alertname": "IngestAuthFailures", "severity": "ticket", "source": "ingest"},
        {"summary": f"{total} ingest requests rejected with 401 in the last {window}s "
                    f"(threshold {settings.INGEST_AUTH_FAILURE_THRESHOLD})",
         "description": f"Top sources: {sources}", "link": _link("/admin/regions/regiontoken/")})]
