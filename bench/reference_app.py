"""The floor for bench/ingest.py: a bare WSGI app that decodes OTLP/HTTP protobuf and COPYs the rows.

It does only what is needed to turn a request into rows of the real tables:
``collectors.otlp.decode.decode_request``, then one binary COPY per request into
telemetry_point or telemetry_span, committed. No Django, no auth, no rate limits,
no region or time-window checks, no series table, no dirty minutes, no health
signals, no self-metrics. The real service's rate divided by this one's is the
share of the achievable rate it keeps.

It is a competent floor, not a naive one: the same low-level choices as the
service's writer (psycopg's C dumper for bytea, one reused JSON encoder for
jsonb, timestamps converted once per distinct value), so the ratio measures the
service's extra work, not a difference in how rows are encoded.

Environment: BENCH_DATABASE_URL (a postgres:// URL) and BENCH_REGION_ID.
Not part of the service: never import it from the production packages.
"""

import hashlib
import json
import os
import threading
from datetime import datetime, timedelta, timezone
from json import encoder as json_encoder

import psycopg
from psycopg.types.json import JsonbBinaryDumper
from psycopg.types.string import BytesBinaryDumper

from collectors.otlp.decode import PROTOBUF, DecodeError, decode_request

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
SIGNALS = {"/v1/metrics": "metrics", "/v1/traces": "traces"}
POINT_COPY = "COPY telemetry_point (series_id, time, start_time, value) FROM STDIN (FORMAT BINARY)"
POINT_TYPES = ["int8", "timestamptz", "timestamptz", "float8"]
SPAN_COPY = ("COPY telemetry_span (region_id, trace_id, span_id, parent_span_id, service, operation, kind,"
             " status_code, status_message, start_time, duration_ms, http_route, http_status_code, attributes)"
             " FROM STDIN (FORMAT BINARY)")
SPAN_TYPES = ["int8", "bytea", "bytea", "bytea", "text", "text", "int2", "int2", "text", "timestamptz", "float8",
              "text", "int4", "jsonb"]

_local = threading.local()
_series_ids: dict = {}
_encode_json = json_encoder.c_make_encoder(None, json.JSONEncoder().default, json_encoder.encode_basestring_ascii,
                                           None, ": ", ", ", False, False, True)


class JsonbDumper(JsonbBinaryDumper):
    def dump(self, obj):
        return b"\x01" + "".join(_encode_json(obj, 0)).encode()


def _connection() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(os.environ["BENCH_DATABASE_URL"])
    return conn


def _time(unix_nano: int) -> datetime:
    return EPOCH + timedelta(0, 0, unix_nano // 1000)


def _value(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind in ("string_value", "int_value", "double_value", "bool_value") else None


def _series_id(key: tuple) -> int:
    series_id = _series_ids.get(key)
    if series_id is None:
        digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
        series_id = _series_ids[key] = int.from_bytes(digest, "big", signed=True)
    return series_id


def metric_rows(request) -> list[tuple]:
    rows, times = [], {}
    for resource_metrics in request.resource_metrics:
        resource = resource_metrics.resource.SerializeToString()
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind not in ("gauge", "sum"):
                    continue
                name = metric.name
                for point in getattr(metric, kind).data_points:
                    attributes = tuple((kv.key, _value(kv.value)) for kv in point.attributes)
                    at, start = point.time_unix_nano, point.start_time_unix_nano
                    at = times.get(at) or times.setdefault(at, _time(at))
                    start = (times.get(start) or times.setdefault(start, _time(start))) if start else None
                    value = point.as_double if point.WhichOneof("value") == "as_double" else float(point.as_int)
                    rows.append((_series_id((resource, name, attributes)), at, start, value))
    return rows


def span_rows(request, region_id: int) -> list[tuple]:
    rows = []
    for resource_spans in request.resource_spans:
        service = next((kv.value.string_value for kv in resource_spans.resource.attributes
                        if kv.key == "service.name"), "unknown_service")
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attributes = {kv.key: _value(kv.value) for kv in span.attributes}
                status = attributes.get("http.response.status_code")
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                rows.append((region_id, span.trace_id, span.span_id, span.parent_span_id or None, service,
                             span.name, span.kind, span.status.code, span.status.message, _time(start),
                             (end - start) / 1e6, attributes.get("http.route"),
                             status if isinstance(status, int) else None, attributes))
    return rows


def _copy(statement: str, types: list, rows: list) -> None:
    conn = _connection()
    with conn.transaction(), conn.cursor() as cursor:
        cursor.adapters.register_dumper(None, BytesBinaryDumper)
        cursor.adapters.register_dumper(None, JsonbDumper)
        _copy_rows(cursor, statement, types, rows)


def _copy_rows(cursor, statement: str, types: list, rows: list) -> None:
    with cursor.copy(statement) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def application(environ, start_response):
    signal = SIGNALS.get(environ.get("PATH_INFO", ""))
    if signal is None or environ["REQUEST_METHOD"] != "POST":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"POST /v1/metrics or /v1/traces\n"]
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    try:
        message = decode_request(signal, PROTOBUF, body)
    except DecodeError as exc:
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [str(exc).encode()]
    if signal == "metrics":
        _copy(POINT_COPY, POINT_TYPES, metric_rows(message))
    else:
        _copy(SPAN_COPY, SPAN_TYPES, span_rows(message, int(os.environ["BENCH_REGION_ID"])))
    # An empty Export*ServiceResponse (full success) serialises to zero bytes.
    start_response("200 OK", [("Content-Type", PROTOBUF), ("Content-Length", "0")])
    return [b""]
