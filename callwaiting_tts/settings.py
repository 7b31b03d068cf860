"""Settings: one module, every value from the environment (see README, "Configuration")."""

from __future__ import annotations

import os

from celery.schedules import crontab

from callwaiting_tts.env import (
    BASE_DIR,
    checkout_id,
    database_url,
    env_bool,
    env_float_or_none,
    env_int,
    env_list,
    env_str,
    parse_database_url,
    redis_url,
    runtime_choice,
    s3_storage,
)
from callwaiting_tts.redis import (
    celery_transport_options,
    celery_url,
    channel_layer_host,
    sentinel_config,
)
from synthesis.engines.catalog import ENGINES, EngineOption

# django-tenants: the public schema holds tenants, users, keys, plans, usage and audit;
# each tenant's schema holds its voices and synthesis log.
SHARED_APPS = [
    "tenants",
    # Before django_tenants: billing's create_tenant command (it chooses the plan) replaces
    # django-tenants' interactive one.
    "billing",
    "django_tenants",
    "daphne",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "django.contrib.postgres",
    "django_prometheus",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_htmx",
    # Celery beat's schedule and each entry's last run (DatabaseScheduler): public schema only.
    "django_celery_beat",
    # The tenant admin portal: views and templates over the services, no models of its own.
    "portal",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "voices",
    "pronunciations",
    "synthesis",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]
# django-tenants runs every migration in every tenant schema (as no-ops for shared apps):
# django-celery-beat's 19 migrations, squashed into one, keep a tenant's creation fast.
MIGRATION_MODULES = {"django_celery_beat": "callwaiting_tts.beat.migrations"}

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
PUBLIC_SCHEMA_NAME = "public"
# django-tenants sets the search path once per connection and schema, not before every cursor
# (a round trip on every query otherwise). It forgets what it set when the schema changes and
# on close, rollback and savepoint rollback, so a pooled connection is set again on checkout.
TENANT_LIMIT_SET_CALLS = True

DEBUG = env_bool("DEBUG", False)
# --- Secrets and hosts: defaults for a laptop, refused at start elsewhere ---------------------
# With DEBUG off, servers, workers and most commands refuse a default SECRET_KEY, an unset
# API_KEY_PEPPER and ALLOWED_HOSTS=* (callwaiting_tts/deployment.py). `make run` / `make test`
# pass generated dev secrets and CWTTS_DEV_STACK=1 to their processes, and record them in
# var/runtime.json for `manage.py` beside them (devstack/secrets.py), read only by a process on
# that stack's database: never by one with a DATABASE_URL of its own.
_runtime = runtime_choice()
_dev_stack = _runtime if env_str("DATABASE_URL") in ("", _runtime.get("DATABASE_URL")) else {}
SECRET_KEY = (
    env_str("SECRET_KEY") or _dev_stack.get("SECRET_KEY") or "insecure-dev-key-" + checkout_id()
)
# API key secrets are hashed with this pepper (HMAC-SHA256); rotating SECRET_KEY must not void
# keys, so outside DEBUG it must be set explicitly rather than follow SECRET_KEY.
API_KEY_PEPPER_SET = bool(env_str("API_KEY_PEPPER") or _dev_stack.get("API_KEY_PEPPER"))
API_KEY_PEPPER = env_str("API_KEY_PEPPER") or _dev_stack.get("API_KEY_PEPPER") or SECRET_KEY
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "*")
DEV_STACK = env_bool("CWTTS_DEV_STACK") or _dev_stack.get("CWTTS_DEV_STACK") == "1"
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

ROOT_URLCONF = "callwaiting_tts.urls"
ASGI_APPLICATION = "callwaiting_tts.asgi.application"
WSGI_APPLICATION = None

# Django's and the libraries' middleware through callwaiting_tts.async_middleware: the same
# behaviour, without a thread round trip per hook under daphne, and the browser-only ones
# skipped on the API's paths.
MIDDLEWARE = [
    "callwaiting_tts.async_middleware.PrometheusBefore",
    "callwaiting_tts.middleware.RequestIdMiddleware",
    "callwaiting_tts.middleware.ApiPathMiddleware",
    "tenants.middleware.PublicSchemaMiddleware",
    "callwaiting_tts.async_middleware.Security",
    # Static files (the portal's CSS and JS, the admin's) from the app itself, in production too.
    "callwaiting_tts.async_middleware.StaticFiles",
    "portal.middleware.ContentSecurityPolicyMiddleware",
    "callwaiting_tts.async_middleware.Sessions",
    "callwaiting_tts.async_middleware.Common",
    "callwaiting_tts.async_middleware.Csrf",
    "callwaiting_tts.async_middleware.Authentication",
    "callwaiting_tts.async_middleware.Messages",
    "callwaiting_tts.async_middleware.XFrameOptions",
    "django_htmx.middleware.HtmxMiddleware",
    "callwaiting_tts.async_middleware.PrometheusAfter",
]
# The API answers with and without a trailing slash itself (ApiPathMiddleware); a redirect
# would turn a POST into a GET.
APPEND_SLASH = False

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

DATABASE_URL = database_url()
DATABASES = {
    "default": {
        "ENGINE": "django_tenants.postgresql_backend",
        **parse_database_url(DATABASE_URL),
        "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 0),
        "CONN_HEALTH_CHECKS": True,
    }
}
# A pool of PostgreSQL connections per process, where DATABASE_POOL_SIZE > 0: the web process
# (callwaiting_tts.asgi makes 16 its default). Under daphne each request, and each database
# thread it uses, had a connection of its own, opened and closed each time (3-8 ms here, on
# the path to a synthesis's first audio); from the pool they take a warm one. django-tenants
# sets the schema on every cursor, so a connection another tenant used is safe to hand on
# (tests/test_db_pool.py). Celery, the TTS workers and manage.py leave it off: one connection
# per thread, opened once.
DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 0)
if DATABASE_POOL_SIZE > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # a pool replaces persistent connections
    DATABASES["default"]["OPTIONS"] = {
        **dict(DATABASES["default"].get("OPTIONS") or {}),  # type: ignore[call-overload]
        "pool": {
            "min_size": 1,
            "max_size": DATABASE_POOL_SIZE,
            # Waiting longer for a connection is an error (a 503 where a request records usage).
            "timeout": float(env_str("DATABASE_POOL_TIMEOUT", "10")),
            # A failed connection is retried with doubling delays for this long, then given up,
            # and the next request tries at once. psycopg's 5 minutes let the delay reach
            # minutes: after a PostgreSQL restart the pool came back seconds late (chaos/).
            "reconnect_timeout": float(env_str("DATABASE_POOL_RECONNECT_SECONDS", "2")),
        },
    }
# django-prometheus database metrics under django-tenants.
ORIGINAL_BACKEND = "django_prometheus.db.backends.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = redis_url()
# Redis Sentinel (docs/scaling.md): with REDIS_SENTINELS ("host:port,...") every client, the
# cache's, the channel layer's and Celery's included, finds the primary through the sentinels
# and follows a failover (callwaiting_tts/redis.py); REDIS_URL then gives only the primary's
# password and database. Empty: REDIS_URL's server, as always.
REDIS_SENTINEL = sentinel_config(
    env_list("REDIS_SENTINELS"),
    master=env_str("REDIS_SENTINEL_MASTER", "mymaster"),
    password=env_str("REDIS_SENTINEL_PASSWORD"),
)
# Every Redis key this checkout writes carries this prefix (cache, channel layer, broker).
REDIS_PREFIX = env_str("REDIS_PREFIX", f"cwtts:{checkout_id()}")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_PREFIX,
        # 2: JSON values (callwaiting_tts/cache.py); version 1's pickles are never read.
        "VERSION": 2,
        "TIMEOUT": 300,
        "OPTIONS": {
            "serializer": "callwaiting_tts.cache.JsonSerializer",
            # One connection pool per process, not per request (callwaiting_tts/cache.py).
            "pool_class": "callwaiting_tts.cache.SharedConnectionPool",
        },
    }
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py 8 reads with a 5 s socket timeout by default, exactly channels-redis's
            # 5 s BZPOPMIN block: an idle receive would fail with TimeoutError.
            "hosts": [channel_layer_host(REDIS_URL, REDIS_SENTINEL, socket_timeout=30)],
            "prefix": f"{REDIS_PREFIX}:asgi",
            "capacity": env_int("CHANNEL_CAPACITY", 1000),
            "expiry": 60,
        },
    }
}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", celery_url(REDIS_URL, REDIS_SENTINEL))
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", celery_url(REDIS_URL, REDIS_SENTINEL))
CELERY_BROKER_TRANSPORT_OPTIONS = celery_transport_options(
    REDIS_SENTINEL, global_keyprefix=f"{REDIS_PREFIX}:celery:"
)
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = celery_transport_options(
    REDIS_SENTINEL, global_keyprefix=f"{REDIS_PREFIX}:celery:"
)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_ACKS_LATE = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Beat keeps each entry's last run in PostgreSQL (django-celery-beat's DatabaseScheduler), so a
# restart neither forgets a run nor resets a wait; at start it writes this schedule into its
# tables and removes entries no longer here (callwaiting_tts.beat). Daily work runs at fixed UTC
# times; a run missed while beat was down runs as soon as it is back.
CELERY_BEAT_SCHEDULER = "callwaiting_tts.beat:Scheduler"
CELERY_BEAT_SCHEDULE = {
    "flush-api-key-last-used": {"task": "tenants.tasks.flush_api_key_last_used", "schedule": 60.0},
    "purge-synthesis-logs": {
        "task": "synthesis.tasks.purge_all_synthesis_logs",
        "schedule": 3600.0,
    },
    # Roll-ups recompute the last buckets, so a late usage record or a missed run is absorbed.
    "rollup-usage-hours": {"task": "billing.tasks.rollup_recent_hours", "schedule": 3600.0},
    "rollup-usage-days": {
        "task": "billing.tasks.rollup_recent_days",
        "schedule": crontab(minute=10, hour=0),
    },
    # Idempotent: closes every ended month not yet closed, for every tenant.
    "close-statements": {
        "task": "billing.tasks.close_statements",
        "schedule": crontab(minute=15, hour=0),
    },
    # Voices validated while no worker of their engine was configured start cloning once one is.
    "clone-validated-voices": {"task": "synthesis.tasks.clone_validated_voices", "schedule": 300.0},
    # Closes usage records whose web process died mid-synthesis; reconciles failed settles.
    # USAGE_REAP_SECONDS: the fault suite (chaos/) reaps within seconds, not a minute.
    "reap-usage": {
        "task": "synthesis.tasks.reap_usage",
        "schedule": float(env_str("USAGE_REAP_SECONDS", "60")),
    },
}

STORAGE_BACKEND = env_str("STORAGE_BACKEND", "local")
MEDIA_ROOT = env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media"))
MEDIA_URL = "/media/"
STORAGES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # collectstatic writes gzip and brotli copies beside each file; WhiteNoise serves them.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
if STORAGE_BACKEND == "s3":
    STORAGES["default"] = s3_storage(
        bucket=env_str("S3_BUCKET"),
        endpoint_url=env_str("S3_ENDPOINT_URL"),
        access_key=env_str("S3_ACCESS_KEY_ID"),
        secret_key=env_str("S3_SECRET_ACCESS_KEY"),
        region=env_str("S3_REGION"),
        addressing_style=env_str("S3_ADDRESSING_STYLE"),
        signature_version=env_str("S3_SIGNATURE_VERSION"),
    )

STATIC_URL = "/static/"
STATIC_ROOT = env_str("STATIC_ROOT", str(BASE_DIR / "var" / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves what collectstatic gathered in STATIC_ROOT and, so that `make run` and the
# tests need no collectstatic, what the finders find (a few dozen files, indexed at start).
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", True)

# The portal signs members in with Django's sessions; password resets go out by e-mail: printed
# on standard error unless EMAIL_HOST names an SMTP server.
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:login"
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "CallWaiting TTS <no-reply@localhost>")
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3 * 24 * 3600)
# Failed portal sign-ins per client address and e-mail in 15 minutes before the form refuses
# (ten times as many per address alone).
PORTAL_SIGNIN_FAILURE_LIMIT = env_int("PORTAL_SIGNIN_FAILURE_LIMIT", 10)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Request bodies: JSON endpoints take small bodies; uploads (voice references) set their own limit.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES

# API keys: the authenticated key record is cached (invalidated on revoke and suspend), so the
# hot path touches no database; last-used times are buffered in Redis and flushed by Celery.
API_KEY_CACHE_SECONDS = env_int("API_KEY_CACHE_SECONDS", 300)
# Failed authentications per client address, and per key prefix, per minute before an
# unverified key gets 429 (brute-force brake; a key that verifies is never braked).
AUTH_FAILURE_LIMIT_PER_MINUTE = env_int("AUTH_FAILURE_LIMIT_PER_MINUTE", 60)
# Proxies (addresses or networks) whose X-Forwarded-For names the client
# (callwaiting_tts.forwarded); empty: the peer is the client.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")

# The demo tenant `make run` ensures (ensure_demo_tenant).
DEMO_TENANT_NAME = env_str("DEMO_TENANT_NAME", "Demo")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.permissions.HasApiKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["callwaiting_tts.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "callwaiting_tts.openapi.ApiAutoSchema",
    "EXCEPTION_HANDLER": "callwaiting_tts.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "UNAUTHENTICATED_TOKEN": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CallWaiting TTS API",
    "DESCRIPTION": "Streaming text-to-speech for AI phone agents. Authenticate with an API key "
    "as `Authorization: Bearer <key>`, `X-API-Key` or `xi-api-key`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/v1",
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
}

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "callwaiting_tts.logs.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}

# --- TLS, metrics and sign-in brakes ---------------------------------------------------------
# BEHIND_TLS_PROXY: clients reach the service over HTTPS through a proxy that ends TLS and sets
# X-Forwarded-Proto. Cookies then go over HTTPS only and browsers are told to use nothing else
# (HSTS). The proxy redirects plain HTTP itself; the app does not, so probes and Prometheus may
# reach pods over plain HTTP. SECURE_COOKIES, the older name, still turns it on.
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", env_bool("SECURE_COOKIES"))
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY") or BEHIND_TLS_PROXY else None
)
SESSION_COOKIE_SECURE = BEHIND_TLS_PROXY
CSRF_COOKIE_SECURE = BEHIND_TLS_PROXY
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 365 * 24 * 3600) if BEHIND_TLS_PROXY else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", False)
# GET /metrics answers a request bearing METRICS_TOKEN (`Authorization: Bearer`), or one from
# these networks (CIDR; loopback only by default). Anything else gets 401 or 403.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128")
# A TTS worker serves its own metrics on this port (0: none), on METRICS_HOST, behind the same
# token and networks (callwaiting_tts.tts_metrics says why a port per worker).
METRICS_PORT = env_int("METRICS_PORT", 0)
METRICS_HOST = env_str("METRICS_HOST", "127.0.0.1")
# Tenants named in cwtts_tenant_quota_used_ratio: those nearest their monthly quota (bounded).
METRICS_TOP_TENANTS = env_int("METRICS_TOP_TENANTS", 10)
# Failed Django admin sign-ins per client address and user name in 15 minutes before the form
# refuses (ten times as many per address alone): the portal's brake, on the staff door.
ADMIN_SIGNIN_FAILURE_LIMIT = env_int("ADMIN_SIGNIN_FAILURE_LIMIT", 5)

# How long each tenant's synthesis log keeps rows (Celery purges older ones hourly).
SYNTHESIS_LOG_RETENTION_DAYS = env_int("SYNTHESIS_LOG_RETENTION_DAYS", 90)

# A WebSocket without a key in its headers must authenticate with its first message within this.
WS_AUTH_TIMEOUT_SECONDS = float(env_str("WS_AUTH_TIMEOUT_SECONDS", "10"))

# --- Synthesis --------------------------------------------------------------------------------
# Engines run only in `manage.py run_tts_worker` processes. A deployment serves one engine or
# several side by side (`TTS_ENGINES=piper,xtts`): health wants a live worker of each, and
# `make run` starts TTS_WORKERS workers of the first and one of each other (TTS_WORKERS_<ENGINE>
# sets that engine's count). TTS_ENGINE, the older single name, still works.
TTS_ENGINES = env_list("TTS_ENGINES", env_str("TTS_ENGINE", "piper"))
TTS_ENGINE = TTS_ENGINES[0]  # what `run_tts_worker` loads when it is not told
TTS_WORKERS = env_int("TTS_WORKERS", os.cpu_count() or 1)
# Piper needs ~0.14 CPU-s per audio-second here: 6 streams keep a core faster than real time.
TTS_WORKER_MAX_JOBS = env_int("TTS_WORKER_MAX_JOBS", 6)
# A worker drops a job whose receiver gave no credit for this long with its window full (the
# web process that ran it died); above TTS_SLOW_READER_SECONDS, so a slow reader ends first.
TTS_WORKER_STALL_SECONDS = float(env_str("TTS_WORKER_STALL_SECONDS", "30"))


def _engine_option(option: EngineOption) -> object:
    if option.kind == "int":
        return env_int(option.env, int(str(option.default)))
    if option.kind == "float_or_none":
        return env_float_or_none(option.env)
    if option.kind == "bool":
        return env_bool(option.env, bool(option.default))
    return env_str(option.env, str(option.default or ""))


# Each engine's constructor options, named by its catalog row (e.g. PIPER_THREADS; an empty
# PIPER_NOISE_SCALE keeps the model's own value, 0 makes audio repeatable for tests).
TTS_ENGINE_OPTIONS: dict[str, dict[str, object]] = {
    spec.name: {option.name: _engine_option(option) for option in spec.options}
    for spec in ENGINES.values()
}
TTS_DEFAULT_VOICE = env_str("TTS_DEFAULT_VOICE", "joe")
# Cloned voices' conditioning a worker keeps loaded (on the GPU for XTTS), least recently used
# out first: ~0.13 MB each for XTTS v2, so the default holds thousands; bounded all the same.
TTS_CONDITIONING_CACHE_MB = env_int("TTS_CONDITIONING_CACHE_MB", 256)
# The phrase cache (synthesis.phrase_cache, docs/adr/0008): at most this many bytes of engine PCM
# per tenant in Redis (about 44 bytes a millisecond of Piper audio: 64 MiB holds ~25 minutes),
# least recently used out first; 0 turns the cache off.
TTS_PHRASE_CACHE_BYTES = env_int("TTS_PHRASE_CACHE_BYTES", 64 * 1024 * 1024)
# Plans of repeated inputs kept per web process (synthesis/plan_cache.py); 0 turns it off.
TTS_PLAN_CACHE_ENTRIES = env_int("TTS_PLAN_CACHE_ENTRIES", 1024)
# Chunks a worker may run ahead of the reader. A chunk carries at most a second of audio (the
# worker cuts longer ones), so 8 keeps a paced (real-time) reader several seconds ahead.
TTS_CREDIT_WINDOW = env_int("TTS_CREDIT_WINDOW", 8)
# Under a burst (100 calls starting at once on two cores) jobs wait ~15 s for a worker: failing
# a live call is worse than a late first word, so the default leaves room for that.
TTS_QUEUE_TIMEOUT_SECONDS = float(env_str("TTS_QUEUE_TIMEOUT_SECONDS", "30"))
# Jobs of one engine that may wait for a worker slot (all web processes together) while every
# worker is full; one more is a 503 `queue_full` with Retry-After at once. Room for that burst of
# 100 calls and more (docs/limits.md, "Worker capacity and the wait queue").
TTS_QUEUE_DEPTH = env_int("TTS_QUEUE_DEPTH", 200)
TTS_JOB_TIMEOUT_SECONDS = float(env_str("TTS_JOB_TIMEOUT_SECONDS", "300"))
# Slow readers (docs/limits.md): a streamed response waits while its connection holds more than
# TTS_RESPONSE_BUFFER_BYTES unsent (the job pauses at its worker), and ends with `slow_reader`
# when the reader takes nothing for TTS_SLOW_READER_SECONDS (under the worker's 30 s stall
# time). A whole-file answer (`stream: false`) holds at most TTS_MAX_WHOLE_AUDIO_SECONDS of
# audio; a longer one is refused with 413 `response_too_large` (stream it instead).
TTS_RESPONSE_BUFFER_BYTES = env_int("TTS_RESPONSE_BUFFER_BYTES", 256 * 1024)
TTS_SLOW_READER_SECONDS = float(env_str("TTS_SLOW_READER_SECONDS", "10"))
TTS_MAX_WHOLE_AUDIO_SECONDS = float(env_str("TTS_MAX_WHOLE_AUDIO_SECONDS", "600"))
# Idempotency-Key on the HTTP synthesis endpoints (synthesis/idempotency.py): how long a key is
# remembered from its first use, and how long a running attempt blocks duplicates before it counts
# as dead (its web process died): a job ends by its deadline, so a live one never runs longer.
IDEMPOTENCY_TTL_SECONDS = env_int("IDEMPOTENCY_TTL_SECONDS", 86_400)
IDEMPOTENCY_RUNNING_SECONDS = env_int(
    "IDEMPOTENCY_RUNNING_SECONDS", int(TTS_JOB_TIMEOUT_SECONDS) + 60
)

# Voice uploads (POST /v1/voices/upload): the request body cap (413 past it), the longest clip
# decoded (400 past it, found while decoding, so a tiny file of hours of audio costs no more),
# the shortest clip accepted, and the consent recording's longest.
VOICE_UPLOAD_MAX_BYTES = env_int("VOICE_UPLOAD_MAX_BYTES", 25 * 1024 * 1024)
VOICE_UPLOAD_MAX_SECONDS = float(env_str("VOICE_UPLOAD_MAX_SECONDS", "60"))
# The largest PLS document a pronunciation dictionary is imported from (413 past it); it travels
# in a JSON body, under API_MAX_BODY_BYTES.
PRONUNCIATION_PLS_MAX_BYTES = env_int("PRONUNCIATION_PLS_MAX_BYTES", 512 * 1024)
VOICE_REFERENCE_MIN_SECONDS = float(env_str("VOICE_REFERENCE_MIN_SECONDS", "3"))
VOICE_CONSENT_MAX_SECONDS = float(env_str("VOICE_CONSENT_MAX_SECONDS", "20"))
TTS_MAX_INPUT_CHARACTERS = env_int("TTS_MAX_INPUT_CHARACTERS", 5000)
# Syntheses running at once per tenant (HTTP streams and WebSocket contexts together) come from
# the tenant's plan (`max_concurrent_streams`); set this to impose one figure on every tenant.
# Counted as Redis leases (billing/leases.py) that free themselves LEASE_TTL_MS after a web
# process dies.
_concurrency = env_str("TTS_MAX_CONCURRENT_PER_TENANT", "")
TTS_MAX_CONCURRENT_PER_TENANT: int | None = int(_concurrency) if _concurrency else None
LEASE_TTL_MS = env_int("LEASE_TTL_MS", 30_000)
# The realtime socket (docs/websocket.md).
WS_MAX_CONNECTIONS_PER_TENANT = env_int("WS_MAX_CONNECTIONS_PER_TENANT", 50)
WS_MAX_CONTEXTS = env_int("WS_MAX_CONTEXTS", 8)
WS_MAX_MESSAGE_BYTES = env_int("WS_MAX_MESSAGE_BYTES", 65_536)
WS_IDLE_TIMEOUT_SECONDS = float(env_str("WS_IDLE_TIMEOUT_SECONDS", "20"))
# A context with nothing left to speak that gets no text/flush/end/mark for this long is ended
# (`context_idle_timeout`), freeing its concurrency slot.
WS_CONTEXT_IDLE_TIMEOUT_SECONDS = float(env_str("WS_CONTEXT_IDLE_TIMEOUT_SECONDS", "20"))
WS_MAX_PENDING_MARKS = env_int("WS_MAX_PENDING_MARKS", 100)  # per context, not yet echoed
# How often `text` (and flush/end/mark) re-reads the key's cached record; `start` always does.
WS_KEY_RECHECK_SECONDS = float(env_str("WS_KEY_RECHECK_SECONDS", "1"))
WS_SEND_AHEAD_MS = env_int("WS_SEND_AHEAD_MS", 10_000)
WS_MAX_CONSECUTIVE_ERRORS = env_int("WS_MAX_CONSECUTIVE_ERRORS", 10)
# OpenAI's voice names → our stock voices, for /v1/audio/speech (OPENAI_VOICE_MAP="alloy=joe,...").
OPENAI_VOICE_NAMES = "alloy ash ballad coral echo fable onyx nova sage shimmer verse marin cedar"
OPENAI_VOICE_MAP = dict.fromkeys(OPENAI_VOICE_NAMES.split(), "joe") | dict(
    pair.split("=", 1) for pair in env_list("OPENAI_VOICE_MAP")
)
# Model names `/v1/audio/speech` accepts; the engine follows the voice, not the model.
OPENAI_MODELS = env_list("OPENAI_MODELS", "tts-1,tts-1-hd,gpt-4o-mini-tts,callwaiting-tts")
# /v1/health is 503 while no TTS worker of TTS_ENGINE has a live heartbeat.
HEALTH_REQUIRE_WORKERS = env_bool("HEALTH_REQUIRE_WORKERS", True)
