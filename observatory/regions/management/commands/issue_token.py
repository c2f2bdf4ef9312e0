from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from observatory.regions.models import Region, RegionToken
from observatory.regions.tokens import issue_token


class Command(BaseCommand):
    help = ("Issue an ingest token for a region. Prints the token alone on stdout; it is stored hashed and shown "
            "only once. With --rotate, the region's other live tokens stop working after a grace period.")

    def add_arguments(self, parser):
        parser.add_argument("region")
        parser.add_argument("--rotate", action="store_true",
                            help="retire the region's other tokens once the grace period is over")
        parser.add_argument("--grace-seconds", type=int, default=86400,
                            help="with --rotate: how long old and new tokens both work (default 86400)")

    def handle(self, *args, region, rotate, grace_seconds, **options):
        found = Region.objects.filter(name=region).first()
        if found is None:
            known = ", ".join(Region.objects.values_list("name", flat=True)) or "none yet; add one with add_region"
            raise CommandError(f"no region named {region!r} (known regions: {known})")
        if grace_seconds < 0:
            raise CommandError(f"--grace-seconds must be 0 or more, got {grace_seconds}")
        with transaction.atomic():
            if rotate:
                ends = timezone.now() + timedelta(seconds=grace_seconds)
                retired = RegionToken.objects.filter(region=found, revoked_at__isnull=True).update(revoked_at=ends)
                if retired:
                    self.stderr.write(f"{retired} older token(s) of {region} stop working at {ends:%Y-%m-%d %H:%M:%S} UTC")
            self.stdout.write(issue_token(found))
