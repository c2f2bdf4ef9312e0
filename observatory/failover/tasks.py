from celery import shared_task

from observatory.failover import decide, evaluate, probes


@shared_task
def probe_regions() -> int:
    probed = probes.probe_due()
    if probed:
        decide.run_decider()  # a probe may have just made a region unhealthy: decide without waiting
    return probed


@shared_task
def evaluate_regions() -> dict:
    return evaluate.evaluate_all()


@shared_task
def run_decider() -> int:
    return len(decide.run_decider())
