#!/usr/bin/env python
"""Failover benchmark: outage-to-webhook time through the real running service.

    .venv/bin/python bench/failover.py [--trials-10 3] [--trials-5 5] [--flap-seconds 60] [--budget 1200]

A benchmark, not a test: it prints figures and the goals next to them. Everything
runs on this machine over loopback.

1. (Re)creates a dedicated PostgreSQL database (default observatory_failbench) and
   migrates it; flushes a Redis database of its own (default db 9).
2. Starts tests/webhook_receiver.py as the failover controller (it verifies the
   Standard Webhooks signatures), an in-process HTTP server that serves the three
   simulated regions' health URLs, and writes an observatory.yaml that it applies
   with `manage.py apply`: regions us-east-1 (primary), eu-west-1 and ap-south-1 in
   group storefront with probes on that server, a `controller` webhook with a whsec_
   secret (passed as ${BENCH_WEBHOOK_SECRET}), and failover storefront in auto mode
   with cooldown 0. Each phase re-applies the file with its probe interval/threshold.
3. Issues ingest tokens (`manage.py issue_token`) and an API key for a user that may
   operate failover (`manage.py issue_api_key`), then starts gunicorn (the service)
   and `celery -A observatory worker -B` (probe tick every second, evaluator, decider,
   webhook delivery) on Redis.
4. One pusher thread per region sends OTLP/HTTP protobuf metrics every --push-every
   seconds: `observatory.network.partition{peer.region=...}` for both peers (1 once a
   peer is down for --notice-after seconds, else 0) and, from the standbys,
   `observatory.replication.lag{peer.region=us-east-1}`. A failed region stops pushing.
5. Phases (a) interval 10 s / threshold 3 and (b) 5 s / 3: each trial waits for a
   chosen point in us-east-1's probe cycle (stratified over the cycle, so min/median/
   max cover the range of phases), makes its health URL answer 503 and its peers
   report the partition, and measures until the receiver gets the signed
   `failover.requested`. Then it heals the region, waits until it is healthy again,
   and closes the decision the way a controller would: POST /api/v1/failovers/<id>/
   callback {"status": "failed"} (the active region stays us-east-1). Per trial it
   also reads the timeline from the database (probe results, health transitions,
   decision, delivery attempts) to show where the time went.
6. False-failover check: us-east-1's health URL flaps (503, 503, 200, repeated per
   probe) and eu-west-1 alone reports a broken link to it, for --flap-seconds; the
   number of failover webhooks received must be 0.

Everything is stopped at the end and on Ctrl-C; the database is dropped unless
--keep-database; the Redis database is flushed again.
"""

from __future__ import annotations

import argparse
import base64
import ipaddress
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402
import urllib3  # noqa: E402
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (  # noqa: E402
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue  # noqa: E402

GROUP = "storefront"
PRIMARY = "us-east-1"
REGIONS = (("us-east-1", "primary"), ("eu-west-1", "standby"), ("ap-south-1", "standby"))
CANDIDATES = ("eu-west-1", "ap-south-1")
FLAP_CYCLE = (503, 503, 200)  # per probe request
GOALS = {10: 30.0, 5: 15.0}  # probe interval (s) -> detection-to-webhook goal (s), threshold 3
THRESHOLD = 3
CONTROLLER_USER = "bench-controller"
STAGES = ("peers' partition reports in", "first failing probe", "failing probe #threshold", "marked unhealthy",
          "decider lease (held at unhealthy) expires", "decision created", "delivery attempt", "webhook received")


class Stop(Exception):
    pass


def now_dt() -> datetime:
    return datetime.now(timezone.utc)


def ts(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt is not None else None


# --------------------------------------------------------------------------- the simulated regions


class World:
    """What each simulated region is doing: its health URL's answers, whether it pushes, which links are broken."""

    def __init__(self):
        self.lock = threading.Lock()
        self.mode = {name: "up" for name, _ in REGIONS}  # up | down | flap
        self.down_since: dict[str, float] = {}  # region -> time.time() it failed
        self.broken_links: set[tuple[str, str]] = set()  # (reporter, peer) reported partitioned regardless
        self.flap_count: dict[str, int] = {}
        self.requests: dict[str, list[tuple[float, int]]] = {name: [] for name, _ in REGIONS}  # served probes
        self.first_partition_push: dict[tuple[str, str], float] = {}  # (reporter, peer) -> first accepted 1
        self.push_statuses: dict = {}
        self.push_errors: list[str] = []
        self.notice_after = 1.0

    def answer(self, region: str) -> int:
        with self.lock:
            mode = self.mode.get(region)
            if mode is None:
                return 404
            if mode == "down":
                status = 503
            elif mode == "flap":
                n = self.flap_count.get(region, 0)
                self.flap_count[region] = n + 1
                status = FLAP_CYCLE[n % len(FLAP_CYCLE)]
            else:
                status = 200
            self.requests[region].append((time.time(), status))
            return status

    def fail(self, region: str) -> float:
        with self.lock:
            at = time.time()
            self.mode[region] = "down"
            self.down_since[region] = at
            self.first_partition_push = {k: v for k, v in self.first_partition_push.items() if k[1] != region}
            return at

    def heal(self, region: str) -> None:
        with self.lock:
            self.mode[region] = "up"
            self.down_since.pop(region, None)

    def flap(self, region: str) -> None:
        with self.lock:
            self.mode[region] = "flap"
            self.flap_count[region] = 0

    def pushing(self, region: str) -> bool:
        with self.lock:
            return self.mode[region] != "down"

    def partitioned(self, reporter: str, peer: str, at: float) -> bool:
        with self.lock:
            if (reporter, peer) in self.broken_links:
                return True
            since = self.down_since.get(peer)
            return since is not None and at >= since + self.notice_after

    def last_request(self, region: str) -> float | None:
        with self.lock:
            return self.requests[region][-1][0] if self.requests[region] else None

    def served_since(self, region: str, since: float) -> list[tuple[float, int]]:
        with self.lock:
            return [r for r in self.requests[region] if r[0] >= since]


class Sites:
    """Each region's health URL (GET /<region>), served for real over loopback HTTP."""

    def __init__(self, world: World):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                code = world.answer(self.path.strip("/"))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------- OTLP pushers


def kv(key: str, value: str) -> KeyValue:
    item = KeyValue(key=key)
    item.value.string_value = value
    return item


def metrics_request(region: str, gauges: list[tuple[str, str, float]], at: float) -> ExportMetricsServiceRequest:
    """gauges: [(metric name, peer.region, value)] at one time."""
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    resource.resource.attributes.extend([kv("service.name", "storefront"), kv("cloud.region", region)])
    scope = resource.scope_metrics.add()
    scope.scope.name = "bench.failover"
    by_name: dict[str, list[tuple[str, float]]] = {}
    for name, peer, value in gauges:
        by_name.setdefault(name, []).append((peer, value))
    for name, points in by_name.items():
        metric = scope.metrics.add(name=name)
        for peer, value in points:
            point = metric.gauge.data_points.add(time_unix_nano=int(at * 1e9), as_double=value)
            point.attributes.append(kv("peer.region", peer))
    return request


class Pusher(threading.Thread):
    """One region's telemetry: partition reports for its peers (and replication lag for standbys)."""

    def __init__(self, world: World, region: str, role: str, token: str, port: int, every: float, stop: threading.Event):
        super().__init__(name=f"pusher-{region}", daemon=True)
        self.world, self.region, self.role, self.token, self.port = world, region, role, token, port
        self.every, self.stop_event = every, stop
        self.rng = random.Random(region)

    def run(self):
        pool = urllib3.HTTPConnectionPool("127.0.0.1", self.port, maxsize=1, retries=False, timeout=10)
        headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {self.token}"}
        next_at = time.monotonic() + self.rng.uniform(0, self.every)  # regions are not in lock-step
        while not self.stop_event.is_set():
            self.stop_event.wait(max(0.0, next_at - time.monotonic()))
            next_at += self.every
            if self.stop_event.is_set() or not self.world.pushing(self.region):
                continue
            at = time.time()
            peers = [name for name, _ in REGIONS if name != self.region]
            partitions = {peer: 1.0 if self.world.partitioned(self.region, peer, at) else 0.0 for peer in peers}
            gauges = [("observatory.network.partition", peer, value) for peer, value in partitions.items()]
            if self.role == "standby":
                gauges.append(("observatory.replication.lag", PRIMARY, round(self.rng.uniform(0.5, 2.5), 2)))
            body = metrics_request(self.region, gauges, at).SerializeToString()
            try:
                response = pool.urlopen("POST", "/v1/metrics", body=body, headers=headers)
                status = response.status
                if status == 200:
                    partial = ExportMetricsServiceResponse.FromString(response.data).partial_success
                    if partial.rejected_data_points:
                        self.note_error(f"{self.region}: {partial.rejected_data_points} rejected: "
                                        f"{partial.error_message}")
            except urllib3.exceptions.HTTPError as exc:
                status = type(exc).__name__
            with self.world.lock:
                key = (self.region, status)
                self.world.push_statuses[key] = self.world.push_statuses.get(key, 0) + 1
                if status == 200:
                    for peer, value in partitions.items():
                        if value >= 1:
                            self.world.first_partition_push.setdefault((self.region, peer), time.time())
            if status != 200:
                self.note_error(f"{self.region}: push answered {status}")

    def note_error(self, message: str) -> None:
        with self.world.lock:
            if len(self.world.push_errors) < 20:
                self.world.push_errors.append(message)


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}:\n{tail(log)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port} after {timeout:g} s:\n{tail(log)}")


def tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log: Path

    def stop(self, grace: float = 20.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()  # warm shutdown (celery) / graceful stop (gunicorn)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # its own session, started by us
            except ProcessLookupError:
                pass
            self.process.wait(timeout=5)
        else:
            try:  # leftovers of its own process group (pool children), if any
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def spawn(name: str, argv: list[str], env: dict, tmp: Path) -> Child:
    log = tmp / f"{name}.log"
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                               start_new_session=True)  # Ctrl-C reaches us only; we stop them in order
    return Child(name, process, log)


def manage(env: dict, *args: str, timeout: float = 180) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args[:2])} failed:\n{done.stdout}{done.stderr}")
    return done.stdout.strip()


# --------------------------------------------------------------------------- database


def maintenance_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def recreate_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(maintenance_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(maintenance_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Db:
    """Read-only views of the service's state, for waiting and for the timeline."""

    def __init__(self, url: str):
        self.conn = psycopg.connect(url, autocommit=True)

    def close(self):
        self.conn.close()

    def health(self) -> dict[str, dict]:
        rows = self.conn.execute(
            "SELECT r.name, h.state, h.probe_failures, h.probe_successes, h.last_probe_at, h.next_probe_at"
            " FROM failover_regionhealth h JOIN regions_region r ON r.id = h.region_id").fetchall()
        return {name: {"state": state, "failures": f, "successes": s, "last_probe_at": last, "next_probe_at": nxt}
                for name, state, f, s, last, nxt in rows}

    def region_id(self, name: str) -> int:
        return self.conn.execute("SELECT id FROM regions_region WHERE name = %s", [name]).fetchone()[0]

    def probe_count(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT r.name, count(p.id) FROM regions_region r"
                                 " LEFT JOIN failover_proberesult p ON p.region_id = r.id GROUP BY r.name").fetchall()
        return dict(rows)

    def lag_signals(self) -> int:
        return self.conn.execute("SELECT count(*) FROM telemetry_region_signal WHERE signal = %s AND key = %s",
                                 ["observatory.replication.lag", PRIMARY]).fetchone()[0]

    def transitions(self, region: str, since: datetime) -> list[tuple[datetime, str]]:
        return self.conn.execute(
            "SELECT t.at, t.to_state FROM failover_healthtransition t JOIN regions_region r ON r.id = t.region_id"
            " WHERE r.name = %s AND t.at >= %s ORDER BY t.at", [region, since]).fetchall()

    def probes(self, region: str, since: datetime) -> list[tuple[datetime, bool, float]]:
        return self.conn.execute(
            "SELECT p.at, p.ok, p.duration_ms FROM failover_proberesult p JOIN regions_region r ON r.id = p.region_id"
            " WHERE r.name = %s AND p.at >= %s ORDER BY p.at", [region, since]).fetchall()

    def decision(self, decision_id: str) -> dict | None:
        row = self.conn.execute("SELECT created_at, state, epoch FROM failover_decision WHERE id = %s",
                                [decision_id]).fetchone()
        if row is None:
            return None
        delivery = self.conn.execute(
            "SELECT d.created_at, min(a.at), count(a.id) FROM delivery_delivery d"
            " LEFT JOIN delivery_deliveryattempt a ON a.delivery_id = d.id"
            " WHERE d.event_type = 'failover.requested' AND d.payload->>'decision_id' = %s GROUP BY d.id",
            [decision_id]).fetchone()
        return {"created_at": row[0], "state": row[1], "epoch": row[2],
                "delivery_created_at": delivery[0] if delivery else None,
                "first_attempt_at": delivery[1] if delivery else None, "attempts": delivery[2] if delivery else 0}

    def decisions_since(self, since: datetime) -> list[tuple[str, str]]:
        return self.conn.execute("SELECT state, mode FROM failover_decision WHERE created_at >= %s",
                                 [since]).fetchall()

    def active_region(self) -> str | None:
        row = self.conn.execute("SELECT r.name FROM failover_groupstate g LEFT JOIN regions_region r"
                                " ON r.id = g.active_region_id WHERE g.group = %s", [GROUP]).fetchone()
        return row[0] if row else None

    def lease(self) -> tuple | None:
        return self.conn.execute("SELECT holder, expires_at FROM failover_lease").fetchone()


# --------------------------------------------------------------------------- configuration


def config_yaml(sites_url: str, receiver_url: str, interval: int, threshold: int, timeout: float) -> str:
    lines = ["# written by bench/failover.py", "regions:"]
    for name, role in REGIONS:
        lines.append(f"  {name}:")
        lines.append(f"    group: {GROUP}")
        lines.append(f"    role: {role}")
        lines.append("    rpo_seconds: 30")
        lines.append("    probe:")
        lines.append(f'      url: "{sites_url}/{name}"')
        lines.append(f"      interval_seconds: {interval}")
        lines.append(f"      timeout_seconds: {timeout:g}")
        lines.append(f"      failure_threshold: {threshold}")
    lines += [
        "webhooks:",
        "  controller:",
        f'    url: "{receiver_url}"',
        '    secret: "${BENCH_WEBHOOK_SECRET}"',
        '    events: ["failover.*"]',
        "failover:",
        f"  {GROUP}:",
        "    mode: auto",
        f"    candidates: [{', '.join(CANDIDATES)}]",
        "    cooldown_seconds: 0",
        "    command_ttl_seconds: 120",
        "    notify: [controller]",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the benchmark


@dataclass
class Trial:
    phase: str
    index: int
    offset: float  # seconds after us-east-1's last probe that the outage began
    started: float  # time.time() of the outage
    received: float | None = None
    extra_webhooks: int = 0
    timeline: dict = field(default_factory=dict)  # stage name -> seconds after the outage
    probe_gaps: list = field(default_factory=list)
    note: str = ""

    @property
    def seconds(self) -> float | None:
        return self.received - self.started if self.received is not None else None


class Bench:
    def __init__(self, args, env: dict, tmp: Path):
        self.args, self.env, self.tmp = args, env, tmp
        self.world = World()
        self.world.notice_after = args.notice_after
        self.children: list[Child] = []
        self.stop_pushers = threading.Event()
        self.pushers: list[Pusher] = []
        self.sites: Sites | None = None
        self.db: Db | None = None
        self.http = urllib3.PoolManager(retries=False, timeout=10)
        self.began = time.monotonic()
        self.deadline = self.began + args.budget
        self.trials: list[Trial] = []
        self.skipped: dict[str, int] = {}
        self.flap: dict = {}
        self.config_path = tmp / "observatory.yaml"
        self.api_refusal: str | None = None

    # ---------------------------------------------------------------- helpers

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def wait(self, what: str, check, timeout: float, every: float = 0.25):
        """Poll check() until it returns something truthy; bounded by timeout and the budget."""
        limit = time.monotonic() + min(timeout, max(self.left(), 0.0))
        while True:
            self.assert_children()
            result = check()
            if result:
                return result
            if time.monotonic() >= limit:
                raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(every)

    def assert_children(self) -> None:
        for child in self.children:
            if child.process.poll() is not None:
                raise RuntimeError(f"{child.name} exited with {child.process.returncode}:\n{tail(child.log)}")

    def received(self) -> list[dict]:
        response = self.http.request("GET", f"http://127.0.0.1:{self.receiver_port}/received")
        return json.loads(response.data)

    def apply(self, interval: int, threshold: int, timeout: float) -> None:
        self.config_path.write_text(config_yaml(self.sites.url, self.receiver_url, interval, threshold, timeout))
        out = manage(self.env, "apply", str(self.config_path))
        print(f"  manage.py apply: {out.splitlines()[-1]}", flush=True)

    def all_healthy(self, since: datetime | None = None) -> bool:
        health = self.db.health()
        return len(health) == len(REGIONS) and all(
            h["state"] == "healthy" and (since is None or (h["last_probe_at"] and h["last_probe_at"] >= since))
            for h in health.values())

    # ---------------------------------------------------------------- setup

    def setup(self) -> None:
        args = self.args
        name = urlsplit(args.database_url).path.lstrip("/")
        print(f"preparing database {name} (drop, create, migrate) and Redis {args.broker_url} (flush)", flush=True)
        recreate_database(args.database_url)
        redis.Redis.from_url(args.broker_url).flushdb()
        manage(self.env, "migrate", "--noinput", "-v0", timeout=300)

        self.receiver_port = free_port()
        self.receiver_url = f"http://127.0.0.1:{self.receiver_port}/hook"
        receiver = spawn("receiver", [sys.executable, str(ROOT / "tests" / "webhook_receiver.py"),
                                      str(self.receiver_port), self.env["BENCH_WEBHOOK_SECRET"]], self.env, self.tmp)
        self.children.append(receiver)
        wait_for_port(self.receiver_port, receiver.process, receiver.log)
        self.sites = Sites(self.world)

        first = self.phases()[0] if self.phases() else (args.flap_interval, THRESHOLD)
        self.apply(first[0], first[1], args.probe_timeout)
        manage(self.env, "shell", "-c",
               "from django.contrib.auth import get_user_model\n"
               "from django.contrib.auth.models import Permission\n"
               f"user = get_user_model().objects.create_user({CONTROLLER_USER!r})\n"
               "user.user_permissions.add(Permission.objects.get(codename='operate_failover'))\n")
        self.api_key = manage(self.env, "issue_api_key", CONTROLLER_USER).splitlines()[-1].strip()
        tokens = {region: manage(self.env, "issue_token", region).splitlines()[-1].strip() for region, _ in REGIONS}

        self.web_port = free_port()
        web = spawn("gunicorn", [sys.executable, "-m", "gunicorn", "observatory.wsgi:application", "-c",
                                 "python:observatory.gunicorn_conf", "--bind", f"127.0.0.1:{self.web_port}",
                                 "--chdir", str(ROOT)],
                    {**self.env, "WEB_CONCURRENCY": str(args.web_workers), "WEB_THREADS": "4"}, self.tmp)
        self.children.append(web)
        wait_for_port(self.web_port, web.process, web.log)

        for region, role in REGIONS:
            pusher = Pusher(self.world, region, role, tokens[region], self.web_port, args.push_every,
                            self.stop_pushers)
            self.pushers.append(pusher)
            pusher.start()

        worker = spawn("worker", [sys.executable, "-m", "celery", "-A", "observatory", "worker", "-B",
                                  "--loglevel", "INFO", "--concurrency", str(args.worker_concurrency),
                                  "--hostname", f"failbench-{secrets.token_hex(4)}@localhost",
                                  "--schedule", str(self.tmp / "celerybeat-schedule")], self.env, self.tmp)
        self.children.append(worker)
        self.worker = worker
        print(f"started receiver :{self.receiver_port}, regions {self.sites.url}, gunicorn :{self.web_port} "
              f"({args.web_workers} worker(s) x 4 threads), celery worker -B (concurrency "
              f"{args.worker_concurrency}); pushing OTLP every {args.push_every:g} s", flush=True)
        self.db = Db(args.database_url)
        self.wait("the first probes of every region", lambda: all(
            self.db.probe_count().get(r, 0) > 0 for r, _ in REGIONS), 90)
        self.wait("replication lag reports from both standbys", lambda: self.db.lag_signals() >= 2, 60)
        self.wait("every region healthy", self.all_healthy, 90)
        print("  all three regions healthy", flush=True)

    def phases(self) -> list[tuple[int, int, int]]:
        return [(interval, THRESHOLD, trials) for interval, trials in ((10, self.args.trials_10),
                                                                      (5, self.args.trials_5)) if trials > 0]

    # ---------------------------------------------------------------- phases

    def run_phase(self, interval: int, threshold: int, trials: int) -> None:
        label = f"{interval} s/{threshold}"
        print(f"phase {label}: {trials} trial(s)", flush=True)
        applied = now_dt()
        self.apply(interval, threshold, self.args.probe_timeout)
        # The new interval counts once each region has been probed after the apply.
        self.wait("every region probed and healthy under the new settings",
                  lambda: self.all_healthy(since=applied), 3 * interval + 60)
        fractions = [(k + 0.5) / trials for k in range(trials)]
        if self.args.random_phase:
            fractions = [random.random() for _ in range(trials)]
        else:
            random.Random(interval).shuffle(fractions)
        for k, fraction in enumerate(fractions):
            need = threshold * interval + 30 + (threshold + 2) * interval + 20  # rough: detect + recover
            if self.left() < need:
                self.skipped[label] = trials - k
                print(f"  budget: {self.left():.0f} s left, {need} s needed; skipping {trials - k} trial(s)")
                break
            trial = self.trial(label, k + 1, interval, threshold, fraction)
            self.trials.append(trial)

    def trial(self, label: str, index: int, interval: int, threshold: int, fraction: float) -> Trial:
        world = self.world
        before = len(self.received())
        # Start the outage a chosen fraction of the probe cycle after us-east-1's last probe.
        self.wait("a probe of us-east-1", lambda: world.last_request(PRIMARY), interval + 10)
        last = world.last_request(PRIMARY)
        target = last + fraction * interval
        if target < time.time():  # that moment passed already: use the next cycle
            target += interval * (1 + int((time.time() - target) // interval))
        time.sleep(max(0.0, target - time.time()))
        started_dt = now_dt()
        started = world.fail(PRIMARY)
        offset = started - (world.last_request(PRIMARY) or started)
        trial = Trial(label, index, offset, started)
        timeout = threshold * interval + self.args.trial_slack

        leases = []  # (sampled at, expires_at) of the decider lease while we wait

        def requested():
            lease = self.db.lease()
            if lease:
                leases.append((time.time(), ts(lease[1])))
            for item in self.received()[before:]:
                body = item.get("body") or {}
                if body.get("type") == "failover.requested" and body.get("from_region") == PRIMARY:
                    return item
            return None

        try:
            hook = self.wait("the failover.requested webhook", requested, timeout, every=0.1)
        except TimeoutError as exc:
            trial.note = str(exc)
            hook = None
        if hook is not None:
            trial.received = hook["at"]
            if not hook["verified"]:
                trial.note = "signature NOT verified"
            self.timeline(trial, hook, started_dt, threshold, leases)
        verdict = f"{trial.seconds:.1f} s" if trial.seconds is not None else f"no webhook ({trial.note})"
        print(f"  trial {index}: outage {offset:.1f} s after a probe -> webhook after {verdict}  "
              f"[{self.describe(trial)}]", flush=True)
        self.recover(trial, hook, interval, threshold, before)
        return trial

    def timeline(self, trial: Trial, hook: dict, started_dt: datetime, threshold: int, leases: list) -> None:
        t0 = trial.started
        line = trial.timeline
        failed = [at for at, status in self.world.served_since(PRIMARY, t0) if status >= 400]
        if failed:
            line["first failing probe"] = failed[0] - t0
        if len(failed) >= threshold:
            line["failing probe #threshold"] = failed[threshold - 1] - t0
        peers = [at for (reporter, peer), at in self.world.first_partition_push.items() if peer == PRIMARY]
        if peers:
            line["peers' partition reports in"] = max(peers) - t0
        unhealthy = [at for at, state in self.db.transitions(PRIMARY, started_dt) if state == "unhealthy"]
        if unhealthy:
            line["marked unhealthy"] = ts(unhealthy[0]) - t0
        decision = self.db.decision(hook["body"]["decision_id"])
        for _ in range(50):  # the attempt row is written once the receiver has answered: give it a moment
            if decision is None or decision["first_attempt_at"] is not None:
                break
            time.sleep(0.1)
            decision = self.db.decision(hook["body"]["decision_id"])
        if decision:
            created = ts(decision["created_at"])
            line["decision created"] = created - t0
            # The lease that kept the decider out: the last one seen before the decision, not the new holder's.
            before = [expires for sampled, expires in leases if sampled < created and expires <= created + 1.0]
            if before and "marked unhealthy" in line and before[-1] - t0 > line["marked unhealthy"]:
                line["decider lease (held at unhealthy) expires"] = before[-1] - t0
            if decision["first_attempt_at"]:
                line["delivery attempt"] = ts(decision["first_attempt_at"]) - t0
        line["webhook received"] = hook["at"] - t0
        last_before = self.world.served_since(PRIMARY, t0 - trial.offset - 0.5)  # from the last probe before
        served = [at for at, _ in last_before if at <= hook["at"]]
        trial.probe_gaps = [b - a for a, b in zip(served, served[1:])]

    def describe(self, trial: Trial) -> str:
        return ", ".join(f"{name} +{value:.1f}" for name, value in sorted(trial.timeline.items(), key=lambda i: i[1]))

    def recover(self, trial: Trial, hook: dict | None, interval: int, threshold: int, before: int) -> None:
        """Heal the region, wait until it is healthy, then close the decision through the callback API."""
        self.world.heal(PRIMARY)
        self.wait("us-east-1 healthy again", lambda: self.all_healthy(), (threshold + 2) * (interval + 1) + 60)
        if hook is None:
            return
        self.close_decision(hook["body"]["decision_id"], f"bench trial {trial.phase} #{trial.index}: not executed, "
                                                         "region recovered")
        active = self.db.active_region()
        if active != PRIMARY:
            raise RuntimeError(f"active region is {active} after the trial, expected {PRIMARY}")
        trial.extra_webhooks = sum(1 for item in self.received()[before:]
                                   if (item.get("body") or {}).get("type", "").startswith("failover.")) - 1

    def close_decision(self, decision_id: str, detail: str) -> None:
        """What the controller does: report the command's outcome (not executed, so the active region stays).

        Through POST /api/v1/failovers/<id>/callback with the API key; if the API refuses a Bearer POST
        (it answers 403 "CSRF check Failed" when django_auth is tried before the API key), through the
        same service function, actions.record_callback, in `manage.py shell`.
        """
        if self.api_refusal is None:
            response = self.http.request(
                "POST", f"http://127.0.0.1:{self.web_port}/api/v1/failovers/{decision_id}/callback",
                body=json.dumps({"status": "failed", "detail": detail}).encode(),
                headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"})
            if response.status == 200 and json.loads(response.data).get("state") == "failed":
                return
            if response.status != 403:
                raise RuntimeError(f"callback answered {response.status}: {response.data[:300]!r}")
            self.api_refusal = f"{response.status} {response.data[:200].decode(errors='replace')}"
            print(f"  note: the callback API refused the controller's API key ({self.api_refusal}); "
                  "closing decisions with actions.record_callback through manage.py shell instead", flush=True)
        state = manage(self.env, "shell", "-c",
                       "from observatory.failover import actions\n"
                       f"print(actions.record_callback({decision_id!r}, False, {detail!r}, {CONTROLLER_USER!r}).state)\n")
        if state.splitlines()[-1].strip() != "failed":
            raise RuntimeError(f"record_callback left the decision {state!r}")

    # ---------------------------------------------------------------- false failover

    def run_flap(self) -> None:
        args = self.args
        seconds = min(args.flap_seconds, max(0.0, self.left() - 30))
        if seconds < 10:
            print("false-failover check: skipped (budget)")
            self.flap = {"skipped": True}
            return
        print(f"false-failover check: {PRIMARY} flaps {'/'.join(map(str, FLAP_CYCLE))} per probe, eu-west-1 alone "
              f"reports a broken link to it; interval {args.flap_interval} s, threshold {THRESHOLD}, "
              f"{seconds:.0f} s", flush=True)
        applied = now_dt()
        self.apply(args.flap_interval, THRESHOLD, min(args.probe_timeout, args.flap_interval / 2))
        self.wait("every region probed and healthy under the new settings",
                  lambda: self.all_healthy(since=applied), 3 * args.flap_interval + 60)
        before = len(self.received())
        started_dt, started = now_dt(), time.time()
        self.world.flap(PRIMARY)
        with self.world.lock:
            self.world.broken_links.add(("eu-west-1", PRIMARY))
        states: dict[str, int] = {}
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.assert_children()
            state = self.db.health()[PRIMARY]["state"]
            states[state] = states.get(state, 0) + 1
            time.sleep(0.5)
        with self.world.lock:
            self.world.broken_links.clear()
        self.world.heal(PRIMARY)
        time.sleep(min(5.0, max(self.left(), 0)))  # anything in flight would arrive now
        hooks = [item for item in self.received()[before:]
                 if (item.get("body") or {}).get("type", "").startswith("failover.")]
        served = self.world.served_since(PRIMARY, started)
        self.flap = {"seconds": seconds, "webhooks": len(hooks), "decisions": len(self.db.decisions_since(started_dt)),
                     "probes": len(served), "failed_probes": sum(1 for _, s in served if s >= 400),
                     "states": states,
                     "transitions": [s for _, s in self.db.transitions(PRIMARY, started_dt)]}
        print(f"  {len(served)} probes ({self.flap['failed_probes']} failing), states seen: "
              f"{', '.join(f'{k} x{v}' for k, v in states.items())}; failover webhooks: {len(hooks)}", flush=True)

    # ---------------------------------------------------------------- worker log

    def worker_stats(self) -> dict:
        text = tail(self.worker.log, 10_000_000)
        durations, expired = [], 0
        for line in text.splitlines():
            if "probe_regions[" in line and " succeeded in " in line:
                try:
                    durations.append(float(line.split(" succeeded in ")[1].split("s:")[0]))
                except (IndexError, ValueError):
                    pass
            if "probe_regions[" in line and ("expired" in line.lower() or "revoked" in line.lower()):
                expired += 1
        return {"probe_ticks": len(durations), "expired": expired,
                "p50": statistics.median(durations) if durations else None,
                "max": max(durations) if durations else None}

    # ---------------------------------------------------------------- report

    def report(self) -> None:
        print()
        print(f"Failover detection-to-webhook through the running service (gunicorn, celery worker -B on Redis, "
              f"PostgreSQL); {os.cpu_count()} CPUs shared; outage = the region's health URL answers 503, its peers "
              f"report the partition within ~{self.args.notice_after:g}-{self.args.notice_after + self.args.push_every:g}"
              f" s, it stops pushing")
        row = "  {:<50} {:>24}   {:<10} {}"
        print(row.format("", "min / median / max (s)", "goal", ""))
        for interval, threshold, _ in self.phases():
            label = f"{interval} s/{threshold}"
            trials = [t for t in self.trials if t.phase == label]
            times = [t.seconds for t in trials if t.seconds is not None]
            goal = GOALS.get(interval)
            missing = len(trials) - len(times)
            if times:
                figures = f"{min(times):.1f} / {statistics.median(times):.1f} / {max(times):.1f}"
                ok = max(times) <= goal and not missing
                print(row.format(f"interval {label}: outage -> webhook ({len(times)} trials)", figures,
                                 f"<= {goal:g}", "ok" if ok else "MISSED"))
            else:
                print(row.format(f"interval {label}", "no result", f"<= {goal:g}", "MISSED"))
            if missing:
                print(f"    {missing} trial(s) got no webhook within the time limit")
            if self.skipped.get(label):
                print(f"    {self.skipped[label]} trial(s) skipped for the time budget")
            stages = {}
            for t in trials:
                for name, value in t.timeline.items():
                    stages.setdefault(name, []).append(value)
            for name in sorted(stages, key=lambda n: (STAGES.index(n) if n in STAGES else len(STAGES), n)):
                values = stages[name]
                print(row.format(f"    {name}", f"+{min(values):.1f} / +{statistics.median(values):.1f} / "
                                                f"+{max(values):.1f}", "", ""))
            gaps = [g for t in trials for g in t.probe_gaps]
            if gaps:
                print(row.format("    gap between probes of us-east-1", f"{min(gaps):.1f} / {statistics.median(gaps):.1f}"
                                 f" / {max(gaps):.1f}", f"({interval} set)", ""))
            extra = sum(max(0, t.extra_webhooks) for t in trials)
            print(row.format("    other failover webhooks per trial", str(extra), "0", "ok" if extra == 0 else "MISSED"))
        if self.flap and not self.flap.get("skipped"):
            f = self.flap
            print(row.format(f"false failover: flapping + 1 broken link", f"{f['webhooks']} webhook(s)", "0",
                             "ok" if f["webhooks"] == 0 and f["decisions"] == 0 else "MISSED"))
            print(f"    {f['seconds']:.0f} s, {f['probes']} probes ({f['failed_probes']} failing), decisions "
                  f"{f['decisions']}, {PRIMARY} transitions: {' -> '.join(f['transitions']) or 'none'}")
        if self.api_refusal:
            print(f"  POST /api/v1/failovers/<id>/callback with the controller's API key: {self.api_refusal}")
        stats = self.worker_stats()
        if stats["probe_ticks"]:
            print(f"  worker: {stats['probe_ticks']} probe ticks, task time median {1000 * stats['p50']:.0f} ms, "
                  f"max {1000 * stats['max']:.0f} ms; {stats['expired']} expired/revoked")
        with self.world.lock:
            pushes = sum(v for (_, status), v in self.world.push_statuses.items() if status == 200)
            others = {k: v for k, v in self.world.push_statuses.items() if k[1] != 200}
            errors = list(self.world.push_errors)
        print(f"  OTLP pushes accepted: {pushes}" + (f"; other answers: {others}" if others else ""))
        print(f"  wall time {time.monotonic() - self.began:.0f} s (budget {self.args.budget:.0f} s)")
        for error in errors[:5]:
            print(f"    push error: {error}")

    # ---------------------------------------------------------------- teardown

    def close(self) -> None:
        self.stop_pushers.set()
        for pusher in self.pushers:
            pusher.join(timeout=15)
        for child in reversed(self.children):  # worker first, then gunicorn, then the receiver
            try:
                child.stop()
            except Exception as exc:  # keep stopping the others
                print(f"could not stop {child.name}: {exc}", file=sys.stderr)
        if self.sites:
            self.sites.close()
        if self.db:
            self.db.close()
        self.http.clear()


# --------------------------------------------------------------------------- main


def loopback_only(url: str, option: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = host == "localhost"
    if not ok:
        raise SystemExit(f"{option} must point at a loopback address, not {host!r}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials-10", type=int, default=3, help="trials at interval 10 s / threshold 3 (default 3)")
    parser.add_argument("--trials-5", type=int, default=5, help="trials at interval 5 s / threshold 3 (default 5)")
    parser.add_argument("--flap-seconds", type=float, default=60.0, help="false-failover check length (default 60)")
    parser.add_argument("--flap-interval", type=int, default=2, help="probe interval during that check (default 2)")
    parser.add_argument("--probe-timeout", type=float, default=1.0, help="probe timeout in seconds (default 1)")
    parser.add_argument("--push-every", type=float, default=2.0, help="OTLP push period per region (default 2 s)")
    parser.add_argument("--notice-after", type=float, default=1.0,
                        help="seconds before peers report a failed region as partitioned (default 1)")
    parser.add_argument("--trial-slack", type=float, default=60.0,
                        help="a trial waits threshold x interval + this for its webhook (default 60 s)")
    parser.add_argument("--random-phase", action="store_true",
                        help="start outages at random points of the probe cycle instead of stratified ones")
    parser.add_argument("--budget", type=float, default=1200.0, help="total time limit in seconds (default 1200)")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="celery worker processes (default 2)")
    parser.add_argument("--web-workers", type=int, default=1, help="gunicorn workers (default 1, 4 threads each)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/observatory_failbench",
                        help="the dedicated benchmark database; dropped and recreated (loopback only)")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/9",
                        help="a Redis database of its own; flushed before and after (default db 9)")
    parser.add_argument("--keep-database", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temporary folder with the process logs")
    args = parser.parse_args(argv)
    if not (0 <= args.trials_10 <= 20 and 0 <= args.trials_5 <= 20):
        parser.error("--trials-10 and --trials-5 must be 0..20")
    if not (60 <= args.budget <= 7200 and 0 <= args.flap_seconds <= 1800 and 0.5 <= args.push_every <= 10):
        parser.error("--budget 60..7200 s, --flap-seconds 0..1800 s, --push-every 0.5..10 s")
    if not (2 <= args.flap_interval <= 3600 and 0.1 <= args.probe_timeout < 5):
        parser.error("--flap-interval 2..3600 s, --probe-timeout 0.1..5 s (shorter than every interval)")
    loopback_only(args.database_url, "--database-url")
    loopback_only(args.broker_url, "--broker-url")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)

    def terminated(signum, frame):
        raise Stop(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminated)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C even when started with SIGINT ignored
    tmp = Path(tempfile.mkdtemp(prefix="observatory-failbench-"))
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY_FILE", "DATABASE_URL_FILE")}
    env.update(DJANGO_SETTINGS_MODULE="observatory.settings", DATABASE_URL=args.database_url,
               CELERY_BROKER_URL=args.broker_url, SECRET_KEY=secrets.token_urlsafe(40), DEBUG="false",
               OBSERVATORY_VAR_DIR=str(tmp / "var"), PROMETHEUS_MULTIPROC_DIR=str(tmp / "prometheus"),
               OUTBOUND_ALLOW_PRIVATE="true", LOG_LEVEL="INFO", PYTHONPATH=str(ROOT), BENCH_WEBHOOK_SECRET=secret)
    (tmp / "prometheus").mkdir()
    bench = Bench(args, env, tmp)
    status = 0
    try:
        bench.setup()
        for interval, threshold, trials in bench.phases():
            bench.run_phase(interval, threshold, trials)
        if args.flap_seconds > 0:
            bench.run_flap()
        bench.report()
    except (KeyboardInterrupt, Stop) as exc:
        print(f"interrupted ({str(exc) or 'Ctrl-C'}); cleaning up", file=sys.stderr)
        status = 130
    except (RuntimeError, TimeoutError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        if bench.trials:
            bench.report()
        status = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the cleanup
        bench.close()
        try:
            redis.Redis.from_url(args.broker_url).flushdb()
        except redis.RedisError as exc:
            print(f"could not flush {args.broker_url}: {exc}", file=sys.stderr)
        if not args.keep_database:
            try:
                drop_database(args.database_url)
            except psycopg.Error as exc:
                print(f"could not drop the benchmark database: {exc}", file=sys.stderr)
        if args.keep_logs or status == 1:
            print(f"logs kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return status


if __name__ == "__main__":
    sys.exit(main())
