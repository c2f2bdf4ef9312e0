"""The one place that makes outbound HTTP requests (webhooks, health probes).

Every request has a timeout and a response-size cap, and destinations on
private, loopback or link-local addresses are refused unless
OUTBOUND_ALLOW_PRIVATE is set (internal controllers, local demos and tests).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings

USER_AGENT = "Observatory/1 (+webhooks; probes)"
_session = requests.Session()


@dataclass(frozen=True)
class Outcome:
    status: int | None  # None: no HTTP answer (timeout, refused, blocked)
    duration_ms: float
    error: str = ""
    body: bytes = b""
    retry_after_seconds: float | None = None


class Blocked(Exception):
    pass


def check_destination(url: str) -> None:
    """Raise Blocked when the URL's host resolves to an address we may not call."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Blocked(f"not an http(s) URL: {url!r}")
    if settings.OUTBOUND_ALLOW_PRIVATE:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except socket.gaierror as exc:
        raise Blocked(f"cannot resolve {parts.hostname}: {exc.strerror}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved:
            raise Blocked(f"{parts.hostname} resolves to non-public address {address}; set OUTBOUND_ALLOW_PRIVATE=true "
                          "to allow it")


def request(method: str, url: str, *, body: bytes | None = None, headers: dict | None = None,
            timeout: float = 5.0, max_bytes: int = 64 * 1024) -> Outcome:
    started = time.perf_counter()

    def elapsed() -> float:
        return round((time.perf_counter() - started) * 1000, 1)

    try:
        check_destination(url)
        with _session.request(method, url, data=body, headers={"User-Agent": USER_AGENT, **(headers or {})},
                              timeout=timeout, stream=True, allow_redirects=False) as response:
            content = response.raw.read(max_bytes, decode_content=True) or b""
            return Outcome(response.status_code, elapsed(), body=content,
                           retry_after_seconds=_retry_after(response.headers.get("Retry-After")))
    except Blocked as exc:
        return Outcome(None, elapsed(), f"blocked: {exc}")
    except requests.Timeout:
        return Outcome(None, elapsed(), f"timed out after {timeout:g}s")
    except requests.RequestException as exc:
        return Outcome(None, elapsed(), f"{type(exc).__name__}: {str(exc)[:200]}")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
