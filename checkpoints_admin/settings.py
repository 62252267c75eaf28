"""Settings for Checkpoints Admin, all read from the environment (see the README's table)."""

from __future__ import annotations

import ipaddress
import math
import os
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean environment variable (true/false, 1/0, yes/no, on/off)."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def env_list(name: str, default: str = "") -> list[str]:
    """Read a comma-separated environment variable (empty: the default, as for the others)."""
    value = os.environ.get(name, "")
    if not value.strip():
        value = default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_networks(name: str, default: str) -> tuple[str, ...]:
    """Read a comma-separated list of IP addresses and networks (``10.0.0.0/8``); ``*`` is
    every address. Anything else stops the start with the variable named."""
    values = env_list(name, default)
    if values == ["*"]:
        return ("0.0.0.0/0", "::/0")
    networks = []
    for value in values:
        try:
            networks.append(str(ipaddress.ip_network(value, strict=False)))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must list IP addresses or networks (10.0.0.0/8), or be *, not {value!r}."
            ) from None
    return tuple(networks)


def env_number(
    name: str, default: float, *, minimum: float | None = None, whole: bool = False
) -> float:
    """Read a numeric environment variable: a whole number with ``whole``, at least
    ``minimum`` when given; anything else stops the start with the variable named."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}.") from None
    if not math.isfinite(number) or (whole and not number.is_integer()):
        what = "a whole number" if whole else "a finite number"
        raise ImproperlyConfigured(f"{name} must be {what}, not {value!r}.")
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum:g}, not {value!r}.")
    return number


DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set DJANGO_SECRET_KEY to a long random value "
            "(or DJANGO_DEBUG=true for local development only)."
        )
    SECRET_KEY = "django-insecure-local-development-only"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
CSRF_FAILURE_VIEW = "checkpoints_admin.views.errors.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "axes",
    "checkpoints_admin.apps.CheckpointsAdminConfig",
]

MIDDLEWARE = [
    "checkpoints_admin.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "checkpoints_admin.middleware.FormDataMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "checkpoints_admin.logcontext.RequestContextMiddleware",
    "checkpoints_admin.middleware.CheckpointsDirectoryMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend with fewer queries per request; sign-ins go through it.
    "checkpoints_admin.permissions.ConsoleBackend",
    # Sessions signed in through the plain backend stay valid.
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "checkpoints_admin.urls"
WSGI_APPLICATION = "checkpoints_admin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if not DEBUG and not os.environ.get("DATABASE_URL", "").strip():
    # A command run without the deployment's environment would otherwise audit into a
    # db.sqlite3 of its own, beside the code, while changing the real checkpoints.
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. Set it to the audit log's database: postgres://user:pass@"
        "host:5432/db, or sqlite:////absolute/path/db.sqlite3 for the embedded one "
        "(DJANGO_DEBUG=true uses ./db.sqlite3, for local development only)."
    )
_DATABASE_ENGINES: Final = ("django.db.backends.postgresql", "django.db.backends.sqlite3")
try:
    _database = dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(env_number("DATABASE_CONN_MAX_AGE", 60, minimum=0, whole=True)),
        conn_health_checks=True,
    )
except ValueError:  # (an unknown scheme; dj_database_url's error is a ValueError)
    _database = {"ENGINE": ""}
if _database.get("ENGINE") not in _DATABASE_ENGINES:
    # Only these two: the audit chain's locking is written for them. Said by its scheme
    # alone: the rest may hold a password, in forms no pattern can take apart reliably.
    _url = os.environ.get("DATABASE_URL", "")
    scheme, sep, _rest = _url.partition("://")
    if sep and scheme.lower() in ("postgres", "postgresql", "pgsql", "sqlite"):
        try:
            _port = urlsplit(_url).port  # (reading the port checks it)
        except ValueError:
            why = "its port is not a number from 0 to 65535"
        else:
            why = "it cannot be read"
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid {scheme}:// address: {why}.")
    shown = f"a {scheme}:// address" if sep and scheme.isalnum() else "an address without a scheme"
    raise ImproperlyConfigured(
        f"DATABASE_URL must be a postgres:// or sqlite:/// address, not {shown}."
    )
DATABASES = {"default": _database}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run while a writer commits; IMMEDIATE takes the write lock at BEGIN,
    # so concurrent writers queue on the busy timeout instead of failing with "database is locked".
    # synchronous=FULL makes each commit durable before the checkpoint file is replaced, so a
    # power loss cannot keep a file change whose audit journal row was lost.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }


# PostgreSQL: the two statements every audited change runs are prepared once per server
# session, named by their text (models.prepared_rows), so that a pooler handing a session to
# another client can never run another statement under that name. False: planned each time.
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "checkpoint_list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", "").strip() or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
# In development whitenoise serves straight from the app and static directories.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security -------------------------------------------------------------------------------
HTTPS = env_bool("DJANGO_HTTPS", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Database sessions (checked on every request, so a sign-out ends them in every worker).
SESSION_ENGINE = "checkpoints_admin.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = int(env_number("SESSION_COOKIE_AGE", 8 * 3600, minimum=60, whole=True))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
# /metrics: Prometheus scrapes inside the network, over plain HTTP with METRICS_TOKEN (a
# redirect to https would send it to the proxy); the health check likewise.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = 31_536_000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if env_bool("DJANGO_TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many reverse proxies in front of the console append to X-Forwarded-For: the client's
# address (sign-in lock-outs, the audit log's "from where") is taken from there.
TRUSTED_PROXIES = int(env_number("DJANGO_TRUSTED_PROXIES", 0, minimum=0, whole=True))
# ... when the request comes from one of these addresses (a proxy's): a client reaching the
# port directly cannot choose the address its sign-in failures count against.
PROXY_NETWORKS: Final = env_networks(
    "DJANGO_PROXY_ADDRESSES", "127.0.0.0/8,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"
)

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# --- django-axes: lock out after repeated failed sign-ins, per user and address ------------
AXES_FAILURE_LIMIT = int(env_number("AXES_FAILURE_LIMIT", 5, minimum=1, whole=True))
# (at least a minute: django-axes takes a cool-off of 0 as none, which ends every lock-out)
AXES_COOLOFF_TIME = env_number("AXES_COOLOFF_MINUTES", 15, minimum=1) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "checkpoints_admin.clientaddr.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# --- Checkpoints Admin ----------------------------------------------------------------------
# An empty value is the default too (never the current directory).
CHECKPOINTS_DIR = Path(os.environ.get("CHECKPOINTS_DIR") or BASE_DIR / "checkpoints")
CHECKPOINT_MAX_BYTES = int(
    env_number("CHECKPOINT_MAX_BYTES", 256 * 1024 * 1024, minimum=1024, whole=True)
)
# (a negative timeout would wait for ever: a web request would hang)
CHECKPOINT_LOCK_TIMEOUT = env_number("CHECKPOINT_LOCK_TIMEOUT", 10.0, minimum=0)
STALE_AFTER_SECONDS = env_number("STALE_AFTER_SECONDS", 3600, minimum=1)
AUDIT_HMAC_KEY = os.environ.get("AUDIT_HMAC_KEY", "")
STATUS_PAGE_PUBLIC = env_bool("STATUS_PAGE_PUBLIC", False)
# /healthz fails below this much free space in the checkpoints directory: a job saves by
# writing a whole new file beside the old one, so size it to the largest checkpoint.
HEALTH_MIN_FREE_BYTES = int(env_number("HEALTH_MIN_FREE_BYTES", 1024 * 1024, minimum=0, whole=True))
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# --- Logging: JSON lines (or text) to standard error ------------------------------------------
LOG_LEVEL = (os.environ.get("LOG_LEVEL", "").strip() or "INFO").upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured(
        f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {LOG_LEVEL!r}."
    )
# JSON lines for log collectors; plain text reads better in a local terminal.
LOG_FORMAT = (os.environ.get("LOG_FORMAT", "").strip() or ("text" if DEBUG else "json")).lower()
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",  # ISO 8601 with the offset
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "filters": {
        "request_context": {"()": "checkpoints_admin.logcontext.RequestContextFilter"},
        "disallowed_host": {"()": "checkpoints_admin.logcontext.DisallowedHostFilter"},
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "text" if LOG_FORMAT == "text" else "json",
            "filters": ["request_context"],
        }
    },
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["stderr"], "level": LOG_LEVEL, "propagate": False},
        # axes announces itself at INFO on every start; its lock-outs are warnings.
        "axes": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        # A host not allowed (scanners): one warning line, not an error with a traceback.
        "django.security.DisallowedHost": {
            "handlers": ["stderr"],
            "filters": ["disallowed_host"],
            "propagate": False,
        },
    },
}
