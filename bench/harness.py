"""Process, server and database plumbing for bench/ingest.py (Linux: reads /proc)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import urllib3

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of all threads) from /proc/<pid>/stat, or None if gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def children(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = proc_stat(int(entry))
            if stat and stat[0] == parent:
                found.append(int(entry))
    return sorted(found)


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def backend_pids(db_url: str) -> list[int]:
    """PostgreSQL backends connected to the benchmark database (the servers' connections)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                            " AND pid <> pg_backend_pid()").fetchall()
    return [pid for (pid,) in rows]


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    result = {}
    for pid in pids:
        stat = proc_stat(pid)
        if stat:
            result[pid] = stat[1]
    return result


def machine_busy() -> int:
    """Busy jiffies of the whole machine (all CPUs), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    return sum(values) - values[3] - values[4]  # minus idle and iowait


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int
    log: Path

    def workers(self) -> list[int]:
        return children(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # gunicorn: graceful stop of its workers
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # its own session, started by us
                self.process.wait(timeout=5)


def start_server(name: str, app: str, env: dict, args, tmp: Path) -> Server:
    port = free_port()
    log = tmp / f"{name}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", app, "-c", "python:observatory.gunicorn_conf",
         "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT)],
        cwd=ROOT, env={**env, "WEB_CONCURRENCY": str(args.workers), "WEB_THREADS": str(args.threads)},
        stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    server = Server(name, process, port, log)
    try:
        _wait_until_serving(server, args.workers)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_serving(server: Server, workers: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    http = urllib3.PoolManager(retries=False, timeout=5)
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}:\n"
                               f"{server.log.read_text()[-3000:]}")
        try:
            http.request("GET", f"http://127.0.0.1:{server.port}/v1/metrics")  # loads the app; 405/404 expected
            if len(server.workers()) >= workers:
                return
        except urllib3.exceptions.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{server.name} did not start within {timeout:g} s:\n{server.log.read_text()[-3000:]}")
        time.sleep(0.2)


# --------------------------------------------------------------------------- database


def maintenance_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres"))


def create_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(maintenance_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(maintenance_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout.strip()
