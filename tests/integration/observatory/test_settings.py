"""Settings errors are clear startup errors: the variable, its value and what is wrong."""

import pytest

from tests.conftest import run_manage



@pytest.mark.parametrize("env,message", [
    ({"DEBUG": "maybe"}, "environment variable DEBUG='maybe': expected one of true/false"),
    ({"DATABASE_URL": "mysql://root:hunter2@db/obs"},
     "environment variable DATABASE_URL='mysql://root:***@db/obs': expected postgres://"),
    ({"CELERY_BROKER_URL": "kafka://k:9092"}, "environment variable CELERY_BROKER_URL='kafka://k:9092': expected redis://"),
    ({"SECRET_KEY": "short"}, "environment variable SECRET_KEY: must be at least 32 characters"),
    ({"ALLOWED_HOSTS": "a.example,,b.example"}, "ALLOWED_HOSTS='a.example,,b.example': empty item"),
    ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL='LOUD': expected DEBUG, INFO, WARNING, ERROR or CRITICAL"),
    ({"SECRET_KEY_FILE": "/nonexistent/key"}, "SECRET_KEY_FILE='/nonexistent/key': cannot read file"),
])
def test_bad_setting_stops_startup_with_a_clear_message(env, message):
    # SECRET_KEY and SECRET_KEY_FILE together are an error of their own, so drop the key for the file case.
    result = run_manage("check", unset=("SECRET_KEY",) if "SECRET_KEY_FILE" in env else (), **env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("configuration error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr


def test_production_requires_a_secret_key():
    result = run_manage("check", unset=("SECRET_KEY",), DEBUG="false")
    assert result.returncode == 2
    assert "SECRET_KEY (or SECRET_KEY_FILE) is required but not set" in result.stderr


def test_embedded_defaults_need_no_configuration(tmp_path):
    result = run_manage(
        "shell", "-v", "0", "-c",
        "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'], settings.CELERY_BROKER_URL)",
        unset=("DATABASE_URL", "CELERY_BROKER_URL"), OBSERVATORY_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "filesystem://"]
    assert (tmp_path / "broker").is_dir()


def test_deploy_check_is_clean_with_the_documented_production_settings(tmp_path):
    import secrets

    key = tmp_path / "secret-key"
    key.write_text(secrets.token_urlsafe(50))
    production = {"DEBUG": "false", "SECRET_KEY_FILE": str(key), "OBSERVATORY_HTTPS": "true",
                  "OBSERVATORY_HSTS_INCLUDE_SUBDOMAINS": "true", "OBSERVATORY_HSTS_PRELOAD": "true",
                  "ALLOWED_HOSTS": "observatory.example.com"}
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; a deployment never has it.
    unset = ("SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", unset=unset, **production)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
    # Without HTTPS the same check names what is missing rather than passing silently.
    plain = run_manage("check", "--deploy", "--fail-level", "WARNING", unset=unset,
                       **{**production, "OBSERVATORY_HTTPS": "false"})
    assert plain.returncode != 0 and "SESSION_COOKIE_SECURE" in plain.stderr
