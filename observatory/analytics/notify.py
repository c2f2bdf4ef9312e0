"""When a group of alerts notifies (pure; Alertmanager's group_wait / group_interval / repeat_interval)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Timing:
    group_wait: timedelta = timedelta(seconds=30)
    group_interval: timedelta = timedelta(minutes=5)
    repeat_interval: timedelta = timedelta(hours=4)


@dataclass(frozen=True)
class GroupView:
    """What a group holds now: (fingerprint, status) of each alert to tell about."""

    members: tuple[tuple[str, str], ...]
    repeatable: bool  # some firing alert is not acknowledged

    @property
    def digest(self) -> str:
        return hashlib.sha256(repr(sorted(self.members)).encode()).hexdigest()[:16]


def due_at(created_at: datetime, last_sent_at: datetime | None, last_digest: str | None, view: GroupView,
           timing: Timing) -> datetime | None:
    """The next time this group should notify, or None when there is nothing to say."""
    if not view.members:
        return None
    if last_sent_at is None:
        return created_at + timing.group_wait  # let the rest of the group arrive first
    if view.digest != last_digest:
        return last_sent_at + timing.group_interval  # something changed: batch changes per interval
    if view.repeatable:
        return last_sent_at + timing.repeat_interval  # unchanged and unacknowledged: remind
    return None


def should_send(now: datetime, created_at: datetime, last_sent_at: datetime | None, last_digest: str | None,
                view: GroupView, timing: Timing) -> bool:
    due = due_at(created_at, last_sent_at, last_digest, view, timing)
    return due is not None and now >= due


@dataclass(frozen=True)
class Route:
    """Where matching alerts go and how they are grouped (Alertmanager's route, flattened)."""

    receiver: int  # endpoint id
    matchers: tuple = ()  # analytics.alerts.Matcher; none matches everything
    group_by: tuple[str, ...] = ("alertname", "region")
    timing: Timing = Timing()
    continue_matching: bool = False
    key: str = ""  # stable identity for group keys ("" for the default routes)


def route(labels: dict[str, str], routes: list[Route], fallback: list[Route]) -> list[Route]:
    """Routes in order: the first match wins unless it says continue; no match at all uses the fallback."""
    matched = []
    for candidate in routes:
        if all(m.matches(labels) for m in candidate.matchers):
            matched.append(candidate)
            if not candidate.continue_matching:
                break
    return matched or list(fallback)
