import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT, child_env


def test_compose_describes_every_service_from_one_image_with_health_checks():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "beat"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"
    assert {services[s]["image"] for s in ("web", "worker", "beat")} == {"observatory:latest"}
    assert "gunicorn" in services["web"]["command"]
    assert services["web"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["worker"]["environment"]["CELERY_BROKER_URL"].startswith("redis://redis")


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="docker-compose is not installed")
def test_docker_compose_config_is_valid():
    result = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        env=child_env(SECRET_KEY="x" * 40), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="docker-compose is not installed")
def test_docker_compose_requires_a_secret_key():
    result = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        env=child_env(unset=("SECRET_KEY",)), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "set SECRET_KEY" in result.stderr
