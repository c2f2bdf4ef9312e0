import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from observatory.config.apply import apply_config
from observatory.config.schema import ConfigError, parse_config


class Command(BaseCommand):
    help = "Apply an observatory.yaml file: idempotent and all-or-nothing. --check validates and shows the plan."

    def add_arguments(self, parser):
        parser.add_argument("file", help="path to the YAML configuration file")
        parser.add_argument("--check", action="store_true", help="validate and print the changes without writing")

    def handle(self, *args, file, check, **options):
        path = Path(file)
        try:
            text = path.read_text()
        except OSError as exc:
            raise CommandError(f"{file}: cannot read ({exc.strerror})") from None
        try:
            config = parse_config(text, source=str(file), environ=os.environ)
        except ConfigError as exc:
            raise CommandError(f"{file}: not applied, {len(exc.errors)} error(s):\n" + "\n".join(exc.errors)) from None
        try:
            changes = apply_config(config, dry_run=check)
        except ConfigError as exc:
            raise CommandError(f"{file}: not applied, {len(exc.errors)} error(s):\n" + "\n".join(exc.errors)) from None
        for change in changes:
            self.stdout.write(change.describe())
        changed = sum(c.action != "unchanged" for c in changes)
        verb = "would change" if check else "changed"
        self.stdout.write(f"{file}: {'valid; ' if check else ''}{verb} {changed} of {len(changes)} object(s)")
