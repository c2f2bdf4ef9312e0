"""Fault-injection fixtures: a throwaway PostgreSQL cluster that a test may stop and start.

The machine's shared PostgreSQL (127.0.0.1:5432) is never touched: each test that asks
for ``throwaway_postgres`` gets its own cluster (initdb in a temporary directory,
loopback only, trust auth, fsync off), which is stopped and deleted afterwards even
when the test fails.
"""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import free_port, run_manage

PG_TIMEOUT = 30  # seconds for any one initdb / pg_ctl call


def _bindir() -> Path | None:
    candidates = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    candidates = [d for d in candidates if (d / "pg_ctl").exists()]
    if not candidates:
        return None

    def version(d: Path):
        try:
            return float(d.parent.name)
        except ValueError:
            return 0.0

    return max(candidates, key=version)


class ThrowawayPostgres:
    """One PostgreSQL cluster under a temporary directory, run as the ``postgres`` OS user when we are root."""

    def __init__(self, bindir: Path, root: Path, port: int, run_as: str | None):
        self.bindir, self.root, self.port, self.run_as = bindir, root, port, run_as
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.url = f"postgres://postgres@127.0.0.1:{port}/postgres"

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bindir / program), *args]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
        result = subprocess.run(command, cwd=self.root, env=env, capture_output=True, text=True,
                                timeout=PG_TIMEOUT + 5)
        if check and result.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(args)} failed ({result.returncode}):\n"
                               f"{result.stdout}\n{result.stderr}\n{self.log_tail()}")
        return result

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# throwaway cluster for fault-injection tests\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\n"
                "fsync = off\n"
                "full_page_writes = off\n"
                "max_connections = 50\n"
            )

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", str(PG_TIMEOUT), "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", str(PG_TIMEOUT), "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return "postgres log:\n" + self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no postgres log)"

    def destroy(self) -> None:
        if self.running():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "10", "stop", check=False)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def throwaway_postgres():
    """A started, empty PostgreSQL cluster on a free loopback port; stopped and deleted afterwards."""
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb, pg_ctl) are not installed")
    run_as = None
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' OS user to run initdb as")
        if shutil.which("runuser") is None:
            pytest.skip("running as root and runuser is not available to switch to the 'postgres' user")
        run_as = "postgres"
    root = Path(tempfile.mkdtemp(prefix="observatory-pgfault-"))
    if run_as:
        os.chown(root, account.pw_uid, account.pw_gid)
    cluster = ThrowawayPostgres(bindir, root, free_port(), run_as)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def fault_database(throwaway_postgres):
    """The throwaway cluster, migrated, with one region and a token for it: (cluster, region name, token)."""
    url = throwaway_postgres.url
    started = time.monotonic()
    for args in (("migrate", "--noinput"), ("add_region", "fault-east-1", "--group", "faults")):
        result = run_manage(*args, DATABASE_URL=url)
        assert result.returncode == 0, f"manage.py {args[0]} failed:\n{result.stdout}\n{result.stderr}"
    result = run_manage("issue_token", "fault-east-1", DATABASE_URL=url)
    assert result.returncode == 0, f"manage.py issue_token failed:\n{result.stdout}\n{result.stderr}"
    token = result.stdout.strip()
    assert token and len(token.split()) == 1, f"issue_token printed more than a token: {result.stdout!r}"
    print(f"throwaway PostgreSQL on 127.0.0.1:{throwaway_postgres.port} migrated in {time.monotonic() - started:.1f}s")
    return throwaway_postgres, "fault-east-1", token


class ThrowawayRedis:
    """A redis-server of our own on a free loopback port, which a test may stop and start again."""

    def __init__(self, root: Path, port: int):
        self.root, self.port = root, port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.root)], stdout=open(self.root / "redis.log", "a"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        import redis

        while True:
            try:
                redis.Redis(port=self.port, socket_timeout=1).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("redis-server did not start:\n" + (self.root / "redis.log").read_text())
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def throwaway_redis():
    """A started redis-server on a free port (never the machine's shared one); stopped afterwards."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    server = ThrowawayRedis(Path(tempfile.mkdtemp(prefix="observatory-redisfault-")), free_port())
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)
