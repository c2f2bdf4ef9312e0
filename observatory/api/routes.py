"""The alert routing in effect (configured with `manage.py apply`), and where a given alert would go.

Routes and inhibit rules are configuration as code: this API only reads them, like
`amtool config routes show` and `amtool config routes test`.
"""

from datetime import timedelta

from ninja import Schema
from pydantic import Field

from observatory.alerting import dispatch
from observatory.alerting.models import InhibitRule, Route
from observatory.alerting.sources import BUILTIN_INHIBIT_RULES
from observatory.analytics import notify
from observatory.delivery.models import Endpoint


class LabelsIn(Schema):
    labels: dict[str, str] = Field(..., description='an alert\'s labels, e.g. {"alertname": "SloBurnRate", '
                                                    '"severity": "page", "region": "us-east-1"}')


def _seconds(value: timedelta) -> int:
    return int(value.total_seconds())


def _route(route: notify.Route, names: dict[int, str], position: int | None, matchers: list[str]) -> dict:
    return {"position": position, "matchers": matchers, "receiver": names.get(route.receiver, str(route.receiver)),
            "group_by": list(route.group_by), "group_wait_seconds": _seconds(route.timing.group_wait),
            "group_interval_seconds": _seconds(route.timing.group_interval),
            "repeat_interval_seconds": _seconds(route.timing.repeat_interval), "continue": route.continue_matching}


def _effective() -> tuple[list[dict], list[dict], list[tuple[notify.Route, dict]]]:
    """(configured routes, default routes, every route with its description) with the timers in effect."""
    every = list(Endpoint.objects.all())
    names = {e.id: e.name for e in every}
    configured, fallback = dispatch.load_routes({e.id: e for e in every if e.enabled})
    stored = list(Route.objects.all())  # load_routes keeps their order
    described = [(r, _route(r, names, s.position, list(s.matchers))) for r, s in zip(configured, stored)]
    defaults = [(r, _route(r, names, None, [])) for r in fallback]
    return [d for _, d in described], [d for _, d in defaults], described + defaults


def register(api):
    @api.get("/alert-routes", tags=["alerts"],
             summary="The routes and inhibit rules in effect, with each route's timers resolved")
    def show_routes(request):
        routes, defaults, _ = _effective()
        rules = [{"source": [str(m) for m in r.source], "target": [str(m) for m in r.target],
                  "equal": list(r.equal), "builtin": True} for r in BUILTIN_INHIBIT_RULES]
        rules += [{"source": r.source, "target": r.target, "equal": r.equal, "builtin": False}
                  for r in InhibitRule.objects.all()]
        return {"routes": routes, "default_routes": defaults, "inhibit_rules": rules}

    @api.post("/alert-routes/test", tags=["alerts"],
              summary="Where an alert with these labels would be sent, and how it would be grouped")
    def test_routes(request, body: LabelsIn):
        _, _, described = _effective()
        by_route = {id(route): description for route, description in described}
        configured = [route for route, d in described if d["position"] is not None]
        fallback = [route for route, d in described if d["position"] is None]
        chosen = notify.route(body.labels, configured, fallback)
        return {"labels": body.labels, "routes": [
            {**by_route[id(route)], "group_labels": {k: body.labels.get(k, "") for k in route.group_by}}
            for route in chosen]}
