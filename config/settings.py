"""Constellation settings: every value comes from the environment (django-environ).

`.env` in the project folder is read when present; `.env.example` documents each variable.
Defaults need no server: SQLite (WAL) in the data folder, in-memory channel layer, Celery on
the filesystem transport.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _default_data_dir() -> Path:
    """Return the per-user data folder, outside the code tree."""
    if os.name == "nt":
        root = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    else:
        root = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return root / "constellation"


DATA_DIR = Path(env.str("DATA_DIR", default=str(_default_data_dir()))).expanduser()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """Return SECRET_KEY from the environment, or one generated once and kept in DATA_DIR."""
    given = env.str("SECRET_KEY", default="")
    if given:
        return given
    path = DATA_DIR / "secret_key"
    try:
        # O_EXCL: two processes starting at once agree on one key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env.bool("DEBUG", default=False)
# Chargers often connect by IP address; production narrows this through the environment.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS and browser security (`manage.py check --deploy` is clean with the production
# values in .env.example) --------------------------------------------------------------------
# HTTPS=true says operators reach the site over HTTPS (directly or through a TLS proxy):
# cookies are then sent over HTTPS only and browsers are told to stay on HTTPS (HSTS).
HTTPS = env.bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# Chargers fetch firmware and upload diagnostics with clients that may not follow a redirect,
# and load balancers probe /healthz over plain HTTP: neither is redirected.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^files/"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=HTTPS)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Only behind a proxy that sets X-Forwarded-Proto itself (and strips a client's): otherwise
# anyone could claim to be on HTTPS.
if env.bool("TRUSTED_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = env.str("SECURE_REFERRER_POLICY", default="same-origin")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.admindocs",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_celery_beat",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "auditlog",
    "apps.core",
    "apps.nodes",
    "apps.hardware",
    "apps.lifecycle",
    "apps.payments",
    "apps.integrations.odoo",
    "apps.integrations.slack",
    "apps.dashboard",
    "apps.chargers",
    "apps.energy",
    "apps.rfid",
    "apps.transactions",
    "apps.commands",
    "apps.reservations",
    "apps.maintenance",
    "apps.security",
    "apps.devicemodel",
    "apps.simulator",
    "apps.portal",
    "apps.userdata",
    "apps.ocpp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.staticfiles.AsyncWhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Who changed what (django-auditlog): the signed-in operator is the actor of each change.
    "auditlog.middleware.AuditlogMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.contrib.admindocs.middleware.XViewMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

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

# --- Database -------------------------------------------------------------------------------
SQLITE_PATH = DATA_DIR / "db.sqlite3"
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets readers run beside the writer; IMMEDIATE takes the write lock up front
            # so two writers wait on busy_timeout instead of failing with "database is locked".
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA busy_timeout=20000;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # Statements run this many times on a connection are prepared (parsed and planned once;
    # unprepared, that was half of PostgreSQL's work per charger message). Django turns
    # psycopg's preparing off for connection poolers that cannot keep prepared statements
    # (PgBouncer in transaction mode before 1.21): DB_PREPARE_THRESHOLD=none there.
    _prepare = env.str("DB_PREPARE_THRESHOLD", default="5").strip().lower()
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        None if _prepare in ("", "none") else int(_prepare)
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channels and Celery --------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Waits out a Redis outage instead of failing every connection (core.channel_layers).
            "BACKEND": "apps.core.channel_layers.ResilientRedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 1000, "expiry": 60},
        }
    }
else:
    # Channels' own, with its expiry sweep bounded (apps/core/channel_layers.py).
    CHANNEL_LAYERS = {"default": {"BACKEND": "apps.core.channel_layers.InMemoryChannelLayer"}}

# Cache: counters shared by the server processes (authentication failures, lockouts).
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_DIR = DATA_DIR / "celery-broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("out", "processed", "control"):
        (CELERY_BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "out"),
        "data_folder_out": str(CELERY_BROKER_DIR / "out"),
        "data_folder_processed": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
# Does a Celery worker (and beat) take this node's tasks? on, off, or auto: as the node's
# celery-queue feature says. start.sh sets it for the server from what it started. Without a
# worker the server runs the periodic jobs itself and tasks run where they are enqueued
# (apps/nodes/queue.py, docs/nodes.md).
CELERY_QUEUE = env.str("CELERY_QUEUE", default="auto").lower()
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=CELERY_QUEUE == "off")
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    # Also done by each server process as it beats: this covers the last one killed.
    "sweep-server-processes": {
        "task": "apps.core.tasks.sweep_server_processes",
        "schedule": 60.0,
    },
    "purge-ocpp-message-log": {
        "task": "apps.ocpp.tasks.purge_message_log",
        "schedule": 3600.0,
    },
    "expire-stale-commands": {
        "task": "apps.commands.tasks.expire_stale_commands",
        "schedule": 60.0,
    },
    "expire-reservations": {
        "task": "apps.reservations.tasks.expire_reservations",
        "schedule": 60.0,
    },
    "renew-station-certificates": {
        "task": "apps.security.tasks.renew_station_certificates",
        "schedule": 3600.0,
    },
}

# --- Auth, i18n, static ---------------------------------------------------------------------
# Operator logins (admin and API token) are counted by django-axes, first among the backends:
# a locked-out address is refused before its password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed logins from one address (with one user name) before that pair is locked out, and for
# how long. The pair, not the user name alone: a stranger's failures cannot lock the real
# operator out from another address.
LOGIN_MAX_FAILURES = env.int("LOGIN_MAX_FAILURES", default=5)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)
AXES_FAILURE_LIMIT = LOGIN_MAX_FAILURES
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_LOCKOUT_SECONDS)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Attempts are rows in the database (admin: Axes), shared by every server process whatever
# the cache; `manage.py axes_reset` lifts every lockout.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_RESET_ON_SUCCESS = True
# The address behind a trusted proxy (OCPP_TRUSTED_PROXIES), else the peer's own.
AXES_CLIENT_IP_CALLABLE = "apps.core.logins.client_ip"
AXES_LOCKOUT_CALLABLE = "apps.core.logins.lockout_response"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", "English"), ("it", "Italiano")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(DATA_DIR / "static")))
# WhiteNoise serves static files from the ASGI server itself (no nginx needed on a Terminal);
# with finders on it also serves them before collectstatic has run.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))

# --- REST framework -------------------------------------------------------------------------
# Days an API token is valid after it was issued; then POST /api/auth/token/ gives a new one.
API_TOKEN_TTL = env.int("API_TOKEN_TTL", default=30)
# Requests to POST /api/auth/token/ one address may make (DRF rate: N/second|minute|hour|day).
API_TOKEN_RATE = env.str("API_TOKEN_RATE", default="10/minute")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.core.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.core.permissions.DjangoModelPermissionsWithView"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Constellation API",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc come from drf-spectacular-sidecar's static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "OcppVersionEnum": "apps.chargers.models.OcppVersion",
        "EnergyAccountStatusEnum": "apps.energy.models.AccountStatus",
    },
}

# --- OCPP -----------------------------------------------------------------------------------
# What happens to a charger id we have never seen: pending (operator approves), accept, reject.
OCPP_UNKNOWN_STATIONS = env.str("OCPP_UNKNOWN_STATIONS", default="pending")
# A client that offers no websocket subprotocol is treated as OCPP 1.6 unless this is true.
OCPP_REQUIRE_SUBPROTOCOL = env.bool("OCPP_REQUIRE_SUBPROTOCOL", default=False)
OCPP_HEARTBEAT_INTERVAL = env.int("OCPP_HEARTBEAT_INTERVAL", default=300)
# A station's last_seen_at is written by its frames at most every this many seconds
# (heartbeats and boots always write it): one UPDATE per station, not one per frame.
OCPP_LAST_SEEN_EVERY = env.float("OCPP_LAST_SEEN_EVERY", default=30.0)
# Interval told to Pending/Rejected stations before they retry BootNotification.
OCPP_BOOT_RETRY_INTERVAL = env.int("OCPP_BOOT_RETRY_INTERVAL", default=60)
OCPP_MAX_FRAME_BYTES = env.int("OCPP_MAX_FRAME_BYTES", default=64 * 1024)
OCPP_MESSAGE_LOG_RETENTION_DAYS = env.int("OCPP_MESSAGE_LOG_RETENTION_DAYS", default=30)
# Threads that run the charger connections' database work, each committing whatever is
# waiting in one transaction (group commit). SQLite takes one writer at a time: 1 there.
OCPP_DB_THREADS = env.int(
    "OCPP_DB_THREADS",
    default=1 if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" else 4,
)
# Charger edge security (docs/security.md). Let stations without credentials connect (those
# whose security profile is 0, which new charger ids get). Off: every station authenticates.
OCPP_ALLOW_UNSECURED = env.bool("OCPP_ALLOW_UNSECURED", default=False)
# Addresses (IPs or networks) of TLS-terminating proxies whose X-Forwarded-* and client
# certificate headers (X-SSL-Client-Verify, X-SSL-Client-S-DN, X-SSL-Client-Serial) are
# believed.
OCPP_TRUSTED_PROXIES = env.list("OCPP_TRUSTED_PROXIES", default=[])
# Failed authentications of one charger id before it is locked out for the period below.
OCPP_AUTH_MAX_FAILURES = env.int("OCPP_AUTH_MAX_FAILURES", default=5)
OCPP_AUTH_LOCKOUT_SECONDS = env.int("OCPP_AUTH_LOCKOUT_SECONDS", default=300)
# Websocket handshakes one IP address may make per minute (0: no limit).
OCPP_HANDSHAKES_PER_MINUTE_PER_IP = env.int("OCPP_HANDSHAKES_PER_MINUTE_PER_IP", default=120)
# Seconds a new connection has to send its whole HTTP request (a websocket handshake's
# included) before the server closes it; uvicorn only (config/edge.py, docs/robustness.md).
OCPP_HANDSHAKE_TIMEOUT = env.float("OCPP_HANDSHAKE_TIMEOUT", default=20.0)
# Connections one IP address may hold open at once, HTTP and websocket together (0: no limit);
# trusted proxies (OCPP_TRUSTED_PROXIES) are not limited. uvicorn only.
OCPP_MAX_CONNECTIONS_PER_IP = env.int("OCPP_MAX_CONNECTIONS_PER_IP", default=500)
# Messages one connection may send per second, bursts of twice that (0: no limit).
OCPP_MESSAGES_PER_SECOND = env.float("OCPP_MESSAGES_PER_SECOND", default=20.0)
# Commands one station may have pending or in flight at once.
OCPP_MAX_OUTSTANDING_COMMANDS = env.int("OCPP_MAX_OUTSTANDING_COMMANDS", default=20)
# Where security events are mailed (comma separated); none: only the log and the admin.
OCPP_SECURITY_EMAILS = env.list("OCPP_SECURITY_EMAILS", default=[])
# The certificate authority that signs the stations' certificates (docs/security.md). Both
# files set: the operator's CA (PEM; the certificate file may carry its issuers after it).
# Neither: one made on first use in DATA_DIR/ca.
OCPP_CA_CERT_FILE = env.str("OCPP_CA_CERT_FILE", default="")
OCPP_CA_KEY_FILE = env.str("OCPP_CA_KEY_FILE", default="")
OCPP_CA_KEY_PASSWORD = env.str("OCPP_CA_KEY_PASSWORD", default="")
# TLS served by uvicorn itself (start.sh --tls-cert/--tls-key; docs/security.md, "TLS"): the
# server's certificate chain and key (PEM). Both set: uvicorn serves wss:// and https:// and
# asks chargers for a client certificate (profile 3), verified against
# OCPP_TLS_CLIENT_CA_FILE (default: the CA above). Neither: plain ws:// (TLS in a proxy).
OCPP_TLS_CERT_FILE = env.str("OCPP_TLS_CERT_FILE", default="")
OCPP_TLS_KEY_FILE = env.str("OCPP_TLS_KEY_FILE", default="")
OCPP_TLS_CLIENT_CA_FILE = env.str("OCPP_TLS_CLIENT_CA_FILE", default="")
# The CPO name a station's CSR must carry as its organization (O); empty: not checked.
OCPP_CERTIFICATE_ORGANIZATION = env.str("OCPP_CERTIFICATE_ORGANIZATION", default="")
# Days a station certificate we sign is valid.
OCPP_CERTIFICATE_VALIDITY_DAYS = env.int("OCPP_CERTIFICATE_VALIDITY_DAYS", default=365)
# A station whose certificate expires within this many days is asked for a new CSR.
OCPP_CERTIFICATE_RENEWAL_DAYS = env.int("OCPP_CERTIFICATE_RENEWAL_DAYS", default=30)
# Seconds a command waits for the charger's answer before it is timed out.
OCPP_COMMAND_TIMEOUT = env.float("OCPP_COMMAND_TIMEOUT", default=30.0)
# Keep commands for an offline charger pending until it reconnects (else: offline at once).
OCPP_QUEUE_OFFLINE_COMMANDS = env.bool("OCPP_QUEUE_OFFLINE_COMMANDS", default=False)
# How long a queued command for an offline charger may wait, in seconds.
OCPP_QUEUED_COMMAND_TTL = env.int("OCPP_QUEUED_COMMAND_TTL", default=24 * 3600)
# Each server process also looks for pending commands of its chargers this often (seconds);
# the channel layer delivers them at once, this catches any that were lost. 0 turns it off.
OCPP_COMMAND_POLL_INTERVAL = env.float("OCPP_COMMAND_POLL_INTERVAL", default=2.0)
# Vendor ids whose DataTransfer we accept; others are kept and answered UnknownVendorId.
OCPP_DATA_TRANSFER_VENDORS = env.list("OCPP_DATA_TRANSFER_VENDORS", default=[])

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"daphne": {"level": "WARNING"}},
}

# Base URL chargers use to reach this server over HTTP (firmware downloads, diagnostics
# uploads). Empty: taken from the operator's request, else http://localhost:8000.
PUBLIC_URL = env.str("PUBLIC_URL", default="")
# Seconds a firmware download link stays valid.
FIRMWARE_URL_TTL = env.int("FIRMWARE_URL_TTL", default=7 * 24 * 3600)
# Seconds a diagnostics/log upload link stays valid.
UPLOAD_URL_TTL = env.int("UPLOAD_URL_TTL", default=7 * 24 * 3600)

ADMIN_USERNAME = env.str("ADMIN_USERNAME", default="")
ADMIN_PASSWORD = env.str("ADMIN_PASSWORD", default="")

# --- This node and its hardware (docs/nodes.md) ----------------------------------------------
# The role this node is created with (terminal, control, satellite, watchtower); afterwards the
# node's record holds it (`manage.py node --role`, the admin). Roles only choose the features
# on by default.
NODE_ROLE = env.str("NODE_ROLE", default="terminal")
# This node's name (default: the hostname).
NODE_NAME = env.str("NODE_NAME", default="")
# The port chargers and operators reach this node on (start.sh sets its --port; behind NGINX,
# NGINX's). 0: not known, the node's record keeps what it had.
NODE_PORT = env.int("NODE_PORT", default=0)
# Where feature detection looks for /dev, /sys and programs (tests use fake trees).
NODE_DEV_ROOT = env.str("NODE_DEV_ROOT", default="/")
# Run the hardware services (card reader, LCD, toasts) in the server process.
HARDWARE_SERVICES = env.bool("HARDWARE_SERVICES", default=True)
# Card reader: auto (serial port if present, else MFRC522 on SPI), serial, or mfrc522.
RFID_READER = env.str("RFID_READER", default="auto")
# Serial reader's port (empty: the first /dev/ttyUSB*, /dev/ttyACM*, /dev/serial0) and speed.
RFID_SERIAL_PORT = env.str("RFID_SERIAL_PORT", default="")
RFID_SERIAL_BAUD = env.int("RFID_SERIAL_BAUD", default=9600)
# MFRC522 reader's SPI bus and chip select (/dev/spidevBUS.DEVICE).
RFID_SPI_BUS = env.int("RFID_SPI_BUS", default=0)
RFID_SPI_DEVICE = env.int("RFID_SPI_DEVICE", default=0)
# A card read again within this many seconds of its last read is the same scan (held on the
# reader); taken away for longer and presented again, it is a new scan.
RFID_DEBOUNCE_S = env.float("RFID_DEBOUNCE_S", default=1.5)
# The charger a scan starts and stops sessions on (its charger id); empty: the only station
# connected to this node, if exactly one is. Its connector (1.6) / EVSE (2.x):
RFID_SCANNER_STATION = env.str("RFID_SCANNER_STATION", default="")
RFID_SCANNER_CONNECTOR = env.int("RFID_SCANNER_CONNECTOR", default=1)
# How long a scan waits for the charger's answer to its start or stop (seconds).
RFID_SCANNER_COMMAND_WAIT = env.float("RFID_SCANNER_COMMAND_WAIT", default=15.0)
# Character LCD on I2C (PCF8574 backpack): bus (/dev/i2c-N), address, size.
LCD_I2C_BUS = env.int("LCD_I2C_BUS", default=1)
LCD_I2C_ADDRESS = env.int("LCD_I2C_ADDRESS", default=0x27)
LCD_COLS = env.int("LCD_COLS", default=16)
LCD_ROWS = env.int("LCD_ROWS", default=2)
# Seconds each page of the LCD's rotation stays; seconds between tries of a display that
# does not answer (unplugged).
LCD_PAGE_SECONDS = env.float("LCD_PAGE_SECONDS", default=4.0)
LCD_RETRY_SECONDS = env.float("LCD_RETRY_SECONDS", default=5.0)
# Desktop toasts shown in any minute at most; the rest are told in one "and K more" toast.
TOAST_PER_MINUTE = env.int("TOAST_PER_MINUTE", default=5)

# --- Upgrades (docs/lifecycle.md) ------------------------------------------------------------
# The update channel the first migrate gives this node: fixed (never automatic), stable (weekly,
# Thursday 04:30, newest release tag), latest (daily 04:30, newest tag or pre-release) or
# unstable (every 15 minutes, head of main). Times are in TIME_ZONE. Afterwards the node's row
# holds it (`manage.py lifecycle channel --set`, configure.sh, the admin).
UPDATE_CHANNEL = env.str("UPDATE_CHANNEL", default="fixed")

# --- Payments (docs/billing.md, payments) ----------------------------------------------------
# Where the processors' APIs are (tests point them at a local server). Stripe uses one host for
# live and test keys; PayPal's test mode uses its sandbox.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com")
PAYPAL_API_BASE = env.str("PAYPAL_API_BASE", default="https://api-m.paypal.com")
PAYPAL_SANDBOX_API_BASE = env.str(
    "PAYPAL_SANDBOX_API_BASE", default="https://api-m.sandbox.paypal.com"
)
# Seconds a Stripe webhook's signature stays acceptable (Stripe's default: 300).
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)
# Seconds we wait for a processor's answer.
PAYMENTS_TIMEOUT = env.float("PAYMENTS_TIMEOUT", default=20.0)
# The smallest and largest top-up, in the account's currency.
PAYMENTS_TOPUP_MIN = Decimal(env.str("PAYMENTS_TOPUP_MIN", default="1"))
PAYMENTS_TOPUP_MAX = Decimal(env.str("PAYMENTS_TOPUP_MAX", default="500"))

# --- Receipts (docs/billing.md, section "portal") --------------------------------------------
# Who issues the receipts of paid sessions and top-ups: name, postal address (lines separated
# by "\n") and VAT number, printed at the top of every receipt.
BILLING_ISSUER_NAME = env.str("BILLING_ISSUER_NAME", default="Constellation")
BILLING_ISSUER_ADDRESS = env.str("BILLING_ISSUER_ADDRESS", default="").replace("\\n", "\n")
BILLING_ISSUER_VAT_NUMBER = env.str("BILLING_ISSUER_VAT_NUMBER", default="")
# Receipt numbers are this prefix, the year and the ledger entry's id (R2026-000042).
BILLING_RECEIPT_PREFIX = env.str("BILLING_RECEIPT_PREFIX", default="R")

# --- Energy accounts (docs/billing.md) --------------------------------------------------------
# What a card's account must have available (balance + credit limit, in its unit) to start a
# session; at or under zero is refused anyway (OCPP 2.x NoCredit, 1.6 Blocked).
ENERGY_MIN_TO_START = env.float("ENERGY_MIN_TO_START", default=0.0)

# --- Tariffs and costs (docs/billing.md, section tariffs) ------------------------------------
# A running session is stopped remotely when its account's available balance (balance plus
# credit limit) less the session's running cost falls below this amount (account's unit).
ENERGY_STOP_MARGIN = Decimal(env.str("ENERGY_STOP_MARGIN", default="0"))
# Seconds between two checks of running sessions against that margin.
ENERGY_MARGIN_CHECK_SECONDS = env.float("ENERGY_MARGIN_CHECK_SECONDS", default=30.0)
# Send OCPP 2.x stations the running cost of sessions with an account (CostUpdated) at each
# check, when it changed: a command per session and check, so off unless the stations show it.
ENERGY_COST_UPDATES = env.bool("ENERGY_COST_UPDATES", default=False)
CELERY_BEAT_SCHEDULE["price-pending-transactions"] = {
    "task": "apps.transactions.tasks.price_pending_transactions",
    "schedule": 300.0,
}
CELERY_BEAT_SCHEDULE["check-balance-margins"] = {
    "task": "apps.transactions.tasks.check_balance_margins",
    "schedule": ENERGY_MARGIN_CHECK_SECONDS,
}

# --- Odoo (docs/odoo.md) ----------------------------------------------------------------------
# <!-- odoo settings -->
# Odoo instances (URL, database, user, API key) are set in the admin; these switch the
# integration and bound its calls. Off: no scheduled sync, no sale pushed, no Odoo login.
ODOO_ENABLED = env.bool("ODOO_ENABLED", default=False)
# Seconds one XML-RPC call may take before it counts as unreachable.
ODOO_TIMEOUT = env.float("ODOO_TIMEOUT", default=15.0)
# Retries of a call Odoo could not answer (refused, timed out, HTTP 502/503/504/429), waiting
# ODOO_RETRY_BACKOFF seconds, then twice that, and so on. Refusals are never retried.
ODOO_RETRIES = env.int("ODOO_RETRIES", default=3)
ODOO_RETRY_BACKOFF = env.float("ODOO_RETRY_BACKOFF", default=1.0)
# Seconds between two scheduled users syncs (instances with "synchronise users" on).
ODOO_SYNC_USERS_SECONDS = env.float("ODOO_SYNC_USERS_SECONDS", default=3600.0)
# Operators may sign in with their Odoo login and password (instances with "Odoo login" on).
ODOO_LOGIN = env.bool("ODOO_LOGIN", default=False)
if ODOO_LOGIN:
    AUTHENTICATION_BACKENDS.append("apps.integrations.odoo.auth.OdooBackend")
CELERY_BEAT_SCHEDULE["odoo-sync-users"] = {
    "task": "apps.integrations.odoo.tasks.sync_users",
    "schedule": ODOO_SYNC_USERS_SECONDS,
}
CELERY_BEAT_SCHEDULE["odoo-push-pending-sales"] = {
    "task": "apps.integrations.odoo.tasks.push_pending_sales",
    "schedule": 600.0,
}

# --- Slack (docs/slack.md) --------------------------------------------------------------------
# <!-- slack settings -->
# The Slack bot: OAuth install, signed slash commands and events, notifications per site.
SLACK_ENABLED = env.bool("SLACK_ENABLED", default=False)
# The Slack app's credentials (api.slack.com/apps → Basic Information); never shown or logged.
SLACK_CLIENT_ID = env.str("SLACK_CLIENT_ID", default="")
SLACK_CLIENT_SECRET = env.str("SLACK_CLIENT_SECRET", default="")
SLACK_SIGNING_SECRET = env.str("SLACK_SIGNING_SECRET", default="")
# Slack's Web API and its OAuth page (changed only by tests, to a local stand-in).
SLACK_API_URL = env.str("SLACK_API_URL", default="https://slack.com/api/")
SLACK_AUTHORIZE_URL = env.str("SLACK_AUTHORIZE_URL", default="https://slack.com/oauth/v2/authorize")
# Seconds a signed request stays acceptable (Slack's advice: 5 minutes).
SLACK_REQUEST_TOLERANCE = env.int("SLACK_REQUEST_TOLERANCE", default=300)
# Seconds a Web API call may take, and how many times a notification is tried.
SLACK_TIMEOUT = env.float("SLACK_TIMEOUT", default=10.0)
SLACK_SEND_ATTEMPTS = env.int("SLACK_SEND_ATTEMPTS", default=3)
# Longest wait (seconds) honoured from Slack's Retry-After before the next attempt.
SLACK_RETRY_MAX_WAIT = env.float("SLACK_RETRY_MAX_WAIT", default=30.0)
# Where Slack's response_url of a slash command starts: the charger's answer is posted there,
# and nowhere else (changed only by tests).
SLACK_RESPONSE_URL_PREFIX = env.str("SLACK_RESPONSE_URL_PREFIX", default="https://hooks.slack.com/")

# --- Sigils (docs/sigils.md) ------------------------------------------------------------------
# <!-- sigils settings -->
# Environment variables [ENV.NAME] may print (comma-separated names); none by default. Names
# that look secret (KEY, TOKEN, PASSWORD...) are never printed on pages or receipts.
SIGILS_ENV_ALLOW = env.list("SIGILS_ENV_ALLOW", default=[])
# Settings [CONF.NAME] may print (comma-separated names): plain values only, never SECRET_KEY.
SIGILS_CONF_ALLOW = env.list(
    "SIGILS_CONF_ALLOW",
    default=[
        "BILLING_ISSUER_NAME",
        "BILLING_ISSUER_VAT_NUMBER",
        "BILLING_RECEIPT_PREFIX",
        "LANGUAGE_CODE",
        "NODE_ROLE",
        "PUBLIC_URL",
        "TIME_ZONE",
        "UPDATE_CHANNEL",
    ],
)
# Seconds a server process reuses what a sigil read (the node, a station): changes are seen at
# once in the process that made them, in other processes within this time. 0: no cache.
SIGILS_CACHE_SECONDS = env.float("SIGILS_CACHE_SECONDS", default=30.0)

# --- User data and change history (docs/userdata.md) -----------------------------------------
# <!-- userdata settings -->
# The largest bundle file an import reads (bytes); a larger one is refused before parsing.
USERDATA_MAX_BUNDLE_BYTES = env.int("USERDATA_MAX_BUNDLE_BYTES", default=20 * 1024 * 1024)

# --- Console (docs/control-center.md) -----------------------------------------------------
# <!-- console settings -->
# Files served at the site's root by WhiteNoise (favicon.ico, which browsers ask for there).
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
# Swagger UI shows a badge from validator.swagger.io unless told not to: nothing from the
# internet on any page (issue #20).
SPECTACULAR_SETTINGS["SWAGGER_UI_SETTINGS"] = {"deepLinking": True, "validatorUrl": None}

# --- Translations (docs/control-center.md, "Translations") -------------------------------------
# <!-- i18n settings -->
# Italian for third-party apps that ship none (celery beat, axes, auditlog): a catalog of its
# own that `makemessages` never rewrites. The first LOCALE_PATHS entry wins, so ours stays first.
LOCALE_PATHS = [*LOCALE_PATHS, BASE_DIR / "locale_thirdparty"]
