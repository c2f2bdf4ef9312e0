import importlib

from observatory.schedule import BEAT_SCHEDULE


def test_every_entry_names_a_real_task_and_expires_before_it_runs_again():
    for name, entry in BEAT_SCHEDULE.items():
        module, _, function = entry["task"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), function)), name
        assert 0 < entry["options"]["expires"] <= entry["schedule"], name
