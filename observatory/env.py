"""Checked environment helpers.

Settings read the environment only through these functions. A variable set to
an empty string counts as unset, so a copied .env.example keeps the defaults. Each takes the
mapping to read (``os.environ`` by default) so the parsing rules are unit-tested
without touching the process environment. A bad value raises
``ImproperlyConfigured`` naming the variable and what is wrong with it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
REQUIRED = object()  # sentinel: no default, the variable must be set


def _raw(name: str, env: Mapping[str, str] | None) -> str | None:
    """The value, or None when unset or blank: an empty NAME= line means "use the default"."""
    env = os.environ if env is None else env
    value = env.get(name)
    return None if value is None or value.strip() == "" else value


def _redact(url: str) -> str:
    """The URL with any password replaced, so errors never echo a secret."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def _bad(name: str, value: str, why: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"environment variable {name}={value!r}: {why}")


def read_str(name: str, default=REQUIRED, env: Mapping[str, str] | None = None) -> str:
    """A string; missing and no default is an error."""
    value = _raw(name, env)
    if value is None:
        if default is REQUIRED:
            raise ImproperlyConfigured(f"environment variable {name} is required but not set")
        return default
    return value


def read_bool(name: str, default: bool, env: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, env)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _bad(name, value, "expected one of true/false, yes/no, on/off, 1/0")


def read_int(
    name: str,
    default: int,
    env: Mapping[str, str] | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    value = _raw(name, env)
    if value is None:
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise _bad(name, value, "expected an integer") from None
    if minimum is not None and number < minimum:
        raise _bad(name, value, f"must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise _bad(name, value, f"must be at most {maximum}")
    return number


def read_list(name: str, default: list[str], env: Mapping[str, str] | None = None) -> list[str]:
    """A comma-separated list; blanks around items are dropped, empty items are an error."""
    value = _raw(name, env)
    if value is None:
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if any(item == "" for item in items):
        raise _bad(name, value, "empty item in comma-separated list")
    return items


def read_secret(name: str, default=REQUIRED, env: Mapping[str, str] | None = None) -> str:
    """A secret from NAME, or from the file named by NAME_FILE (Docker/Kubernetes secrets)."""
    direct = _raw(name, env)
    file_name = _raw(f"{name}_FILE", env)
    if direct is not None and file_name is not None:
        raise ImproperlyConfigured(f"set only one of {name} and {name}_FILE, not both")
    if file_name is not None:
        try:
            secret = Path(file_name).read_text().strip()
        except OSError as exc:
            raise _bad(f"{name}_FILE", file_name, f"cannot read file ({exc.strerror})") from None
        if not secret:
            raise _bad(f"{name}_FILE", file_name, "file is empty")
        return secret
    if direct is not None:
        return direct
    if default is REQUIRED:
        raise ImproperlyConfigured(
            f"environment variable {name} (or {name}_FILE) is required but not set"
        )
    return default


def read_database(name: str, default: str, env: Mapping[str, str] | None = None) -> dict:
    """A Django DATABASES entry from a URL: postgres://… or sqlite:///path."""
    import dj_database_url

    url = read_secret(name, default, env)
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise _bad(name, _redact(url), "expected postgres://user@host:port/db or sqlite:///path")
    try:
        config = dj_database_url.parse(url, conn_max_age=0)
    except ValueError as exc:
        raise _bad(name, _redact(url), str(exc)) from None
    if not config.get("NAME"):
        raise _bad(name, _redact(url), "the URL names no database")
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the web server read while the worker writes; IMMEDIATE avoids
        # "database is locked" upgrades from read to write transactions.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    else:
        config["CONN_MAX_AGE"] = 60
        config["CONN_HEALTH_CHECKS"] = True
        config.setdefault("OPTIONS", {})["connect_timeout"] = 5
    return config


def read_broker(name: str, default: str, env: Mapping[str, str] | None = None) -> str:
    url = read_secret(name, default, env)
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in {"redis", "rediss", "amqp", "amqps", "pyamqp", "filesystem", "memory"}:
        raise _bad(name, _redact(url), "expected redis://host:port/db, amqp://… or filesystem://")
    return url
