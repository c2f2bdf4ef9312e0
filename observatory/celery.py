import os

from celery import Celery
from celery.signals import worker_process_init

from observatory.schedule import BEAT_SCHEDULE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "observatory.settings")

app = Celery("observatory")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.beat_schedule = BEAT_SCHEDULE
app.autodiscover_tasks()


@worker_process_init.connect(weak=False)
def _trace_worker(**kwargs):
    # Per worker process (after the fork), as the Celery instrumentation requires.
    from observatory import selftrace

    selftrace.configure("worker")
