"""The `slos:` section of observatory.yaml (pure). OpenSLO import maps onto the same spec."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from observatory.analytics import slo as slo_math
from observatory.analytics.buckets import LATENCY_BOUNDS_MS
from observatory.config.reader import Reader

KINDS = ("availability", "latency", "replication")
SOURCES = ("spans", "metrics")


@dataclass(frozen=True)
class SloSpec:
    name: str
    objective: float
    kind: str
    service: str = ""
    operations: tuple[str, ...] = ()
    window_days: int = 30
    source: str = "spans"
    threshold_ms: float | None = None
    good_metric: str = ""
    total_metric: str = ""
    min_events: int = 100
    description: str = ""

    def as_fields(self) -> dict:
        return {"service": self.service, "operations": list(self.operations), "objective": self.objective,
                "window_days": self.window_days, "kind": self.kind, "source": self.source,
                "threshold_ms": self.threshold_ms, "good_metric": self.good_metric,
                "total_metric": self.total_metric, "min_events": self.min_events, "description": self.description}

    def detection_note(self) -> str:
        """How soon a total outage pages, for the operator to see at save time."""
        period = timedelta(days=self.window_days)
        seconds = slo_math.detection_time(slo_math.TIERS[0], self.objective, period).total_seconds()
        return f"a total outage pages after {seconds:.0f}s"


def read_slo(reader: Reader, name: str, value, path: tuple) -> SloSpec | None:
    errors_before = len(reader.errors)
    fields = reader.mapping(value, path, ("service", "operations", "objective", "window_days", "sli", "min_events",
                                          "description"))
    if fields is None:
        return None
    spec: dict = {"name": name}
    if "objective" not in fields:
        reader.error(path + ("objective",), "required, e.g. 0.999")
    else:
        objective = reader.number(fields["objective"], path + ("objective",), 0, 0.99999)
        if objective is not None:
            spec["objective"] = objective
    if "window_days" in fields:
        spec["window_days"] = reader.integer(fields["window_days"], path + ("window_days",), 28, 30)
        if spec["window_days"] not in (None, 28, 30):
            reader.error(path + ("window_days",), f"must be 28 or 30, got {spec['window_days']}")
    for key in ("service", "description"):
        if key in fields:
            spec[key] = reader.string(fields[key], path + (key,))
    if "operations" in fields:
        operations = reader.string_list(fields["operations"], path + ("operations",))
        spec["operations"] = tuple(operations) if operations is not None else None
    if "min_events" in fields:
        spec["min_events"] = reader.integer(fields["min_events"], path + ("min_events",), 0, 10**9)
    if "sli" not in fields:
        reader.error(path + ("sli",), "required, e.g. {kind: availability, source: spans}")
    else:
        spec.update(_read_sli(reader, fields["sli"], path + ("sli",)))
    if len(reader.errors) == errors_before and "objective" in spec:
        period = timedelta(days=spec.get("window_days", 30))
        if not slo_math.page_can_fire(spec["objective"], period):
            needed = 1 - 1 / slo_math.TIERS[0].threshold(period)
            reader.error(path + ("objective",),
                         f"the page tier can never fire: a total outage burns at most "
                         f"{slo_math.max_burn_rate(spec['objective']):.1f}x, under the "
                         f"{slo_math.TIERS[0].threshold(period):g}x threshold; use an objective of at least "
                         f"{needed:.4f}")
        if spec.get("kind") in ("availability", "latency") and spec.get("source", "spans") == "spans" \
                and not spec.get("service"):
            reader.error(path + ("service",), "required for span-based SLIs")
    if len(reader.errors) > errors_before or any(v is None for v in spec.values()):
        return None
    return SloSpec(**spec)


def _read_sli(reader: Reader, value, path: tuple) -> dict:
    fields = reader.mapping(value, path, ("kind", "source", "threshold_ms", "good", "total"))
    if fields is None:
        return {}
    out: dict = {}
    if "kind" not in fields:
        reader.error(path + ("kind",), f"required: one of {', '.join(KINDS)}")
        return out
    out["kind"] = reader.choice(fields["kind"], path + ("kind",), KINDS)
    if "source" in fields:
        out["source"] = reader.choice(fields["source"], path + ("source",), SOURCES)
    kind, source = out["kind"], out.get("source", "spans")
    if kind == "latency":
        if source != "spans":
            reader.error(path + ("source",), "latency SLIs are computed from spans in this version")
        if "threshold_ms" not in fields:
            reader.error(path + ("threshold_ms",), "required for a latency SLI")
        else:
            threshold = reader.number(fields["threshold_ms"], path + ("threshold_ms",), 0, 10**6)
            if threshold is not None and threshold not in LATENCY_BOUNDS_MS:
                reader.error(path + ("threshold_ms",), f"must be a latency bucket bound: "
                                                       f"{', '.join(str(b) for b in LATENCY_BOUNDS_MS)}")
            out["threshold_ms"] = threshold
    if kind == "availability" and source == "metrics":
        for key, target in (("good", "good_metric"), ("total", "total_metric")):
            if key not in fields:
                reader.error(path + (key,), "required: the counter metric name")
            else:
                out[target] = reader.string(fields[key], path + (key,))
    return out
