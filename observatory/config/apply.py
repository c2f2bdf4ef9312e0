"""Write a validated Config to the database: all or nothing, idempotent."""

from dataclasses import dataclass

from django.db import transaction

from observatory.config.schema import Config, RegionSpec
from observatory.regions.models import Region


@dataclass(frozen=True)
class Change:
    kind: str  # "region"
    name: str
    action: str  # created | updated | unchanged
    details: tuple[str, ...] = ()

    def describe(self) -> str:
        text = f"{self.kind} {self.name}: {self.action}"
        return f"{text} ({'; '.join(self.details)})" if self.details else text


class _DryRun(Exception):
    pass


def apply_config(config: Config, dry_run: bool = False) -> list[Change]:
    """Apply every section inside one transaction; with dry_run, roll it back."""
    changes: list[Change] = []
    try:
        with transaction.atomic():
            for spec in config.regions.values():
                changes.append(_apply_region(spec))
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return changes


def _apply_region(spec: RegionSpec) -> Change:
    wanted = spec.as_fields()
    region = Region.objects.select_for_update().filter(name=spec.name).first()
    if region is None:
        Region.objects.create(name=spec.name, **wanted)
        return Change("region", spec.name, "created")
    details = tuple(
        f"{field} {getattr(region, field)!r} -> {value!r}"
        for field, value in wanted.items()
        if getattr(region, field) != value
    )
    if not details:
        return Change("region", spec.name, "unchanged")
    for field, value in wanted.items():
        setattr(region, field, value)
    region.save()
    return Change("region", spec.name, "updated", details)
