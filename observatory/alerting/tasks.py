from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from observatory.alerting.dispatch import dispatch
from observatory.alerting.evaluate import evaluate_alerts
from observatory.alerting.silences import expire_unmatched
from observatory.regions import auth_failures
from observatory.schedule import ALERTING_SECONDS

MAX_SCHEDULED = 5  # dispatches scheduled per cycle for groups falling due before the next one


@shared_task
def run_alerting() -> dict:
    started = timezone.now()
    result = evaluate_alerts(now=started)
    upcoming: list = []
    result["notifications"] = dispatch(upcoming=upcoming, since=started)  # group_wait counts from the firing
    result["dispatches_scheduled"] = schedule_dispatches(upcoming, timezone.now())
    result["silences_expired"] = expire_unmatched()
    result["auth_failures_pruned"] = auth_failures.prune(timezone.now())
    return result


@shared_task
def dispatch_due_groups() -> int:
    return dispatch()


def schedule_dispatches(upcoming: list, now) -> int:
    """A group's group_wait or group_interval may end between two cycles: dispatch right then, not at
    the next cycle, so a notification leaves within its timer (racing dispatches send once anyway)."""
    horizon = now + timedelta(seconds=ALERTING_SECONDS)
    # Rounded up to the next half second: a few tasks cover many groups falling due close together.
    times = sorted({due.replace(microsecond=0) + timedelta(seconds=0.5 if due.microsecond < 500_000 else 1)
                    for due in upcoming if due < horizon})
    for eta in times[:MAX_SCHEDULED]:
        dispatch_due_groups.apply_async(eta=eta, expires=eta + timedelta(seconds=ALERTING_SECONDS))
    return len(times[:MAX_SCHEDULED])
