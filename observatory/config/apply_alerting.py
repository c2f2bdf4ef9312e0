"""Write the `alerting:` section: the routes and inhibition rules become exactly the file's."""

from __future__ import annotations

from observatory.alerting.models import InhibitRule, Route
from observatory.config.alerting import AlertingSpec
from observatory.config.reader import ConfigError
from observatory.delivery.models import Endpoint


def apply_alerting(spec: AlertingSpec):
    from observatory.config.apply import Change

    endpoints = dict(Endpoint.objects.values_list("name", "id"))
    missing = [f"{r.where}: no webhook named {r.receiver!r}" for r in spec.routes if r.receiver not in endpoints]
    if missing:
        raise ConfigError(missing)
    routes = [{"receiver_id": endpoints[r.receiver], **r.as_fields()} for r in spec.routes]
    rules = [r.as_fields() for r in spec.inhibit_rules]
    return [_replace(Route, routes, "routes", Change), _replace(InhibitRule, rules, "inhibit_rules", Change)]


def _replace(model, wanted: list[dict], name: str, change):
    """Rows are an ordered list without names: replace them all when anything differs."""
    fields = list(wanted[0]) if wanted else []
    current = list(model.objects.select_for_update().order_by("position").values("position", *fields))
    count = f"{len(wanted)} {name.replace('_', ' ')}"
    if [{k: v for k, v in row.items() if k != "position"} for row in current] == wanted:
        return change("alerting", name, "unchanged", (count,))
    model.objects.all().delete()
    model.objects.bulk_create([model(position=i, **row) for i, row in enumerate(wanted)])
    return change("alerting", name, "updated" if current else "created", (count,))
