from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from observatory.api.keys import issue_api_key


class Command(BaseCommand):
    help = "Issue a JSON API key for a user. Prints the key alone on stdout; it is stored hashed and shown once."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        self.stdout.write(issue_api_key(user))
