#!/usr/bin/env python
"""Fault benchmark: the slow faults of the operations issue, with the figures they produce.

    .venv/bin/python bench/faults.py [--receiver-down 120] [--broker-down 60] [--webhooks 50]

Everything is real and on loopback: a dedicated PostgreSQL database (observatory_faultbench,
dropped at the end), a redis-server of its own (never the machine's shared one), gunicorn,
a Celery worker with embedded beat, and tests/webhook_receiver.py, which verifies every
Standard Webhooks signature and records each webhook-id.

1. Receiver down: the receiver is stopped, --webhooks alert notifications are enqueued
   through the outbox, and the receiver stays down for --receiver-down seconds. Then it
   comes back; we time until every notification has arrived and count duplicates per
   webhook-id (the contract: each exactly once) and the attempts recorded meanwhile.
2. Broker down: redis-server is stopped for --broker-down seconds while a client pushes
   OTLP metrics every second; we count the answers (all must be 200: ingest does not need
   the broker), then time how long after redis returns the periodic rollup has the last
   point pushed during the outage. An Anomaly alert raised before the outage (and notified)
   must not be notified again; one raised during it must be notified once after it.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psycopg
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.failover import Child, drop_database, free_port, manage, recreate_database, spawn, wait_for_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def gauge_body(value: float) -> bytes:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="observatory.queue.backlog")
    point = metric.gauge.data_points.add(time_unix_nano=time.time_ns(), as_double=value)
    point.attributes.add(key="queue").value.string_value = "orders"
    return request.SerializeToString()


class Redis:
    def __init__(self, tmp: Path):
        self.port, self.tmp, self.child = free_port(), tmp, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.child = spawn("redis", ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                     "--appendonly", "no", "--dir", str(self.tmp)], dict(os.environ), self.tmp)
        wait_for_port(self.port, self.child.process, self.child.log)

    def stop(self) -> None:
        self.child.stop()


def receiver_down(base: str, env: dict, db, receiver_port: int, secret: str, tmp: Path, down: float, n: int) -> dict:
    receiver = spawn("receiver", [sys.executable, "tests/webhook_receiver.py", str(receiver_port), secret], env, tmp)
    wait_for_port(receiver_port, receiver.process, receiver.log)
    receiver.stop()
    code = ("from django.db import transaction\nfrom observatory.delivery import outbox\n"
            f"with transaction.atomic():\n    [outbox.enqueue('alert.firing', {{'n': i}}) for i in range({n})]")
    started = time.monotonic()
    manage(env, "shell", "-c", code)
    time.sleep(max(0.0, down - (time.monotonic() - started)))
    attempts_while_down = db.execute("SELECT count(*) FROM delivery_deliveryattempt").fetchone()[0]
    receiver = spawn("receiver2", [sys.executable, "tests/webhook_receiver.py", str(receiver_port), secret], env, tmp)
    wait_for_port(receiver_port, receiver.process, receiver.log)
    back = time.monotonic()
    received = []
    while time.monotonic() - back < 600:
        received = requests.get(f"http://127.0.0.1:{receiver_port}/received", timeout=5).json()
        if len({r["id"] for r in received if isinstance(r["body"], dict) and set(r["body"]) == {"n"}}) >= n:
            break
        time.sleep(0.5)
    drained = time.monotonic() - back
    time.sleep(5)  # anything late would be a duplicate
    received = requests.get(f"http://127.0.0.1:{receiver_port}/received", timeout=5).json()
    receiver.stop()
    ours = [r for r in received if isinstance(r["body"], dict) and set(r["body"]) == {"n"}]  # not real alerts
    counts = Counter(r["id"] for r in ours)
    return {"notifications": n, "down_s": down, "attempts_while_down": attempts_while_down,
            "arrived": len(counts), "duplicates": sum(c - 1 for c in counts.values()),
            "distinct_payloads": len({r["body"]["n"] for r in ours}),
            "unverified": sum(not r["verified"] for r in received), "drained_after_s": round(drained, 1)}


ANOMALY = ("from django.utils import timezone\nfrom observatory.detection.models import Anomaly\n"
           "from observatory.regions.models import Region\n"
           "Anomaly.objects.create(region=Region.objects.get(name={region!r}), series_key='red.requests|service=checkout',"
           " service='checkout', minute=timezone.now().replace(second=0, microsecond=0), value=0, score=0.9,"
           " explanation={{}}, model_version=1)")


def anomaly_alerts(receiver_port: int) -> list[dict]:
    """Every notification of an Anomaly alert the receiver has had: (webhook-id, region, status)."""
    received = requests.get(f"http://127.0.0.1:{receiver_port}/received", timeout=5).json()
    return [{"id": r["id"], "region": a["labels"]["region"], "status": a["status"], "verified": r["verified"]}
            for r in received if isinstance(r["body"], dict) for a in r["body"].get("alerts", [])
            if a["labels"].get("alertname") == "Anomaly"]


def broker_down(base: str, token: str, redis: Redis, db, down: float, env: dict, receiver_port: int,
                secret: str, tmp: Path) -> dict:
    """OTLP pushes through the outage; an alert raised before it must not be repeated after it, one
    raised during it must be notified once after it."""
    receiver = spawn("receiver3", [sys.executable, "tests/webhook_receiver.py", str(receiver_port), secret], env, tmp)
    wait_for_port(receiver_port, receiver.process, receiver.log)
    manage(env, "shell", "-c", ANOMALY.format(region="us-east-1"))
    deadline = time.monotonic() + 120
    while not anomaly_alerts(receiver_port) and time.monotonic() < deadline:
        time.sleep(0.5)
    before = len(anomaly_alerts(receiver_port))
    headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {token}"}
    redis.stop()
    manage(env, "shell", "-c", ANOMALY.format(region="eu-west-1"))
    statuses, value, end = Counter(), 0.0, time.monotonic() + down
    while time.monotonic() < end:
        value += 1
        statuses[requests.post(f"{base}/v1/metrics", data=gauge_body(value), headers=headers, timeout=10).status_code] += 1
        time.sleep(1)
    redis.start()
    back = time.monotonic()
    resumed = notified = None
    while time.monotonic() - back < 300 and (resumed is None or notified is None):
        if resumed is None and db.execute("SELECT count(*) FROM telemetry_series_minute WHERE last = %s",
                                          [value]).fetchone()[0]:
            resumed = round(time.monotonic() - back, 1)
        if notified is None and any(a["region"] == "eu-west-1" for a in anomaly_alerts(receiver_port)):
            notified = round(time.monotonic() - back, 1)
        time.sleep(0.5)
    time.sleep(15)  # three alerting cycles: anything more would be a repeat
    alerts = anomaly_alerts(receiver_port)
    receiver.stop()
    ids = Counter(a["id"] for a in alerts)
    return {"down_s": down, "pushes": dict(statuses), "rollups_resumed_after_s": resumed,
            "alert_sent_before": before, "alert_raised_during_notified_after_s": notified,
            "anomaly_notifications": sorted(Counter((a["region"], a["status"]) for a in alerts).items()),
            "duplicate_webhook_ids": sum(c - 1 for c in ids.values()),
            "unverified": sum(not a["verified"] for a in alerts)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--receiver-down", type=float, default=120.0)
    parser.add_argument("--broker-down", type=float, default=60.0)
    parser.add_argument("--webhooks", type=int, default=50)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/observatory_faultbench")
    args = parser.parse_args(argv)
    if shutil.which("redis-server") is None:
        print("redis-server is not installed (Debian package redis-server)")
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="faultbench-"))
    recreate_database(args.database_url)
    redis = Redis(tmp)
    redis.start()
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    receiver_port, port = free_port(), free_port()
    env = dict(os.environ, DATABASE_URL=args.database_url, CELERY_BROKER_URL=redis.url,
               SECRET_KEY=secrets.token_urlsafe(50), OUTBOUND_ALLOW_PRIVATE="true", ALERT_GROUP_WAIT_SECONDS="2",
               DJANGO_SETTINGS_MODULE="observatory.settings")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the bench's processes keep their own samples
    children: list[Child] = []
    try:
        manage(env, "migrate", "--noinput", "-v0")
        config = tmp / "faults.yaml"
        config.write_text(json.dumps({"regions": {"us-east-1": {}, "eu-west-1": {}}, "webhooks": {"oncall": {
            "url": f"http://127.0.0.1:{receiver_port}/hook", "secret": secret, "events": ["alert.*"]}}}))
        manage(env, "apply", str(config))
        token = manage(env, "issue_token", "us-east-1").splitlines()[-1]
        web = spawn("web", [sys.executable, "-m", "gunicorn", "observatory.wsgi:application", "-c",
                            "python:observatory.gunicorn_conf", "--bind", f"127.0.0.1:{port}"], env, tmp)
        children.append(web)
        worker = spawn("worker", [sys.executable, "-m", "celery", "-A", "observatory", "worker", "-B",
                                  "--concurrency", "2", "--schedule", str(tmp / "beat"), "--loglevel", "INFO"], env, tmp)
        children.append(worker)
        wait_for_port(port, web.process, web.log)
        base = f"http://127.0.0.1:{port}"
        db = psycopg.connect(args.database_url, autocommit=True)
        print(f"receiver down {args.receiver_down:g} s with {args.webhooks} notifications enqueued ...", flush=True)
        first = receiver_down(base, env, db, receiver_port, secret, tmp, args.receiver_down, args.webhooks)
        print(f"  {first}")
        print(f"broker (redis) down {args.broker_down:g} s while pushing OTLP every second ...", flush=True)
        second = broker_down(base, token, redis, db, args.broker_down, env, receiver_port, secret, tmp)
        print(f"  {second}")
        ok = (first["arrived"] == first["distinct_payloads"] == args.webhooks and first["duplicates"] == 0
              and first["unverified"] == 0
              and set(second["pushes"]) == {200} and (second["rollups_resumed_after_s"] or 999) <= 60
              and second["anomaly_notifications"] == [(("eu-west-1", "firing"), 1), (("us-east-1", "firing"), 1)]
              and second["duplicate_webhook_ids"] == second["unverified"] == 0)
        print("all faults held" if ok else "A FAULT DID NOT HOLD")
        return 0 if ok else 1
    finally:
        for child in reversed(children):
            child.stop()
        redis.stop()
        drop_database(args.database_url)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
