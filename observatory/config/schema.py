"""Parse and validate an observatory.yaml file (pure: no Django, no database).

Every problem is collected, not just the first, and each message names the
file, the line and the dotted path of the field (see reader.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from observatory.config.reader import NAME_RE, ConfigError, Reader, kind, load
from observatory.config.alerting import AlertingSpec, read_alerting
from observatory.config.slos import SloSpec, read_slo

import base64
import binascii
import re

ROLES = ("primary", "standby")
MODES = ("auto", "approve", "advise")
FORMATS = ("standard", "alertmanager", "pagerduty")
EVENT_RE = re.compile(r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$")
SECTIONS = ("regions", "webhooks", "failover", "slos", "anomaly", "alerting")


@dataclass(frozen=True)
class ProbeSpec:
    url: str
    interval_seconds: int = 10
    timeout_seconds: float = 2.0
    failure_threshold: int = 3


@dataclass(frozen=True)
class RegionSpec:
    name: str
    group: str = "default"
    role: str = "primary"
    rpo_seconds: int = 60
    probe: ProbeSpec | None = None

    def as_fields(self) -> dict:
        """Region model field values; an absent probe clears the probe settings."""
        probe = self.probe or ProbeSpec(url="")
        return {
            "group": self.group,
            "role": self.role,
            "rpo_seconds": self.rpo_seconds,
            "probe_url": probe.url,
            "probe_interval_seconds": probe.interval_seconds,
            "probe_timeout_seconds": probe.timeout_seconds,
            "probe_failure_threshold": probe.failure_threshold,
        }


@dataclass(frozen=True)
class WebhookSpec:
    name: str
    url: str
    secret: str
    events: tuple[str, ...]
    format: str = "standard"
    routing_key: str = ""


@dataclass(frozen=True)
class FailoverSpec:
    group: str
    mode: str = "approve"
    candidates: tuple[str, ...] = ()
    cooldown_seconds: int = 3600
    command_ttl_seconds: int = 300
    notify: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnomalySpec:
    watch: tuple[str, ...] = ()  # metric names scored besides the built-in RED, lag and backlog series


@dataclass(frozen=True)
class Config:
    regions: dict[str, RegionSpec] = field(default_factory=dict)
    webhooks: dict[str, WebhookSpec] = field(default_factory=dict)
    failover: dict[str, FailoverSpec] = field(default_factory=dict)
    slos: dict[str, SloSpec] = field(default_factory=dict)
    anomaly: AnomalySpec | None = None  # None: the file has no anomaly section, leave the watch list alone
    alerting: AlertingSpec | None = None  # None: no alerting section, routes and rules are left alone


def parse_config(text: str, source: str = "observatory.yaml", environ: Mapping[str, str] | None = None) -> Config:
    """Parse and validate the file's text; raise ConfigError listing every problem."""
    data, lines = load(text, source)
    reader = Reader(source, lines, environ or {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: expected a mapping of sections at the top level, got {kind(data)}"])
    top = reader.mapping(data, (), SECTIONS) or {}
    regions = _read_named(reader, top.get("regions"), "regions", _read_region)
    webhooks = _read_named(reader, top.get("webhooks"), "webhooks", _read_webhook)
    failover = _read_named(reader, top.get("failover"), "failover", _read_failover)
    slos = _read_named(reader, top.get("slos"), "slos", read_slo)
    anomaly = _read_anomaly(reader, top["anomaly"], ("anomaly",)) if "anomaly" in top else None
    alerting = read_alerting(reader, top["alerting"], ("alerting",), webhooks) if "alerting" in top else None
    for group, spec in failover.items():
        for i, name in enumerate(spec.notify):
            if webhooks and name not in webhooks:
                reader.error(("failover", group, "notify", i), f"no webhook named {name!r} in this file")
    if reader.errors:
        raise ConfigError(reader.errors)
    return Config(regions=regions, webhooks=webhooks, failover=failover, slos=slos, anomaly=anomaly,
                  alerting=alerting)


def validate_region(name: str, values: Mapping, source: str = "region") -> RegionSpec:
    """Validate one region given as a mapping (the add_region command uses this too)."""
    reader = Reader(source, {}, {})
    spec = None
    if reader.name(name, ("regions", name)) is not None:
        spec = _read_region(reader, name, dict(values), ("regions", name))
    if reader.errors:
        raise ConfigError(reader.errors)
    return spec


def _read_named(reader: Reader, value, section: str, read_one) -> dict:
    """A section that maps names to settings (regions, webhooks, failover groups)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        reader.error((section,), f"expected a mapping of name to settings, got {kind(value)}")
        return {}
    specs = {}
    for name, settings in value.items():
        path = (section, name)
        if not isinstance(name, str):
            reader.error(path, f"names must be strings, got {kind(name)}")
            continue
        if reader.name(name, path) is None:
            continue
        spec = read_one(reader, name, settings, path)
        if spec is not None:
            specs[name] = spec
    return specs


def _read_webhook(reader: Reader, name: str, value, path: tuple) -> WebhookSpec | None:
    errors_before = len(reader.errors)
    fields = reader.mapping(value, path, ("url", "secret", "events", "format", "routing_key"))
    if fields is None:
        return None
    for required in ("url", "secret", "events"):
        if required not in fields:
            reader.error(path + (required,), "required")
    url = reader.string(fields["url"], path + ("url",)) if "url" in fields else None
    if url is not None and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname):
        reader.error(path + ("url",), f"expected an http:// or https:// URL with a host, got {url!r}")
    secret = reader.string(fields["secret"], path + ("secret",)) if "secret" in fields else None
    if secret is not None and not _valid_secret(secret):
        reader.error(path + ("secret",), "expected a Standard Webhooks secret: whsec_ followed by base64 of "
                                         "at least 16 bytes (the value is not shown)")
    events = reader.string_list(fields["events"], path + ("events",)) if "events" in fields else None
    for i, event in enumerate(events or []):
        if not EVENT_RE.match(event):
            reader.error(path + ("events", i), f"{event!r} is not an event pattern like failover.* or alert.firing")
    fmt = reader.choice(fields["format"], path + ("format",), FORMATS) if "format" in fields else "standard"
    routing_key = reader.string(fields["routing_key"], path + ("routing_key",)) if "routing_key" in fields else ""
    if fmt == "pagerduty" and not routing_key:
        reader.error(path + ("routing_key",), "required for format pagerduty (the integration key)")
    if len(reader.errors) > errors_before:
        return None
    return WebhookSpec(name, url, secret, tuple(events), fmt, routing_key)


def _valid_secret(secret: str) -> bool:
    if not secret.startswith("whsec_"):
        return False
    try:
        return len(base64.b64decode(secret[6:], validate=True)) >= 16
    except (binascii.Error, ValueError):
        return False


def _read_anomaly(reader: Reader, value, path: tuple) -> AnomalySpec | None:
    fields = reader.mapping(value if value is not None else {}, path, ("watch",))
    if fields is None:
        return None
    names = reader.string_list(fields.get("watch", []), path + ("watch",))
    if names is None:
        return None
    for i, name in enumerate(names):
        if not name.strip() or len(name) > 255:
            reader.error(path + ("watch", i), f"expected a metric name of 1 to 255 characters, got {name!r}")
        elif names.index(name) != i:
            reader.error(path + ("watch", i), f"{name!r} is listed twice")
    return AnomalySpec(tuple(names))


def _read_failover(reader: Reader, group: str, value, path: tuple) -> FailoverSpec | None:
    errors_before = len(reader.errors)
    fields = reader.mapping(value, path, ("mode", "candidates", "cooldown_seconds", "command_ttl_seconds", "notify"))
    if fields is None:
        return None
    spec = {"group": group}
    if "mode" in fields:
        spec["mode"] = reader.choice(fields["mode"], path + ("mode",), MODES)
    for key in ("candidates", "notify"):
        if key in fields:
            items = reader.string_list(fields[key], path + (key,))
            spec[key] = tuple(items) if items is not None else None
    if "cooldown_seconds" in fields:
        spec["cooldown_seconds"] = reader.integer(fields["cooldown_seconds"], path + ("cooldown_seconds",), 0, 7 * 86400)
    if "command_ttl_seconds" in fields:
        spec["command_ttl_seconds"] = reader.integer(fields["command_ttl_seconds"], path + ("command_ttl_seconds",),
                                                     10, 3600)
    if len(reader.errors) > errors_before:
        return None
    return FailoverSpec(**spec)


def _read_region(reader: Reader, name: str, value, path: tuple) -> RegionSpec | None:
    errors_before = len(reader.errors)
    fields = reader.mapping(value, path, ("group", "role", "rpo_seconds", "probe"))
    if fields is None:
        return None
    spec = {"name": name}
    if "group" in fields:
        spec["group"] = reader.name(fields["group"], path + ("group",))
    if "role" in fields:
        role = reader.string(fields["role"], path + ("role",))
        if role is not None and role not in ROLES:
            reader.error(path + ("role",), f"must be one of {', '.join(ROLES)}, got {role!r}")
        spec["role"] = role
    if "rpo_seconds" in fields:
        spec["rpo_seconds"] = reader.integer(fields["rpo_seconds"], path + ("rpo_seconds",), 0, 86400 * 7)
    if fields.get("probe") is not None:
        spec["probe"] = _read_probe(reader, fields["probe"], path + ("probe",))
    if len(reader.errors) > errors_before:
        return None
    return RegionSpec(**spec)


def _read_probe(reader: Reader, value, path: tuple) -> ProbeSpec | None:
    fields = reader.mapping(value, path, ("url", "interval_seconds", "timeout_seconds", "failure_threshold"))
    if fields is None:
        return None
    if "url" not in fields:
        reader.error(path + ("url",), "required when a probe is given")
        return None
    url = reader.string(fields["url"], path + ("url",))
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            reader.error(path + ("url",), f"expected an http:// or https:// URL with a host, got {url!r}")
    probe = {"url": url}
    if "interval_seconds" in fields:
        probe["interval_seconds"] = reader.integer(fields["interval_seconds"], path + ("interval_seconds",), 1, 3600)
    if "timeout_seconds" in fields:
        probe["timeout_seconds"] = reader.number(fields["timeout_seconds"], path + ("timeout_seconds",), 0, 60)
    if "failure_threshold" in fields:
        probe["failure_threshold"] = reader.integer(fields["failure_threshold"], path + ("failure_threshold",), 1, 10)
    if any(v is None for v in probe.values()):
        return None
    spec = ProbeSpec(**probe)
    if spec.timeout_seconds >= spec.interval_seconds:
        reader.error(
            path + ("timeout_seconds",),
            f"must be shorter than interval_seconds ({spec.interval_seconds}), got {spec.timeout_seconds:g}",
        )
        return None
    return spec
