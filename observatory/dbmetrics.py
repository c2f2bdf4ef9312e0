"""Gauges computed from the database at scrape time: region state, SLO burn and budget, replication lag."""

import logging

from prometheus_client.core import GaugeMetricFamily

from observatory.analytics.health import STATES

log = logging.getLogger(__name__)


class DatabaseCollector:
    def collect(self):
        up = GaugeMetricFamily("observatory_db_gauges_up", "1 if the database-derived gauges could be read.")
        try:
            families = list(self._families())
        except Exception:  # a scrape must never fail because the database is down
            log.warning("database gauges unavailable", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self):
        from observatory.failover.models import RegionHealth
        from observatory.slos.models import SloStatus
        from observatory.telemetry.models import RegionSignal, SignalMapping

        state = GaugeMetricFamily("observatory_region_state", "1 for the region's current health state.",
                                  labels=["region", "state"])
        for region, current in RegionHealth.objects.values_list("region__name", "state"):
            for name in STATES:
                state.add_metric([region, name], 1.0 if name == current else 0.0)
        yield state

        burn = GaugeMetricFamily("observatory_slo_burn_rate", "SLO burn rate per window (error ratio / budget).",
                                 labels=["slo", "region", "window"])
        budget = GaugeMetricFamily("observatory_slo_budget_remaining",
                                   "Share of the SLO's error budget left over its window (negative: overspent).",
                                   labels=["slo", "region"])
        for slo, region, rates, remaining in SloStatus.objects.values_list(
                "slo__name", "region__name", "burn_rates", "budget_remaining"):
            scope = region or "global"
            for window, rate in sorted(rates.items(), key=lambda item: int(item[0])):
                burn.add_metric([slo, scope, _window_label(int(window))], rate)
            if remaining is not None:
                budget.add_metric([slo, scope], remaining)
        yield burn
        yield budget

        lag = GaugeMetricFamily("observatory_replication_lag_seconds", "Latest reported replication lag.",
                                labels=["region", "peer"])
        for region, peer, value in RegionSignal.objects.filter(
                signal=SignalMapping.Signal.REPLICATION_LAG).values_list("region__name", "key", "value"):
            lag.add_metric([region, peer], value)
        yield lag


def _window_label(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
