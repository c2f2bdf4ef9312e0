"""Counting rejected ingest requests cheaply (one upsert each), for the IngestAuthFailures alert.

Counting is best effort: a failure to count is logged and never changes the collector's answer.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import connection
from django.db.models import Sum

from observatory.regions.models import AuthFailure

log = logging.getLogger(__name__)

PREFIX_CHARS = 8  # "obs_" and four random characters: tells tokens apart, reveals nothing usable
KEEP = timedelta(days=1)


def record(remote_addr: str, authorization: str, now) -> None:
    """Count one 401 in its minute; swallow every error (the collector must answer 401, never 500)."""
    _, _, token = (authorization or "").partition(" ")
    minute = now.replace(second=0, microsecond=0)
    table = AuthFailure._meta.db_table
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {table} (minute, remote_addr, token_prefix, failures) VALUES (%s, %s, %s, 1)
                    ON CONFLICT (minute, remote_addr, token_prefix)
                    DO UPDATE SET failures = {table}.failures + 1""",
                [minute, (remote_addr or "")[:45], token.strip()[:PREFIX_CHARS]])
    except Exception as exc:  # noqa: BLE001 - counting must never turn a 401 into a 500
        log.warning("ingest auth failure not counted: %s", exc)


def summarise(since) -> tuple[int, list[tuple[str, str, int]]]:
    """(total failures since, the top sources as (remote_addr, token_prefix, failures))."""
    rows = AuthFailure.objects.filter(minute__gte=since)
    total = rows.aggregate(total=Sum("failures"))["total"] or 0
    top = list(rows.values("remote_addr", "token_prefix").annotate(n=Sum("failures")).order_by("-n")[:5]
               .values_list("remote_addr", "token_prefix", "n")) if total else []
    return total, top


def prune(now) -> int:
    return AuthFailure.objects.filter(minute__lt=now - KEEP).delete()[0]
