"""OpenSLO v1 documents to and from SloSpec (pure).

Observatory reads its own SLIs from spans and metrics, so an indicator names them
through a ratioMetric whose metricSource has ``type: Observatory``:

    spec:
      indicator:
        metadata: {name: checkout-availability-sli}
        spec:
          ratioMetric:
            counter: true
            good:  {metricSource: {type: Observatory, spec: {kind: availability, source: spans}}}
            total: {metricSource: {type: Observatory, spec: {kind: availability, source: spans}}}

Other metric sources are read as counter metrics named by ``spec.metric`` (or ``spec.query``).
"""

from __future__ import annotations

import re

import yaml

from observatory.config.reader import NAME_RE, ConfigError, Reader, kind
from observatory.config.slos import SloSpec, read_slo

_DURATION = re.compile(r"^(\d+)d$")
# OpenSLO has no fields for these; they travel as annotations.
MIN_EVENTS, OPERATIONS = "observatory/min-events", "observatory/operations"


def parse_openslo(text: str, source: str = "slos.yaml") -> list[SloSpec]:
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise ConfigError([f"{where}: invalid YAML: {getattr(exc, 'problem', None) or exc}"]) from None
    errors, specs = [], []
    for index, document in enumerate(documents, start=1):
        reader = Reader(f"{source} document {index}", {}, {})
        spec = _read_document(reader, document)
        errors += reader.errors
        if spec is not None:
            specs.append(spec)
    names = [s.name for s in specs]
    errors += [f"{source}: SLO {n!r} is defined more than once" for n in sorted({n for n in names if names.count(n) > 1})]
    if errors:
        raise ConfigError(errors)
    return specs


def _read_document(reader: Reader, document) -> SloSpec | None:
    if not isinstance(document, dict):
        reader.error((), f"expected an OpenSLO document (a mapping), got {kind(document)}")
        return None
    if document.get("apiVersion") != "openslo/v1":
        reader.error(("apiVersion",), f"expected openslo/v1, got {document.get('apiVersion')!r}")
    if document.get("kind") != "SLO":
        reader.error(("kind",), f"only SLO documents are supported, got {document.get('kind')!r}")
    if reader.errors:
        return None
    name = (document.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        reader.error(("metadata", "name"), f"expected a name of lowercase letters, digits and '-', got {name!r}")
        return None
    spec = document.get("spec")
    if not isinstance(spec, dict):
        reader.error(("spec",), f"expected a mapping, got {kind(spec)}")
        return None
    if reader.errors:
        return None
    ours = {"service": spec.get("service", ""), "description": spec.get("description", "")}
    window = (spec.get("timeWindow") or [{}])[0]
    match = _DURATION.match(str(window.get("duration", "30d")))
    if not match:
        reader.error(("spec", "timeWindow", 0, "duration"), f"expected 28d or 30d, got {window.get('duration')!r}")
        return None
    ours["window_days"] = int(match.group(1))
    objectives = spec.get("objectives") or []
    if len(objectives) != 1 or not isinstance(objectives[0], dict) or "target" not in objectives[0]:
        reader.error(("spec", "objectives"), "expected exactly one objective with a target, e.g. [{target: 0.999}]")
        return None
    ours["objective"] = objectives[0]["target"]
    sli = _read_indicator(reader, spec.get("indicator"))
    if sli is None:
        return None
    ours["sli"] = sli
    annotations = (document.get("metadata") or {}).get("annotations") or {}
    if MIN_EVENTS in annotations:
        try:
            ours["min_events"] = int(annotations[MIN_EVENTS])
        except (TypeError, ValueError):
            reader.error(("metadata", "annotations", MIN_EVENTS), f"expected an integer, got {annotations[MIN_EVENTS]!r}")
            return None
    if annotations.get(OPERATIONS):
        ours["operations"] = [op.strip() for op in str(annotations[OPERATIONS]).split(",") if op.strip()]
    return read_slo(reader, name, ours, ())


def _read_indicator(reader: Reader, indicator) -> dict | None:
    ratio = ((indicator or {}).get("spec") or {}).get("ratioMetric") if isinstance(indicator, dict) else None
    if not isinstance(ratio, dict):
        reader.error(("spec", "indicator", "spec", "ratioMetric"), "required (inline indicators with a ratioMetric)")
        return None
    good = ((ratio.get("good") or {}).get("metricSource") or {})
    total = ((ratio.get("total") or {}).get("metricSource") or {})
    if good.get("type") == "Observatory":
        sli = dict(good.get("spec") or {})
        if "thresholdMs" in sli:
            sli["threshold_ms"] = sli.pop("thresholdMs")
        return sli
    good_metric = (good.get("spec") or {}).get("metric") or (good.get("spec") or {}).get("query")
    total_metric = (total.get("spec") or {}).get("metric") or (total.get("spec") or {}).get("query")
    return {"kind": "availability", "source": "metrics", "good": good_metric, "total": total_metric}


def to_openslo(spec: SloSpec) -> dict:
    sli = {"kind": spec.kind, "source": spec.source}
    if spec.threshold_ms is not None:
        sli["thresholdMs"] = spec.threshold_ms
    if spec.source == "metrics":
        good = {"metricSource": {"type": "Prometheus", "spec": {"metric": spec.good_metric}}}
        total = {"metricSource": {"type": "Prometheus", "spec": {"metric": spec.total_metric}}}
    else:
        good = total = {"metricSource": {"type": "Observatory", "spec": sli}}
    document = {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": spec.name, "annotations": {
            MIN_EVENTS: str(spec.min_events), **({OPERATIONS: ",".join(spec.operations)} if spec.operations else {})}},
        "spec": {
            "description": spec.description,
            "service": spec.service,
            "indicator": {"metadata": {"name": f"{spec.name}-sli"},
                          "spec": {"ratioMetric": {"counter": True, "good": good, "total": total}}},
            "timeWindow": [{"duration": f"{spec.window_days}d", "isRolling": True}],
            "budgetingMethod": "Occurrences",
            "objectives": [{"target": spec.objective}],
        },
    }
    return document
