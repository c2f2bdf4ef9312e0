from celery import shared_task

from observatory.slos.evaluate import run_cycle


@shared_task
def evaluate_slos() -> int:
    return run_cycle()
