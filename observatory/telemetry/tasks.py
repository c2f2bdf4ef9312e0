from celery import shared_task

from observatory.telemetry import downsample, retention, rollups


@shared_task
def roll_up_minutes() -> int:
    return rollups.roll_up_pending()


@shared_task
def roll_up_hours() -> int:
    return downsample.downsample()


@shared_task
def maintain_storage() -> dict:
    return retention.maintain()
