import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def collected_static():
    """Pages render {% static %} through the manifest storage, as in production."""
    from django.core.management import call_command

    call_command("collectstatic", "--noinput", verbosity=0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {port} after {timeout}s")


def child_env(unset=(), **overrides: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(overrides)
    return env


def run_manage(*args: str, unset=(), **env_overrides: str) -> subprocess.CompletedProcess:
    """Run manage.py in a child process, with variables removed (unset) or overridden."""
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT, env=child_env(unset, **env_overrides), capture_output=True, text=True, timeout=60,
    )


@pytest.fixture
def start_web(tmp_path):
    """Start the real WSGI app under gunicorn in a child process with env overrides."""
    started = []

    def start(**env_overrides: str) -> str:
        port = free_port()
        log = open(tmp_path / f"gunicorn-{port}.log", "w")
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "observatory.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", "1", "--threads", "2"],
            cwd=ROOT, env=child_env(**env_overrides), stdout=log, stderr=subprocess.STDOUT,
        )
        started.append(process)
        wait_for_port(port, process)
        return f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)




@pytest.fixture(scope="session")
def test_database_url(django_db_setup):
    """DATABASE_URL of the test database, for child processes (workers, servers)."""
    from django.db import connection

    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    url = f"postgres://{s['USER']}{password}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}"
    yield url
    # Child processes a test killed (fault tests SIGKILL workers) may leave a backend behind for a
    # moment; the test database can only be dropped once no other session uses it. A connection of
    # its own, closed here: one of Django's would be one more session in the way.
    import time

    import psycopg

    with psycopg.connect(url, autocommit=True) as own:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ended = own.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                " WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
            if not ended:
                break
            time.sleep(0.2)


class Receiver:
    """Handle on a running tests/webhook_receiver.py process."""

    def __init__(self, port: int, secret: str, log_path: Path):
        self.port, self.secret, self.log_path = port, secret, log_path
        self.url = f"http://127.0.0.1:{port}/hook"
        self.process = None

    def start(self) -> "Receiver":
        self.process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "webhook_receiver.py"), str(self.port),
                                         self.secret], stdout=open(self.log_path, "a"), stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.process)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def received(self) -> list[dict]:
        import requests

        return requests.get(f"http://127.0.0.1:{self.port}/received", timeout=5).json()

    def script(self, statuses: list[int], retry_after: int | None = None, hold_seconds: list[float] = ()) -> None:
        import requests

        requests.post(f"http://127.0.0.1:{self.port}/script", timeout=5,
                      json={"statuses": statuses, "retry_after": retry_after, "hold_seconds": list(hold_seconds)})


@pytest.fixture
def webhook_receiver(tmp_path):
    import base64
    import secrets as random_secrets

    secret = "whsec_" + base64.b64encode(random_secrets.token_bytes(24)).decode()
    receiver = Receiver(free_port(), secret, tmp_path / "receiver.log").start()
    yield receiver
    receiver.stop()
