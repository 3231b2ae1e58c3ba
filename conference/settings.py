"""Settings for the whole platform, all read from the environment in this one place.

See the configuration table in README.md for every variable. Production mode is
``DEBUG=false`` (the default): it refuses to start without a real ``SECRET_KEY`` and
``ALLOWED_HOSTS``, and turns on secure cookies, HSTS and the security headers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from conference.env import Env, validate_ice_servers

# Lets model admins, forms and querysets be subscripted at run time (ModelAdmin[Meeting]).
django_stubs_ext.monkeypatch()

env = Env()

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env.string("DATA_DIR", str(BASE_DIR / "var")))

DEBUG = env.boolean("DEBUG", False)

# --- Secrets and hosts ------------------------------------------------------------------
_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-9d1f7c2e"  # noqa: S105  (refused when DEBUG is off)
SECRET_KEY = env.string("SECRET_KEY", _DEV_SECRET_KEY if DEBUG else "")
ALLOWED_HOSTS = env.strings("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.strings("CSRF_TRUSTED_ORIGINS")

if not DEBUG:
    if not SECRET_KEY or SECRET_KEY == _DEV_SECRET_KEY or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured(
            "SECRET_KEY must be set to a long random value when DEBUG is off "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    if len(SECRET_KEY) < 40:
        raise ImproperlyConfigured("SECRET_KEY must be at least 40 characters long when DEBUG is off.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS must list this site's host names when DEBUG is off (comma separated)."
        )

# --- Applications -----------------------------------------------------------------------
INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "csp",
    "accounts",
    "meetings.recordings",
    "meetings",
    "scheduling",
    "rooms",
    "webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "accounts.middleware.UserTimezoneMiddleware",
]

ROOT_URLCONF = "conference.urls"
ASGI_APPLICATION = "conference.asgi.application"
WSGI_APPLICATION = "conference.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
        },
    },
]

# --- Data -------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env.url("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}", schemes=("sqlite", "postgres", "postgresql")),
        # Keep the connection: channels runs every database call of a web process in one thread,
        # and opening a connection per call (SQLite's PRAGMA included) was a tenth of a join.
        conn_max_age=env.integer("DATABASE_CONN_MAX_AGE", 300, minimum=0, maximum=86400),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # Several web processes and Celery write at once: one writer at a time (IMMEDIATE), readers
    # beside it (WAL), and a writer waits up to 20 s for its turn instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.url("REDIS_URL", "redis://127.0.0.1:6379/0", schemes=("redis", "rediss", "unix"))

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "conference",
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # channels-redis waits on Redis in 5 s blocking pops; redis-py 8's default 5 s read
            # timeout turned every idle wait into a TimeoutError that killed the consumer (1011).
            # No read timeout (the pop has its own); TCP keepalive notices a dead Redis host.
            "hosts": [{"address": REDIS_URL, "socket_timeout": None, "socket_keepalive": True}],
            "prefix": "conference:channels",
            # Per-channel queue: a participant's socket must absorb a join storm's roster deltas.
            "capacity": 1000,
            "expiry": 60,
        },
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "expire-stale-participants": {"task": "meetings.expire_stale_participants", "schedule": 15.0},
    "breakout-deadlines": {"task": "rooms.breakout_deadlines", "schedule": 2.0},
    "send-meeting-reminders": {"task": "scheduling.send_due_reminders", "schedule": 60.0},
    "delete-expired-recordings": {"task": "recordings.delete_expired", "schedule": 3600.0},
    "sweep-stuck-recordings": {"task": "recordings.sweep_stuck", "schedule": 60.0},
    "requeue-stale-webhook-deliveries": {"task": "webhooks.requeue_stale", "schedule": 60.0},
}

# --- Accounts (django-allauth) ----------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env.choice("ACCOUNT_EMAIL_VERIFICATION", "mandatory", ("mandatory", "optional", "none"))
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Conference] "
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Email ------------------------------------------------------------------------------
EMAIL_HOST = env.string("EMAIL_HOST")
EMAIL_PORT = env.integer("EMAIL_PORT", 587, minimum=1, maximum=65535)
EMAIL_HOST_USER = env.string("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env.string("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env.boolean("EMAIL_USE_TLS", True)
EMAIL_USE_SSL = env.boolean("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env.integer("EMAIL_TIMEOUT", 10, minimum=1)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be true.")
# Pages queue email through Celery; the worker delivers it with EMAIL_DELIVERY_BACKEND.
EMAIL_BACKEND = "conference.mail.CeleryEmailBackend"
EMAIL_DELIVERY_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = env.string("DEFAULT_FROM_EMAIL", "Conference <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Internationalisation ---------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (whitenoise) ----------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"

# --- Stored files (composed recordings, thumbnails): local folder or S3-compatible bucket --
# "local": MEDIA_ROOT, served by the web process through signed links (with Range).
# "s3": a bucket (AWS S3, MinIO, Ceph RGW, Garage, ...) through django-storages; a signed link
# is checked here, then redirects to a short-lived presigned URL of the bucket (which answers
# Range requests itself, so playback and downloads do not pass through the web process).
FILE_STORAGE = env.choice("FILE_STORAGE", "local", ("local", "s3"))
if FILE_STORAGE == "s3":
    if not env.is_set("S3_BUCKET"):
        raise ImproperlyConfigured("FILE_STORAGE=s3 needs S3_BUCKET (and S3_ENDPOINT_URL unless it is AWS)")
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.string("S3_BUCKET"),
            "endpoint_url": env.url("S3_ENDPOINT_URL", "https://s3.amazonaws.com", schemes=("http", "https")),
            "region_name": env.string("S3_REGION") or None,
            "access_key": env.string("S3_ACCESS_KEY_ID") or None,
            "secret_key": env.string("S3_SECRET_ACCESS_KEY") or None,
            "location": env.string("S3_PREFIX"),
            "addressing_style": env.choice("S3_ADDRESSING_STYLE", "path", ("path", "virtual")),
            "signature_version": "s3v4",
            "default_acl": None,  # the bucket's own policy (private); files are reached through presigned URLs
            "querystring_auth": True,
            "file_overwrite": True,
        },
    }

# --- Security headers -------------------------------------------------------------------
TRUSTED_PROXY_COUNT = env.integer("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=5)
if TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = env.boolean("USE_X_FORWARDED_HOST", False)
SECURE_SSL_REDIRECT = env.boolean("SECURE_SSL_REDIRECT", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if not DEBUG:
    SESSION_COOKIE_SECURE = env.boolean("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.boolean("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = False

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "media-src": [SELF, "blob:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.tokens.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "conference.api.Pagination",
    "DEFAULT_PARSER_CLASSES": [
        "conference.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "conference.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.rate("API_ANON_RATE", "120/min"),
        "user": env.rate("API_USER_RATE", "1200/min"),
        "code_lookup": env.rate("MEETING_CODE_LOOKUP_RATE", "30/min"),
    },
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Conference API",
    "DESCRIPTION": "REST API of the self-hosted video-conferencing platform. "
    "Authenticate with `Authorization: Bearer <token>` (tokens are created on the account's API tokens page).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Meetings and recordings both have a "status" enum: name each after its model, not "Status<hash>Enum".
    "ENUM_NAME_OVERRIDES": {
        "MeetingStatusEnum": "meetings.models.MeetingStatus",
        "RecordingStatusEnum": "meetings.recordings.models.RecordingStatus",
        "WebhookDeliveryStatusEnum": "webhooks.models.DeliveryStatus",
    },
}

# --- Meetings ---------------------------------------------------------------------------
MEETING_DEFAULT_MAX_PARTICIPANTS = env.integer("MEETING_DEFAULT_MAX_PARTICIPANTS", 100, minimum=2, maximum=1000)
MEETING_MAX_PARTICIPANTS_LIMIT = 1000
MEETING_RECONNECT_GRACE_SECONDS = env.integer("MEETING_RECONNECT_GRACE_SECONDS", 30, minimum=1, maximum=600)
# Joins one web process works on at once; more are answered `busy` with a `retry_after`
# (rooms/admission.py) instead of queueing until handshakes time out. A join costs a process
# ~15 ms of CPU (docs/performance.md), so 64 is about a second of queued work.
# Wrong passcodes one client may try per meeting (across connections; rooms/guessing.py).
MEETING_PASSCODE_RATE = env.rate("MEETING_PASSCODE_RATE", "10/hour")
MEETING_JOIN_CONCURRENCY = env.integer("MEETING_JOIN_CONCURRENCY", 64, minimum=1, maximum=10000)
# STUN/TURN servers handed to browsers, as RTCPeerConnection's iceServers:
# [{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]
ICE_SERVERS = validate_ice_servers(env.json("ICE_SERVERS", []))
# Meetings move from peer-to-peer to an SFU worker when this many people are in the room.
MEETING_SFU_THRESHOLD = env.integer("MEETING_SFU_THRESHOLD", 5, minimum=2, maximum=1000)
# In SFU meetings each browser receives the audio of this many loudest speakers...
MEETING_SFU_AUDIO_SLOTS = env.integer("MEETING_SFU_AUDIO_SLOTS", 3, minimum=1, maximum=8)
# ...and at most this many camera videos (the tiles on screen, else the last speakers).
MEETING_SFU_VIDEO_SLOTS = env.integer("MEETING_SFU_VIDEO_SLOTS", 9, minimum=1, maximum=25)
# An SFU meeting of at most this many people goes back to peer-to-peer when no SFU worker is
# left (0: never; larger meetings wait for a worker).
MEETING_MESH_FALLBACK_MAX = env.integer("MEETING_MESH_FALLBACK_MAX", 4, minimum=0, maximum=8)

# --- Scheduling -------------------------------------------------------------------------
# The site's public address, for links in invitation and reminder emails and calendar feeds
# (which are built without a request). Defaults to https:// and the first ALLOWED_HOSTS entry.
_PUBLIC_HOSTS = [host.lstrip(".") for host in ALLOWED_HOSTS if "*" not in host]
SITE_URL = env.url(
    "SITE_URL",
    "http://127.0.0.1:8000" if DEBUG or not _PUBLIC_HOSTS else f"https://{_PUBLIC_HOSTS[0]}",
    schemes=("http", "https"),
).rstrip("/")
# How long before each occurrence the reminder email goes out.
SCHEDULING_REMINDER_MINUTES = env.integer("SCHEDULING_REMINDER_MINUTES", 15, minimum=1, maximum=1440)

# --- Recordings -------------------------------------------------------------------------
# SFU workers write each recording's track files and manifest into <spool>/<recording id>/.
RECORDINGS_SPOOL_DIR = Path(env.string("RECORDINGS_SPOOL_DIR", str(DATA_DIR / "recordings-spool")))
# Composed MP4s and thumbnails go to Django's default storage (FILE_STORAGE: MEDIA_ROOT or a bucket).
RECORDING_RETENTION_DAYS = env.integer("RECORDING_RETENTION_DAYS", 90, minimum=0, maximum=36500)
RECORDINGS_URL_MAX_AGE_SECONDS = env.integer("RECORDINGS_URL_MAX_AGE_SECONDS", 3600, minimum=10, maximum=7 * 86400)
# FILE_STORAGE=s3: how long the bucket's presigned URL (handed out after the signed link is
# checked) stays valid; a <video> keeps reading ranges from it for the whole playback.
RECORDINGS_STORAGE_URL_SECONDS = env.integer("RECORDINGS_STORAGE_URL_SECONDS", 4 * 3600, minimum=60, maximum=7 * 86400)
RECORDINGS_STUCK_MINUTES = env.integer("RECORDINGS_STUCK_MINUTES", 10, minimum=1, maximum=1440)
RECORDINGS_MAX_ATTEMPTS = env.integer("RECORDINGS_MAX_ATTEMPTS", 5, minimum=1, maximum=20)
RECORDINGS_FFMPEG = env.string("RECORDINGS_FFMPEG", "ffmpeg")
RECORDINGS_FFPROBE = env.string("RECORDINGS_FFPROBE", "ffprobe")
RECORDINGS_VIDEO_SIZE = env.choice("RECORDINGS_VIDEO_SIZE", "1280x720", ("640x360", "960x540", "1280x720", "1920x1080"))
RECORDINGS_FPS = env.integer("RECORDINGS_FPS", 15, minimum=5, maximum=60)
RECORDINGS_X264_PRESET = env.choice(
    "RECORDINGS_X264_PRESET", "veryfast", ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium")
)

# --- Webhooks ---------------------------------------------------------------------------
# Attempts per delivery (the first included); between them an exponential backoff from
# WEBHOOKS_BACKOFF_SECONDS (doubling, at most 30 minutes, up to 25 % less at random); each POST
# times out after WEBHOOKS_TIMEOUT_SECONDS. Targets on loopback / private / link-local addresses
# are refused (registration and delivery) unless WEBHOOKS_ALLOW_PRIVATE_TARGETS is on. See docs/webhooks.md.
WEBHOOKS_MAX_ATTEMPTS = env.integer("WEBHOOKS_MAX_ATTEMPTS", 8, minimum=1, maximum=20)
WEBHOOKS_BACKOFF_SECONDS = env.integer("WEBHOOKS_BACKOFF_SECONDS", 30, minimum=1, maximum=3600)
WEBHOOKS_TIMEOUT_SECONDS = env.integer("WEBHOOKS_TIMEOUT_SECONDS", 10, minimum=1, maximum=60)
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env.boolean("WEBHOOKS_ALLOW_PRIVATE_TARGETS", False)

# --- Logging ----------------------------------------------------------------------------
LOG_LEVEL = env.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
