"""Read models for the SLO pages: every SLO's latest status per region and globally, the error
budget burned down over the SLO window, and burn rates per window against the tier thresholds."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Sum
from django.db.models.functions import TruncHour

from observatory.analytics import slo as math
from observatory.regions.models import Region
from observatory.slos.models import Evaluation, SliMinute, Slo, SloStatus

MAX_POINTS = 300


def slo_list(allowed: set[str] | None) -> list[dict]:
    statuses: dict[int, list[SloStatus]] = {}
    for status in SloStatus.objects.select_related("region").order_by("region__name"):
        if status.region is None or allowed is None or status.region.name in allowed:
            statuses.setdefault(status.slo_id, []).append(status)
    rows = []
    for slo in Slo.objects.order_by("name"):
        scopes = statuses.get(slo.id, [])
        rows.append({"slo": slo, "global": next((s for s in scopes if s.region is None), None),
                     "regions": [s for s in scopes if s.region is not None]})
    return rows


def slo_detail(slo: Slo, region: Region | None, now: datetime) -> dict:
    status = SloStatus.objects.filter(slo=slo, region=region).first()
    tiers = []
    if status:
        for tier in status.tiers:
            tiers.append({**tier, "long_seconds": _seconds(tier["tier"], "long"),
                          "short_seconds": _seconds(tier["tier"], "short")})
    return {"status": status, "tiers": tiers, "burn_down": burn_down(slo, region, now),
            "burn_history": burn_history(slo, region, now),
            "windows": sorted(((int(k), v) for k, v in (status.burn_rates if status else {}).items()))}


def _seconds(tier_name: str, which: str) -> int | None:
    tier = next((t for t in math.TIERS if t.name == tier_name), None)
    return int(getattr(tier, which).total_seconds()) if tier else None


def burn_down(slo: Slo, region: Region | None, now: datetime) -> dict:
    """Share of the error budget left at each hour of the SLO window (events summed from its
    start; region None sums every region, as the global evaluation does)."""
    start = now - timedelta(days=slo.window_days)
    minutes = SliMinute.objects.filter(slo=slo, minute__gt=start)
    if region is not None:
        minutes = minutes.filter(region=region)
    hours = minutes.annotate(hour=TruncHour("minute")).values("hour").annotate(
        good=Sum("good"), total=Sum("total")).order_by("hour")
    counts, rows = math.Counts(), []
    for row in hours:
        counts = counts + math.Counts(row["good"], row["total"])
        rows.append({"at": row["hour"], "remaining": math.budget_remaining(counts, slo.objective),
                     "bad": counts.bad, "total": counts.total})
    return {"rows": rows, "data": {"t": [int(r["at"].timestamp()) for r in rows],
                                   "budget": [r["remaining"] for r in rows], "markers": []}}


def burn_history(slo: Slo, region: Region | None, now: datetime, hours: int = 24) -> dict:
    """The 1 h burn rate over the last day of evaluations, with the page and ticket thresholds."""
    evaluations = list(Evaluation.objects.filter(slo=slo, region=region, evaluated_at__gte=now - timedelta(hours=hours))
                       .order_by("evaluated_at").values_list("evaluated_at", "burn_rates"))
    step = max(1, len(evaluations) // MAX_POINTS)
    sampled = evaluations[::step]
    period = timedelta(days=slo.window_days)
    return {"t": [int(at.timestamp()) for at, _ in sampled],
            "burn": [rates.get("3600") for _, rates in sampled], "markers": [],
            "thresholds": {"burn": [{"value": t.threshold(period), "label": f"{t.name} {t.severity}"}
                                    for t in math.TIERS]}}
