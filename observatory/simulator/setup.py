"""Prepare a local Observatory for a simulation: regions with probes, a failover group, SLOs
per service, the anomaly watch list, and one fresh token per region (through ``apply``)."""

from __future__ import annotations

import yaml

from observatory.config.apply import apply_config
from observatory.config.schema import parse_config
from observatory.regions.models import Region
from observatory.regions.tokens import issue_token

GROUP = "demo"


def demo_config(regions: tuple[str, ...], services: tuple[str, ...], probe_url) -> dict:
    return {
        "regions": {name: {"group": GROUP, "role": "primary" if i == 0 else "standby", "rpo_seconds": 30,
                           "probe": {"url": probe_url(name), "interval_seconds": 5, "timeout_seconds": 2,
                                     "failure_threshold": 3}}
                    for i, name in enumerate(regions)},
        "failover": {GROUP: {"mode": "approve", "cooldown_seconds": 600}},
        "slos": {
            **{f"{s}-availability": {"service": s, "objective": 0.999, "window_days": 30,
                                     "sli": {"kind": "availability", "source": "spans"}} for s in services},
            **{f"{s}-latency": {"service": s, "objective": 0.99, "window_days": 30,
                                "sli": {"kind": "latency", "threshold_ms": 250, "source": "spans"}} for s in services},
        },
        "anomaly": {"watch": ["shop.orders"]},
    }


def prepare(regions: tuple[str, ...], services: tuple[str, ...], probe_url) -> dict[str, str]:
    """Apply the demo configuration; return a new token per region."""
    text = yaml.safe_dump(demo_config(regions, services, probe_url), sort_keys=False)
    apply_config(parse_config(text, "simulate"))
    return {name: issue_token(Region.objects.get(name=name)) for name in regions}
