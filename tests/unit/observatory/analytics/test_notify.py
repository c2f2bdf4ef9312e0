from datetime import timedelta

from observatory.analytics.alerts import Inhibitor, InhibitRule, Matcher, inhibited, parse_matcher
from observatory.analytics.notify import Route, Timing, route

PAGES = Route(receiver=1, matchers=(parse_matcher('severity="page"'),), group_by=("region",), key="pages")
US = Route(receiver=2, matchers=(parse_matcher('region=~"us-.*"'),), continue_matching=True, key="us")
CATCH = Route(receiver=3, timing=Timing(timedelta(0)), key="all")
DEFAULT = [Route(receiver=9)]


def test_first_match_wins_unless_it_says_continue():
    page_us = {"severity": "page", "region": "us-east-1"}
    assert route(page_us, [PAGES, US, CATCH], DEFAULT) == [PAGES]
    assert route(page_us, [US, PAGES, CATCH], DEFAULT) == [US, PAGES]
    assert route({"severity": "ticket", "region": "us-east-1"}, [US, PAGES, CATCH], DEFAULT) == [US, CATCH]


def test_unmatched_alerts_fall_back_to_the_default_routes():
    assert route({"severity": "ticket", "region": "eu-west-1"}, [PAGES, US], DEFAULT) == DEFAULT
    assert route({"anything": "x"}, [], DEFAULT) == DEFAULT


def test_inhibitor_agrees_with_the_pairwise_definition():
    rules = [InhibitRule((Matcher("alertname", "=", "RegionDown"),), (Matcher("service", "!=", ""),), ("region",)),
             InhibitRule((Matcher("severity", "=", "page"),), (Matcher("severity", "=", "page"),), ("slo",))]
    firing = [{"alertname": "RegionDown", "region": "r1"}, {"alertname": "E", "region": "r1", "service": "a"},
              {"alertname": "E", "region": "r2", "service": "a"},
              {"alertname": "B", "severity": "page", "slo": "s"}]
    inhibitor = Inhibitor(firing, rules)
    got = [inhibitor.inhibits(labels) for labels in firing]
    assert got == [False, True, False, False]  # the lone page does not inhibit itself
    assert got == [any(rule.inhibits(s, t) for rule in rules for s in firing if s != t) for t in firing]
    twin = {"alertname": "C", "severity": "page", "slo": "s"}
    assert inhibited(twin, firing + [twin], rules) and inhibited(firing[3], firing + [twin], rules)
