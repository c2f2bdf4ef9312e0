"""The whole beat schedule. Every entry expires before its next run, so a backlog
after an outage never replays stale periodic work."""

HEARTBEAT_SECONDS = 30.0
ROLLUP_SECONDS = 15.0
STORAGE_SECONDS = 3600.0
DELIVERY_SWEEP_SECONDS = 2.0
PROBE_TICK_SECONDS = 1.0  # each region is probed at its own interval; this is how often we look
EVALUATE_SECONDS = 5.0
DECIDE_SECONDS = 5.0
SLO_SECONDS = 20.0
ALERTING_SECONDS = 5.0

BEAT_SCHEDULE = {
    "heartbeat": {
        "task": "observatory.ops.tasks.record_heartbeat",
        "schedule": HEARTBEAT_SECONDS,
        "options": {"expires": HEARTBEAT_SECONDS},
    },
    "roll-up-minutes": {
        "task": "observatory.telemetry.tasks.roll_up_minutes",
        "schedule": ROLLUP_SECONDS,
        "options": {"expires": ROLLUP_SECONDS},
    },
    "send-due-deliveries": {
        "task": "observatory.delivery.tasks.send_due_deliveries",
        "schedule": DELIVERY_SWEEP_SECONDS,
        "options": {"expires": DELIVERY_SWEEP_SECONDS},
    },
    "probe-regions": {
        "task": "observatory.failover.tasks.probe_regions",
        "schedule": PROBE_TICK_SECONDS,
        "options": {"expires": PROBE_TICK_SECONDS},
    },
    "evaluate-regions": {
        "task": "observatory.failover.tasks.evaluate_regions",
        "schedule": EVALUATE_SECONDS,
        "options": {"expires": EVALUATE_SECONDS},
    },
    "run-decider": {
        "task": "observatory.failover.tasks.run_decider",
        "schedule": DECIDE_SECONDS,
        "options": {"expires": DECIDE_SECONDS},
    },
    "evaluate-slos": {
        "task": "observatory.slos.tasks.evaluate_slos",
        "schedule": SLO_SECONDS,
        "options": {"expires": SLO_SECONDS},
    },
    "run-alerting": {
        "task": "observatory.alerting.tasks.run_alerting",
        "schedule": ALERTING_SECONDS,
        "options": {"expires": ALERTING_SECONDS},
    },
    "maintain-storage": {
        "task": "observatory.telemetry.tasks.maintain_storage",
        "schedule": STORAGE_SECONDS,
        "options": {"expires": STORAGE_SECONDS / 2},
    },
}
