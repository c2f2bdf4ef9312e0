"""Overview and region pages: parse the request, call a read model, render. htmx polls ask for
the live part only (request.htmx)."""

from datetime import datetime, timezone as dt_timezone

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from dashboards import access, queries
from observatory.regions.models import Region

REFRESH_SECONDS = 10
# uPlot is served from node_modules when `npm ci` has run; without it the pages must not link
# its files (the manifest storage refuses unknown names) and show the numbers tables only.
CHARTS = any(prefix == "vendor/uplot" for prefix, _ in getattr(settings, "STATICFILES_DIRS", []))


def page(request, template: str, context: dict, partial: str | None = None):
    """Render with the persona flags the templates use to show only the buttons that work."""
    role = access.role(request.user)
    context = {**context, "role": role, "is_operator": role in (access.OPERATOR, access.ADMIN),
               "refresh_seconds": REFRESH_SECONDS, "charts": CHARTS, "query": request.GET.urlencode()}
    return render(request, partial if partial and request.htmx else template, context)


def parse_at(text: str | None) -> datetime | None:
    """The anomaly link's ``at`` (YYYY-MM-DDTHH:MMZ); anything else is ignored."""
    try:
        return datetime.strptime(text or "", "%Y-%m-%dT%H:%MZ").replace(tzinfo=dt_timezone.utc)
    except ValueError:
        return None


@login_required
def home(request):
    allowed = access.allowed_regions(request.user)
    return page(request, "dashboards/home.html", queries.overview(allowed, timezone.now()),
                "dashboards/_overview_live.html")


@login_required
def region(request, name):
    region = get_object_or_404(Region, name=name)
    if not access.can_see(request.user, region.name):
        raise PermissionDenied(f"no access to region {name}")
    range_key = request.GET.get("range") if request.GET.get("range") in queries.RANGES else queries.DEFAULT_RANGE
    series = request.GET.get("series", "")
    service = request.GET.get("service") or queries.series_service(series)
    context = queries.region_page(region, timezone.now(), range_key, service, parse_at(request.GET.get("at")))
    context.update(region=region, range=range_key, ranges=list(queries.RANGES), series=series)
    return page(request, "dashboards/region.html", context, "dashboards/_region_live.html")
