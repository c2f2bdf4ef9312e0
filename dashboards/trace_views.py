"""Traces: recent slow and failed requests per region and service, and one trace's waterfall."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone

from dashboards import access, trace_queries
from dashboards.views import page
from observatory.regions.models import Region


@login_required
def traces(request, name):
    region = get_object_or_404(Region, name=name)
    if not access.can_see(request.user, region.name):
        raise PermissionDenied(f"no access to region {name}")
    if request.GET.get("trace"):
        return redirect("trace", trace_id=request.GET["trace"].strip().lower())
    since = request.GET.get("since") if request.GET.get("since") in trace_queries.SINCE else "1h"
    try:
        slow_ms = max(0.0, float(request.GET.get("slow_ms", 1000)))
    except ValueError:
        slow_ms = 1000.0
    service = request.GET.get("service", "")
    spans = trace_queries.notable(region, service, since, slow_ms, timezone.now())
    return page(request, "dashboards/traces.html", {**spans, "region": region, "service": service, "since": since,
                                                    "slow_ms": slow_ms, "choices": list(trace_queries.SINCE)})


@login_required
def trace(request, trace_id):
    found = trace_queries.waterfall(trace_id)
    if found is None:
        raise Http404("not a trace id")
    allowed = access.allowed_regions(request.user)
    region_ids = {s["region_id"] for s in found["spans"]}
    if allowed is not None and region_ids and not set(
            Region.objects.filter(id__in=region_ids).values_list("name", flat=True)) & allowed:
        raise PermissionDenied("no access to this trace's regions")
    return page(request, "dashboards/trace.html", {**found, "trace_id": trace_id})
