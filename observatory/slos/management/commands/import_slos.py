from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from observatory.config.apply import apply_config
from observatory.config.openslo import parse_openslo
from observatory.config.reader import ConfigError
from observatory.config.schema import Config


class Command(BaseCommand):
    help = "Create or update SLOs from OpenSLO v1 YAML (multi-document). All or nothing; --check only validates."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--check", action="store_true")

    def handle(self, *args, file, check, **options):
        try:
            specs = parse_openslo(Path(file).read_text(), source=file)
        except OSError as exc:
            raise CommandError(f"{file}: cannot read ({exc.strerror})") from None
        except ConfigError as exc:
            raise CommandError(f"{file}: not imported, {len(exc.errors)} error(s):\n" + "\n".join(exc.errors)) from None
        changes = apply_config(Config(slos={s.name: s for s in specs}), dry_run=check)
        for change in changes:
            self.stdout.write(change.describe())
