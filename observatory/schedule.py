"""The whole beat schedule. Every entry expires before its next run, so a backlog
after an outage never replays stale periodic work."""

HEARTBEAT_SECONDS = 30.0

BEAT_SCHEDULE = {
    "heartbeat": {
        "task": "observatory.ops.tasks.record_heartbeat",
        "schedule": HEARTBEAT_SECONDS,
        "options": {"expires": HEARTBEAT_SECONDS},
    },
}
