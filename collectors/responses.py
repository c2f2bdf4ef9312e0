"""OTLP/HTTP answers: success with optional partial success, or a google.rpc.Status error.

The answer uses the request's media type (protobuf or JSON); an unsupported media
type gets JSON, which a person debugging can read.
"""

from django.http import HttpResponse
from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from collectors.otlp.decode import JSON, PROTOBUF

_GRPC_CODES = {
    400: code_pb2.INVALID_ARGUMENT,
    401: code_pb2.UNAUTHENTICATED,
    405: code_pb2.UNIMPLEMENTED,
    413: code_pb2.RESOURCE_EXHAUSTED,
    415: code_pb2.INVALID_ARGUMENT,
    429: code_pb2.RESOURCE_EXHAUSTED,
    503: code_pb2.UNAVAILABLE,
}


def _encode(message, media_type: str) -> HttpResponse:
    if media_type == PROTOBUF:
        return HttpResponse(message.SerializeToString(), content_type=PROTOBUF)
    return HttpResponse(json_format.MessageToJson(message, indent=None), content_type=JSON)


def error(status: int, text: str, media_type: str = JSON, retry_after: int | None = None) -> HttpResponse:
    response = _encode(status_pb2.Status(code=_GRPC_CODES[status], message=text), media_type)
    response.status_code = status
    if retry_after is not None:
        response["Retry-After"] = str(max(1, int(retry_after)))
    return response


def success(signal: str, media_type: str, rejected: int, text: str) -> HttpResponse:
    if signal == "metrics":
        message = ExportMetricsServiceResponse()
        if rejected:
            message.partial_success.rejected_data_points = rejected
    else:
        message = ExportTraceServiceResponse()
        if rejected:
            message.partial_success.rejected_spans = rejected
    if rejected:
        message.partial_success.error_message = text
    return _encode(message, media_type)
