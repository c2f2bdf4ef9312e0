"""Throughput of the anomaly detector's streaming path: one new minute for 10,000 series.

One process, one DetectorBank holding every series' state (ring of seasonal buckets,
trailing training rows, its own packed IsolationForest, window statistics). A tick is a
single ``bank.update(...)`` call with one new point per series: features, forest scoring
and calibration are vectorised across series; the forests that are due are refitted in
the same call (with staggered refit phases, 10,000 / refit_every of them per tick).

Warming 10,000 series through 3,000+ minutes each would take long, so a few template
series of different shapes (noisy level, daily pattern, random walk, spiky) are warmed up
for real past the training window, then copied into the 10,000 slots; each copy gets its
own refit phase, as series of different ages would have. The timed ticks are real updates.

    .venv/bin/python bench/anomaly.py [--series 10000] [--ticks 3] [--peers 0] [--checkpoint]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from observatory.analytics.anomaly import DEFAULT_PARAMS, DetectorBank, snapshot  # noqa: E402

START = 1_700_000_000 - 1_700_000_000 % 86400
TEMPLATES = 16


def template_values(n_minutes: int, n_series: int, seed: int = 0) -> np.ndarray:
    """(minutes, series) values of assorted shapes, with occasional spikes."""
    rng = np.random.default_rng(seed)
    minute = np.arange(n_minutes)[:, None]
    kind = np.arange(n_series)[None, :] % 4
    daily = 50 + 30 * np.sin(2 * np.pi * minute / 1440 + rng.uniform(0, 6, n_series))
    walk = 100 + np.cumsum(rng.normal(0, 0.5, (n_minutes, n_series)), axis=0)
    level = 20 + rng.normal(0, 2, (n_minutes, n_series))
    spiky = rng.poisson(3, (n_minutes, n_series)).astype(float)
    values = np.select([kind == 0, kind == 1, kind == 2], [daily, walk, level], spiky)
    values = values + rng.normal(0, 1, values.shape)
    spikes = rng.random(values.shape) < 0.0005
    return values + spikes * rng.uniform(10, 60, values.shape)


def peer_values(values: np.ndarray, n_peers: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return values[..., None] + rng.normal(0, 1, values.shape + (n_peers,))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--ticks", type=int, default=3, help="timed minutes (the median is reported)")
    parser.add_argument("--peers", type=int, default=0, help="peer regions passed per series (0 = none)")
    parser.add_argument("--checkpoint", action="store_true",
                        help="also time the fit job's checkpoint of this state (save and restore)")
    args = parser.parse_args(argv)
    p = DEFAULT_PARAMS
    warm_minutes = p.train_window + 2 * p.refit_every  # past a full training window
    total = warm_minutes + args.ticks

    values = template_values(total, TEMPLATES)
    peers = peer_values(values, args.peers) if args.peers else None
    started = time.monotonic()
    templates = DetectorBank(TEMPLATES, p)
    for m in range(warm_minutes):
        templates.update(np.full(TEMPLATES, START + 60.0 * m), values[m],
                         None if peers is None else peers[m])
    warm_seconds = time.monotonic() - started

    started = time.monotonic()
    bank = DetectorBank(args.series, p, seeds=np.arange(args.series) * 7919)
    for name, array in vars(templates).items():
        if name != "seed" and isinstance(array, np.ndarray) and array.shape[:1] == (TEMPLATES,):
            getattr(bank, name)[:] = array[np.arange(args.series) % TEMPLATES]
    for name in ("feature", "value", "left", "right", "norm", "fitted"):
        getattr(bank.forest, name)[:] = getattr(templates.forest, name)[np.arange(args.series) % TEMPLATES]
    # Staggered refit phases: each tick, series / refit_every forests are due.
    bank.next_refit[:] = bank.count + np.arange(args.series) % p.refit_every
    copy_seconds = time.monotonic() - started
    state_mb = (sum(a.nbytes for a in vars(bank).values() if isinstance(a, np.ndarray))
                + sum(a.nbytes for a in vars(bank.forest).values() if isinstance(a, np.ndarray))) / 2**20

    index = np.arange(args.series) % TEMPLATES
    timings, refits = [], []
    for tick in range(args.ticks):
        m = warm_minutes + tick
        due = int(np.sum(bank.count >= bank.next_refit))
        row_peers = None if peers is None else peers[m][index]
        started = time.perf_counter()
        scores = bank.update(np.full(args.series, START + 60.0 * m), values[m][index], row_peers)
        timings.append(time.perf_counter() - started)
        refits.append(due)
        assert scores.shape == (args.series,) and np.all((scores >= 0) & (scores <= 1))

    median = float(np.median(timings))
    # The same minute without any refit due: the vectorised score path alone.
    bank.next_refit[:] = bank.count + 10**9
    m = warm_minutes + args.ticks - 1
    started = time.perf_counter()
    bank.update(np.full(args.series, START + 60.0 * (m + 1)), values[m][index],
                None if peers is None else peers[m][index])
    score_only = time.perf_counter() - started
    print(f"warm-up: {TEMPLATES} template series x {warm_minutes} minutes in {warm_seconds:.1f} s; "
          f"copied into {args.series} series in {copy_seconds:.1f} s; state {state_mb:.0f} MiB")
    for tick, (seconds, due) in enumerate(zip(timings, refits)):
        print(f"tick {tick}: {args.series} series scored in {seconds:.3f} s ({due} forests refitted)")
    print(f"without refits (vectorised features + forest scoring only): {score_only:.3f} s")
    print(f"one new minute for {args.series} series{' with %d peers each' % args.peers if args.peers else ''}, "
          f"one process: {median:.3f} s (median of {args.ticks}; target < 10 s)")
    if args.checkpoint:
        # What the production fit job writes per shard (detection/jobs.py), and a cold worker reads.
        keys = [f"1|series-{i}" for i in range(args.series)]
        started = time.perf_counter()
        blob = snapshot.dump(bank, keys)
        saved = time.perf_counter() - started
        started = time.perf_counter()
        snapshot.load(blob)
        loaded = time.perf_counter() - started
        print(f"checkpoint of {args.series} series: {len(blob) / 2**20:.0f} MiB compressed, saved in {saved:.2f} s, "
              f"restored in {loaded:.2f} s ({1000 * saved / args.series:.1f} / {1000 * loaded / args.series:.2f} ms "
              f"per series)")
    return 0 if median < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
