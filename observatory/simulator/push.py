"""Send the simulated world to an Observatory with the real OpenTelemetry SDK.

Spans go through the SDK's own pipeline: a TracerProvider per region and service (its
resource names the service), a BatchSpanProcessor and the OTLP/HTTP span exporter; each
request becomes a SERVER span with its real start and end times, so history can be
back-filled with the same code. Metrics are built as SDK MetricsData at the minute they
describe and sent by the SDK's OTLP/HTTP metric exporter: the health signals
(replication lag, partitions, circuit breakers, queue backlog) and a ``shop.orders`` counter.
"""

from __future__ import annotations

import logging

import numpy as np
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality, Gauge, Metric, MetricExportResult, MetricsData, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind, Status, StatusCode

from observatory.simulator.world import World, routes

log = logging.getLogger(__name__)
SCOPE = InstrumentationScope("observatory.simulator")
BREAKER_TARGET = "payments-db"
QUEUE = "orders"


class RegionSender:
    """Everything one simulated region sends, through its own token."""

    def __init__(self, world: World, region: str, url: str, token: str, wall_start: float,
                 history_start: float = 0.0, seed: int = 0):
        self.world, self.region, self.wall_start = world, region, wall_start
        self.history_start = history_start  # when the orders counter started counting
        self.rng = np.random.default_rng(seed)
        headers = {"authorization": f"Bearer {token}"}
        base = url.rstrip("/")
        self.metrics = OTLPMetricExporter(endpoint=f"{base}/v1/metrics", headers=headers, timeout=10)
        self.providers = {}
        for service in world.services:
            provider = TracerProvider(resource=Resource.create({"service.name": service,
                                                                "cloud.region": region}))
            provider.add_span_processor(BatchSpanProcessor(
                OTLPSpanExporter(endpoint=f"{base}/v1/traces", headers=headers, timeout=10),
                max_queue_size=100_000, max_export_batch_size=1000, schedule_delay_millis=1000))
            self.providers[service] = provider
        self.orders = 0
        self.spans = 0

    def ns(self, t: float) -> int:
        return int((self.wall_start + t) * 1e9)

    def send_requests(self, t0: float, t1: float) -> None:
        """Spans for every request that starts in [t0, t1), if the region is up."""
        if not self.world.up(self.region, t0):
            return
        for service, provider in self.providers.items():
            tracer = provider.get_tracer("observatory.simulator")
            starts, durations, failed, route_ix = self.world.requests(self.region, service, t0, t1, self.rng)
            for start, duration, bad, r in zip(starts, durations, failed, route_ix):
                route = routes(service)[r]
                method = "POST" if route in ("/pay", "/charge", "/login", "/refund") else "GET"
                span = tracer.start_span(f"{method} {route}", kind=SpanKind.SERVER, start_time=self.ns(start),
                                         attributes={"http.route": route, "http.request.method": method,
                                                     "http.response.status_code": 500 if bad else 200})
                if bad:
                    span.set_status(Status(StatusCode.ERROR))
                span.end(end_time=self.ns(start + duration / 1000.0))
                if service == "checkout" and route == "/pay" and not bad:
                    self.orders += 1
            self.spans += len(starts)

    def flush(self) -> None:
        for provider in self.providers.values():
            provider.force_flush(30_000)

    def signal_metrics(self, t: float) -> list[Metric]:
        """The region's health signals and counters as observed at t."""
        at, w, me = self.ns(t), self.world, self.region

        def point(value, **attributes):
            return NumberDataPoint(attributes=attributes, start_time_unix_nano=0, time_unix_nano=at, value=value)

        peers = [p for p in w.regions if p != me]
        metrics = [
            Metric("observatory.network.partition", "link to a peer region is down", "1",
                   Gauge([point(int(w.partitioned(me, p, t)), **{"peer.region": p}) for p in peers])),
            Metric("observatory.circuit_breaker.state", "0 closed, 1 half-open, 2 open", "1",
                   Gauge([point(2 if w.breaker_open(me, t) else 0, target=BREAKER_TARGET)])),
            Metric("observatory.queue.backlog", "messages waiting", "{message}",
                   Gauge([point(w.backlog(me, t, self.rng), queue=QUEUE)])),
            Metric("shop.orders", "orders paid", "{order}", Sum([NumberDataPoint(
                attributes={}, start_time_unix_nano=self.ns(self.history_start), time_unix_nano=at,
                value=self.orders)], AggregationTemporality.CUMULATIVE, True)),
        ]
        if me != w.primary:
            metrics.append(Metric("observatory.replication.lag", "seconds behind the primary", "s",
                                  Gauge([point(round(w.lag_seconds(me, t, self.rng), 3),
                                               **{"peer.region": w.primary})])))
        return metrics

    def send_metrics(self, batches: list[list[Metric]]) -> bool:
        if not batches:
            return True
        resource = Resource.create({"service.name": "platform", "cloud.region": self.region})
        data = MetricsData([ResourceMetrics(resource, [ScopeMetrics(SCOPE, [m for b in batches for m in b], "")], "")])
        ok = self.metrics.export(data) == MetricExportResult.SUCCESS
        if not ok:
            log.warning("%s: metrics export failed", self.region)
        return ok

    def shutdown(self) -> None:
        for provider in self.providers.values():
            provider.shutdown()
        self.metrics.shutdown()


def backfill(senders: list[RegionSender], minutes: int, chunk: int = 10) -> int:
    """Send ``minutes`` of history ending now (t < 0), ``chunk`` minutes per flush; returns spans sent."""
    for first in range(-minutes, 0, chunk):
        for sender in senders:
            batches = []
            for m in range(first, min(first + chunk, 0)):
                t = 60.0 * m
                sender.send_requests(t, t + 60.0)
                if sender.world.up(sender.region, t):
                    batches.append(sender.signal_metrics(t + 30.0))
            sender.flush()
            sender.send_metrics(batches)
    return sum(s.spans for s in senders)
