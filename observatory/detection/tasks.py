from celery import shared_task
from django.conf import settings

from observatory.detection import jobs


@shared_task
def run_detection() -> int:
    """Fan out: one scoring task per shard, so the shards spread over the workers."""
    for shard in range(settings.ANOMALY_SHARDS):
        score_shard.apply_async((shard,), expires=55)
    return settings.ANOMALY_SHARDS


@shared_task
def score_shard(shard: int) -> int:
    return jobs.score_shard(shard)


@shared_task
def fit_models() -> int:
    for shard in range(settings.ANOMALY_SHARDS):
        fit_shard.apply_async((shard,), expires=240)
    return settings.ANOMALY_SHARDS


@shared_task(bind=True, max_retries=10)
def fit_shard(self, shard: int) -> int:
    refitted = jobs.fit_shard(shard)
    if refitted is None:  # the shard is being scored right now: fit it right after
        raise self.retry(countdown=5)
    return refitted
