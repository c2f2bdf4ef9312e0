import os
import time

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init

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


_started: dict[str, float] = {}


@task_prerun.connect(weak=False)
def _task_started(task_id=None, **kwargs):
    _started[task_id] = time.monotonic()


@task_postrun.connect(weak=False)
def _task_finished(task_id=None, task=None, state=None, **kwargs):
    began = _started.pop(task_id, None)
    if began is not None and task is not None:
        from observatory.selfmetrics import TASK_DURATION

        outcome = {"SUCCESS": "success", "RETRY": "retry"}.get(state, "failure")
        TASK_DURATION.labels(task.name, outcome).observe(time.monotonic() - began)
