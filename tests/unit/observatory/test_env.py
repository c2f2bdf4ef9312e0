import pytest
from django.core.exceptions import ImproperlyConfigured

from observatory import env


@pytest.mark.parametrize("raw,expected", [("1", True), ("true", True), ("YES", True), (" on ", True),
                                          ("0", False), ("false", False), ("No", False), ("off", False)])
def test_read_bool_accepts_common_spellings(raw, expected):
    assert env.read_bool("DEBUG", not expected, {"DEBUG": raw}) is expected


def test_read_bool_default_when_unset_or_blank():
    assert env.read_bool("DEBUG", True, {}) is True
    assert env.read_bool("DEBUG", False, {}) is False
    assert env.read_bool("DEBUG", True, {"DEBUG": ""}) is True


def test_read_bool_rejects_other_words_naming_the_variable():
    with pytest.raises(ImproperlyConfigured, match=r"DEBUG='maybe'.*true/false"):
        env.read_bool("DEBUG", False, {"DEBUG": "maybe"})


def test_read_int_parses_and_checks_bounds():
    assert env.read_int("N", 5, {"N": " 42 "}) == 42
    assert env.read_int("N", 5, {}) == 5
    assert env.read_int("N", 5, {"N": ""}) == 5
    with pytest.raises(ImproperlyConfigured, match=r"N='4x': expected an integer"):
        env.read_int("N", 5, {"N": "4x"})
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env.read_int("N", 5, {"N": "0"}, minimum=1)
    with pytest.raises(ImproperlyConfigured, match="at most 10"):
        env.read_int("N", 5, {"N": "11"}, maximum=10)


def test_read_list_splits_and_trims():
    assert env.read_list("H", ["x"], {"H": "a.example, b.example"}) == ["a.example", "b.example"]
    assert env.read_list("H", ["x"], {}) == ["x"]
    assert env.read_list("H", ["x"], {"H": " "}) == ["x"]
    with pytest.raises(ImproperlyConfigured, match="empty item"):
        env.read_list("H", [], {"H": "a,,b"})


def test_read_str_required():
    assert env.read_str("S", "d", {}) == "d"
    assert env.read_str("S", "d", {"S": ""}) == "d"
    with pytest.raises(ImproperlyConfigured, match="S is required"):
        env.read_str("S", env.REQUIRED, {})


def test_read_secret_from_value_or_file(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    assert env.read_secret("K", env.REQUIRED, {"K": "direct"}) == "direct"
    assert env.read_secret("K", env.REQUIRED, {"K_FILE": str(secret_file)}) == "from-file"
    assert env.read_secret("K", "fallback", {}) == "fallback"


def test_read_secret_errors(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="K \\(or K_FILE\\) is required"):
        env.read_secret("K", env.REQUIRED, {})
    with pytest.raises(ImproperlyConfigured, match="only one of K and K_FILE"):
        env.read_secret("K", env.REQUIRED, {"K": "a", "K_FILE": "/x"})
    with pytest.raises(ImproperlyConfigured, match="K_FILE=.*cannot read file"):
        env.read_secret("K", env.REQUIRED, {"K_FILE": str(tmp_path / "missing")})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ImproperlyConfigured, match="file is empty"):
        env.read_secret("K", env.REQUIRED, {"K_FILE": str(tmp_path / "empty")})
    with pytest.raises(ImproperlyConfigured, match="K \\(or K_FILE\\) is required"):
        env.read_secret("K", env.REQUIRED, {"K": "  ", "K_FILE": ""})


def test_read_database_postgres():
    config = env.read_database("DATABASE_URL", "", {"DATABASE_URL": "postgres://obs:pw@db.internal:6432/obsdb"})
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == ("db.internal", 6432, "obsdb", "obs")
    assert config["OPTIONS"]["connect_timeout"] == 5


def test_read_database_sqlite_uses_wal(tmp_path):
    config = env.read_database("DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3", {})
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == f"{tmp_path}/x.sqlite3"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url", "postgres://user:secret@host:5432/"])
def test_read_database_rejects_bad_urls_without_echoing_password(url):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL") as info:
        env.read_database("DATABASE_URL", "", {"DATABASE_URL": url})
    assert "secret" not in str(info.value)


def test_read_broker():
    assert env.read_broker("B", "filesystem://", {}) == "filesystem://"
    assert env.read_broker("B", "", {"B": "redis://r:6379/0"}) == "redis://r:6379/0"
    with pytest.raises(ImproperlyConfigured, match="B=.*expected redis://"):
        env.read_broker("B", "", {"B": "kafka://k:9092"})
