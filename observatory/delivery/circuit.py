"""Per-endpoint circuit breaker state: the decisions are delivery.policy's (pure); this module
keeps them in the endpoint's Circuit row, each change a compare-and-set on its version, so any
number of workers agree on who sends the half-open probe."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from observatory.delivery import policy
from observatory.delivery.models import Circuit

PROBE_LEASE = timedelta(seconds=30)  # a probe whose worker died is retried after this
_RACES = 5  # compare-and-set retries before giving up (another worker keeps winning)


def _load(endpoint_id: int) -> Circuit:
    circuit = Circuit.objects.filter(endpoint_id=endpoint_id).first()
    if circuit is None:
        try:
            with transaction.atomic():
                circuit = Circuit.objects.create(endpoint_id=endpoint_id)
        except IntegrityError:
            circuit = Circuit.objects.get(endpoint_id=endpoint_id)
    return circuit


def _view(circuit: Circuit) -> policy.Breaker:
    return policy.Breaker(circuit.state, circuit.failures, circuit.open_until)


def _swap(circuit: Circuit, new: policy.Breaker) -> bool:
    return bool(Circuit.objects.filter(endpoint_id=circuit.endpoint_id, version=circuit.version).update(
        state=new.state, failures=new.failures, open_until=new.open_until, version=circuit.version + 1))


def admit(endpoint_id: int, now) -> tuple[str, object]:
    """(SEND | PROBE | HOLD, the time to try again when held)."""
    for _ in range(_RACES):
        circuit = _load(endpoint_id)
        verdict, new = policy.admit(_view(circuit), now, PROBE_LEASE)
        if verdict == policy.HOLD and circuit.state == policy.HALF_OPEN:
            return verdict, min(circuit.open_until, now + timedelta(seconds=2))  # the probe's answer is near
        if verdict != policy.PROBE:
            return verdict, circuit.open_until
        if _swap(circuit, new):
            return verdict, None
    return policy.HOLD, now + timedelta(seconds=1)  # lost every race: someone else is probing


def record(endpoint_id: int, ok: bool, now) -> policy.Breaker:
    threshold = settings.DELIVERY_BREAKER_FAILURES
    cooldown = timedelta(seconds=settings.DELIVERY_BREAKER_COOLDOWN_SECONDS)
    for _ in range(_RACES):
        circuit = _load(endpoint_id)
        old = _view(circuit)
        new = policy.record(old, ok, now, threshold, cooldown)
        if new == old or _swap(circuit, new):
            return new
    return new


def held_endpoints(now) -> list[int]:
    """Endpoints whose breaker admits nothing now: their deliveries stay queued, unclaimed."""
    return list(Circuit.objects.exclude(state=policy.CLOSED).filter(open_until__gt=now)
                .values_list("endpoint_id", flat=True))
