"""POST /v1/metrics and /v1/traces (OTLP/HTTP). Never answers 500: clients drop data on 500."""

import logging
import time

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from collectors import auth, responses
from collectors.body import BadBody, BodyTooLarge, UnsupportedEncoding, read_body
from collectors.limits import InFlight, TokenBuckets
from collectors.otlp.decode import JSON, PROTOBUF, DecodeError, decode_request
from collectors.otlp.flatten import RegionResolver, Window, flatten_metrics, flatten_spans
from observatory import selfmetrics
from observatory.regions import auth_failures
from observatory.telemetry import ingest

log = logging.getLogger(__name__)

# The database (or the connection to it) is down: the client should retry later.
UNAVAILABLE = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)
_limiters: dict = {}
_fingerprints: dict = {}  # identity key -> series fingerprint, shared across requests


def _limiter() -> TokenBuckets:
    key = (settings.INGEST_RATE_LIMIT_PER_SECOND, settings.INGEST_RATE_LIMIT_BURST)
    if key not in _limiters:
        _limiters[key] = TokenBuckets(*key)
    return _limiters[key]


def _inflight() -> InFlight:
    key = ("inflight", settings.INGEST_MAX_INFLIGHT)
    if key not in _limiters:
        _limiters[key] = InFlight(settings.INGEST_MAX_INFLIGHT)
    return _limiters[key]


def _media_type(request) -> str | None:
    media = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    return media if media in (PROTOBUF, JSON) else None


@csrf_exempt
def export_metrics(request):
    return _export(request, "metrics")


@csrf_exempt
def export_traces(request):
    return _export(request, "traces")


def _export(request, signal: str):
    started = time.perf_counter()
    try:
        response = _handle(request, signal)
    except Exception:
        # Whatever went wrong, a 500 would make the exporter drop the batch; 503 makes it retry.
        log.exception("ingest: unexpected error")
        response = responses.error(503, "internal error, retry later", _media_type(request) or JSON,
                                   settings.INGEST_RETRY_AFTER_SECONDS)
    selfmetrics.INGEST_REQUESTS.labels(signal, str(response.status_code)).inc()
    selfmetrics.INGEST_LATENCY.labels(signal).observe(time.perf_counter() - started)
    return response


def _handle(request, signal: str):
    media = _media_type(request)
    answer = media or JSON
    if request.method != "POST":
        response = responses.error(405, f"{request.method} is not allowed; OTLP/HTTP uses POST", answer)
        response["Allow"] = "POST"
        return response
    try:
        grant = auth.authenticate(request.headers.get("Authorization", ""))
    except UNAVAILABLE as exc:
        log.warning("ingest auth: database unavailable: %s", exc)
        return responses.error(503, "database unavailable, retry later", answer, settings.INGEST_RETRY_AFTER_SECONDS)
    if grant is None:
        selfmetrics.INGEST_AUTH_FAILURES.inc()
        auth_failures.record(request.META.get("REMOTE_ADDR", ""), request.headers.get("Authorization", ""),
                             timezone.now())  # never raises: a 401 stays a 401
        return responses.error(401, "missing or invalid bearer token (Authorization: Bearer <region token>)", answer)
    if media is None:
        given = request.headers.get("Content-Type", "") or "none"
        return responses.error(415, f"Content-Type {given!r} is not supported; use {PROTOBUF} or {JSON}", JSON)
    wait = _limiter().take(grant.token_hash)
    if wait:
        return responses.error(429, "rate limit exceeded for this token", media, wait)
    inflight = _inflight()
    if not inflight.try_acquire():
        return responses.error(503, "ingest is overloaded, retry later", media, 1)
    try:
        return _ingest(request, signal, media, grant)
    finally:
        inflight.release()


def _ingest(request, signal: str, media: str, grant):
    limit = settings.INGEST_MAX_BODY_BYTES
    try:
        body = read_body(request, limit)
        message = decode_request(signal, media, body)
    except BodyTooLarge as exc:
        return responses.error(413, str(exc), media)
    except UnsupportedEncoding as exc:
        return responses.error(415, str(exc), media)
    except (BadBody, DecodeError) as exc:
        return responses.error(400, str(exc), media)
    now_ns = time.time_ns()
    window = Window(now_ns - settings.INGEST_MAX_AGE_SECONDS * 10**9, now_ns + settings.INGEST_MAX_FUTURE_SECONDS * 10**9)
    resolver = RegionResolver(grant.regions, grant.default_region_id)
    try:
        if signal == "metrics":
            if len(_fingerprints) > 1_000_000:
                _fingerprints.clear()
            rows = flatten_metrics(message, resolver, window, _fingerprints)
            ingest.write_metrics(rows)
            accepted = len(rows.points) + len(rows.histograms)
        else:
            rows = flatten_spans(message, resolver, window)
            ingest.write_spans(rows)
            accepted = len(rows.spans)
    except UNAVAILABLE as exc:
        log.warning("ingest: database unavailable: %s", exc)
        return responses.error(503, "database unavailable, retry later", media, settings.INGEST_RETRY_AFTER_SECONDS)
    except Exception:
        # A bug must not make clients drop data: 503 makes them retry while we fix it.
        log.exception("ingest: unexpected error")
        return responses.error(503, "internal error while storing the batch, retry later", media,
                               settings.INGEST_RETRY_AFTER_SECONDS)
    for region_id in rows.region_ids:
        name = grant.region_names.get(region_id, str(region_id))
        selfmetrics.INGEST_ITEMS.labels(signal, name, "accepted").inc(accepted)
    if rows.rejected.count:
        selfmetrics.INGEST_ITEMS.labels(signal, "-", "rejected").inc(rows.rejected.count)
    return responses.success(signal, media, rows.rejected.count, rows.rejected.summary())
