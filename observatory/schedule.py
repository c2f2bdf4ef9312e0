"""The whole beat schedule. Every entry expires before its next run, so a backlog
after an outage never replays stale periodic work."""

HEARTBEAT_SECONDS = 30.0
ROLLUP_SECONDS = 15.0
HOURLY_ROLLUP_SECONDS = 300.0
STORAGE_SECONDS = 3600.0
DELIVERY_SWEEP_SECONDS = 2.0
PROBE_TICK_SECONDS = 1.0  # each region is probed at its own interval; this is how often we look
EVALUATE_SECONDS = 5.0
DECIDE_SECONDS = 5.0
SLO_SECONDS = 20.0
ALERTING_SECONDS = 5.0
DETECTION_SECONDS = 60.0
FIT_SECONDS = 300.0


def every(task: str, seconds: float, expires: float | None = None) -> dict:
    return {"task": task, "schedule": seconds, "options": {"expires": expires or seconds}}


BEAT_SCHEDULE = {
    "heartbeat": every("observatory.ops.tasks.record_heartbeat", HEARTBEAT_SECONDS),
    "roll-up-minutes": every("observatory.telemetry.tasks.roll_up_minutes", ROLLUP_SECONDS),
    "roll-up-hours": every("observatory.telemetry.tasks.roll_up_hours", HOURLY_ROLLUP_SECONDS),
    "send-due-deliveries": every("observatory.delivery.tasks.send_due_deliveries", DELIVERY_SWEEP_SECONDS),
    "probe-regions": every("observatory.failover.tasks.probe_regions", PROBE_TICK_SECONDS),
    "evaluate-regions": every("observatory.failover.tasks.evaluate_regions", EVALUATE_SECONDS),
    "run-decider": every("observatory.failover.tasks.run_decider", DECIDE_SECONDS),
    "evaluate-slos": every("observatory.slos.tasks.evaluate_slos", SLO_SECONDS),
    "run-alerting": every("observatory.alerting.tasks.run_alerting", ALERTING_SECONDS),
    "detect-anomalies": every("observatory.detection.tasks.run_detection", DETECTION_SECONDS),
    "fit-anomaly-models": every("observatory.detection.tasks.fit_models", FIT_SECONDS),
    "maintain-storage": every("observatory.telemetry.tasks.maintain_storage", STORAGE_SECONDS, STORAGE_SECONDS / 2),
}
