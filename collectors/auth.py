"""Bearer token to the regions it may write, cached briefly per process.

Revoking a token takes effect within TOKEN_CACHE_SECONDS. Unknown tokens are not
cached, so a newly issued token works at once.
"""

import time
from dataclasses import dataclass

from django.conf import settings

from observatory.regions.tokens import find_region, hash_token


@dataclass(frozen=True)
class Grant:
    token_hash: str
    regions: dict  # name -> id
    default_region_id: int | None
    region_names: dict  # id -> name


_cache: dict[str, tuple[float, Grant]] = {}


def authenticate(authorization: str) -> Grant | None:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    token = token.strip()
    digest = hash_token(token)
    cached = _cache.get(digest)
    now = time.monotonic()
    if cached and cached[0] > now:
        return cached[1]
    region = find_region(token)
    if region is None:
        _cache.pop(digest, None)
        return None
    grant = Grant(digest, {region.name: region.id}, region.id, {region.id: region.name})
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[digest] = (now + settings.INGEST_TOKEN_CACHE_SECONDS, grant)
    return grant


def clear_cache() -> None:
    _cache.clear()
