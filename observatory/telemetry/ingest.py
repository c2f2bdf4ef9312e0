"""The only writer of telemetry. A call returns once the rows are committed.

PostgreSQL: binary COPY straight into the partitioned tables. A re-sent batch
hits the natural keys (series+time, trace+span+start); then the transaction is
rolled back and run again with the batch's rows going through temporary tables
with ON CONFLICT DO NOTHING, so retries never duplicate. A row for a day without
a partition rolls it back too: the partitions are created, then it runs again.
SQLite (embedded default): INSERT OR IGNORE.
"""

import json
import logging
import time
from datetime import timedelta
from json import encoder as json_encoder

import psycopg
from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import JsonbBinaryDumper
from psycopg.types.string import BytesBinaryDumper

from collectors.otlp.flatten import MetricRows, SpanRows
from observatory.telemetry import health_signals, partitions

log = logging.getLogger(__name__)

POINT_COLUMNS = ("series_id", "time", "start_time", "value")
POINT_TYPES = ("int8", "timestamptz", "timestamptz", "float8")
HISTOGRAM_COLUMNS = ("series_id", "time", "start_time", "count", "sum", "min", "max", "bounds", "counts")
HISTOGRAM_TYPES = ("int8", "timestamptz", "timestamptz", "int8", "float8", "float8", "float8", "float8[]", "int8[]")
SPAN_COLUMNS = ("region_id", "trace_id", "span_id", "parent_span_id", "service", "operation", "kind", "status_code",
                "status_message", "start_time", "duration_ms", "http_route", "http_status_code", "attributes")
SPAN_TYPES = ("int8", "bytea", "bytea", "bytea", "text", "text", "int2", "int2", "text", "timestamptz", "float8",
              "text", "int4", "jsonb")

DIRTY_SPANS, DIRTY_POINTS = 1, 2
MAX_DIRTY_SPAN_MINUTES = 60  # beyond this a batch's minutes are collected exactly instead of as a range
LAST_SEEN_EVERY_SECONDS = 5.0

DIRTY_ROWS_PER_STATEMENT = 300  # 900 parameters: within every SQLite's and PostgreSQL's limit

_known_series: set[int] = set()
_last_seen_written: dict[int, float] = {}


def write_metrics(rows: MetricRows) -> None:
    if not (rows.points or rows.histograms):
        _touch_regions(rows.region_ids)
        return
    times = [p[1] for p in rows.points] + [h[1] for h in rows.histograms]

    def write(dedupe: set) -> None:
        with transaction.atomic():
            new_series = _insert_series(rows)
            if rows.points:
                _copy("telemetry_point", POINT_COLUMNS, POINT_TYPES, rows.points, dedupe)
            if rows.histograms:
                _copy("telemetry_histogram_point", HISTOGRAM_COLUMNS, HISTOGRAM_TYPES, rows.histograms, dedupe)
            _mark_dirty(DIRTY_POINTS, rows.region_ids, times)
            health_signals.record(rows)
            transaction.on_commit(lambda: _known_series.update(new_series))

    _write_retrying(write, times, ("telemetry_point", "telemetry_histogram_point"))
    _touch_regions(rows.region_ids)


def write_spans(rows: SpanRows) -> None:
    if not rows.spans:
        _touch_regions(rows.region_ids)
        return
    times = [s[9] for s in rows.spans]

    def write(dedupe: set) -> None:
        with transaction.atomic():
            _copy("telemetry_span", SPAN_COLUMNS, SPAN_TYPES, rows.spans, dedupe)
            _mark_dirty(DIRTY_SPANS, rows.region_ids, times)

    _write_retrying(write, times, ("telemetry_span",))
    _touch_regions(rows.region_ids)


def _write_retrying(write, times: list, tables: tuple) -> None:
    """Run ``write(dedupe)``, one transaction, and run it again after a re-send or a missing partition.

    The first attempt COPYs straight into the tables, without a savepoint around
    each COPY (two round trips each, on every request). Re-sends and new days are
    rare: rolling back the whole attempt and running it again costs only then. A
    re-send usually repeats every table of the batch, so all of them then go
    through staging.
    """
    dedupe: set[str] = set()  # tables whose rows go through staging, skipping duplicates
    partitions_created = False
    while True:
        try:
            write(dedupe)
            return
        except psycopg.errors.UniqueViolation:
            if dedupe:
                raise
            dedupe = set(tables)
        except psycopg.errors.CheckViolation:
            # No partition for some row: create the days this batch needs, then run again (once).
            if partitions_created:
                raise
            partitions.ensure_partitions(min(times).date(), max(times).date())
            partitions_created = True


def _insert_series(rows: MetricRows) -> list[int]:
    if len(_known_series) > 2_000_000:
        _known_series.clear()  # bound memory; unknown series are re-inserted idempotently
    new = [s for fp, s in rows.series.items() if fp not in _known_series]
    if not new:
        return []
    now = timezone.now()
    params = [
        (s.fingerprint, s.region_id, s.name, s.kind, s.unit, s.temporality, s.monotonic, s.service,
         json.dumps(s.resource), json.dumps(s.attributes), now)
        for s in new
    ]
    conflict = "ON CONFLICT (fingerprint) DO NOTHING" if connection.vendor == "postgresql" else "ON CONFLICT DO NOTHING"
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO telemetry_series (fingerprint, region_id, name, kind, unit, temporality, monotonic, service,"
            f" resource, attributes, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) {conflict}",
            params,
        )
    return [s.fingerprint for s in new]


def _copy(table: str, columns: tuple, types: tuple, rows: list, dedupe: set) -> None:
    if connection.vendor != "postgresql":
        _insert_or_ignore(table, columns, rows)
    elif table in dedupe:
        _copy_skipping_duplicates(table, columns, types, rows)
    else:
        _copy_binary(table, columns, types, rows)


if json_encoder.c_make_encoder is not None:
    # json.dumps() builds a new C encoder on every call; one reused encoder makes the same text
    # (same separators, ASCII, NaN allowed) at half the cost. No circular-reference check is
    # needed: attributes come from protobuf messages, which cannot contain cycles.
    _encode_json_chunks = json_encoder.c_make_encoder(
        None, json.JSONEncoder().default, json_encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True)

    def _json_text(obj) -> str:
        return "".join(_encode_json_chunks(obj, 0))
else:  # pragma: no cover - CPython without the _json accelerator
    _json_text = json.dumps


class _JsonbDumper(JsonbBinaryDumper):
    """jsonb in binary COPY: version byte 1, then the JSON text."""

    def dump(self, obj):
        return b"\x01" + _json_text(obj).encode()


def _copy_binary(table: str, columns: tuple, types: tuple, rows: list) -> None:
    cursor = connection.connection.cursor()
    # By type name, bytea would get psycopg's pure-Python dumper (it also accepts psycopg.Binary)
    # and jsonb a general one; these two dump our values with less work per row.
    cursor.adapters.register_dumper(None, BytesBinaryDumper)  # psycopg's C version when available
    cursor.adapters.register_dumper(None, _JsonbDumper)
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)


def _copy_skipping_duplicates(table: str, columns: tuple, types: tuple, rows: list) -> None:
    staging = f"{table}_staging"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table}) ON COMMIT DELETE ROWS")
        cursor.execute(f"TRUNCATE {staging}")
    _copy_binary(staging, columns, types, rows)
    column_list = ", ".join(columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {staging} ON CONFLICT DO NOTHING"
        )
        log.info("re-sent rows skipped in %s: %d of %d", table, len(rows) - cursor.rowcount, len(rows))


def _insert_or_ignore(table: str, columns: tuple, rows: list) -> None:
    def sqlite_row(row):
        return [json.dumps(v) if isinstance(v, (list, dict)) else v for v in row]

    placeholders = ", ".join(["%s"] * len(columns))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",
            [sqlite_row(row) for row in rows],
        )


def _minutes(times: list) -> set:
    first, last = min(times), max(times)
    first_minute = first.replace(second=0, microsecond=0)
    span = int((last - first_minute).total_seconds() // 60)
    if span <= MAX_DIRTY_SPAN_MINUTES:
        return {first_minute + timedelta(minutes=i) for i in range(span + 1)}
    return {t.replace(second=0, microsecond=0) for t in times}


def _mark_dirty(kind: int, region_ids: set, times: list) -> None:
    minutes = _minutes(times)
    # Sorted, so concurrent requests lock the same keys in the same order; one statement per chunk.
    params = sorted((kind, region_id, minute) for region_id in region_ids for minute in minutes)
    with connection.cursor() as cursor:
        for i in range(0, len(params), DIRTY_ROWS_PER_STATEMENT):
            chunk = params[i:i + DIRTY_ROWS_PER_STATEMENT]
            cursor.execute(
                "INSERT INTO telemetry_dirty_minute (kind, region_id, minute) VALUES "
                + ", ".join(["(%s, %s, %s)"] * len(chunk)) + " ON CONFLICT DO NOTHING",
                [value for row in chunk for value in row],
            )


def _touch_regions(region_ids: set) -> None:
    """Refresh "last seen", at most every few seconds per region and process."""
    now = time.monotonic()
    due = [r for r in region_ids if now - _last_seen_written.get(r, -1e9) >= LAST_SEEN_EVERY_SECONDS]
    if not due:
        return
    from observatory.regions.models import Region

    Region.objects.filter(id__in=due).update(last_seen_at=timezone.now())
    for region_id in due:
        _last_seen_written[region_id] = now
