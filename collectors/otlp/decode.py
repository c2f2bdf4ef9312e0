"""OTLP/HTTP request bodies to protobuf messages (pure: no Django).

The mirror of opentelemetry-python's encoders. JSON follows the OTLP/HTTP JSON
rules, which differ from proto3's canonical JSON mapping: trace and span ids are
hex strings (json_format would base64-decode them), 64-bit integers may be
strings or numbers, enums are integers and unknown fields are ignored.
"""

from __future__ import annotations

import base64
import json
import re

from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

_HEX = re.compile(r"[0-9a-fA-F]*")  # bytes.fromhex alone would skip whitespace
REQUEST_TYPES = {"metrics": ExportMetricsServiceRequest, "traces": ExportTraceServiceRequest}
PROTOBUF, JSON = "application/x-protobuf", "application/json"

# (JSON key path from a span or exemplar, byte length); both spellings are accepted.
_ID_FIELDS = {"traceId": 16, "trace_id": 16, "spanId": 8, "span_id": 8, "parentSpanId": 8, "parent_span_id": 8}


class DecodeError(ValueError):
    """The body is not a valid OTLP request; the message says where and why."""


def decode_request(signal: str, media_type: str, body: bytes) -> Message:
    message = REQUEST_TYPES[signal]()
    if media_type == PROTOBUF:
        try:
            message.ParseFromString(body)
        except ProtobufDecodeError as exc:
            raise DecodeError(f"invalid protobuf {message.DESCRIPTOR.name}: {exc}") from None
        return message
    try:
        document = json.loads(body)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, and integers over Python's digit limit
        raise DecodeError(f"invalid JSON: {exc}") from None
    except RecursionError:
        raise DecodeError("invalid JSON: nested too deeply") from None
    if not isinstance(document, dict):
        raise DecodeError(f"invalid JSON: expected an object at the top level, got {type(document).__name__}")
    if signal == "traces":
        _hex_ids_to_base64_in_spans(document)
    else:
        _hex_ids_to_base64_in_exemplars(document)
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise DecodeError(f"invalid OTLP JSON: {exc}") from None
    return message


def _hex_ids_to_base64_in_spans(document: dict) -> None:
    for r, resource in _items(document, "resourceSpans", "resource_spans"):
        for s, scope in _items(resource, "scopeSpans", "scope_spans"):
            for i, span in _items(scope, "spans"):
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{i}]"
                _convert_ids(span, where)
                for j, link in _items(span, "links"):
                    _convert_ids(link, f"{where}.links[{j}]")


def _hex_ids_to_base64_in_exemplars(document: dict) -> None:
    for r, resource in _items(document, "resourceMetrics", "resource_metrics"):
        for s, scope in _items(resource, "scopeMetrics", "scope_metrics"):
            for m, metric in _items(scope, "metrics"):
                for kind in ("gauge", "sum", "histogram", "exponentialHistogram", "exponential_histogram"):
                    data = metric.get(kind)
                    if not isinstance(data, dict):
                        continue
                    for p, point in _items(data, "dataPoints", "data_points"):
                        for e, exemplar in _items(point, "exemplars"):
                            where = f"resourceMetrics[{r}].scopeMetrics[{s}].metrics[{m}].{kind}.dataPoints[{p}].exemplars[{e}]"
                            _convert_ids(exemplar, where)


def _items(container, *keys):
    if not isinstance(container, dict):
        return []
    for key in keys:
        value = container.get(key)
        if isinstance(value, list):
            return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]
    return []


def _convert_ids(obj: dict, where: str) -> None:
    for key, size in _ID_FIELDS.items():
        value = obj.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or not _HEX.fullmatch(value) or len(value) != size * 2:
            raise DecodeError(f"{where}.{key}: expected {size * 2} hex digits, got {value!r:.60}")
        obj[key] = base64.b64encode(bytes.fromhex(value)).decode()
