"""One SLO evaluation cycle, incremental: cost follows the minutes that changed, not the window length.

1. SLI counts are recomputed for minutes whose rollups changed since the last cycle;
   the difference to what was stored (SliMinute) is the delta.
2. Each window's running sum (WindowState) subtracts the minutes that left it since
   the last cycle, as they were added, then adds the deltas of minutes inside it.
3. The pure analytics.slo evaluates every tier per region, and globally on summed counts,
   knowing how far back each one's data goes (WindowState.data_since): a window that
   history only partly covers does not fire as if it were full.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.db import transaction
from django.db.models import Min, Sum
from django.utils import timezone

from observatory.analytics import slo as math
from observatory.ops.models import Heartbeat
from observatory.slos import sli
from observatory.slos.models import Evaluation, SliMinute, Slo, SloStatus, WindowState
from observatory.telemetry import rollup_partitions

WATERMARK = "slo-cycle"
OVERLAP = timedelta(seconds=30)  # re-read rollups this far back: deltas make it harmless


def _windows(slo: Slo) -> tuple[timedelta, ...]:
    return math.WINDOWS + (timedelta(days=slo.window_days),)


def _key(window: timedelta) -> str:
    return str(int(window.total_seconds()))


def run_cycle(now=None) -> int:
    now = now or timezone.now()
    as_of = now.replace(second=0, microsecond=0)
    slos = list(Slo.objects.all())
    if not slos:
        return 0
    mark = Heartbeat.objects.filter(name=WATERMARK).first()
    longest = max(timedelta(days=s.window_days) for s in slos)
    since = mark.beat_at - OVERLAP if mark else as_of - longest
    # The SLI minutes' daily partitions before the transaction locks their table (creating one locks
    # it exclusively); a late minute older than ``since`` gets its own from bulk_create.
    rollup_partitions.ensure_between("slos_sliminute", min(since, as_of), as_of)
    with transaction.atomic():
        deltas = _store_minutes(slos, since, as_of)
        statuses, data_since = _slide_windows(slos, deltas, as_of)
        _record(slos, statuses, data_since, now, as_of)
        Heartbeat.objects.update_or_create(name=WATERMARK, defaults={"beat_at": now})
    return len(statuses)


def _store_minutes(slos, since, as_of) -> dict[tuple, tuple[float, float]]:
    """Upsert the recomputed SLI minutes; return {(slo, region, minute): (Δgood, Δtotal)}."""
    fresh = sli.count_changed(slos, since, as_of)
    if not fresh:
        return {}
    minutes = {k[2] for k in fresh}
    stored = {(m.slo_id, m.region_id, m.minute): m for m in SliMinute.objects.filter(
        minute__in=minutes, slo__in=slos)}
    deltas, create, update = {}, [], []
    for key, (good, total) in fresh.items():
        old = stored.get(key)
        if old is None:
            create.append(SliMinute(slo_id=key[0], region_id=key[1], minute=key[2], good=good, total=total))
            deltas[key] = (good, total)
        elif (old.good, old.total) != (good, total):
            deltas[key] = (good - old.good, total - old.total)
            old.good, old.total = good, total
            update.append(old)
    SliMinute.objects.bulk_create(create, batch_size=2000)
    SliMinute.objects.bulk_update(update, ["good", "total"], batch_size=2000)
    return deltas


def _slide_windows(slos, deltas, as_of) -> tuple[dict[tuple, dict[timedelta, math.Counts]], dict[tuple, object]]:
    """New window sums for every (slo, region) with a state or new data, and each one's first minute with events."""
    states = {(s.slo_id, s.region_id): s for s in WindowState.objects.filter(slo__in=slos)}
    by_pair = defaultdict(list)
    for (slo_id, region_id, minute), delta in deltas.items():
        by_pair[(slo_id, region_id)].append((minute, delta))
    slo_by_id = {s.id: s for s in slos}
    result, changed = {}, []
    expired = _expired(slos, states, as_of)
    for pair in set(states) | set(by_pair):
        slo = slo_by_id[pair[0]]
        state = states.get(pair)
        if state is None:
            sums = _rebuild(slo, pair[1], as_of)  # first sight: one query per window, once
            state = WindowState(slo_id=pair[0], region_id=pair[1], as_of=as_of)
        else:
            sums = {}
            for window in _windows(slo):
                good, total = state.sums.get(_key(window), (0.0, 0.0))
                # Deltas count for minutes in the new window, and also for minutes that changed and
                # expired at once: the expiry below subtracts their new value, the delta restores the old.
                added = math.Counts()
                for minute, (d_good, d_total) in by_pair.get(pair, ()):
                    if state.as_of - window < minute <= as_of:
                        added = added + math.Counts(d_good, d_total)
                gone = expired.get((pair, window), math.Counts())
                sums[window] = math.Counts(good, total) - gone + added
        state.as_of = as_of
        state.sums = {_key(w): [c.good, c.total] for w, c in sums.items()}
        changed.append(state)
        result[pair] = sums
    _find_data_since([s for s in changed if s.data_since is None], as_of)
    # One upsert for new and existing states: far cheaper than bulk_update's CASE expressions.
    WindowState.objects.bulk_create(
        [WindowState(slo_id=s.slo_id, region_id=s.region_id, as_of=s.as_of, sums=s.sums, data_since=s.data_since)
         for s in changed],
        update_conflicts=True, unique_fields=["slo", "region"], update_fields=["as_of", "sums", "data_since"],
        batch_size=2000)
    return result, {(s.slo_id, s.region_id): s.data_since for s in changed}


def _find_data_since(states: list, as_of) -> None:
    """The first stored minute with events, for states that do not know it yet (new, or without events so far).

    Only the longest tier window is searched: history older than that covers every tier, and a state
    still without events is searched again each cycle, so the search must stay bounded."""
    if not states:
        return
    wanted = {(s.slo_id, s.region_id): s for s in states}
    rows = (SliMinute.objects.filter(slo__in={s.slo_id for s in states}, region__in={s.region_id for s in states},
                                     total__gt=0, minute__gt=as_of - max(t.long for t in math.TIERS))
            .values("slo_id", "region_id").annotate(first=Min("minute")))
    for row in rows:
        state = wanted.get((row["slo_id"], row["region_id"]))
        if state is not None:
            state.data_since = row["first"]


def _expired(slos, states, as_of) -> dict[tuple, math.Counts]:
    """Per (pair, window): the stored minutes that left the window since the state's as_of."""
    found: dict[tuple, math.Counts] = {}
    by_as_of = defaultdict(list)
    for state in states.values():
        by_as_of[state.as_of].append(state)
    for previous, group in by_as_of.items():
        if previous >= as_of:
            continue
        for window in {w for s in slos for w in _windows(s)}:
            rows = SliMinute.objects.filter(
                slo__in={s.slo_id for s in group}, minute__gt=previous - window, minute__lte=as_of - window
            ).values("slo_id", "region_id").annotate(good=Sum("good"), total=Sum("total"))
            for row in rows:
                found[((row["slo_id"], row["region_id"]), window)] = math.Counts(row["good"], row["total"])
    return found


def _rebuild(slo: Slo, region_id: int, as_of) -> dict[timedelta, math.Counts]:
    sums = {}
    for window in _windows(slo):
        row = SliMinute.objects.filter(slo=slo, region_id=region_id, minute__gt=as_of - window,
                                       minute__lte=as_of).aggregate(good=Sum("good"), total=Sum("total"))
        sums[window] = math.Counts(row["good"] or 0.0, row["total"] or 0.0)
    return sums


def _record(slos, sums_by_pair, data_since, now, as_of) -> None:
    slo_by_id = {s.id: s for s in slos}
    scopes: dict[tuple, dict[timedelta, math.Counts]] = dict(sums_by_pair)
    since = dict(data_since)
    for (slo_id, region), sums in sums_by_pair.items():
        total = scopes.setdefault((slo_id, None), {})
        for window, counts in sums.items():
            total[window] = total.get(window, math.Counts()) + counts
        first = data_since.get((slo_id, region))
        if first is not None:  # the global scope's history is its oldest region's
            since[(slo_id, None)] = min(first, since.get((slo_id, None)) or first)
    evaluations, statuses = [], []
    for (slo_id, region_id), sums in scopes.items():
        slo = slo_by_id[slo_id]
        period = timedelta(days=slo.window_days)
        first = since.get((slo_id, region_id))
        history = as_of - first + timedelta(minutes=1) if first is not None else timedelta(0)
        result = math.evaluate(sums, sums.get(period, math.Counts()), slo.objective, period, slo.min_events,
                               history)
        fields = dict(
            evaluated_at=now, as_of=as_of,
            burn_rates={_key(w): math.burn_rate(c, slo.objective) for w, c in sums.items()},
            tiers=[t.__dict__ for t in result.tiers], budget_remaining=result.budget_remaining,
            exhaustion_seconds=result.exhaustion.total_seconds() if result.exhaustion is not None else None,
            events=sums.get(period, math.Counts()).total,
            page=bool(result.firing(math.PAGE)), ticket=bool(result.firing(math.TICKET)),
        )
        evaluations.append(Evaluation(slo_id=slo_id, region_id=region_id, **fields))
        statuses.append(SloStatus(slo_id=slo_id, region_id=region_id, **fields))
    Evaluation.objects.bulk_create(evaluations, batch_size=2000)
    SloStatus.objects.filter(slo__in=slos).delete()
    SloStatus.objects.bulk_create(statuses, batch_size=2000)
