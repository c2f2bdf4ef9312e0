"""The README's run command: embedded stack, a second start reuses everything, Ctrl-C stops it all."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import ROOT, child_env, free_port, wait_for_port

EMBEDDED_UNSET = ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "DEBUG", "OBSERVATORY_VAR_DIR")


def start_run(var_dir: Path, port: int, log_path: Path, *args: str, **env_overrides: str) -> subprocess.Popen:
    env = child_env(unset=EMBEDDED_UNSET, OBSERVATORY_VENV=sys.prefix, OBSERVATORY_VAR_DIR=str(var_dir),
                    PORT=str(port), WEB_CONCURRENCY="1", WORKER_CONCURRENCY="1", **env_overrides)
    return subprocess.Popen([str(ROOT / "bin" / "run"), *args], cwd=ROOT, env=env, stdout=open(log_path, "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait_for_log(log_path: Path, pattern: str, process: subprocess.Popen, timeout: float = 60) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, log_path.read_text())
        if match:
            return match
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} not in run output:\n{log_path.read_text()[-4000:]}")


def interrupt_and_wait(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _group_alive(process.pid):
        time.sleep(0.2)
    assert not _group_alive(process.pid), "processes of the run command outlived Ctrl-C"


def embedded_manage(var_dir: Path, *args: str) -> str:
    env = child_env(unset=EMBEDDED_UNSET, OBSERVATORY_VAR_DIR=str(var_dir))
    env["SECRET_KEY_FILE"] = str(var_dir / "secret-key")
    result = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def check_ingest_on_sqlite(var_dir: Path, base: str, session: requests.Session) -> None:
    """OTLP into the embedded stack, rolled up and read back through the API."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    embedded_manage(var_dir, "add_region", "us-east-1")
    token = embedded_manage(var_dir, "issue_token", "us-east-1").strip()
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="observatory.queue.backlog")
    point = metric.gauge.data_points.add(time_unix_nano=time.time_ns() - 5 * 10**9, as_int=42)
    point.attributes.add(key="queue").value.string_value = "orders"
    for _ in range(2):  # a re-sent batch is stored once
        answer = requests.post(f"{base}/v1/metrics", data=request.SerializeToString(), timeout=10,
                               headers={"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.content
    code = "from observatory.telemetry.rollups import roll_up_pending; print(roll_up_pending())"
    embedded_manage(var_dir, "shell", "-v", "0", "-c", code)
    series = session.get(f"{base}/api/v1/series", params={"name": "observatory.queue.backlog"}, timeout=10).json()
    [found] = series["series"]
    assert found["points"][-1][1] == 42.0 and found["attributes"] == {"queue": "orders"}


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_run_command_serves_the_embedded_stack_and_reuses_it(tmp_path):
    var_dir, port = tmp_path / "var", free_port()
    base = f"http://127.0.0.1:{port}"

    first_log = tmp_path / "first.log"
    process = start_run(var_dir, port, first_log)
    try:
        wait_for_log(first_log, r"Observatory is running at http://127\.0\.0\.1:\d+/", process)
        wait_for_port(port, process)
        health = requests.get(f"{base}/healthz", timeout=10).json()
        assert health["status"] == "ok"
        login = wait_for_log(first_log, r"admin login: (\S+) / (\S+)", process)
        wait_for_log(first_log, r"celery@\S+ ready", process)

        session = requests.Session()
        page = session.get(f"{base}/login/", timeout=10)
        css = re.search(r'href="(/static/[^"]+\.css)"', page.text).group(1)
        assert session.get(base + css, timeout=10).status_code == 200
        token = session.cookies["csrftoken"]
        home = session.post(f"{base}/login/", data={"username": login[1], "password": login[2],
                                                    "csrfmiddlewaretoken": token}, timeout=10)
        assert home.url == f"{base}/" and "<h1>Global overview</h1>" in home.text
        check_ingest_on_sqlite(var_dir, base, session)
    finally:
        interrupt_and_wait(process)
    assert (var_dir / "observatory.sqlite3").exists()
    assert (var_dir / "admin-password").read_text().strip() == login[2]

    second_log = tmp_path / "second.log"
    process = start_run(var_dir, port, second_log)
    try:
        wait_for_log(second_log, r"Observatory is running at", process)
        wait_for_port(port, process)
        assert requests.get(f"{base}/healthz", timeout=10).status_code == 200
    finally:
        interrupt_and_wait(process)
    second = second_log.read_text()
    assert "installing dependencies" not in second and "creating virtualenv" not in second
    assert f"admin login: {login[1]} (password in {var_dir / 'admin-password'})" in second


def test_demo_mode_simulates_regions_into_the_embedded_stack(tmp_path):
    var_dir, port = tmp_path / "var", free_port()
    log = tmp_path / "demo.log"
    process = start_run(var_dir, port, log, "--demo", DEMO_HISTORY_MINUTES="3")
    try:
        wait_for_log(log, r"simulate: back-filled 3 minutes of history \(\d+ spans\)", process, timeout=120)
        code = ("from observatory.regions.models import Region; from observatory.telemetry.models import "
                "SpanMinute; print(sorted(Region.objects.values_list('name', flat=True)), "
                "SpanMinute.objects.values('region').distinct().count())")
        deadline = time.monotonic() + 60  # the beat rolls minutes up every 15 s
        while True:
            out = embedded_manage(var_dir, "shell", "-v", "0", "-c", code)
            if out.strip().endswith(" 3") or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert out.strip() == "['ap-south-1', 'eu-west-1', 'us-east-1'] 3", out
    finally:
        interrupt_and_wait(process)  # the simulator stops with the rest
