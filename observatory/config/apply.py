"""Write a validated Config to the database: all or nothing, idempotent."""

from dataclasses import dataclass

from django.db import transaction

from observatory.config.apply_alerting import apply_alerting
from observatory.config.schema import Config, ConfigError, FailoverSpec, WebhookSpec
from observatory.delivery.models import Endpoint
from observatory.detection.models import WatchedMetric
from observatory.failover.models import FailoverPolicy
from observatory.regions.models import Region
from observatory.slos.models import Slo

SECRET_FIELDS = {"secret", "routing_key"}


@dataclass(frozen=True)
class Change:
    kind: str  # region | webhook | failover
    name: str
    action: str  # created | updated | unchanged | deleted
    details: tuple[str, ...] = ()

    def describe(self) -> str:
        text = f"{self.kind} {self.name}: {self.action}"
        return f"{text} ({'; '.join(self.details)})" if self.details else text


class _DryRun(Exception):
    pass


def apply_config(config: Config, dry_run: bool = False) -> list[Change]:
    """Apply every section inside one transaction; with dry_run, roll it back.

    Raises ConfigError for references the file alone cannot check (e.g. a failover
    group without regions); nothing is written then.
    """
    changes: list[Change] = []
    try:
        with transaction.atomic():
            for spec in config.regions.values():
                changes.append(_upsert(Region, {"name": spec.name}, spec.as_fields(), "region", spec.name))
            for spec in config.webhooks.values():
                changes.append(_apply_webhook(spec))
            if config.alerting is not None:
                changes.extend(apply_alerting(config.alerting))
            errors = [e for spec in config.failover.values() for e in _check_failover(spec)]
            if errors:
                raise ConfigError(errors)
            for spec in config.failover.values():
                changes.append(_upsert(FailoverPolicy, {"group": spec.group}, _failover_fields(spec), "failover",
                                       spec.group))
            for spec in config.slos.values():
                change = _upsert(Slo, {"name": spec.name}, spec.as_fields(), "slo", spec.name)
                changes.append(Change(change.kind, change.name, change.action,
                                      change.details + (spec.detection_note(),)))
            if config.anomaly is not None:
                changes.extend(_apply_watch(config.anomaly.watch))
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return changes


def _failover_fields(spec: FailoverSpec) -> dict:
    return {"mode": spec.mode, "candidates": list(spec.candidates), "cooldown_seconds": spec.cooldown_seconds,
            "command_ttl_seconds": spec.command_ttl_seconds, "notify": list(spec.notify)}


def _check_failover(spec: FailoverSpec) -> list[str]:
    where = f"failover.{spec.group}"
    members = set(Region.objects.filter(group=spec.group).values_list("name", flat=True))
    if not members:
        return [f"{where}: no region is in group {spec.group!r}"]
    errors = [f"{where}.candidates: {name!r} is not a region of group {spec.group!r}"
              for name in spec.candidates if name not in members]
    known = set(Endpoint.objects.values_list("name", flat=True))
    errors += [f"{where}.notify: no webhook named {name!r}" for name in spec.notify if name not in known]
    return errors


def _apply_webhook(spec: WebhookSpec) -> Change:
    fields = {"url": spec.url, "secret": spec.secret, "events": list(spec.events), "format": spec.format,
              "routing_key": spec.routing_key}
    existing = Endpoint.objects.filter(name=spec.name).first()
    if existing is not None and existing.url != spec.url:
        fields.update(enabled=True, disabled_reason="")  # a new URL gets a fresh chance
    return _upsert(Endpoint, {"name": spec.name}, fields, "webhook", spec.name)


def _apply_watch(names: tuple[str, ...]) -> list[Change]:
    """Make the watched metric names exactly ``names``."""
    existing = set(WatchedMetric.objects.values_list("name", flat=True))
    WatchedMetric.objects.exclude(name__in=names).delete()
    WatchedMetric.objects.bulk_create([WatchedMetric(name=n) for n in names if n not in existing])
    return ([Change("anomaly watch", n, "created") for n in names if n not in existing]
            + [Change("anomaly watch", n, "deleted") for n in sorted(existing - set(names))]
            + [Change("anomaly watch", n, "unchanged") for n in names if n in existing])


def _upsert(model, key: dict, wanted: dict, kind: str, name: str) -> Change:
    row = model.objects.select_for_update().filter(**key).first()
    if row is None:
        model.objects.create(**key, **wanted)
        return Change(kind, name, "created")
    details = tuple(
        f"{field} changed" if field in SECRET_FIELDS else f"{field} {getattr(row, field)!r} -> {value!r}"
        for field, value in wanted.items()
        if getattr(row, field) != value
    )
    if not details:
        return Change(kind, name, "unchanged")
    for field, value in wanted.items():
        setattr(row, field, value)
    row.save()
    return Change(kind, name, "updated", details)
