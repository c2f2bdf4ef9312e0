"""Read models for the pages: one function per page, a fixed number of queries each."""

from django.db.models import Count, Q

from observatory.regions.models import Region


def list_regions() -> list[Region]:
    return list(
        Region.objects.annotate(live_tokens=Count("tokens", filter=Q(tokens__revoked_at__isnull=True))).order_by(
            "group", "name"
        )
    )
