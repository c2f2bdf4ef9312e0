"""Bulk compare-and-set evaluation: any number of evaluators, each change made once."""

import threading

from django.db import connection
from django.db.models import F

from observatory.alerting.evaluate import _next, _read, _swap_all, evaluate_alerts
from observatory.alerting.models import Alert
from tests.integration.observatory.alerting.conftest import at, condition


def test_a_change_read_at_an_old_version_loses(transactional_db):
    pending = condition(for_seconds=60)
    assert evaluate_alerts(now=at(0), conditions=[pending]) == {"changed": 1, "conflicts": 0}
    stale = _read([pending], live=False)[pending.fingerprint]
    Alert.objects.filter(id=stale.id).update(version=F("version") + 1)  # another evaluator got there first
    assert _swap_all([_next(stale, pending, at(60))], at(60)) == 0
    assert Alert.objects.get().state == "pending"
    assert evaluate_alerts(now=at(60), conditions=[pending]) == {"changed": 1, "conflicts": 0}
    assert Alert.objects.get().state == "firing"


def test_racing_evaluators_create_and_advance_each_alert_once(transactional_db):
    conditions = [condition(region=f"r{i}", service=f"s{j}") for i in range(20) for j in range(10)]
    results, barrier = [], threading.Barrier(4)

    def evaluator():
        try:
            barrier.wait()
            results.append(evaluate_alerts(now=at(0), conditions=conditions))
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluator) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(r["changed"] for r in results) == 200
    assert Alert.objects.count() == 200 and set(Alert.objects.values_list("version", "state")) == {(1, "firing")}


def test_acknowledgement_is_cleared_when_a_resolved_alert_comes_back(transactional_db):
    flappy = condition(for_seconds=10)
    evaluate_alerts(now=at(0), conditions=[flappy])
    evaluate_alerts(now=at(10), conditions=[flappy])
    Alert.objects.update(acknowledged_by="oncall")
    evaluate_alerts(now=at(20), conditions=[])
    assert Alert.objects.get().acknowledged_by == "oncall"  # resolved, still acknowledged
    evaluate_alerts(now=at(30), conditions=[flappy])
    alert = Alert.objects.get()
    assert (alert.state, alert.acknowledged_by, alert.acknowledged_at) == ("pending", "", None)


def test_annotations_follow_the_condition_and_last_true_at_is_kept_only_for_keep_firing_for(transactional_db):
    plain, kept = condition(service="a"), condition(service="b", keep=60)
    evaluate_alerts(now=at(0), conditions=[plain, kept])
    versions = dict(Alert.objects.values_list("labels__service", "version"))
    assert evaluate_alerts(now=at(5), conditions=[plain, kept]) == {"changed": 1, "conflicts": 0}
    rows = {a.labels["service"]: a for a in Alert.objects.all()}
    assert rows["a"].version == versions["a"] and rows["a"].last_true_at == at(0)  # nothing to write
    assert rows["b"].version == versions["b"] + 1 and rows["b"].last_true_at == at(5)  # keep_firing_for needs it
    reworded = type(plain)(plain.labels, {"summary": "now worse"})
    assert evaluate_alerts(now=at(10), conditions=[reworded, kept])["changed"] == 2
    rows = {a.labels["service"]: a for a in Alert.objects.all()}
    assert rows["a"].annotations == {"summary": "now worse"} and rows["a"].state == "firing"
    assert rows["b"].annotations == kept.annotations
