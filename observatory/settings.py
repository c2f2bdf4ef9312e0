"""The one settings module. Everything configurable comes from the environment
through the checked helpers in observatory.env; .env.example lists each variable."""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from observatory import env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.read_str("OBSERVATORY_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)  # the embedded stack's database, queue and secrets live here

DEBUG = env.read_bool("DEBUG", False)
SECRET_KEY = env.read_secret("SECRET_KEY", "" if DEBUG else env.REQUIRED)
if not SECRET_KEY:
    SECRET_KEY = "insecure-debug-only-key"  # DEBUG=true and no key given
elif not DEBUG and len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("environment variable SECRET_KEY: must be at least 32 characters")
ALLOWED_HOSTS = env.read_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.read_list("CSRF_TRUSTED_ORIGINS", [])

HTTPS = env.read_bool("OBSERVATORY_HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
# Commitments for every subdomain and browsers' preload lists: the operator's call, so off by default.
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS and env.read_bool("OBSERVATORY_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = HTTPS and env.read_bool("OBSERVATORY_HSTS_PRELOAD", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "observatory.ops",
    "observatory.regions",
    "observatory.telemetry",
    "observatory.api",
    "observatory.delivery",
    "observatory.failover",
    "observatory.slos",
    "observatory.detection",
    "observatory.alerting",
    "observatory.config",
    "django_htmx",
    "dashboards",
]

MIDDLEWARE = [
    "observatory.selfmetrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "observatory.urls"
WSGI_APPLICATION = "observatory.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.read_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'observatory.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Front-end packages come from npm (package-lock.json; bin/run and bin/test run `npm ci`) and are
# served straight from node_modules; without them the charts fall back to their numbers tables.
STATICFILES_DIRS = [(f"vendor/{name}", BASE_DIR / "node_modules" / name / "dist") for name in ("uplot",)
                    if (BASE_DIR / "node_modules" / name / "dist").is_dir()]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Celery: Redis (or any kombu broker) in production; a filesystem queue under
# var/ by default so the embedded stack needs no server.
CELERY_BROKER_URL = env.read_broker("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir, _control_dir = VAR_DIR / "broker", VAR_DIR / "broker-control"
    _queue_dir.mkdir(exist_ok=True)
    _control_dir.mkdir(exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "control_folder": str(_control_dir),
    }
CELERY_BROKER_CONNECTION_TIMEOUT = 5
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")


# OTLP ingest (collectors/). Limits are per web process.
INGEST_MAX_BODY_BYTES = env.read_int("INGEST_MAX_BODY_BYTES", 20 * 1024 * 1024, minimum=1024)
INGEST_RATE_LIMIT_PER_SECOND = env.read_int("INGEST_RATE_LIMIT_PER_SECOND", 200, minimum=0)
INGEST_RATE_LIMIT_BURST = env.read_int("INGEST_RATE_LIMIT_BURST", 400, minimum=1)
INGEST_MAX_INFLIGHT = env.read_int("INGEST_MAX_INFLIGHT", 32, minimum=1)
INGEST_MAX_AGE_SECONDS = env.read_int("INGEST_MAX_AGE_SECONDS", 2 * 86400, minimum=60)
INGEST_MAX_FUTURE_SECONDS = env.read_int("INGEST_MAX_FUTURE_SECONDS", 300, minimum=0)
INGEST_RETRY_AFTER_SECONDS = env.read_int("INGEST_RETRY_AFTER_SECONDS", 5, minimum=1)
INGEST_TOKEN_CACHE_SECONDS = env.read_int("INGEST_TOKEN_CACHE_SECONDS", 30, minimum=0)
# More than this many 401s on /v1/metrics and /v1/traces within the window fire IngestAuthFailures.
INGEST_AUTH_FAILURE_THRESHOLD = env.read_int("INGEST_AUTH_FAILURE_THRESHOLD", 20, minimum=0)
INGEST_AUTH_FAILURE_WINDOW_SECONDS = env.read_int("INGEST_AUTH_FAILURE_WINDOW_SECONDS", 300, minimum=60)
RAW_RETENTION_DAYS = env.read_int("RAW_RETENTION_DAYS", 7, minimum=1)
ROLLUP_RETENTION_DAYS = env.read_int("ROLLUP_RETENTION_DAYS", 35, minimum=31)  # SLO windows need 30 days
HOURLY_RETENTION_DAYS = env.read_int("HOURLY_RETENTION_DAYS", 400, minimum=ROLLUP_RETENTION_DAYS)
SLO_EVALUATION_RETENTION_DAYS = env.read_int("SLO_EVALUATION_RETENTION_DAYS", 7, minimum=1)

# Region health: telemetry older than this is stale; health signals older than SIGNAL_MAX_AGE are ignored;
# a queue backlog above BACKLOG_LIMIT messages counts as evidence.
REGION_STALE_AFTER_SECONDS = env.read_int("REGION_STALE_AFTER_SECONDS", 90, minimum=5)
SIGNAL_MAX_AGE_SECONDS = env.read_int("SIGNAL_MAX_AGE_SECONDS", 120, minimum=5)
BACKLOG_LIMIT = env.read_int("BACKLOG_LIMIT", 10000, minimum=0)

# Anomaly detection: watched series are split into shards scored in parallel; a new shard
# replays this much history first (seasonal features need a day); a minute is scored once
# its rollups have settled; an anomaly keeps its alert firing this long.
ANOMALY_SHARDS = env.read_int("ANOMALY_SHARDS", 4, minimum=1)
ANOMALY_HISTORY_MINUTES = env.read_int("ANOMALY_HISTORY_MINUTES", 1440, minimum=0)
ANOMALY_SETTLE_SECONDS = env.read_int("ANOMALY_SETTLE_SECONDS", 120, minimum=60)
ANOMALY_ALERT_MINUTES = env.read_int("ANOMALY_ALERT_MINUTES", 15, minimum=1)

# Alerting defaults (Alertmanager semantics), overridable per route later.
ALERT_GROUP_WAIT_SECONDS = env.read_int("ALERT_GROUP_WAIT_SECONDS", 30, minimum=0)
ALERT_GROUP_INTERVAL_SECONDS = env.read_int("ALERT_GROUP_INTERVAL_SECONDS", 300, minimum=1)
ALERT_REPEAT_INTERVAL_SECONDS = env.read_int("ALERT_REPEAT_INTERVAL_SECONDS", 4 * 3600, minimum=60)
ALERT_MAX_SILENCE_SECONDS = env.read_int("ALERT_MAX_SILENCE_SECONDS", 7 * 86400, minimum=60)
EXTERNAL_URL = env.read_str("OBSERVATORY_EXTERNAL_URL", "http://127.0.0.1:8000")

# Delivery circuit breaker: after this many consecutive failed attempts an endpoint gets nothing for
# the cool-down, then one probe attempt.
DELIVERY_BREAKER_FAILURES = env.read_int("DELIVERY_BREAKER_FAILURES", 5, minimum=1)
DELIVERY_BREAKER_COOLDOWN_SECONDS = env.read_int("DELIVERY_BREAKER_COOLDOWN_SECONDS", 60, minimum=1)

# Outbound HTTP (webhooks, probes): allow private/loopback destinations (internal controllers, demos).
OUTBOUND_ALLOW_PRIVATE = env.read_bool("OUTBOUND_ALLOW_PRIVATE", False)

LOG_LEVEL = env.read_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"environment variable LOG_LEVEL={LOG_LEVEL!r}: expected DEBUG, INFO, WARNING, ERROR or CRITICAL"
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}
