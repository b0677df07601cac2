"""Settings come from environment variables with safe defaults.

GONGZHI_DATABASE_URL   database URL (default: SQLite under var/)
GONGZHI_SECRET_KEY     Django secret key (default: generated into var/keys/)
GONGZHI_DEBUG          "1"/"true" to enable debug (default off)
GONGZHI_ALLOWED_HOSTS  comma-separated host names (default: localhost names)
GONGZHI_VAR_DIR        where the database, keys, uploads and models live (default: ./var)
GONGZHI_SITE_URL       public address of the site, e.g. https://gongzhi.example.gov.cn, used for links
                       in e-mails (default: empty, e-mails then carry no link)
GONGZHI_UPLOAD_MAX_BYTES  largest accepted upload in bytes (default: 10485760, 10 MB)
GONGZHI_CASE_ACCEPT_HOURS / _HANDLE_DAYS / _VERIFY_HOURS  limits for cases without a category
                       (defaults: 2 working hours, 5 working days, 7 working hours)
GONGZHI_CLASSIFIER_MODEL  the case classifier's model file (default: var/models/case-classifier.joblib)
GONGZHI_CLASSIFIER_AUTO_ROUTE  confidence (0-1) at or above which a new case is routed without a
                       dispatcher (default: 0.9; "off" disables automatic routing, suggestions stay)
GONGZHI_DUPLICATE_RADIUS_M / _DUPLICATE_DAYS  how near and how recent an open case must be to be
                       offered as a likely duplicate (defaults: 100 m, 7 days)
GONGZHI_OPEN311_CONTACT  contact line published in the Open311 discovery document (default: empty)
GONGZHI_PROPOSAL_SUPPORTS  supports that put a proposal on the agenda where a community has set no
                       threshold of its own (default: 10)

Notifications (core.notify) are always shown in the site; these send copies out as well:
GONGZHI_NOTIFY_CHANNELS  comma-separated channels: "email", "webhook" (default: empty, in-site only)
GONGZHI_WEBHOOK_URL      where webhook notifications are POSTed as JSON
GONGZHI_WEBHOOK_SECRET   key of the `X-Gongzhi-Signature: sha256=<HMAC-SHA256 of the body>` header
GONGZHI_EMAIL_HOST       SMTP server (default: localhost)
GONGZHI_EMAIL_PORT       SMTP port (default: 25)
GONGZHI_EMAIL_HOST_USER, GONGZHI_EMAIL_HOST_PASSWORD  SMTP login (default: none)
GONGZHI_EMAIL_USE_TLS, GONGZHI_EMAIL_USE_SSL  "1" for STARTTLS or implicit TLS (default: off)
GONGZHI_EMAIL_FROM       sender address (default: gongzhi@localhost)
GONGZHI_EMAIL_TIMEOUT    seconds to wait for the SMTP server (default: 10)
GONGZHI_EMAIL_BACKEND    Django e-mail backend (default: SMTP)
Personal-data keys: see gongzhi.core.crypto.
"""

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from gongzhi.core.keyfiles import load_or_create_secret


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


PACKAGE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("GONGZHI_VAR_DIR", Path.cwd() / "var")).resolve()

DEBUG = env_bool("GONGZHI_DEBUG")
SECRET_KEY = os.environ.get("GONGZHI_SECRET_KEY") or load_or_create_secret(
    VAR_DIR / "keys" / "secret_key", 50
)
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("GONGZHI_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("GONGZHI_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "gongzhi.core",
    "gongzhi.web",
    "gongzhi.people",
    "gongzhi.cases",
    "gongzhi.deliberation",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "ninja",
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "gongzhi.web.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "gongzhi.web.middleware.RejectNullCharactersMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "gongzhi.urls"
WSGI_APPLICATION = "gongzhi.wsgi.application"

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
                "django.template.context_processors.i18n",
                "gongzhi.web.context.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("GONGZHI_DATABASE_URL") or f"sqlite:///{VAR_DIR / 'gongzhi.sqlite3'}",
        conn_max_age=int(os.environ.get("GONGZHI_DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
    "GONGZHI_DB_SERVER_SIDE_BINDING"
):
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the task worker use the file at the same time.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login lockout (等保 2.0: lock after repeated failures).
GONGZHI_LOGIN_MAX_FAILURES = int(os.environ.get("GONGZHI_LOGIN_MAX_FAILURES", "5"))
GONGZHI_LOGIN_WINDOW_MINUTES = int(os.environ.get("GONGZHI_LOGIN_WINDOW_MINUTES", "15"))

# Sessions: expire after 8 idle hours, secure cookies unless debugging on plain http.
SESSION_COOKIE_AGE = 8 * 3600
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("GONGZHI_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "web" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": VAR_DIR / "media"},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

TASKS = {
    "default": {
        "BACKEND": os.environ.get("GONGZHI_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

# Public address of the site, for absolute links where a relative one will not do (e-mails).
GONGZHI_SITE_URL = os.environ.get("GONGZHI_SITE_URL", "").strip().rstrip("/")

# Uploads (core.uploads): images are sniffed, stripped of metadata and downscaled before storage.
GONGZHI_UPLOAD_MAX_BYTES = int(os.environ.get("GONGZHI_UPLOAD_MAX_BYTES", str(10 * 1024 * 1024)))
# Photos of people and places: readable by the service account (and its group) only.
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750

# Notifications outbox (core.notify): in-site always; these channels send copies out too.
GONGZHI_NOTIFY_CHANNELS = [
    c.strip().lower() for c in os.environ.get("GONGZHI_NOTIFY_CHANNELS", "").split(",") if c.strip()
]
GONGZHI_WEBHOOK_URL = os.environ.get("GONGZHI_WEBHOOK_URL", "").strip()
GONGZHI_WEBHOOK_SECRET = os.environ.get("GONGZHI_WEBHOOK_SECRET", "")
EMAIL_BACKEND = os.environ.get("GONGZHI_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("GONGZHI_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("GONGZHI_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("GONGZHI_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("GONGZHI_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("GONGZHI_EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("GONGZHI_EMAIL_USE_SSL")
EMAIL_TIMEOUT = int(os.environ.get("GONGZHI_EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("GONGZHI_EMAIL_FROM", "gongzhi@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Office hours for working-time deadlines (core.calendar).
GONGZHI_OFFICE_HOURS = os.environ.get("GONGZHI_OFFICE_HOURS", "09:00-12:00,13:30-17:30")
# Optional CSV (date,kind with kind = holiday|workday) overriding the built-in statutory calendar,
# e.g. for a year published after this release.
GONGZHI_CALENDAR_FILE = os.environ.get("GONGZHI_CALENDAR_FILE", "")
# Defaults for cases without a category; categories carry their own limits.
GONGZHI_CASE_ACCEPT_HOURS = os.environ.get("GONGZHI_CASE_ACCEPT_HOURS", "2")
GONGZHI_CASE_HANDLE_DAYS = int(os.environ.get("GONGZHI_CASE_HANDLE_DAYS", "5"))
GONGZHI_CASE_VERIFY_HOURS = os.environ.get("GONGZHI_CASE_VERIFY_HOURS", "7")
GONGZHI_CLASSIFIER_MODEL = Path(
    os.environ.get("GONGZHI_CLASSIFIER_MODEL") or VAR_DIR / "models" / "case-classifier.joblib"
)
_auto_route = os.environ.get("GONGZHI_CLASSIFIER_AUTO_ROUTE", "0.9").strip().lower()
GONGZHI_CLASSIFIER_AUTO_ROUTE = None if _auto_route in ("", "off", "none") else float(_auto_route)
GONGZHI_DUPLICATE_RADIUS_M = float(os.environ.get("GONGZHI_DUPLICATE_RADIUS_M", "100"))
GONGZHI_DUPLICATE_DAYS = int(os.environ.get("GONGZHI_DUPLICATE_DAYS", "7"))
GONGZHI_OPEN311_CONTACT = os.environ.get("GONGZHI_OPEN311_CONTACT", "")
GONGZHI_PROPOSAL_SUPPORTS = int(os.environ.get("GONGZHI_PROPOSAL_SUPPORTS", "10"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("GONGZHI_LOG_LEVEL", "INFO")},
    "loggers": {"django_tasks": {"level": "WARNING"}, "django_tasks_db": {"level": "WARNING"}},
}
