from datetime import datetime, timedelta

from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from observatory.alerting import acknowledge as acknowledgement
from observatory.alerting import silences
from observatory.alerting.models import Alert, Silence


class SilenceIn(Schema):
    matchers: list[str] = Field(..., description='e.g. ["region=\\"us-east-1\\"", "severity=~\\"ticket|page\\""]')
    comment: str
    duration_seconds: int | None = Field(None, description="instead of ends_at")
    ends_at: datetime | None = None
    expire_when_unmatched: bool = False


class ReasonIn(Schema):
    reason: str = ""


def _alert(a: Alert) -> dict:
    return {"fingerprint": a.fingerprint, "state": a.state, "labels": a.labels, "annotations": a.annotations,
            "active_since": a.active_since, "firing_since": a.firing_since, "resolved_at": a.resolved_at,
            "acknowledged_by": a.acknowledged_by, "acknowledged_at": a.acknowledged_at}


def _silence(s: Silence) -> dict:
    now = timezone.now()
    return {"id": s.id, "matchers": s.matchers, "starts_at": s.starts_at, "ends_at": s.ends_at,
            "comment": s.comment, "created_by": s.created_by, "active": s.starts_at <= now < s.ends_at,
            "expire_when_unmatched": s.expire_when_unmatched, "expired_by": s.expired_by}


def _operator(request) -> str:
    if not request.user.has_perm("alerting.change_alert"):
        raise HttpError(403, "acknowledging and silencing need the alerting.change_alert permission")
    return request.user.get_username()


def register(api):
    @api.get("/alerts", tags=["alerts"], summary="Alerts, filtered by state, region, service or severity")
    def list_alerts(request, state: str | None = None, region: str | None = None, service: str | None = None,
                    severity: str | None = None):
        alerts = Alert.objects.exclude(state="inactive").order_by("-updated_at")
        if state:
            alerts = alerts.filter(state=state)
        for label, value in (("region", region), ("service", service), ("severity", severity)):
            if value:
                alerts = alerts.filter(**{f"labels__{label}": value})
        return [_alert(a) for a in alerts[:1000]]

    @api.post("/alerts/{fingerprint}/acknowledge", tags=["alerts"],
              summary="Stop repeats of a firing alert (its resolution is still sent)")
    def acknowledge(request, fingerprint: str):
        actor = _operator(request)
        get_object_or_404(Alert, fingerprint=fingerprint)
        try:
            return _alert(acknowledgement.acknowledge(fingerprint, actor))
        except acknowledgement.AcknowledgeError as exc:
            raise HttpError(409, str(exc)) from None

    @api.get("/silences", tags=["silences"])
    def list_silences(request, active: bool | None = None):
        found = Silence.objects.all()
        now = timezone.now()
        if active is not None:
            condition = Q(starts_at__lte=now, ends_at__gt=now)
            found = found.filter(condition) if active else found.exclude(condition)
        return [_silence(s) for s in found[:1000]]

    @api.post("/silences", response={201: dict}, tags=["silences"])
    def create(request, body: SilenceIn):
        actor = _operator(request)
        if (body.duration_seconds is None) == (body.ends_at is None):
            raise HttpError(400, "give exactly one of duration_seconds and ends_at")
        ends_at = body.ends_at or timezone.now() + timedelta(seconds=body.duration_seconds)
        try:
            silence = silences.create_silence(body.matchers, body.comment, actor, ends_at,
                                              expire_when_unmatched=body.expire_when_unmatched)
        except silences.SilenceError as exc:
            raise HttpError(400, str(exc)) from None
        return Status(201, _silence(silence))

    @api.post("/silences/preview", tags=["silences"], summary="The firing alerts these matchers would silence")
    def preview(request, body: SilenceIn):
        try:
            return [_alert(a) for a in silences.preview(body.matchers)]
        except ValueError as exc:
            raise HttpError(400, str(exc)) from None

    @api.post("/silences/{silence_id}/expire", tags=["silences"])
    def expire(request, silence_id: int, body: ReasonIn):
        actor = _operator(request)
        get_object_or_404(Silence, id=silence_id)
        try:
            return _silence(silences.expire_silence(silence_id, actor, body.reason))
        except silences.SilenceError as exc:
            raise HttpError(409, str(exc)) from None
