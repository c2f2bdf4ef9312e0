from datetime import datetime, timedelta, timezone

import pytest

from observatory.analytics.alerts import (
    FIRING, INACTIVE, PENDING, RESOLVED, AlertState, InhibitRule, Matcher, Silence, advance, fingerprint, inhibited,
    parse_matcher,
)
from observatory.analytics.notify import GroupView, Timing, due_at, should_send

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(steps, for_=timedelta(0), keep=timedelta(0)):
    state, seen = AlertState(), []
    for seconds, condition in steps:
        state = advance(state, condition, at(seconds), for_, keep)
        seen.append(state.state)
    return seen, state


def test_fingerprint_is_label_identity():
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})
    assert fingerprint({"a": "1"}) != fingerprint({"a": "2"})
    assert fingerprint({"a": "1b"}) != fingerprint({"a1": "b"})


def test_for_delays_firing_and_a_clear_condition_resets_pending():
    seen, state = run([(0, True), (30, True), (60, True), (90, False), (100, True), (160, True)],
                      for_=timedelta(seconds=60))
    assert seen == [PENDING, PENDING, FIRING, RESOLVED, PENDING, FIRING]
    assert state.firing_since == at(160) and state.active_since == at(100)
    seen, _ = run([(0, True), (30, False)], for_=timedelta(seconds=60))
    assert seen == [PENDING, INACTIVE]


def test_zero_for_fires_at_once():
    assert run([(0, True)])[0] == [FIRING]


def test_keep_firing_for_rides_out_flapping():
    steps = [(0, True), (10, False), (20, True), (30, False), (75, False), (95, False)]
    seen, state = run(steps, keep=timedelta(seconds=60))
    assert seen == [FIRING, FIRING, FIRING, FIRING, FIRING, RESOLVED]
    assert state.resolved_at == at(95)
    assert run(steps)[0][:2] == [FIRING, RESOLVED]


@pytest.mark.parametrize("text,labels,expected", [
    ('severity="page"', {"severity": "page"}, True),
    ("severity=page", {"severity": "ticket"}, False),
    ('region!="us-east-1"', {"region": "eu-west-1"}, True),
    ('region=~"us-.*"', {"region": "us-east-1"}, True),
    ('region=~"us"', {"region": "us-east-1"}, False),  # anchored
    ('region!~"us-.*|eu-.*"', {"region": "ap-south-1"}, True),
    ('team=""', {}, True),  # a missing label is the empty string
    ('team!=""', {}, False),
    ('msg="say \\"hi\\""', {"msg": 'say "hi"'}, True),
])
def test_matchers(text, labels, expected):
    assert parse_matcher(text).matches(labels) is expected


@pytest.mark.parametrize("text,message", [("severity", "cannot read matcher"), ("1x=y", "cannot read matcher"),
                                          ('a=~"("', "invalid regular expression")])
def test_bad_matchers_say_why(text, message):
    with pytest.raises(ValueError, match=message):
        parse_matcher(text)


def test_silences_need_all_matchers_and_an_active_window():
    silence = Silence((Matcher("region", "=", "us-east-1"), Matcher("severity", "=~", "page|ticket")), at(0), at(3600))
    labels = {"region": "us-east-1", "severity": "page"}
    assert silence.silences(labels, at(10))
    assert not silence.silences(labels, at(3600))  # expired
    assert not silence.silences(labels, at(-1))
    assert not silence.silences({"region": "eu-west-1", "severity": "page"}, at(10))
    assert not Silence((), at(0), at(10)).silences(labels, at(5))  # an empty silence matches nothing


def test_inhibition_with_equal_labels():
    region_down = InhibitRule(source=(Matcher("alertname", "=", "RegionUnhealthy"),),
                              target=(Matcher("service", "!=", ""),), equal=("region",))
    source = {"alertname": "RegionUnhealthy", "region": "us-east-1"}
    east_checkout = {"alertname": "HighErrorRate", "service": "checkout", "region": "us-east-1"}
    west_checkout = {**east_checkout, "region": "eu-west-1"}
    assert inhibited(east_checkout, [source], [region_down])
    assert not inhibited(west_checkout, [source], [region_down])
    assert not inhibited(source, [source], [region_down])  # never inhibits itself
    assert not inhibited(east_checkout, [], [region_down])


def test_group_wait_then_interval_then_repeat():
    timing = Timing(group_wait=timedelta(seconds=30), group_interval=timedelta(minutes=5),
                    repeat_interval=timedelta(hours=4))
    one = GroupView((("a", "firing"),), repeatable=True)
    assert due_at(at(0), None, None, one, timing) == at(30)
    assert not should_send(at(29), at(0), None, None, one, timing)
    assert should_send(at(30), at(0), None, None, one, timing)
    two = GroupView((("a", "firing"), ("b", "firing")), repeatable=True)
    assert due_at(at(0), at(30), one.digest, two, timing) == at(330)  # a change waits for group_interval
    assert due_at(at(0), at(330), two.digest, two, timing) == at(330 + 4 * 3600)  # unchanged: repeat
    acknowledged = GroupView(two.members, repeatable=False)
    assert due_at(at(0), at(330), two.digest, acknowledged, timing) is None  # no repeats once acknowledged
    resolved = GroupView((("a", "resolved"), ("b", "firing")), repeatable=False)
    assert due_at(at(0), at(330), two.digest, resolved, timing) == at(630)  # but resolution still notifies
    assert due_at(at(0), None, None, GroupView((), False), timing) is None
