"""Region ingest tokens: issued once, stored as SHA-256, looked up by hash.

Tokens carry 256 bits of randomness, so a fast hash is enough (no password
stretching needed) and lookup by hash is an index probe; the final comparison
is constant-time anyway.
"""

import hashlib
import hmac
import secrets

from django.db.models import Q
from django.utils import timezone

from observatory.regions.models import Region, RegionToken

TOKEN_PREFIX = "obs_"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(region: Region) -> str:
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    RegionToken.objects.create(region=region, token_hash=hash_token(raw), prefix=raw[:10])
    return raw


def find_region(raw: str) -> Region | None:
    """The region a live token belongs to, or None."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 128:
        return None
    digest = hash_token(raw)
    token = (
        RegionToken.objects.select_related("region")
        .filter(token_hash=digest)
        .filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=timezone.now()))
        .first()
    )
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    return token.region
