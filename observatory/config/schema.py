"""Parse and validate an observatory.yaml file (pure: no Django, no database).

Every problem is collected, not just the first, and each message names the
file, the line and the dotted path of the field. ``${VAR}`` in a string value is
replaced from the environment so secrets stay out of the file; ``$$`` is a
literal dollar sign.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import yaml

NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_VAR_RE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

ROLES = ("primary", "standby")
# Sections of the design that later versions fill in; named so the error is honest.
PLANNED_SECTIONS = ("failover", "webhooks", "slos", "anomaly")


class ConfigError(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


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
class Config:
    regions: dict[str, RegionSpec] = field(default_factory=dict)


class _Reader:
    """Walks the loaded document, recording errors with file:line: path prefixes."""

    def __init__(self, source: str, lines: dict[tuple, int], environ: Mapping[str, str]):
        self.source = source
        self.lines = lines
        self.environ = environ
        self.errors: list[str] = []

    def error(self, path: tuple, message: str) -> None:
        line = next((self.lines[path[:n]] for n in range(len(path), 0, -1) if path[:n] in self.lines), None)
        where = f"{self.source}:{line}" if line else self.source
        dotted = ".".join(str(p) for p in path) or "(top level)"
        self.errors.append(f"{where}: {dotted}: {message}")

    def mapping(self, value, path: tuple, allowed: tuple[str, ...]) -> dict | None:
        """The allowed keys of a mapping ({} for null); None, with an error, for anything else."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(path, f"expected a mapping, got {_kind(value)}")
            return None
        for key in value:
            if not isinstance(key, str):
                self.error(path, f"keys must be strings, got {key!r}")
            elif key not in allowed:
                self.error(path + (key,), f"unknown field; expected one of: {', '.join(allowed)}")
        return {k: v for k, v in value.items() if k in allowed}

    def string(self, value, path: tuple) -> str | None:
        if not isinstance(value, str):
            self.error(path, f"expected a string, got {_kind(value)}")
            return None
        return self.interpolate(value, path)

    def interpolate(self, text: str, path: tuple) -> str | None:
        missing = []

        def substitute(match: re.Match) -> str:
            if match.group(0) == "$$":
                return "$"
            name = match.group(1)
            if name not in self.environ:
                missing.append(name)
                return ""
            return self.environ[name]

        result = _VAR_RE.sub(substitute, text)
        for name in missing:
            self.error(path, f"environment variable {name} is not set (used as ${{{name}}})")
        return None if missing else result

    def integer(self, value, path: tuple, low: int, high: int) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(path, f"expected an integer, got {_kind(value)}")
            return None
        if not low <= value <= high:
            self.error(path, f"must be between {low} and {high}, got {value}")
            return None
        return value

    def number(self, value, path: tuple, low: float, high: float) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(path, f"expected a number, got {_kind(value)}")
            return None
        if not low < value <= high:
            self.error(path, f"must be greater than {low} and at most {high}, got {value}")
            return None
        return float(value)

    def name(self, value, path: tuple) -> str | None:
        text = self.string(value, path)
        if text is not None and not NAME_RE.match(text):
            self.error(path, f"{text!r} is not a valid name: use 1-63 lowercase letters, digits and '-'")
            return None
        return text


def parse_config(text: str, source: str = "observatory.yaml", environ: Mapping[str, str] | None = None) -> Config:
    """Parse and validate the file's text; raise ConfigError listing every problem."""
    data, lines = _load(text, source)
    reader = _Reader(source, lines, environ or {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: expected a mapping of sections at the top level, got {_kind(data)}"])
    top = reader.mapping(data, (), ("regions",) + PLANNED_SECTIONS) or {}
    for section in PLANNED_SECTIONS:
        if section in top:
            reader.error((section,), "section not supported by this version yet; remove it to apply the rest")
    regions = _read_regions(reader, top.get("regions"))
    if reader.errors:
        raise ConfigError(reader.errors)
    return Config(regions=regions)


def validate_region(name: str, values: Mapping, source: str = "region") -> RegionSpec:
    """Validate one region given as a mapping (the add_region command uses this too)."""
    reader = _Reader(source, {}, {})
    spec = None
    if reader.name(name, ("regions", name)) is not None:
        spec = _read_region(reader, name, dict(values), ("regions", name))
    if reader.errors:
        raise ConfigError(reader.errors)
    return spec


def _read_regions(reader: _Reader, value) -> dict[str, RegionSpec]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        reader.error(("regions",), f"expected a mapping of region name to settings, got {_kind(value)}")
        return {}
    regions = {}
    for name, settings in value.items():
        path = ("regions", name)
        if not isinstance(name, str):
            reader.error(path, f"region names must be strings, got {_kind(name)}")
            continue
        if reader.name(name, path) is None:
            continue
        spec = _read_region(reader, name, settings, path)
        if spec is not None:
            regions[name] = spec
    return regions


def _read_region(reader: _Reader, name: str, value, path: tuple) -> RegionSpec | None:
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


def _read_probe(reader: _Reader, value, path: tuple) -> ProbeSpec | None:
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


def _load(text: str, source: str):
    """Load YAML and map each key path to its line, rejecting duplicate keys."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark:
            problem += f" ({context} started at line {context_mark.line + 1})"
        raise ConfigError([f"{where}: invalid YAML: {problem}"]) from None
    lines: dict[tuple, int] = {}
    duplicates: list[str] = []
    _index(root, (), lines, duplicates, source)
    if duplicates:
        raise ConfigError(duplicates)
    return data, lines


def _index(node, path: tuple, lines: dict, duplicates: list, source: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            key = key_node.value
            child = path + (key,)
            if key in seen:
                dotted = ".".join(str(p) for p in child)
                duplicates.append(f"{source}:{key_node.start_mark.line + 1}: {dotted}: duplicate key")
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _index(value_node, child, lines, duplicates, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _index(item, path + (i,), lines, duplicates, source)


def _kind(value) -> str:
    if value is None:
        return "nothing (null)"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping"}.get(
        type(value), type(value).__name__
    ) + (f" ({value!r})" if isinstance(value, (bool, int, float, str)) else "")
