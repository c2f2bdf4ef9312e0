"""SLO pages: the list (global and per region) and one SLO's burn-down and burn rates."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.utils import timezone

from dashboards import access, slo_queries
from dashboards.views import page
from observatory.regions.models import Region
from observatory.slos.models import Slo


@login_required
def slos(request):
    return page(request, "dashboards/slos.html", {"rows": slo_queries.slo_list(access.allowed_regions(request.user))})


@login_required
def slo(request, name):
    slo = get_object_or_404(Slo, name=name)
    region = None
    if request.GET.get("region"):
        region = get_object_or_404(Region, name=request.GET["region"])
        if not access.can_see(request.user, region.name):
            raise PermissionDenied(f"no access to region {region.name}")
    allowed = access.allowed_regions(request.user)
    regions = [r for r in Region.objects.order_by("name") if allowed is None or r.name in allowed]
    context = {**slo_queries.slo_detail(slo, region, timezone.now()), "slo": slo, "region": region,
               "regions": regions}
    return page(request, "dashboards/slo.html", context)
