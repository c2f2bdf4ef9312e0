"""Alert lifecycle, label matchers, silences and inhibition (pure; Alertmanager semantics).

Lifecycle: inactive -> pending (condition true, waiting ``for``) -> firing ->
resolved. With ``keep_firing_for``, a firing alert whose condition clears stays
firing that long, so a flapping condition does not notify twice.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

INACTIVE, PENDING, FIRING, RESOLVED = "inactive", "pending", "firing", "resolved"
OPERATORS = ("=~", "!~", "!=", "=")  # longest first, for parsing


def fingerprint(labels: dict[str, str]) -> str:
    """Identity of an alert: the same labels are the same alert."""
    text = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    def __post_init__(self):
        if self.op not in OPERATORS:
            raise ValueError(f"unknown operator {self.op!r}; use =, !=, =~ or !~")
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {self.value!r}: {exc}") from None

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.name, "")  # a missing label matches the empty string, as in Alertmanager
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None  # regexes are anchored
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


_MATCHER_RE = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_.]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(.*?))\s*$')


def parse_matcher(text: str) -> Matcher:
    """``name=value``, ``name!="value"``, ``name=~regex`` or ``name!~regex``."""
    match = _MATCHER_RE.match(text)
    if not match:
        raise ValueError(f"cannot read matcher {text!r}; expected e.g. severity=\"page\" or region=~\"us-.*\"")
    value = match.group(3).replace('\\"', '"') if match.group(3) is not None else match.group(4)
    return Matcher(match.group(1), match.group(2), value)


def matches_all(matchers: list[Matcher] | tuple[Matcher, ...], labels: dict[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


@dataclass(frozen=True)
class AlertState:
    state: str = INACTIVE
    active_since: datetime | None = None  # when the condition became true (pending start)
    firing_since: datetime | None = None
    last_true_at: datetime | None = None
    resolved_at: datetime | None = None


def advance(current: AlertState, condition: bool, now: datetime, for_: timedelta = timedelta(0),
            keep_firing_for: timedelta = timedelta(0)) -> AlertState:
    """One evaluation of the alert's condition at ``now``."""
    if condition:
        if current.state in (INACTIVE, RESOLVED):
            current = AlertState(PENDING, active_since=now, last_true_at=now)
        else:
            current = replace(current, last_true_at=now)
        if current.state == PENDING and now - current.active_since >= for_:
            current = replace(current, state=FIRING, firing_since=now)
        return current
    if current.state == PENDING:
        return AlertState(INACTIVE)
    if current.state == FIRING:
        if current.last_true_at is not None and now - current.last_true_at < keep_firing_for:
            return current
        return replace(current, state=RESOLVED, resolved_at=now)
    return current


@dataclass(frozen=True)
class Silence:
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def silences(self, labels: dict[str, str], now: datetime) -> bool:
        return self.active(now) and bool(self.matchers) and matches_all(self.matchers, labels)


@dataclass(frozen=True)
class InhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()

    def inhibits(self, source_labels: dict[str, str], target_labels: dict[str, str]) -> bool:
        return (matches_all(self.source, source_labels) and matches_all(self.target, target_labels)
                and all(source_labels.get(name, "") == target_labels.get(name, "") for name in self.equal))


class Inhibitor:
    """Inhibition for many targets at once: each rule indexes its firing sources by their ``equal``
    label values, so a target costs one lookup per rule instead of a scan of every firing alert."""

    def __init__(self, firing: list[dict[str, str]], rules: list[InhibitRule]):
        self._rules = []
        for rule in rules:
            index: dict[tuple, set[str]] = {}
            for labels in firing:
                if matches_all(rule.source, labels):
                    sources = index.setdefault(tuple(labels.get(n, "") for n in rule.equal), set())
                    if len(sources) < 2:  # two are enough to know someone other than the target is there
                        sources.add(fingerprint(labels))
            if index:
                self._rules.append((rule, index))

    def inhibits(self, target: dict[str, str]) -> bool:
        own = None
        for rule, index in self._rules:
            sources = index.get(tuple(target.get(n, "") for n in rule.equal))
            if sources and matches_all(rule.target, target):
                own = own or fingerprint(target)
                if sources - {own}:  # an alert never inhibits itself
                    return True
        return False


def inhibited(target: dict[str, str], firing: list[dict[str, str]], rules: list[InhibitRule]) -> bool:
    """True when a firing alert (not the target itself) inhibits the target under some rule."""
    return Inhibitor(firing, rules).inhibits(target)
