"""Gauges computed at scrape time from the database (region state, SLO burn and budget, replication
lag, open alerts, active anomalies) and from the broker (queue depth)."""

import logging

from amqp.exceptions import ChannelError
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
        yield from _alerts_and_anomalies()


def _alerts_and_anomalies():
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import Count
    from django.utils import timezone

    from observatory.alerting.models import Alert
    from observatory.detection.models import Anomaly

    alerts = GaugeMetricFamily("observatory_alerts", "Alerts pending or firing, by state and severity.",
                               labels=["state", "severity"])
    counts = {}
    for state, labels in Alert.objects.filter(state__in=("pending", "firing")).values_list("state", "labels"):
        key = (state, labels.get("severity", ""))
        counts[key] = counts.get(key, 0) + 1
    for (state, severity), n in sorted(counts.items()):
        alerts.add_metric([state, severity], n)
    yield alerts
    anomalies = GaugeMetricFamily("observatory_active_anomalies",
                                  "Anomalous series per region within ANOMALY_ALERT_MINUTES.", labels=["region"])
    since = timezone.now() - timedelta(minutes=settings.ANOMALY_ALERT_MINUTES)
    for region, n in (Anomaly.objects.filter(minute__gte=since).values("region__name")
                      .annotate(n=Count("series_key", distinct=True)).values_list("region__name", "n")):
        anomalies.add_metric([region], n)
    yield anomalies


class QueueCollector:
    """Messages waiting in the broker's task queue: the backlog of periodic and fanned-out work."""

    def collect(self):
        depth = GaugeMetricFamily("observatory_queue_depth", "Tasks waiting in the broker queue (-1: unreachable).",
                                  labels=["queue"])
        from observatory.celery import app

        queue = app.conf.task_default_queue or "celery"
        try:
            with app.connection_for_read() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
                try:
                    _, count, _ = connection.default_channel.queue_declare(queue, passive=True)
                except ChannelError:  # not declared yet: no worker has started, nothing queued
                    count = 0
        except Exception:  # a scrape must never fail because the broker is down
            log.warning("queue depth unavailable", exc_info=True)
            count = -1
        depth.add_metric([queue], count)
        yield depth


def _window_label(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
