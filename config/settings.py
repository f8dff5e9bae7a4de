"""Settings for Foreign Assistant. Every value comes from the environment (see `.env.example`).

With nothing set the service runs for development: SQLite, an in-memory cache and Celery tasks executed
in-process (no broker). With DATABASE_URL, CELERY_BROKER_URL and REDIS_URL set it runs on PostgreSQL and
Redis with real workers. There are no per-environment branches: only the variables differ.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-used-with-DJANGO_DEBUG-on"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_countries",
    "phonenumber_field",
    "core",
    "countries",
    "travelers",
    "alerts",
    "callbacks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# Database: PostgreSQL in production and CI, SQLite when nothing is configured.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Fail fast instead of hanging when PostgreSQL is unreachable: the API answers 503 within seconds.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int("DATABASE_CONNECT_TIMEOUT", 3)
    # A connection whose server vanished without closing it (host down, network partition) fails once a write
    # stays unacknowledged for DATABASE_TCP_USER_TIMEOUT_MS, and TCP keepalives find an idle pooled one dead,
    # instead of waiting out ~15 minutes of kernel retransmissions. (A server that froze while its kernel still
    # answers TCP is not caught by these: a request then waits on it until gunicorn times the worker out.)
    DATABASES["default"]["OPTIONS"].update(
        keepalives=1,
        keepalives_idle=env_int("DATABASE_KEEPALIVES_IDLE", 10),
        keepalives_interval=2,
        keepalives_count=3,
        tcp_user_timeout=env_int("DATABASE_TCP_USER_TIMEOUT_MS", 2000),
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: Redis when REDIS_URL is set (shared by all processes: throttles, country packs), else local memory.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "fa"),
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Languages: Russian by default, English on request (Accept-Language).
LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", _("Russian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Security. HTTPS settings default to on; DJANGO_SECURE_SSL_REDIRECT=false for plain-HTTP development.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_BEHIND_PROXY", False) else None
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# REST framework: authenticated by default; public endpoints say so explicitly.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["travelers.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.exceptions.problem_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "otp_phone": os.environ.get("THROTTLE_OTP_PHONE", "5/hour"),
        "otp_address": os.environ.get("THROTTLE_OTP_ADDRESS", "30/hour"),
        "token_address": os.environ.get("THROTTLE_TOKEN_ADDRESS", "60/hour"),
        "devices_address": os.environ.get("THROTTLE_DEVICES_ADDRESS", "120/hour"),
    },
    "NUM_PROXIES": env_int("DJANGO_NUM_PROXIES", 0) if os.environ.get("DJANGO_NUM_PROXIES") else None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Foreign Assistant API",
    "DESCRIPTION": "Country information, trip registration, emergency alerts and diplomat call-backs "
    "for citizens abroad. Errors are RFC 9457 problem details with a stable `code`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # The contract rules for generated clients: problem bodies, public operations, PATCH bodies (core/schema.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "core.schema.problem_responses"],
    "ENUM_NAME_OVERRIDES": {
        "MissionKindEnum": "countries.models.MissionKind",
        "SectionKindEnum": "countries.models.SectionKind",
        "AdvisoryIndicatorEnum": "countries.models.AdvisoryIndicator",
        "CallbackStatusEnum": "callbacks.models.Status",
        "TripStatusEnum": "travelers.models.TripStatus",
        "LanguageEnum": "travelers.models.Language",
        "PlatformEnum": "travelers.models.Platform",
        "AlertStatusEnum": "alerts.models.AlertStatus",
        "ReplyStatusEnum": "alerts.models.ReplyStatus",
    },
}

# Celery: Redis broker when configured; otherwise tasks run in-process (development only).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task running when the broker connection drops goes on: its work and its outcome live in PostgreSQL, not
# in the broker (cancelling it, Celery 6's planned default, would re-send what it had sent). Fault test 2.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Tasks are short and a sweeper re-enqueues lost work from the database within minutes, so a lost
    # message is never waited on for Redis's default hour.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 900),
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "max_retries": 0,
}
# Every periodic task of the project is listed here, and only here.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "travelers-retention-purge": {"task": "travelers.tasks.retention_purge", "schedule": crontab(minute=17, hour=3)},
    "alerts-publish-due": {"task": "alerts.tasks.publish_due", "schedule": timedelta(seconds=30)},
    "alerts-expire-due": {"task": "alerts.tasks.expire_due", "schedule": timedelta(seconds=60)},
    "alerts-sweep": {
        "task": "alerts.tasks.sweep",
        "schedule": timedelta(seconds=env_int("ALERT_SWEEP_INTERVAL_SECONDS", 60)),
    },
    "alerts-self-check": {"task": "alerts.tasks.self_check", "schedule": timedelta(minutes=5)},
    "callbacks-expire-stale": {"task": "callbacks.tasks.expire_stale", "schedule": timedelta(minutes=5)},
    "callbacks-send-notices": {"task": "callbacks.tasks.send_notices", "schedule": timedelta(seconds=60)},
    "callbacks-release-stale-claims": {
        "task": "callbacks.tasks.release_stale_claims",
        "schedule": timedelta(minutes=5),
    },
}

# Countries: longest time a rendered country pack stays cached (also bounded by the missions' next opening
# or closing, and dropped at once when staff edit the country).
COUNTRY_PACK_CACHE_SECONDS = env_int("COUNTRY_PACK_CACHE_SECONDS", 900)

# Sign-in by SMS.
SMS_BACKEND = os.environ.get("SMS_BACKEND", "console")
SMS_FILE_PATH = os.environ.get("SMS_FILE_PATH", str(BASE_DIR / "var" / "sms"))
SMS_PROVIDER_URL = os.environ.get("SMS_PROVIDER_URL", "") or "https://sms.ru"  # the smsru backend
SMS_PROVIDER_TIMEOUT_SECONDS = float(os.environ.get("SMS_PROVIDER_TIMEOUT_SECONDS", "5"))
SMS_PROVIDER_API_KEY = os.environ.get("SMS_PROVIDER_API_KEY", "")
SMS_SENDER = os.environ.get("SMS_SENDER", "MIDRF")
OTP_TTL_SECONDS = env_int("OTP_TTL_SECONDS", 300)
OTP_MAX_ATTEMPTS = env_int("OTP_MAX_ATTEMPTS", 5)
ACCESS_TOKEN_TTL = timedelta(seconds=env_int("ACCESS_TOKEN_TTL_SECONDS", 3600))
REFRESH_TOKEN_TTL = timedelta(days=env_int("REFRESH_TOKEN_TTL_DAYS", 60))

# Trips and retention.
TRIP_RETENTION_DAYS = env_int("TRIP_RETENTION_DAYS", 30)
DEVICE_INACTIVE_DAYS = env_int("DEVICE_INACTIVE_DAYS", 270)
AUDIENCE_UPCOMING_DAYS = env_int("AUDIENCE_UPCOMING_DAYS", 3)

# Push.
PUSH_BACKEND = os.environ.get("PUSH_BACKEND", "console")
PUSH_FILE_PATH = os.environ.get("PUSH_FILE_PATH", str(BASE_DIR / "var" / "push"))
FCM_CREDENTIALS_FILE = os.environ.get("FCM_CREDENTIALS_FILE", "")
FCM_ENDPOINT = os.environ.get("FCM_ENDPOINT", "https://fcm.googleapis.com")
FCM_TOKEN_URI = os.environ.get("FCM_TOKEN_URI", "")
APNS_ENDPOINT = os.environ.get("APNS_ENDPOINT", "https://api.push.apple.com")
APNS_KEY_FILE = os.environ.get("APNS_KEY_FILE", "")
APNS_KEY_ID = os.environ.get("APNS_KEY_ID", "")
APNS_TEAM_ID = os.environ.get("APNS_TEAM_ID", "")
APNS_TOPIC = os.environ.get("APNS_TOPIC", "")
ALERT_APPROVAL_THRESHOLD = env_int("ALERT_APPROVAL_THRESHOLD", 1000)
# Provider clients: concurrent requests per worker process, per-request timeout, extra CA (test fakes only).
PUSH_CONCURRENCY = env_int("PUSH_CONCURRENCY", 100)
PUSH_TIMEOUT_SECONDS = env_int("PUSH_TIMEOUT_SECONDS", 10)
PUSH_TLS_CA_FILE = os.environ.get("PUSH_TLS_CA_FILE", "")
# Alert fan-out: deliveries per batch task (FCM's 500), how long a batch holds its rows, retries with
# exponential backoff and jitter, when the sweeper treats work as lost, when the self-check calls an alert stuck.
ALERT_BATCH_SIZE = env_int("ALERT_BATCH_SIZE", 500)
ALERT_FREEZE_SLICE = env_int("ALERT_FREEZE_SLICE", 50_000)  # devices per transaction of the audience freeze
ALERT_LEASE_SECONDS = env_int("ALERT_LEASE_SECONDS", 90)
ALERT_MAX_ATTEMPTS = env_int("ALERT_MAX_ATTEMPTS", 8)
ALERT_RETRY_BASE_SECONDS = env_int("ALERT_RETRY_BASE_SECONDS", 2)
ALERT_RETRY_MAX_SECONDS = env_int("ALERT_RETRY_MAX_SECONDS", 300)
ALERT_SWEEP_GRACE_SECONDS = env_int("ALERT_SWEEP_GRACE_SECONDS", 60)
ALERT_STUCK_MINUTES = env_int("ALERT_STUCK_MINUTES", 10)

# Call-backs.
CALLBACK_AMBER_MINUTES = env_int("CALLBACK_AMBER_MINUTES", 15)
CALLBACK_RED_MINUTES = env_int("CALLBACK_RED_MINUTES", 30)
CALLBACK_EXPIRE_HOURS = env_int("CALLBACK_EXPIRE_HOURS", 72)  # longer than a Friday-evening-to-Monday weekend
CALLBACK_RETRY_DELAY_MINUTES = env_int("CALLBACK_RETRY_DELAY_MINUTES", 15)
CALLBACK_DEFAULT_HANDLING_MINUTES = env_int("CALLBACK_DEFAULT_HANDLING_MINUTES", 10)
CALLBACK_MAX_ATTEMPTS = env_int("CALLBACK_MAX_ATTEMPTS", 3)  # unanswered calls before "unreachable"
CALLBACK_CLAIM_TIMEOUT_MINUTES = env_int("CALLBACK_CLAIM_TIMEOUT_MINUTES", 60)  # in progress, no outcome: back to queue
CALLBACK_DAILY_LIMIT = env_int("CALLBACK_DAILY_LIMIT", 3)  # requests per traveler in any 24 hours

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
