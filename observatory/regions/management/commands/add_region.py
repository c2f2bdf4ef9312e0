from django.core.management.base import BaseCommand, CommandError

from observatory.config.apply import apply_config
from observatory.config.schema import ROLES, Config, ConfigError, validate_region
from observatory.regions.models import Region


class Command(BaseCommand):
    help = "Create or update one region (the same rules as the regions: section of `apply`)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--group", help="failover group (default: default)")
        parser.add_argument("--role", choices=ROLES)
        parser.add_argument("--rpo-seconds", type=int)
        parser.add_argument("--probe-url")
        parser.add_argument("--probe-interval-seconds", type=int)
        parser.add_argument("--probe-timeout-seconds", type=float)
        parser.add_argument("--probe-failure-threshold", type=int)

    def handle(self, *args, name, **options):
        values, probe = _current_settings(name)
        values.update({key: options[key] for key in ("group", "role", "rpo_seconds") if options[key] is not None})
        probe.update(
            {
                key: options[f"probe_{key}"]
                for key in ("url", "interval_seconds", "timeout_seconds", "failure_threshold")
                if options[f"probe_{key}"] is not None
            }
        )
        if probe:
            values["probe"] = probe
        try:
            spec = validate_region(name, values, source="add_region")
        except ConfigError as exc:
            raise CommandError("\n".join(exc.errors)) from None
        [change] = apply_config(Config(regions={name: spec}))
        self.stdout.write(change.describe())


def _current_settings(name: str) -> tuple[dict, dict]:
    """An existing region's settings, so options not given keep their values."""
    region = Region.objects.filter(name=name).first()
    if region is None:
        return {}, {}
    values = {"group": region.group, "role": region.role, "rpo_seconds": region.rpo_seconds}
    probe = {}
    if region.probe_url:
        probe = {
            "url": region.probe_url,
            "interval_seconds": region.probe_interval_seconds,
            "timeout_seconds": region.probe_timeout_seconds,
            "failure_threshold": region.probe_failure_threshold,
        }
    return values, probe
