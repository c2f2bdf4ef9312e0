import hashlib
import secrets

from django.utils import timezone

from observatory.api.models import ApiKey

KEY_PREFIX = "obsk_"


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_api_key(user) -> str:
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    ApiKey.objects.create(user=user, key_hash=_hash(raw), prefix=raw[:11])
    return raw


def find_user(raw: str):
    if not raw or not raw.startswith(KEY_PREFIX) or len(raw) > 128:
        return None
    key = ApiKey.objects.select_related("user").filter(key_hash=_hash(raw)).first()
    if key is None or (key.revoked_at and key.revoked_at <= timezone.now()) or not key.user.is_active:
        return None
    return key.user
