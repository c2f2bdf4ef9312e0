"""Cumulative counters to increases and rates, with counter resets handled.

An OTLP cumulative point carries the value since ``start``; a new start time, or a
value lower than the previous one, means the counter restarted, and the value
itself is then the increase since the restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Sample:
    time: datetime
    start: datetime | None
    value: float


def is_reset(previous: Sample, current: Sample) -> bool:
    if current.value < previous.value:
        return True
    return current.start is not None and previous.start is not None and current.start > previous.start


def cumulative_increase(previous: Sample | None, samples: list[Sample], window_start: datetime) -> float:
    """Increase over a window given its samples (time order) and the last sample before it.

    Without a sample before the window, the first sample counts in full only when the
    counter started inside the window; otherwise its baseline is unknown and it only
    anchors the next sample.
    """
    total = 0.0
    for sample in samples:
        if previous is None:
            if sample.start is not None and sample.start >= window_start:
                total += sample.value
        elif is_reset(previous, sample):
            total += sample.value
        else:
            total += sample.value - previous.value
        previous = sample
    return total


def delta_increase(samples: list[Sample]) -> float:
    """Delta temporality: each point already is the increase since the previous one."""
    return sum(sample.value for sample in samples)
