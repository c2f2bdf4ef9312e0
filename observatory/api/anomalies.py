from datetime import datetime, timedelta

from django.utils import timezone
from ninja.errors import HttpError

from observatory.alerting.sources import anomaly_chart_path
from observatory.detection.models import Anomaly

MAX_ROWS = 1000


def _anomaly(a: Anomaly) -> dict:
    return {"id": a.id, "region": a.region.name, "series": a.series_key, "service": a.service,
            "minute": a.minute, "value": a.value, "score": a.score, "model_version": a.model_version,
            "explanation": a.explanation, "chart": anomaly_chart_path(a.region.name, a.series_key, a.minute)}


def register(api):
    @api.get("/anomalies", tags=["anomalies"],
             summary="Anomalies (minutes that scored at or above the alert threshold), newest first")
    def list_anomalies(request, region: str | None = None, service: str | None = None,
                       since: datetime | None = None, until: datetime | None = None):
        until = until or timezone.now()
        since = since or until - timedelta(days=1)
        if since >= until:
            raise HttpError(400, "since must be before until")
        found = Anomaly.objects.select_related("region").filter(minute__gte=since, minute__lte=until)
        if region:
            found = found.filter(region__name=region)
        if service:
            found = found.filter(service=service)
        return [_anomaly(a) for a in found.order_by("-minute")[:MAX_ROWS]]
