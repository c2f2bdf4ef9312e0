from observatory.slos.models import Slo, SloStatus


def register(api):
    @api.get("/slos", tags=["slos"], summary="SLOs with their latest evaluation per region and globally")
    def list_slos(request):
        statuses: dict[int, list] = {}
        for status in SloStatus.objects.select_related("region"):
            statuses.setdefault(status.slo_id, []).append({
                "region": status.region.name if status.region else None,
                "evaluated_at": status.evaluated_at, "as_of": status.as_of,
                "burn_rates": status.burn_rates, "tiers": status.tiers,
                "budget_remaining": status.budget_remaining, "exhaustion_seconds": status.exhaustion_seconds,
                "events": status.events, "page": status.page, "ticket": status.ticket,
            })
        return [{
            "name": slo.name, "service": slo.service, "operations": slo.operations, "objective": slo.objective,
            "window_days": slo.window_days, "kind": slo.kind, "source": slo.source, "threshold_ms": slo.threshold_ms,
            "min_events": slo.min_events, "scopes": sorted(statuses.get(slo.id, []),
                                                           key=lambda s: (s["region"] is not None, s["region"] or "")),
        } for slo in Slo.objects.order_by("name")]
