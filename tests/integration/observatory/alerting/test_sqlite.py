"""The embedded stack (SQLite) runs the same alert cycle through its plain-ORM paths."""

import textwrap

from tests.conftest import run_manage


def test_alert_cycle_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'obs.sqlite3'}"
    assert run_manage("migrate", "-v", "0", DATABASE_URL=url).returncode == 0
    script = textwrap.dedent("""
        from datetime import datetime, timedelta, timezone
        from observatory.alerting.evaluate import evaluate_alerts
        from observatory.alerting.models import Alert
        from observatory.alerting.sources import Condition
        t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
        a = Condition({"alertname": "A", "region": "r1"}, {"summary": "one"}, for_seconds=10)
        b = Condition({"alertname": "B", "region": "r1"}, {"summary": "two"}, keep_firing_for_seconds=60)
        print(evaluate_alerts(now=t0, conditions=[a, b]))
        print(evaluate_alerts(now=t0 + timedelta(seconds=10), conditions=[a, b]))
        a2 = Condition(a.labels, {"summary": "changed"}, for_seconds=10)
        print(evaluate_alerts(now=t0 + timedelta(seconds=20), conditions=[a2]))
        print(sorted((x.labels["alertname"], x.state, x.annotations["summary"]) for x in Alert.objects.all()))
    """)
    result = run_manage("shell", "-v", "0", "-c", script, DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "{'changed': 2, 'conflicts': 0}",
        "{'changed': 2, 'conflicts': 0}",  # A fires after its for; B's last_true_at moves (keep_firing_for)
        "{'changed': 1, 'conflicts': 0}",  # A's annotations change; B keeps firing within keep_firing_for
        "[('A', 'firing', 'changed'), ('B', 'firing', 'two')]",
    ]
