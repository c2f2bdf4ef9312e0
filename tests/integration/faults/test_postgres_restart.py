"""PostgreSQL stopped mid-load: clients get 503 + Retry-After, retries land after the restart,
and no acknowledged batch is missing or duplicated.

Runs the real service under gunicorn against a throwaway PostgreSQL cluster (see conftest.py),
never the shared one. A few client threads send small OTLP/HTTP protobuf metric batches, each
one gauge point with a unique ``batch`` attribute and timestamp, and retry the same bytes on
503/429 as an OTLP exporter would (honouring Retry-After, capped to keep the test fast). Midway
the cluster is stopped with ``pg_ctl stop -m fast``, then started again; finally every batch
that got a 200 is looked up in the database.
"""

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
import requests
from google.rpc import status_pb2
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

PROTOBUF = "application/x-protobuf"
METRIC = "fault.restart.gauge"
CLIENTS = 6  # more than gunicorn's 2 threads, so requests are queued and in flight when PostgreSQL stops
PACE_SECONDS = 0.002  # between a client's batches
RETRY_WAIT_CAP = 0.5  # honour Retry-After, but never sleep longer than this (keeps the test fast)
REQUEST_TIMEOUT = 15.0  # a request taking longer counts as a hang
RETRY_AFTER_SECONDS = 3  # INGEST_RETRY_AFTER_SECONDS given to the service
LOAD_BUDGET = 60.0  # everything from the first batch to the last acknowledgement
WARMUP_ACKS = 40
MIN_WARMUP_SECONDS = 1.5
MIN_OUTAGE_SECONDS = 2.0
MIN_RECOVERED_SECONDS = 1.5  # keep the load on this long after the restart
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def metric_batch(client: int, batch: int, at_ns: int) -> bytes:
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    resource_metrics.resource.attributes.add(key="service.name", value=AnyValue(string_value="fault-load"))
    scope_metrics = resource_metrics.scope_metrics.add()
    scope_metrics.scope.name = "tests.integration.faults"
    metric = scope_metrics.metrics.add()
    metric.name = METRIC
    metric.unit = "1"
    point = metric.gauge.data_points.add()
    point.time_unix_nano = at_ns
    point.as_double = float(batch)
    point.attributes.add(key="client", value=AnyValue(int_value=client))
    point.attributes.add(key="batch", value=AnyValue(string_value=batch_key(client, batch)))
    return request.SerializeToString()


def batch_key(client: int, batch: int) -> str:
    return f"{client}-{batch}"


@dataclass
class Attempt:
    client: int
    batch: int
    sent: float  # time.monotonic()
    done: float
    status: int | str  # HTTP status, or the exception name when there was no answer
    retry_after: str | None = None
    message: str = ""


@dataclass
class Load:
    """Shared state of the client threads."""

    url: str
    token: str
    deadline: float
    stop_new: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    attempts: list[Attempt] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)  # batch key -> time_unix_nano of its point
    acked: dict[str, float] = field(default_factory=dict)  # batch key -> monotonic time of its (first) 200
    crashes: list[str] = field(default_factory=list)

    def record(self, attempt: Attempt) -> None:
        with self.lock:
            self.attempts.append(attempt)
            if attempt.status == 200:
                self.acked.setdefault(batch_key(attempt.client, attempt.batch), attempt.done)

    def snapshot(self) -> list[Attempt]:
        with self.lock:
            return list(self.attempts)

    def acked_clients(self) -> set[int]:
        with self.lock:
            return {int(key.split("-")[0]) for key in self.acked}


def client_loop(load: Load, client: int) -> None:
    try:
        session = requests.Session()
        headers = {"Authorization": f"Bearer {load.token}", "Content-Type": PROTOBUF}
        batch, last_ns = 0, 0
        while not load.stop_new.is_set() and time.monotonic() < load.deadline:
            at_ns = max(time.time_ns(), last_ns + 1_000)  # stored at microsecond precision: keep them apart
            last_ns = at_ns
            body = metric_batch(client, batch, at_ns)
            with load.lock:
                load.sent[batch_key(client, batch)] = at_ns
            if not send_until_acknowledged(load, session, headers, client, batch, body):
                return
            batch += 1
            time.sleep(PACE_SECONDS)
    except Exception as exc:  # noqa: BLE001 - reported by the test, never swallowed
        load.crashes.append(f"client {client}: {exc!r}")


def send_until_acknowledged(load: Load, session, headers, client: int, batch: int, body: bytes) -> bool:
    """Send the same bytes until a 200 (True) or the load deadline (False)."""
    while time.monotonic() < load.deadline:
        sent = time.monotonic()
        attempt = Attempt(client, batch, sent, sent, "?")
        try:
            response = session.post(load.url, data=body, headers=headers, timeout=REQUEST_TIMEOUT)
        except requests.RequestException as exc:
            attempt.done, attempt.status, attempt.message = time.monotonic(), type(exc).__name__, str(exc)[:200]
            load.record(attempt)
            time.sleep(0.2)
            continue
        attempt.done, attempt.status = time.monotonic(), response.status_code
        attempt.retry_after = response.headers.get("Retry-After")
        attempt.message = answer_message(response)
        load.record(attempt)
        if response.status_code == 200:
            return True
        if response.status_code in (429, 503):
            try:
                wait = float(attempt.retry_after)
            except (TypeError, ValueError):
                wait = 1.0
            time.sleep(max(0.05, min(wait, RETRY_WAIT_CAP)))
        else:  # 500 or another error: recorded and failed on by the test; keep retrying to see the rest
            time.sleep(0.2)
    return False


def answer_message(response) -> str:
    """The google.rpc.Status message of an error, or the partial-success text of a 200."""
    if not response.headers.get("Content-Type", "").startswith(PROTOBUF):
        return response.text[:200]
    try:
        if response.status_code == 200:
            answer = ExportMetricsServiceResponse.FromString(response.content)
            rejected = answer.partial_success.rejected_data_points
            return f"rejected {rejected}: {answer.partial_success.error_message}" if rejected else ""
        return status_pb2.Status.FromString(response.content).message
    except Exception as exc:  # noqa: BLE001
        return f"undecodable answer ({exc!r}): {response.content[:100]!r}"


def wait_until(condition, timeout: float, what: str, load: Load) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            statuses = count_by(load.snapshot(), lambda a: a.status)
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; statuses so far: {statuses}")
        if load.crashes:
            raise AssertionError(f"client thread crashed: {load.crashes}")
        time.sleep(0.05)


def count_by(items, key) -> dict:
    counts: dict = {}
    for item in items:
        counts[key(item)] = counts.get(key(item), 0) + 1
    return counts


def latency_ms(attempts: list[Attempt]) -> tuple | None:
    durations = sorted(round((a.done - a.sent) * 1000) for a in attempts)
    return (durations[len(durations) // 2], durations[-1]) if durations else None


def stored_points(database_url: str) -> dict[str, list[tuple]]:
    """batch key -> [(value, time)] for every stored point of the test metric."""
    with psycopg.connect(database_url, connect_timeout=10) as connection:
        rows = connection.execute(
            "SELECT s.attributes->>'batch', p.value, p.time FROM telemetry_point p"
            " JOIN telemetry_series s ON s.fingerprint = p.series_id WHERE s.name = %s",
            [METRIC],
        ).fetchall()
        orphans = connection.execute(
            "SELECT count(*) FROM telemetry_point p"
            " LEFT JOIN telemetry_series s ON s.fingerprint = p.series_id WHERE s.fingerprint IS NULL"
        ).fetchone()[0]
    assert orphans == 0, f"{orphans} stored point(s) have no series row"
    found: dict[str, list[tuple]] = {}
    for key, value, at in rows:
        found.setdefault(key, []).append((value, at))
    return found


@pytest.mark.parametrize(
    "token_cache_seconds",
    [pytest.param("300", id="token-cached"), pytest.param("0", id="token-checked-every-request")],
)
def test_postgres_restart_mid_load_loses_no_acknowledged_batch(
    fault_database, start_web, tmp_path, capsys, record_property, token_cache_seconds
):
    cluster, _region, token = fault_database
    base = start_web(
        DATABASE_URL=cluster.url,
        INGEST_TOKEN_CACHE_SECONDS=token_cache_seconds,
        INGEST_RETRY_AFTER_SECONDS=str(RETRY_AFTER_SECONDS),
        # The test is about database faults, not rate limiting (429s would still be honoured).
        INGEST_RATE_LIMIT_PER_SECOND="100000",
        INGEST_RATE_LIMIT_BURST="100000",
    )
    gunicorn_logs = list(tmp_path.glob("gunicorn-*.log"))

    def diagnostics() -> str:
        text = "".join(path.read_text(errors="replace")[-4000:] for path in gunicorn_logs)
        return f"\n--- gunicorn log (tail) ---\n{text}\n--- {cluster.log_tail(1500)}"

    began = time.monotonic()
    load = Load(url=f"{base}/v1/metrics", token=token, deadline=began + LOAD_BUDGET)
    threads = [threading.Thread(target=client_loop, args=(load, n), name=f"otlp-client-{n}", daemon=True)
               for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        # 1. Healthy load: every client gets acknowledgements.
        wait_until(lambda: len(load.acked) >= WARMUP_ACKS and time.monotonic() - began >= MIN_WARMUP_SECONDS and
                   load.acked_clients() == set(range(CLIENTS)),
                   15, f"{WARMUP_ACKS} acknowledged batches before the outage", load)

        # 2. Stop PostgreSQL mid-load; clients must see 503 + Retry-After, never a 500 or a hang.
        stop_began = time.monotonic()
        acked_before_stop = len(load.acked)
        cluster.stop("fast")
        stop_done = time.monotonic()

        def outage_503s():
            return [a for a in load.snapshot() if a.status == 503 and a.sent >= stop_done]

        wait_until(lambda: len(outage_503s()) >= CLIENTS and time.monotonic() - stop_done >= MIN_OUTAGE_SECONDS,
                   15, "503 answers while PostgreSQL is stopped", load)

        # 3. Start it again; every client's retries must land.
        start_began = time.monotonic()
        cluster.start()
        start_done = time.monotonic()

        def recovered(n):
            return any(a.client == n and a.status == 200 and a.sent >= start_began for a in load.snapshot())

        wait_until(lambda: all(recovered(n) for n in range(CLIENTS)), max(1.0, load.deadline - time.monotonic()),
                   "every client to get a 200 after the restart", load)
        time.sleep(max(0.0, MIN_RECOVERED_SECONDS - (time.monotonic() - start_done)))
        load.stop_new.set()
        for thread in threads:
            thread.join(timeout=max(1.0, load.deadline - time.monotonic() + REQUEST_TIMEOUT))
    except AssertionError as exc:
        raise AssertionError(f"{exc}{diagnostics()}") from None
    finally:
        load.stop_new.set()
        load.deadline = min(load.deadline, time.monotonic())  # in case of failure: make clients give up now
    assert not any(t.is_alive() for t in threads), "a client thread is still running (hung request?)"
    assert not load.crashes, f"client thread crashed: {load.crashes}"
    elapsed = time.monotonic() - began

    attempts = load.snapshot()
    statuses = count_by(attempts, lambda a: a.status)
    during_outage = [a for a in attempts if a.sent < start_done and a.done > stop_began]
    outage_statuses = count_by(during_outage, lambda a: a.status)
    answers_503 = [a for a in attempts if a.status == 503]
    messages_503 = count_by(answers_503, lambda a: (a.message, a.retry_after))
    first_200_after_restart = min((a.done for a in attempts if a.status == 200 and a.sent >= start_began),
                                  default=None)
    unacked = sorted(set(load.sent) - set(load.acked))
    figures = {
        "token_cache_seconds": token_cache_seconds,
        "batches_sent": len(load.sent),
        "batches_acknowledged": len(load.acked),
        "acknowledged_before_stop": acked_before_stop,
        "requests": len(attempts),
        "statuses": statuses,
        "statuses_during_outage": outage_statuses,
        "503_by_message_and_retry_after": messages_503,
        "pg_stop_seconds": round(stop_done - stop_began, 2),
        "outage_seconds": round(start_done - stop_began, 2),
        "pg_start_seconds": round(start_done - start_began, 2),
        "restart_to_first_200_seconds": (round(first_200_after_restart - start_done, 3)
                                         if first_200_after_restart else None),
        "load_seconds": round(elapsed, 1),
        "latency_ms_p50_max": latency_ms([a for a in attempts if a.status == 200]),
        "503_latency_ms_p50_max": latency_ms(answers_503),
    }
    for name, value in figures.items():
        record_property(name, value)
    with capsys.disabled():
        print(f"\n[postgres restart, {token_cache_seconds=}] " + "; ".join(f"{k}={v}" for k, v in figures.items()))

    # The client-visible contract while the database is down.
    bad = [a for a in attempts if a.status not in (200, 429, 503)]
    assert not bad, f"answers other than 200/429/503 (first 5): {bad[:5]}\nall statuses: {statuses}{diagnostics()}"
    assert len([a for a in during_outage if a.status == 503]) >= CLIENTS, f"too few 503s in the outage: {figures}"
    without_retry_after = [a for a in attempts if a.status in (429, 503)
                           and not ((a.retry_after or "").isdigit() and int(a.retry_after) >= 1)]
    assert not without_retry_after, f"429/503 without a valid Retry-After: {without_retry_after[:5]}"
    # A 200 for a request made entirely while PostgreSQL was stopped cannot mean "committed".
    impossible = [a for a in attempts if a.status == 200 and a.sent >= stop_done and a.done <= start_began]
    assert not impossible, f"200 while PostgreSQL was stopped: {impossible[:5]}"
    partial = [a for a in attempts if a.status == 200 and a.message]
    assert not partial, f"200 with rejected points (first 5): {partial[:5]}"

    # Retries land: every batch ever sent was acknowledged within the budget, soon after the restart.
    assert not unacked, f"{len(unacked)} batch(es) never acknowledged, e.g. {unacked[:10]}: {figures}{diagnostics()}"
    assert first_200_after_restart is not None and first_200_after_restart - start_done < 15, figures

    # Durability and idempotency: each acknowledged batch's point is stored exactly once, as sent.
    found = stored_points(cluster.url)
    missing = sorted(set(load.acked) - set(found))
    duplicated = {k: v for k, v in found.items() if len(v) != 1}
    unknown = sorted(set(found) - set(load.sent))
    wrong = []
    for key, points in found.items():
        if key in load.sent and len(points) == 1:
            value, at = points[0]
            expected_at = EPOCH + timedelta(microseconds=load.sent[key] // 1000)
            if value != float(key.split("-")[1]) or at != expected_at:
                wrong.append((key, value, at, expected_at))
    assert not missing, f"{len(missing)} acknowledged batch(es) missing from PostgreSQL, e.g. {missing[:10]}: {figures}"
    assert not duplicated, f"batches stored more than once: {list(duplicated.items())[:5]}"
    assert not unknown, f"points for batches never sent: {unknown[:5]}"
    assert not wrong, f"points stored with the wrong value or time: {wrong[:5]}"
    assert len(found) == len(load.acked) == len(load.sent)
