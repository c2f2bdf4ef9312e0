"""Score new minutes and refit models, one shard of watched series at a time.

A job claims its shard with a lease (conditional UPDATE) and works on the shard's detector
state. Scoring only advances ``through_minute`` and ``version`` (a compare-and-set, in the
same transaction as the anomaly records); the state itself stays in this process's cache.
The fit job refits the forests that are due, on past rows only, bumps their model version
and writes the whole state as a checkpoint. Scoring never refits, so a process without the
cached state restores it exactly: the checkpoint, then a replay of the minutes scored since.
Checkpoints are costly (about 60 KB per series, compressed), hence only with the fits.
"""

from __future__ import annotations

import secrets
import zlib
from dataclasses import asdict
from datetime import datetime, timedelta
from itertools import groupby

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from observatory.analytics.anomaly import ALERT_THRESHOLD, DetectorBank, snapshot
from observatory.detection import watch
from observatory.detection.models import Anomaly, DetectorShard

LEASE = timedelta(minutes=5)
MAX_MINUTES_PER_RUN = 1440  # a long catch-up continues in the next run
LATE_DATA = timedelta(minutes=10)
_cache: dict[int, tuple[int, DetectorBank, list[tuple[int, str]]]] = {}  # shard -> (version, bank, index)


class LostLease(Exception):
    """Another worker wrote this shard's state after our lease ran out; our work is discarded."""


def _claim(shard: int, now) -> tuple[DetectorShard, str] | None:
    DetectorShard.objects.get_or_create(shard=shard)
    owner = secrets.token_hex(8)
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    if not DetectorShard.objects.filter(free, shard=shard).update(lease_owner=owner, lease_until=now + LEASE):
        return None
    return DetectorShard.objects.defer("state").get(shard=shard), owner


def _release(shard: int, owner: str) -> None:
    DetectorShard.objects.filter(shard=shard, lease_owner=owner).update(lease_owner="", lease_until=None)


def _restore(row: DetectorShard) -> tuple[DetectorBank, list[tuple[int, str]]]:
    """The shard's state as of ``row.through_minute``: (bank, (region_id, key) of each bank row)."""
    cached = _cache.get(row.shard)
    if cached and cached[0] == row.version:
        return cached[1], cached[2]
    state = DetectorShard.objects.filter(shard=row.shard).values_list("state", flat=True).first()
    if state is not None and row.params_digest == snapshot.params_digest():
        bank, keys = snapshot.load(bytes(state))
        index = [_split(k) for k in keys]
        since = row.checkpoint_minute
    else:  # no checkpoint yet, or one of other detector parameters: rebuild from history
        bank, index = DetectorBank(0), []
        since = row.through_minute and row.through_minute - timedelta(minutes=settings.ANOMALY_HISTORY_MINUTES)
    if since is not None and row.through_minute is not None and since < row.through_minute:
        found = watch.observations(since, row.through_minute, row.shard, settings.ANOMALY_SHARDS)
        bank, index, _ = _score(bank, index, found, record=False)
    _cache[row.shard] = (row.version, bank, index)
    return bank, index


def _join(key: tuple[int, str]) -> str:
    return f"{key[0]}|{key[1]}"


def _split(text: str) -> tuple[int, str]:
    region_id, key = text.split("|", 1)
    return int(region_id), key


def _save(row: DetectorShard, owner: str, bank, index, now, checkpoint: bool = False, **fields) -> None:
    if checkpoint:
        fields.update(state=snapshot.dump(bank, [_join(k) for k in index]), params_digest=snapshot.params_digest(),
                      checkpoint_minute=row.through_minute)
    updated = DetectorShard.objects.filter(shard=row.shard, version=row.version, lease_owner=owner).update(
        version=row.version + 1, series_count=len(index), updated_at=now, **fields)
    if not updated:
        raise LostLease(f"shard {row.shard}: state changed under us")
    _cache[row.shard] = (row.version + 1, bank, index)


def _seed(key: tuple[int, str]) -> int:
    return zlib.crc32(_join(key).encode())


def score_shard(shard: int, now: datetime | None = None) -> int:
    """Score every settled minute since the shard's last run; returns anomalies recorded."""
    now = now or timezone.now()
    claimed = _claim(shard, now)
    if claimed is None:
        return 0
    row, owner = claimed
    try:
        bank, index = _restore(row)
        until = (now - timedelta(seconds=settings.ANOMALY_SETTLE_SECONDS)).replace(second=0, microsecond=0)
        after = row.through_minute
        if after is None:
            after = until - timedelta(minutes=settings.ANOMALY_HISTORY_MINUTES)
        until = min(until, after + timedelta(minutes=MAX_MINUTES_PER_RUN))
        if until <= after:
            return 0
        found = watch.observations(after, until, shard, settings.ANOMALY_SHARDS)
        if found:  # rollups arrive in time order per region: later minutes may still be on their way
            through = found[-1].minute
        elif index:  # nothing new: move on, but leave recent minutes open for late data
            through = max(after, until - LATE_DATA)
        else:  # nothing watched here yet: wait, so that back-filled history is scored once it lands
            return 0
        bank, index, records = _score(bank, index, found)
        with transaction.atomic():
            _save(row, owner, bank, index, now, through_minute=through)
            Anomaly.objects.bulk_create(records, ignore_conflicts=True)
        return len(records)
    except LostLease:
        _cache.pop(shard, None)
        return 0
    except BaseException:
        _cache.pop(shard, None)  # the cached bank may be half-updated
        raise
    finally:
        _release(shard, owner)


def _score(bank, index, found: list[watch.Observation], record: bool = True):
    position = {key: i for i, key in enumerate(index)}
    new = sorted({(o.region_id, o.key) for o in found} - position.keys())
    if new:
        bank = snapshot.grow(bank, len(new), seeds=[_seed(k) for k in new])
        for key in new:
            position[key] = len(index)
            index.append(key)
    records = []
    for minute, group in groupby(found, key=lambda o: o.minute):
        group = list(group)
        by_key: dict[str, dict[int, float]] = {}
        for o in group:
            by_key.setdefault(o.key, {})[o.region_id] = o.value
        width = max(len(v) for v in by_key.values()) - 1
        peers = np.full((len(group), max(width, 1)), np.nan)
        for j, o in enumerate(group):
            others = [v for region, v in by_key[o.key].items() if region != o.region_id]
            peers[j, :len(others)] = others
        rows = np.array([position[(o.region_id, o.key)] for o in group])
        values = np.array([o.value for o in group])
        scores = bank.update(np.full(len(group), minute.timestamp()), values,
                             peers if width > 0 else None, series=rows, refit=False)
        for j in np.flatnonzero(scores >= ALERT_THRESHOLD) if record else ():
            o, explanation = group[j], bank.explain(int(rows[j]))
            records.append(Anomaly(region_id=o.region_id, series_key=o.key, service=o.service, minute=minute,
                                   value=o.value, score=float(scores[j]),
                                   explanation={**asdict(explanation), "summary": explanation.summary()},
                                   model_version=int(bank.model_version[rows[j]])))
    return bank, index, records


def fit_shard(shard: int, now: datetime | None = None) -> int | None:
    """Refit the shard's forests that are due; returns how many were refitted (None: shard busy)."""
    now = now or timezone.now()
    claimed = _claim(shard, now)
    if claimed is None:
        return None
    row, owner = claimed
    try:
        bank, index = _restore(row)
        if not index:
            return 0
        refitted = bank.refit_due()
        fields = {"model_version": row.model_version + refitted, "fitted_at": now} if refitted else {}
        if refitted or row.checkpoint_minute != row.through_minute:
            _save(row, owner, bank, index, now, checkpoint=True, **fields)
        return refitted
    except LostLease:
        _cache.pop(shard, None)
        return 0
    except BaseException:
        _cache.pop(shard, None)
        raise
    finally:
        _release(shard, owner)
