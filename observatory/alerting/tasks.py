from celery import shared_task
from django.utils import timezone

from observatory.alerting.dispatch import dispatch
from observatory.alerting.evaluate import evaluate_alerts
from observatory.alerting.silences import expire_unmatched
from observatory.regions import auth_failures


@shared_task
def run_alerting() -> dict:
    result = evaluate_alerts()
    result["notifications"] = dispatch()
    result["silences_expired"] = expire_unmatched()
    result["auth_failures_pruned"] = auth_failures.prune(timezone.now())
    return result
