from django.core.management.base import BaseCommand, CommandError

from observatory.regions.models import Region
from observatory.regions.tokens import issue_token


class Command(BaseCommand):
    help = "Issue an ingest token for a region. Prints the token alone on stdout; it is stored hashed and shown only once."

    def add_arguments(self, parser):
        parser.add_argument("region")

    def handle(self, *args, region, **options):
        found = Region.objects.filter(name=region).first()
        if found is None:
            known = ", ".join(Region.objects.values_list("name", flat=True)) or "none yet; add one with add_region"
            raise CommandError(f"no region named {region!r} (known regions: {known})")
        self.stdout.write(issue_token(found))
