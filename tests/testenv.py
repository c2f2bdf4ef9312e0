"""pytest plugin loaded with -p before Django starts: the environment the suite runs in.

The suite runs against real PostgreSQL and Redis (bin/test makes sure they are up);
TEST_DATABASE_URL and TEST_BROKER_URL point elsewhere if needed.
"""

import os
import tempfile

_var_dir = tempfile.mkdtemp(prefix="observatory-test-var-")

os.environ["DATABASE_URL"] = os.environ.get(
    "TEST_DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/observatory"
)
os.environ["CELERY_BROKER_URL"] = os.environ.get("TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ["SECRET_KEY"] = "test-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
os.environ["DEBUG"] = "false"
os.environ["OUTBOUND_ALLOW_PRIVATE"] = "true"  # tests talk to receivers on 127.0.0.1
os.environ["OBSERVATORY_VAR_DIR"] = _var_dir
os.environ.pop("SECRET_KEY_FILE", None)
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
