"""Settings of the product, read from the environment (and from `.env` when present).

Every setting the operator may change is read here, through one `environ.Env()`;
README.md lists them.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"))

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (or in .env); "
            "only DEBUG=true runs with a throw-away development key."
        )
    SECRET_KEY = "django-insecure-development-only-key"  # noqa: S105 - only with DEBUG on

# The demo page (/demo/) shows the demo account's keys: on with DEBUG, off in production.
DEMO_ENABLED = env.bool("DEMO_ENABLED", default=DEBUG)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "auditlog",
    "django_otp",
    "accounts.two_factor_apps.TwoFactorAppsConfig",  # django-otp's TOTP devices, named
    "accounts.two_factor_apps.TwoFactorBackupCodesConfig",  # django-otp's backup codes
    "accounts",
    "targets",
    "goals",
    "agents",
    "visitors",
    "runtime",
    "reports",
    "notifications",
    "huey.contrib.djhuey",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "conductrics_admin.request_shape.RequestShapeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.two_factor.TwoFactorMiddleware",  # the admin's and the API's paths only
    "conductrics_admin.audit.AuditActorMiddleware",
    "conductrics_admin.security.AdminLoginThrottleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "conductrics_admin.urls"
WSGI_APPLICATION = "conductrics_admin.wsgi.application"
ASGI_APPLICATION = "conductrics_admin.asgi.application"

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

# SQLite file by default (no set-up); DATABASE_URL=postgres://... for PostgreSQL (psycopg 3).
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, with Citus's form of a unique violation read as one
    DATABASES["default"]["ENGINE"] = "conductrics_admin.postgresql"
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    options = DATABASES["default"].setdefault("OPTIONS", {})
    # The agent-api's statements are prepared after a few runs on a connection and planned
    # once (a generic plan), not on every request; off behind a transaction-pooling
    # PgBouncer. Planning per request also costs more than it seems: for a value past the
    # column's statistics, the planner reads the index's end, and after a purge that end is
    # thousands of deleted entries (planning then takes far longer than the read: see
    # docs/benchmarks.md).
    # Only prepared statements are affected: Django's ORM queries are never prepared.
    if env.bool("DB_PREPARED_STATEMENTS", default=True):
        options["prepare_threshold"] = 5
        options["options"] = " ".join(
            filter(None, [options.get("options", ""), "-c plan_cache_mode=force_generic_plan"])
        )
    else:
        options["prepare_threshold"] = None
    # An unreachable database answers 503 within seconds, not after the OS's time-out.
    options["connect_timeout"] = env.int("DB_CONNECT_TIMEOUT", default=2)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# The app serves its own static files (WhiteNoise): the JavaScript client (minified) and the
# admin's CSS, gzip- and Brotli-compressed by `collectstatic`, with cache headers. Without
# DEBUG they are served from STATIC_ROOT, so `collectstatic` comes before the server starts.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "conductrics_admin.static_storage.MinifiedCompressedStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=DEBUG)
WHITENOISE_MAX_AGE = env.int("STATIC_MAX_AGE_SECONDS", default=3600)
# files a browser asks for at the site's root (the favicon), served as they are
WHITENOISE_ROOT = BASE_DIR / "conductrics_admin" / "site_root"

# Django's cache holds the agent-api's throttle counters: Redis when REDIS_URL is set (shared
# by every server process), else this process's memory.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The notifications worker (`manage.py run_huey`, SPEC §6b) takes its work from Huey's
# queue: Redis where REDIS_URL is set (production), else a SQLite file beside the code
# (`make run`); HUEY_BACKEND=memory keeps it in this process (the tests). The deliveries
# themselves are rows of the database: a queue lost is caught up by the worker's sweep.
HUEY_BACKEND = env.str("HUEY_BACKEND", default="redis" if REDIS_URL else "sqlite")
HUEY = {
    "name": "conductrics",
    "immediate": False,  # never inside a request, DEBUG or not
    "huey_class": {
        "redis": "huey.RedisHuey",
        "sqlite": "huey.SqliteHuey",
        "memory": "huey.MemoryHuey",
    }[HUEY_BACKEND],
    "connection": {
        "redis": {"url": REDIS_URL},
        "sqlite": {"filename": str(BASE_DIR / "huey.sqlite3")},
        "memory": {},
    }[HUEY_BACKEND],
    "consumer": {"workers": 2, "worker_type": "thread"},
}
# webhooks may POST to loopback and private addresses (a receiver on this machine, in tests
# or a closed network); off, the worker refuses them
WEBHOOKS_ALLOW_PRIVATE = env.bool("WEBHOOKS_ALLOW_PRIVATE", default=DEBUG)

REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "runtime.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "conductrics_admin.openapi.TruthfulAutoSchema",
    # Proxies in front of the server: the client IP (throttling) is read from
    # X-Forwarded-For only that many hops deep; 0 trusts REMOTE_ADDR alone.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Conductrics self-hosted API",
    "DESCRIPTION": (
        "The agent-api (Conductrics v3 runtime API: selections and goals) and the "
        "management API of a self-hosted Conductrics-compatible experimentation backend."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # request bodies get components of their own: what a client may send (minLength of
    # non-blank texts, no unknown fields) is not what it reads back
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs page's assets are served from our own static files: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "conductrics_admin.openapi.add_components",
        "conductrics_admin.openapi.add_error_responses",
        "conductrics_admin.openapi.add_links",
        "conductrics_admin.openapi.refuse_nul_in_urls",
    ],
}

# Agent-api throttling in DRF's rate syntax ("600/min"); "off" disables one.
AGENT_API_EXPRESS_RATE = env.str("AGENT_API_EXPRESS_RATE", default="600/min")
AGENT_API_REST_RATE = env.str("AGENT_API_REST_RATE", default="60000/min")

# Cache of configuration read on the agent-api's hot path: a process checks the account's
# configuration version after CONFIG_CHECK_SECONDS (so every server sees a change within a
# second), and loads it again after CONFIG_CACHE_TTL_SECONDS whatever the version.
CONFIG_CHECK_SECONDS = env.float("CONFIG_CHECK_SECONDS", default=0.5)
CONFIG_CACHE_TTL_SECONDS = env.int("CONFIG_CACHE_TTL_SECONDS", default=60)
# Accounts whose configuration one process keeps in memory at most (the oldest go first).
CONFIG_CACHE_MAX_ACCOUNTS = env.int("CONFIG_CACHE_MAX_ACCOUNTS", default=10000)
# goal diagnostics: how long a process adds up its counts before sending them to the cache
GOAL_DIAGNOSTICS_FLUSH_SECONDS = env.float("GOAL_DIAGNOSTICS_FLUSH_SECONDS", default=1.0)
# how often a process writes its notes of recent requests (the install page; runtime/recent.py)
RECENT_REQUESTS_FLUSH_SECONDS = env.float("RECENT_REQUESTS_FLUSH_SECONDS", default=1.0)
# how long a browser (and any HTTP cache) keeps an Express target's bundle (SPEC §5)
LOCAL_BUNDLE_MAX_AGE_SECONDS = env.int("LOCAL_BUNDLE_MAX_AGE_SECONDS", default=60)

# Production defaults (DEBUG off) pass `manage.py check --deploy`; each can be turned off
# where TLS is terminated elsewhere and the proxy sets X-Forwarded-Proto.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# balancers probe over plain HTTP, on the server's own address
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# /metrics is served only with this token (Authorization: Bearer ...); unset: 404
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Admin login: failures allowed per client IP and user name before a lock-out.
ADMIN_LOGIN_MAX_FAILURES = env.int("ADMIN_LOGIN_MAX_FAILURES", default=5)
ADMIN_LOGIN_LOCKOUT_SECONDS = env.int("ADMIN_LOGIN_LOCKOUT_SECONDS", default=900)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Keys and external visitor ids never reach the logs, request lines included.
    "filters": {"redact": {"()": "conductrics_admin.security.RedactSecretsFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"]}},
    "loggers": {
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
