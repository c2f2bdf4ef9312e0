"""Acknowledging an alert: stops its repeats; its resolution is still sent. Shared by the API and
the dashboards."""

from __future__ import annotations

from django.utils import timezone

from observatory.alerting.models import Alert
from observatory.analytics import alerts as lifecycle


class AcknowledgeError(ValueError):
    pass


def acknowledge(fingerprint: str, actor: str) -> Alert:
    """Raises Alert.DoesNotExist for an unknown fingerprint, AcknowledgeError unless it is firing."""
    alert = Alert.objects.get(fingerprint=fingerprint)
    if alert.state != lifecycle.FIRING:
        raise AcknowledgeError(f"alert is {alert.state}; only firing alerts are acknowledged")
    Alert.objects.filter(id=alert.id).update(acknowledged_by=actor, acknowledged_at=timezone.now())
    alert.refresh_from_db()
    return alert
