"""Creating and expiring silences, with a maximum duration and an audit trail."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from observatory.alerting.models import Alert, Silence, SilenceEvent
from observatory.analytics import alerts as lifecycle


class SilenceError(ValueError):
    pass


def create_silence(matchers: list[str], comment: str, actor: str, ends_at: datetime,
                   starts_at: datetime | None = None, expire_when_unmatched: bool = False) -> Silence:
    now = timezone.now()
    starts_at = starts_at or now
    if not matchers:
        raise SilenceError("matchers: at least one is required")
    parsed = []
    for i, text in enumerate(matchers):
        try:
            parsed.append(lifecycle.parse_matcher(text))
        except ValueError as exc:
            raise SilenceError(f"matchers[{i}]: {exc}") from None
    if not comment or not comment.strip():
        raise SilenceError("comment: required; say why the alerts are silenced")
    if ends_at <= starts_at:
        raise SilenceError("ends_at: must be after starts_at")
    longest = timedelta(seconds=settings.ALERT_MAX_SILENCE_SECONDS)
    if ends_at - starts_at > longest:
        raise SilenceError(f"ends_at: a silence may last at most {longest}")
    with transaction.atomic():
        silence = Silence.objects.create(matchers=[str(m) for m in parsed], starts_at=starts_at, ends_at=ends_at,
                                         comment=comment.strip(), created_by=actor,
                                         expire_when_unmatched=expire_when_unmatched)
        SilenceEvent.objects.create(silence=silence, actor=actor, action="created",
                                    details={"matchers": silence.matchers, "ends_at": ends_at.isoformat()})
    return silence


def expire_silence(silence_id: int, actor: str, reason: str = "") -> Silence:
    now = timezone.now()
    with transaction.atomic():
        silence = Silence.objects.select_for_update().get(id=silence_id)
        if silence.ends_at <= now:
            raise SilenceError("the silence has already expired")
        silence.ends_at, silence.expired_by = now, actor
        silence.save()
        SilenceEvent.objects.create(silence=silence, actor=actor, action="expired", details={"reason": reason})
    return silence


def preview(matchers: list[str]) -> list[Alert]:
    """The firing alerts a silence with these matchers would silence now."""
    parsed = [lifecycle.parse_matcher(m) for m in matchers]
    return [a for a in Alert.objects.filter(state=lifecycle.FIRING) if lifecycle.matches_all(parsed, a.labels)]


def expire_unmatched(now=None) -> int:
    """Silences that asked for it end once no firing alert matches them any more."""
    now = now or timezone.now()
    candidates = list(Silence.objects.filter(expire_when_unmatched=True, starts_at__lte=now, ends_at__gt=now))
    if not candidates:
        return 0  # the usual case: no need to read every firing alert
    firing = list(Alert.objects.filter(state=lifecycle.FIRING).values_list("labels", flat=True))
    expired = 0
    for silence in candidates:
        matchers = [lifecycle.parse_matcher(m) for m in silence.matchers]
        if not any(lifecycle.matches_all(matchers, labels) for labels in firing):
            with transaction.atomic():
                if Silence.objects.filter(id=silence.id, ends_at__gt=now).update(ends_at=now, expired_by="system"):
                    SilenceEvent.objects.create(silence=silence, actor="system", action="expired",
                                                details={"reason": "nothing matches it any more"})
                    expired += 1
    return expired
