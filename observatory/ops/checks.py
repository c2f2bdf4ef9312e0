"""Reachability checks behind /healthz. Each returns (ok, detail) and never raises."""

import os
import time

from django.db import connection
from django.utils import timezone

from observatory.celery import app as celery_app


def check_database() -> tuple[bool, dict]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "unreachable" to a health check
        connection.close()  # drop the broken connection so the next request reconnects
        return False, {"error": _describe(exc)}
    return True, {"latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def check_broker() -> tuple[bool, dict]:
    started = time.perf_counter()
    options = celery_app.conf.broker_transport_options or {}
    try:
        if celery_app.conf.broker_url.startswith("filesystem://"):
            folder = options.get("data_folder_in", "")
            if not (os.path.isdir(folder) and os.access(folder, os.W_OK)):
                return False, {"error": f"queue folder {folder} is missing or not writable"}
        else:
            with celery_app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
    except Exception as exc:
        return False, {"error": _describe(exc)}
    return True, {"latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def describe_scheduler() -> dict:
    """Age of the last beat; informational, since a fresh install has no beat yet."""
    from observatory.ops.models import Heartbeat

    try:
        beat = Heartbeat.objects.filter(name="beat").first()
    except Exception:
        return {"last_beat_at": None}
    if beat is None:
        return {"last_beat_at": None}
    age = (timezone.now() - beat.beat_at).total_seconds()
    return {"last_beat_at": beat.beat_at.isoformat(), "age_seconds": round(age, 1)}


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300]
