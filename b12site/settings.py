"""Settings for the B12 recommender, read from the environment with local-friendly defaults.

Production: DJANGO_DEBUG=0, DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS, DATABASE_URL, DJANGO_TIME_ZONE,
DJANGO_EMAIL_URL (smtp host) — see README.md. With those, ``check --deploy --fail-level WARNING`` passes.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.contrib.messages import constants as message_constants
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be 1/0, true/false, yes/no or on/off, not {raw!r}")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    return [item.strip() for item in raw.split(",") if item.strip()] if raw else default


DEBUG = env_bool("DJANGO_DEBUG", True)

_DEV_SECRET_KEY = "django-insecure-local-development-only-never-in-production"  # noqa: S105 (DEBUG only)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or (_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "crispy_forms",
    "crispy_bootstrap5",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_tasks_db",
    "corsheaders",
    "recommender",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # CORS on the CDS Hooks endpoints only, for registered clients' origins (recommender/interop/cds/receivers.py).
    "corsheaders.middleware.CorsMiddleware",
    # After WhiteNoise (static files keep their caching): a request id, then no-store and Permissions-Policy.
    "recommender.web.requests.RequestIdMiddleware",
    "recommender.web.headers.SecurityHeadersMiddleware",
    "recommender.web.errors.ControlCharacterCookiesMiddleware",  # before sessions read the cookie
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's AuthenticationMiddleware, reading the user with the session's row (recommender/access/sessions.py).
    "recommender.access.sessions.SessionUserMiddleware",
    # Sign-in and session rules (recommender/access/): the idle timeout, then the second factor.
    "django_htmx.middleware.HtmxMiddleware",
    "recommender.access.middleware.IdleTimeoutMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "recommender.access.middleware.SecondFactorMiddleware",
    "recommender.web.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # After CSP (its pages carry the nonce), before any view reads input: refuses control characters, styles 405s.
    "recommender.web.errors.ErrorPagesMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes requires: locks an account after repeated failed logins.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "recommender.access.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("B12_LOCKOUT_MINUTES", "15")))
# Locks by user name and client address together (five failures for one name from one address lock that name
# there, so no one elsewhere can lock the real user out), and by address alone at a higher count (a ward's
# computers share one address behind the hospital's NAT): recommender/access/lockout.py. Wrong second-factor
# codes count too.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
B12_LOCKOUT_ADDRESS_FAILURES = int(os.environ.get("B12_LOCKOUT_ADDRESS_FAILURES", "20"))
AXES_HANDLER = "recommender.access.lockout.LockoutHandler"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
AXES_SENSITIVE_PARAMETERS = ["password"]
AXES_USERNAME_CALLABLE = "recommender.web.errors.login_username"

ROOT_URLCONF = "b12site.urls"
CSRF_FAILURE_VIEW = "recommender.web.errors.csrf_failure"
WSGI_APPLICATION = "b12site.wsgi.application"

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
                "recommender.web.context_processors.ruleset_words",
                "recommender.web.context_processors.site_shell",
                "recommender.access.receivers.session_timing",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
# A database that is down or hung must never hang the site: pages answer 503 within a few seconds instead
# (recommender/ops/outages.py). Seconds. The statement timeout is for the web server (wsgi.py and asgi.py default
# it to 5 s); manage.py commands (migrate, backup, restore) run without one unless it is set. 0: none.
DB_CONNECT_TIMEOUT = int(os.environ.get("DJANGO_DB_CONNECT_TIMEOUT", "3"))
DB_STATEMENT_TIMEOUT = int(os.environ.get("DJANGO_DB_STATEMENT_TIMEOUT", "0"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = DB_CONNECT_TIMEOUT
    if DB_STATEMENT_TIMEOUT:
        DATABASES["default"]["OPTIONS"]["options"] = f"-c statement_timeout={DB_STATEMENT_TIMEOUT * 1000}"
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default: readers never block the writer (WAL), a writer takes the lock when its transaction
    # begins (IMMEDIATE) and waits for it up to the busy timeout rather than failing "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=int(os.environ.get("DJANGO_DB_BUSY_TIMEOUT", "10")),
        transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    )

# Nothing is kept in a process between requests (sessions, lockouts and lab profiles live in the database), so any
# number of workers and nodes agree. REDIS_URL gives every node one shared cache; without it nothing is cached,
# which is right however many workers run (a per-process memory cache would let them disagree).
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "recommender.ops.redis_cache.SharedRedisCache",  # Django's, one client per pool
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "b12",
            "OPTIONS": {"socket_connect_timeout": DB_CONNECT_TIMEOUT, "socket_timeout": DB_CONNECT_TIMEOUT},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "Europe/London")
USE_I18N = True
# en-GB with a 24-hour clock: "2 Dec 2026, 14:05" on pages, in print and in the admin.
FORMAT_MODULE_PATH = ["b12site.formats"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Clinic days for injections (Monday = 0 … Sunday = 6); loading doses fall only on these days.
B12_CLINIC_DAYS = [int(day) for day in env_list("B12_CLINIC_DAYS", ["0", "1", "2", "3", "4"])]
# Public holidays the clinic closes on, from the holidays package: "GB-ENG" (England and Wales), "GB-SCT",
# "GB-NIR", or a country code such as "FR" (optionally "CC-SUBDIV"); "" for none. Checked at start-up.
# Further closures (training days, Christmas week) are ClinicClosure rows that admins manage.
B12_HOLIDAYS = os.environ.get("B12_HOLIDAYS", "GB-ENG").strip()
# Whether injections may be given on closed days (a district nurse, a weekend session): the default for new plans.
B12_DOSES_ON_CLOSED_DAYS = env_bool("B12_DOSES_ON_CLOSED_DAYS", False)

# Booking (issue 17): maintenance doses and reviews are booked within this many days before and after their due
# date; outside it a booking needs a reason. Loading doses keep their rhythm instead.
B12_BOOKING_WINDOW_BEFORE_DAYS = int(os.environ.get("B12_BOOKING_WINDOW_BEFORE_DAYS", "7"))
B12_BOOKING_WINDOW_AFTER_DAYS = int(os.environ.get("B12_BOOKING_WINDOW_AFTER_DAYS", "14"))

# A plan starts at most this many days before or after today: a date further out is a typing error.
B12_PLAN_START_WINDOW_DAYS = int(os.environ.get("B12_PLAN_START_WINDOW_DAYS", "365"))

# Background work (django.tasks): queued in the project's database, run by `manage.py db_worker` (any number of
# them, on any node: recommender/reminders/tasks.py claims each reminder so none is sent twice). Tests run tasks
# at once (tests/conftest.py sets the ImmediateBackend).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# Reminders (issue 16): the place named in a reminder when the patient has no usual location, the sender of the
# emails, and the SMS provider: "log" (writes to the log, for development), or "notify" (GOV.UK Notify's API shape,
# with B12_NOTIFY_API_KEY, B12_NOTIFY_TEMPLATE_ID and B12_NOTIFY_BASE_URL).
B12_CLINIC_NAME = os.environ.get("B12_CLINIC_NAME", "the clinic")
B12_REMINDER_FROM_EMAIL = os.environ.get("B12_REMINDER_FROM_EMAIL", "reminders@b12.invalid")
B12_SMS_PROVIDER = os.environ.get("B12_SMS_PROVIDER", "log")
B12_NOTIFY_API_KEY = os.environ.get("B12_NOTIFY_API_KEY", "")
B12_NOTIFY_TEMPLATE_ID = os.environ.get("B12_NOTIFY_TEMPLATE_ID", "")
B12_NOTIFY_BASE_URL = os.environ.get("B12_NOTIFY_BASE_URL", "https://api.notifications.service.gov.uk")

# Locally (and in tests) WhiteNoise serves straight from the static folders; production serves collectstatic's output.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# A strict Content Security Policy: scripts only from this site or with the per-request nonce.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# No browser feature a clinic page needs: camera, microphone, location and the rest are off for every page.
B12_PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}
# Behind a reverse proxy that sets X-Forwarded-For (and X-Forwarded-Proto): the access audit's client address.
B12_BEHIND_PROXY = env_bool("DJANGO_BEHIND_PROXY", False)

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Database sessions with the user as a column: one query reads a request's session and user.
SESSION_ENGINE = "recommender.access.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Shared clinic computers: sessions end after 8 hours whatever the activity, when the browser closes, and after
# B12_IDLE_MINUTES without a request (a warning shows a minute before): recommender/access/middleware.py.
SESSION_COOKIE_AGE = 8 * 60 * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
B12_IDLE_MINUTES = int(os.environ.get("B12_IDLE_MINUTES", "15"))
# Second factor (django-otp): the name authenticator apps show.
OTP_TOTP_ISSUER = "B12 clinic"

if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # probes from the load balancer speak plain HTTP
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", str(365 * 24 * 60 * 60)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": os.environ.get("DJANGO_EMAIL_HOST", "localhost"),
                "port": int(os.environ.get("DJANGO_EMAIL_PORT", "587")),
                "use_tls": env_bool("DJANGO_EMAIL_USE_TLS", True),
            },
        }
    }
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}

# Behind a reverse proxy (nginx, a load balancer in front of N gunicorn nodes): trust its scheme, host and the
# client address it adds (the last address of X-Forwarded-For). Only set it when the proxy is the only way in.
if B12_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
    AXES_CLIENT_IP_CALLABLE = "recommender.web.requests.client_ip"


# Application logs: who did what and when, never patient identifiers or results. B12_LOG_JSON=1: one JSON object
# per line; either way every line carries the request id (X-Request-ID).
B12_LOG_JSON = env_bool("B12_LOG_JSON", False)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Feed addresses and API tokens are cut out of every line (runserver's access log, "Not Found: /feeds/…");
    # every line carries the request id.
    "filters": {
        "redact_secrets": {"()": "b12site.redact.RedactSecrets"},
        "request_id": {"()": "recommender.web.logs.RequestIdFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "recommender.web.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if B12_LOG_JSON else "plain",
            "filters": ["redact_secrets", "request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "INFO"},
        # Django's own handlers (its default console and mail_admins, which log the path unredacted) replaced:
        # its records go to the root's redacting handler; runserver's access log goes through it too.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# Bootstrap's alert classes: an error message is "danger" there.
MESSAGE_TAGS = {message_constants.ERROR: "danger"}

# CDS Hooks (recommender/interop/cds/): the EHR's JWT names this endpoint's URL as its 'aud'. Behind a proxy that
# rewrites the host, set the public base URL (https://b12.example.org); else the request's scheme and host apply.
B12_CDS_BASE_URL = os.environ.get("B12_CDS_BASE_URL", "")
B12_CDS_JWT_LEEWAY_SECONDS = int(os.environ.get("B12_CDS_JWT_LEEWAY_SECONDS", "30"))  # clock skew allowed
# CDS Hooks asks clients for JWTs that expire within 5 minutes; a longer-lived one is refused (its jti is kept
# until it expires, so this also bounds the replay table).
B12_CDS_JWT_MAX_LIFETIME_SECONDS = int(os.environ.get("B12_CDS_JWT_MAX_LIFETIME_SECONDS", "600"))
# What the EHR did not prefetch is read from its fhirServer (https only), each read within this many seconds.
B12_CDS_FHIR_TIMEOUT_SECONDS = int(os.environ.get("B12_CDS_FHIR_TIMEOUT_SECONDS", "5"))
# django-cors-headers: only under /cds-services, and only for the origins of active registered clients (a signal
# handler consults them); no other path of the site answers cross-origin requests.
CORS_URLS_REGEX = r"^/cds-services(/.*)?$"
CORS_ALLOWED_ORIGINS: list[str] = []
CORS_ALLOW_METHODS = ["GET", "POST", "OPTIONS"]
CORS_ALLOW_HEADERS = ["authorization", "content-type"]
