"""The `alerting:` section of observatory.yaml (pure): notification routes and inhibition rules.

    alerting:
      routes:                       # tried in order; the first match wins unless it says continue
        - matchers: ['severity="page"', 'region=~"us-.*"']
          receiver: pagerduty       # a webhook name
          group_by: [alertname, region]
          group_wait_seconds: 30
          continue: true
      inhibit_rules:
        - {source: ['alertname="RegionUnhealthy"'], target: ['severity="ticket"'], equal: [region]}
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from observatory.analytics.alerts import parse_matcher
from observatory.config.reader import NAME_RE, Reader

LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.]*$")
ROUTE_FIELDS = ("matchers", "receiver", "group_by", "group_wait_seconds", "group_interval_seconds",
                "repeat_interval_seconds", "continue")
TIMERS = {"group_wait_seconds": (0, 86400), "group_interval_seconds": (1, 86400),
          "repeat_interval_seconds": (60, 30 * 86400)}


@dataclass(frozen=True)
class RouteSpec:
    receiver: str
    matchers: tuple[str, ...] = ()
    group_by: tuple[str, ...] = ("alertname", "region")
    group_wait_seconds: int | None = None  # None: the ALERT_*_SECONDS setting
    group_interval_seconds: int | None = None
    repeat_interval_seconds: int | None = None
    continue_matching: bool = False
    where: str = ""  # file:line: path, for errors only the database can reveal

    def as_fields(self) -> dict:
        return {"matchers": list(self.matchers), "group_by": list(self.group_by),
                "group_wait_seconds": self.group_wait_seconds, "group_interval_seconds": self.group_interval_seconds,
                "repeat_interval_seconds": self.repeat_interval_seconds, "continue_matching": self.continue_matching}


@dataclass(frozen=True)
class InhibitSpec:
    source: tuple[str, ...]
    target: tuple[str, ...]
    equal: tuple[str, ...] = ()

    def as_fields(self) -> dict:
        return {"source": list(self.source), "target": list(self.target), "equal": list(self.equal)}


@dataclass(frozen=True)
class AlertingSpec:
    routes: tuple[RouteSpec, ...] = ()
    inhibit_rules: tuple[InhibitSpec, ...] = ()


def read_alerting(reader: Reader, value, path: tuple, webhooks: dict) -> AlertingSpec | None:
    fields = reader.mapping(value, path, ("routes", "inhibit_rules"))
    if fields is None:
        return None
    errors_before = len(reader.errors)
    routes = [_read_route(reader, item, path + ("routes", i), webhooks)
              for i, item in enumerate(_items(reader, fields.get("routes"), path + ("routes",)))]
    rules = [_read_rule(reader, item, path + ("inhibit_rules", i))
             for i, item in enumerate(_items(reader, fields.get("inhibit_rules"), path + ("inhibit_rules",)))]
    if len(reader.errors) > errors_before:
        return None
    return AlertingSpec(tuple(routes), tuple(rules))


def _items(reader: Reader, value, path: tuple) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        reader.error(path, f"expected a list, got {type(value).__name__}")
        return []
    return value


def _read_route(reader: Reader, value, path: tuple, webhooks: dict) -> RouteSpec | None:
    fields = reader.mapping(value, path, ROUTE_FIELDS)
    if fields is None:
        return None
    spec: dict = {"where": reader.where(path + ("receiver",))}
    if "receiver" not in fields:
        reader.error(path + ("receiver",), "required: the name of a webhook to notify")
        spec["receiver"] = None
    else:
        receiver = reader.string(fields["receiver"], path + ("receiver",))
        if receiver is not None and not NAME_RE.match(receiver):
            reader.error(path + ("receiver",), f"{receiver!r} is not a webhook name")
        elif receiver is not None and webhooks and receiver not in webhooks:
            reader.error(path + ("receiver",), f"no webhook named {receiver!r} in this file")
        spec["receiver"] = receiver
    if "matchers" in fields:
        spec["matchers"] = _matchers(reader, fields["matchers"], path + ("matchers",))
    if "group_by" in fields:
        spec["group_by"] = _labels(reader, fields["group_by"], path + ("group_by",))
    for name, (low, high) in TIMERS.items():
        if name in fields:
            spec[name] = reader.integer(fields[name], path + (name,), low, high)
    if "continue" in fields:
        if not isinstance(fields["continue"], bool):
            reader.error(path + ("continue",), f"expected true or false, got {fields['continue']!r}")
        spec["continue_matching"] = fields["continue"]
    if any(v is None for k, v in spec.items() if k not in TIMERS):
        return None
    return RouteSpec(**spec)


def _read_rule(reader: Reader, value, path: tuple) -> InhibitSpec | None:
    fields = reader.mapping(value, path, ("source", "target", "equal"))
    if fields is None:
        return None
    spec = {}
    for side in ("source", "target"):
        if side not in fields:
            reader.error(path + (side,), "required: a list of matchers such as 'severity=\"page\"'")
            spec[side] = None
        else:
            spec[side] = _matchers(reader, fields[side], path + (side,))
            if spec[side] == ():
                reader.error(path + (side,), "at least one matcher is required")
    if "equal" in fields:
        spec["equal"] = _labels(reader, fields["equal"], path + ("equal",))
    if any(v is None for v in spec.values()):
        return None
    return InhibitSpec(**spec)


def _matchers(reader: Reader, value, path: tuple) -> tuple[str, ...] | None:
    texts = reader.string_list(value, path)
    if texts is None:
        return None
    parsed = []
    for i, text in enumerate(texts):
        try:
            parsed.append(str(parse_matcher(text)))  # stored normalised: name op "value"
        except ValueError as exc:
            reader.error(path + (i,), str(exc))
    return tuple(parsed) if len(parsed) == len(texts) else None


def _labels(reader: Reader, value, path: tuple) -> tuple[str, ...] | None:
    names = reader.string_list(value, path)
    if names is None:
        return None
    bad = [(i, n) for i, n in enumerate(names) if not LABEL_RE.match(n)]
    for i, name in bad:
        reader.error(path + (i,), f"{name!r} is not a label name")
    return None if bad else tuple(names)
