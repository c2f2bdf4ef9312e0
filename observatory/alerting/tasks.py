from celery import shared_task

from observatory.alerting.dispatch import dispatch
from observatory.alerting.evaluate import evaluate_alerts
from observatory.alerting.silences import expire_unmatched


@shared_task
def run_alerting() -> dict:
    result = evaluate_alerts()
    result["notifications"] = dispatch()
    result["silences_expired"] = expire_unmatched()
    return result
