"""Read models for the overview and region pages: a fixed number of queries each, whatever the
number of regions or services (telemetry is read through observatory.telemetry.queries only)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q

from dashboards import alert_queries
from observatory.alerting.models import Alert
from observatory.alerting.sources import anomaly_chart_path
from observatory.analytics.buckets import quantile_ms
from observatory.detection.models import Anomaly
from observatory.failover.decide import lag_status
from observatory.failover.models import Decision, FailoverPolicy, GroupState, HealthTransition, ProbeResult, \
    RegionHealth
from observatory.regions.models import Region
from observatory.slos.models import SloStatus
from observatory.telemetry import queries as telemetry
from observatory.telemetry.models import RegionSignal, SignalMapping

# Range picker: span and chart step (about 60-170 points per chart).
RANGES = {"1h": (3600, 60), "6h": (6 * 3600, 300), "24h": (86400, 900), "7d": (7 * 86400, 3600)}
DEFAULT_RANGE = "1h"
CURRENT = timedelta(minutes=5)  # tiles and tables show the last five settled minutes
STATE_ORDER = {"unhealthy": 0, "suspect": 1, "unknown": 2, "recovering": 3, "healthy": 4}
CHART_OF_KEY = {"red.requests": "rate", "red.error_ratio": "errors", "red.latency_p95_ms": "latency"}


@dataclass
class Red:
    requests: int = 0
    errors: int = 0
    buckets: list = field(default_factory=list)
    seconds: float = 300.0

    def add(self, requests: int, errors: int, buckets: list) -> None:
        self.requests += requests
        self.errors += errors
        self.buckets = [a + b for a, b in zip(self.buckets, buckets)] if self.buckets else list(buckets)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def error_ratio(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def p95_ms(self) -> float | None:
        return quantile_ms(self.buckets, 0.95) if self.buckets else None


@dataclass
class Tile:
    region: Region
    state: str
    since: datetime | None
    kinds: list
    red: Red
    worst_slo: str = ""
    worst_burn: float | None = None
    worst_budget: float | None = None
    lag_seconds: float | None = None
    lag_peer: str = ""
    open_alerts: int = 0
    anomalies: int = 0

    @property
    def lag_over_rpo(self) -> bool:
        return self.lag_seconds is not None and self.lag_seconds > self.region.rpo_seconds


def visible_regions(allowed: set[str] | None) -> list[Region]:
    regions = Region.objects.select_related("health").order_by("group", "name")
    return list(regions if allowed is None else regions.filter(name__in=allowed))


def worst_burn(status: SloStatus) -> float:
    return max((v for v in status.burn_rates.values() if v is not None), default=0.0)


def overview(allowed: set[str] | None, now: datetime) -> dict:
    regions = visible_regions(allowed)
    by_id = {r.id: r for r in regions}
    red: dict[int, Red] = defaultdict(Red)
    for (region_id, _service, _), (requests, errors, buckets) in telemetry.red_rollup(now - CURRENT, now).items():
        if region_id in by_id:
            red[region_id].add(requests, errors, buckets)
    tiles = {}
    for region in regions:
        health = getattr(region, "health", None)
        tiles[region.id] = Tile(region, health.state if health else "unknown", health.since if health else None,
                                health.kinds if health else [], red[region.id])
    # Plain tuples, not model objects: every SLO in every region is read here.
    burns = SloStatus.objects.filter(region_id__in=by_id).values_list(
        "region_id", "slo__name", "burn_rates", "budget_remaining")
    for region_id, name, rates, budget in burns:
        tile, burn = tiles[region_id], max((v for v in rates.values() if v is not None), default=0.0)
        if tile.worst_burn is None or burn > tile.worst_burn:
            tile.worst_slo, tile.worst_burn, tile.worst_budget = name, burn, budget
    for signal in RegionSignal.objects.filter(region_id__in=by_id, signal=SignalMapping.Signal.REPLICATION_LAG):
        tile = tiles[signal.region_id]
        if tile.lag_seconds is None or signal.value > tile.lag_seconds:
            tile.lag_seconds, tile.lag_peer = signal.value, signal.key
    names = {r.name: r.id for r in regions}
    silences = alert_queries.active_silences(now)
    for labels in Alert.objects.filter(state="firing").values_list("labels", flat=True):
        if labels.get("region") in names and not alert_queries.silenced_labels(labels, silences):
            tiles[names[labels["region"]]].open_alerts += 1
    recent = now - timedelta(minutes=settings.ANOMALY_ALERT_MINUTES)
    for row in Anomaly.objects.filter(region_id__in=by_id, minute__gte=recent).values("region_id").annotate(
            n=Count("series_key", distinct=True)):
        tiles[row["region_id"]].anomalies = row["n"]
    global_slos = list(SloStatus.objects.filter(region__isnull=True).select_related("slo").order_by("slo__name"))
    for status in global_slos:
        status.worst_burn = worst_burn(status)
    return {"tiles": sorted(tiles.values(), key=lambda t: (STATE_ORDER.get(t.state, 2), t.region.name)),
            "global_slos": global_slos, "timeline": timeline(list(by_id), allowed), "regions": regions}


def timeline(region_ids: list[int], allowed: set[str] | None, limit: int = 15) -> list[dict]:
    """The latest health transitions and failover decisions, newest first."""
    events = [{"at": t.at, "kind": "state", "region": t.region.name, "text": f"{t.from_state} → {t.to_state}",
               "detail": ", ".join(t.kinds), "state": t.to_state, "href": f"/regions/{t.region.name}/"}
              for t in HealthTransition.objects.filter(region_id__in=region_ids).select_related("region")[:limit]]
    decisions = Decision.objects.select_related("source", "target")
    if allowed is not None:
        decisions = decisions.filter(Q(source__name__in=allowed) | Q(target__name__in=allowed))
    events += [{"at": d.created_at, "kind": "failover", "region": d.source.name,
                "text": f"failover {d.source.name} → {d.target.name}: {d.state}", "detail": d.reason,
                "state": d.state, "href": f"/failover/{d.id}/"} for d in decisions[:limit]]
    return sorted(events, key=lambda e: e["at"], reverse=True)[:limit]


def window(range_key: str, at: datetime | None, now: datetime) -> tuple[datetime, datetime, int]:
    """(start, end, step seconds) of the chart range; an ``at`` (an anomaly link) centres it."""
    span, step = RANGES.get(range_key, RANGES[DEFAULT_RANGE])
    end = now if at is None else min(now, at + timedelta(seconds=span / 2))
    end = end.replace(second=0, microsecond=0)
    start = end - timedelta(seconds=span)
    return start, end, step


def series_service(series_key: str) -> str:
    """The service of an anomaly series key such as ``red.errors|service=checkout``."""
    for part in series_key.partition("|")[2].split(","):
        name, _, value = part.partition("=")
        if name == "service":
            return value
    return ""


def region_page(region: Region, now: datetime, range_key: str, service: str, at: datetime | None) -> dict:
    start, end, step = window(range_key, at, now)
    services: dict[str, Red] = defaultdict(Red)
    for (_, svc, _), (requests, errors, buckets) in telemetry.red_rollup(now - CURRENT, now, region.id).items():
        services[svc].add(requests, errors, buckets)
    anomalies = list(Anomaly.objects.filter(region=region, minute__gt=start, minute__lte=end).order_by("minute"))
    per_service = Counter(a.service for a in anomalies)
    service = service or (max(services, key=lambda s: services[s].requests) if services else "")
    return {
        "start": start, "end": end, "step": step, "service": service,
        "services": sorted(services.items()), "anomaly_counts": per_service,
        "chart": chart(region, service, start, end, step, anomalies),
        "other_anomalies": [a for a in anomalies if not a.series_key.startswith("red.")],
        **health(region, now),
        "alerts": alert_queries.for_region(region.name, now),
        "failover": failover_state(region),
    }


def chart(region: Region, service: str, start: datetime, end: datetime, step: int, anomalies: list) -> dict:
    """One service's request rate, error ratio and p95 per step, with its anomalies as markers."""
    rows = []
    if service:
        steps = telemetry.red_rollup(start, end, region.id, service, step)
        for (_, _, at), (requests, errors, buckets) in sorted(steps.items(), key=lambda kv: kv[0][2]):
            red = Red(requests, errors, list(buckets), step)
            rows.append({"at": at, "rate": red.rate, "error_ratio": red.error_ratio, "p95_ms": red.p95_ms})
    markers = []
    for a in anomalies:
        metric = a.series_key.partition("|")[0]
        if a.service == service and metric in CHART_OF_KEY:
            markers.append({"t": int(a.minute.timestamp()), "chart": CHART_OF_KEY[metric], "score": round(a.score, 3),
                            "value": a.value, "label": f"{metric} {a.value:.4g} at {a.minute:%H:%M} (score "
                            f"{a.score:.2f}) {a.explanation.get('summary', '')}".strip(),
                            "href": anomaly_chart_path(region.name, a.series_key, a.minute), "minute": a.minute})
    marked = {m["minute"].replace(second=0) - timedelta(seconds=(m["minute"] - start).total_seconds() % step)
              for m in markers}
    for row in rows:
        row["anomaly"] = row["at"] in marked
    data = {"t": [int(r["at"].timestamp()) for r in rows], "rate": [r["rate"] for r in rows],
            "errors": [r["error_ratio"] for r in rows], "latency": [r["p95_ms"] for r in rows],
            "markers": [{k: v for k, v in m.items() if k != "minute"} for m in markers]}
    return {"rows": rows, "markers": markers, "data": data}


def health(region: Region, now: datetime) -> dict:
    signals = defaultdict(list)
    lag_signals = []
    for s in RegionSignal.objects.filter(region=region).order_by("signal", "key"):
        signals[s.signal].append(s)
        if s.signal == SignalMapping.Signal.REPLICATION_LAG:
            lag_signals.append(s)
    history = telemetry.lag_reports(now - timedelta(minutes=10))
    lags = [(s.key, lag_status(region, s.key, now, lag_signals, history)) for s in lag_signals]
    return {
        "health": RegionHealth.objects.filter(region=region).first(),
        "breakers": signals[SignalMapping.Signal.CIRCUIT_BREAKER],
        "backlogs": signals[SignalMapping.Signal.QUEUE_BACKLOG],
        "partitions": signals[SignalMapping.Signal.NETWORK_PARTITION],
        "probes": list(ProbeResult.objects.filter(region=region)[:10]),
        "lags": lags,
        "transitions": list(HealthTransition.objects.filter(region=region)[:10]),
    }


def failover_state(region: Region) -> dict:
    state = GroupState.objects.filter(group=region.group).select_related("active_region").first()
    return {
        "group": region.group,
        "policy": FailoverPolicy.objects.filter(group=region.group).first(),
        "active": state.active_region if state else None,
        "open": Decision.objects.filter(group=region.group, state__in=Decision.OPEN)
                .select_related("source", "target").first(),
    }
