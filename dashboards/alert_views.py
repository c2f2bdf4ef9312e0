"""Alerts page, acknowledge, and the silence builder (preview, create, expire)."""

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from dashboards import access, alert_queries
from dashboards.views import page
from observatory.alerting import acknowledge as acknowledgement
from observatory.alerting import silences
from observatory.alerting.models import Alert, Silence

FILTERS = ("region", "service", "severity", "state")


def _back(request):
    return redirect(access.safe_next(request, reverse("alerts")))


@login_required
def alerts(request):
    allowed = access.allowed_regions(request.user)
    filters = {k: request.GET.get(k, "") for k in FILTERS}
    builder = {"matchers": "\n".join(alert_queries.matchers_for(request.GET["silence"]))
               if request.GET.get("silence") else request.GET.get("matchers", ""),
               "comment": request.GET.get("comment", ""), "duration": request.GET.get("duration", "1h")}
    preview = _preview(builder["matchers"], allowed) if request.GET.get("preview") else None
    context = {**alert_queries.alerts_page(filters, allowed, timezone.now()), "filters": filters,
               "values": alert_queries.label_values(), "states": alert_queries.STATES,
               "severities": alert_queries.SEVERITIES, "durations": list(alert_queries.DURATIONS),
               "builder": builder, "filter_query": urlencode({k: v for k, v in filters.items() if v}), "preview": preview, "open_builder": bool(request.GET.get("silence") or preview)}
    return page(request, "dashboards/alerts.html", context, "dashboards/_alerts_live.html")


def _preview(text: str, allowed) -> dict:
    matchers, error = alert_queries.parse_matchers(text)
    return {"error": error, "alerts": [] if error else alert_queries.preview(matchers, allowed)}


@login_required
def silence_preview(request):
    """The builder's preview for htmx (the same block the no-JS Preview button renders)."""
    preview = _preview(request.GET.get("matchers", ""), access.allowed_regions(request.user))
    return render(request, "dashboards/_silence_preview.html", {"preview": preview})


@access.operator_action(access.OPERATE_ALERTS, "acknowledge")
def acknowledge(request, fingerprint):
    alert = Alert.objects.filter(fingerprint=fingerprint).first()
    if alert is None:
        raise Http404("no such alert")
    access.region_guard(request, alert.labels.get("region"), "acknowledge")
    try:
        acknowledgement.acknowledge(fingerprint, request.user.get_username())
    except acknowledgement.AcknowledgeError as exc:
        messages.error(request, str(exc))
        return _back(request)
    access.audit(request, "acknowledge", f"alert {fingerprint}", labels=alert.labels)
    messages.success(request, f"Acknowledged {alert.name} ({alert.labels.get('region', 'global')}).")
    return _back(request)


@access.operator_action(access.OPERATE_ALERTS, "create_silence")
def create_silence(request):
    matchers, error = alert_queries.parse_matchers(request.POST.get("matchers", ""))
    seconds = alert_queries.DURATIONS.get(request.POST.get("duration", ""))
    if not error and seconds is None:
        error = "pick a duration"
    if not error:
        try:
            silence = silences.create_silence(matchers, request.POST.get("comment", ""), request.user.get_username(),
                                              timezone.now() + timedelta(seconds=seconds))
        except silences.SilenceError as exc:
            error = str(exc)
    if error:
        messages.error(request, f"Silence not created: {error}")
        keep = {k: request.POST.get(k, "") for k in ("matchers", "comment", "duration")}
        return redirect(f"{reverse('alerts')}?{urlencode(keep)}#silence-builder")
    access.audit(request, "create_silence", f"silence {silence.id}", matchers=matchers, comment=silence.comment,
                 ends_at=silence.ends_at.isoformat())
    messages.success(request, f"Silence {silence.id} created until {silence.ends_at:%Y-%m-%d %H:%M} UTC.")
    return _back(request)


@access.operator_action(access.OPERATE_ALERTS, "expire_silence")
def expire_silence(request, silence_id):
    try:
        silences.expire_silence(silence_id, request.user.get_username(), request.POST.get("reason", ""))
    except Silence.DoesNotExist:
        raise Http404("no such silence") from None
    except silences.SilenceError as exc:
        messages.error(request, str(exc))
        return _back(request)
    access.audit(request, "expire_silence", f"silence {silence_id}")
    messages.success(request, f"Silence {silence_id} expired.")
    return _back(request)
