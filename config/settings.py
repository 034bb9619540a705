"""Settings for the competency appraisal system.

Everything that differs between a laptop and production comes from the environment, read here
and nowhere else: DATABASE_URL, SECRET_KEY, DEBUG, ALLOWED_HOSTS, LOG_LEVEL.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from config.env import local_secret_key, parse_bool, parse_database_url, parse_list, parse_log_level

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = parse_bool("DEBUG", os.environ.get("DEBUG"), default=False)

# Production sets SECRET_KEY. A laptop with none gets a random key kept in a git-ignored file,
# so sessions survive restarts without anyone having to invent a secret.
SECRET_KEY = os.environ.get("SECRET_KEY", "") or local_secret_key(BASE_DIR / ".secret_key")

ALLOWED_HOSTS = parse_list(os.environ.get("ALLOWED_HOSTS"), default=["localhost", "127.0.0.1", "[::1]"])

DATABASES = {"default": parse_database_url(os.environ.get("DATABASE_URL"), base_dir=BASE_DIR)}

# Each server process keeps its own small cache in memory (no service to run): the rendered body
# of history pages (appraisal.history_cache, about 100 KB each at five years of records), keyed by
# what it was built from, so a process never needs to hear of another's changes.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 500}}}

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",  # numbers with thousands separators on pages (intcomma)
    # Before staticfiles: runserver leaves static files to WhiteNoise, as every other server does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    # The task engine (core/tasks.py): queue, workers, schedules, in the application's database.
    "django_q",
    # The second factor at sign-in (staff/second_factor.py): authenticator apps (TOTP) and recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # The apps, lowest first: each may use only those before it (the layers in pyproject.toml).
    "core",
    "audit",
    "outbox",
    "competencies",
    "roles",
    "staff",
    "appraisal",
    "reports",
    # Demo data and the benchmark: their management commands (seed_demo; seed_scale, bench).
    "demo",
    "bench",
]

MIDDLEWARE = [
    "core.logging.request_context",
    "core.requests.request_memory",
    "core.security.limit_request_body",
    "django.middleware.security.SecurityMiddleware",
    # Static files are answered here, before the session and the rest (see STORAGES below).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.security.content_security_policy",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "core.busy.BusyDatabaseMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session gave a second factor; until it has, one that
    # must (the person has one) is sent to give it (staff/second_factor_views.py).
    "django_otp.middleware.OTPMiddleware",
    "staff.second_factor_views.verification_first",
    "django.contrib.messages.middleware.MessageMiddleware",
    "core.security.session_limits",
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
                "staff.context_processors.navigation",
            ],
        },
    },
]

# A leaver cannot sign in from the day after their last day, and their sessions end (staff/auth.py).
AUTHENTICATION_BACKENDS = ["staff.auth.StaffBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# No request body may be larger than this, form or upload (core/security.py): the longest real
# appraisal form is a few hundred kilobytes, and a staff import file at most 1 MB.
MAX_REQUEST_BYTES = 2_500_000
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES

# A save refused for a stale CSRF token keeps what was typed (see appraisal/drafts.py).
CSRF_FAILURE_VIEW = "appraisal.drafts.csrf_failure"

# A login session ends after 30 minutes without a request, and 12 hours after the login however
# active (core/security.py); the cookie lasts no longer than that.
SESSION_IDLE_TIMEOUT = 30 * 60
SESSION_ABSOLUTE_TIMEOUT = 12 * 60 * 60
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT
SESSION_COOKIE_HTTPONLY = True

# Failed logins (staff/login.py): after 5 for one username, or 30 from one address, within 15
# minutes, further attempts are refused until the window has passed.
LOGIN_THROTTLE_WINDOW = 15 * 60
LOGIN_THROTTLE_PER_USERNAME = 5
LOGIN_THROTTLE_PER_ADDRESS = 30

# "Forgot password?" (staff/password_reset.py): the emailed link works once, for PASSWORD_RESET_TIMEOUT
# seconds (default an hour). After PASSWORD_RESET_THROTTLE_PER_ACCOUNT requests for one username or
# address typed (default 3), or PASSWORD_RESET_THROTTLE_PER_ADDRESS from one client address (default
# 20), within PASSWORD_RESET_THROTTLE_WINDOW seconds (default an hour), further requests are refused
# until the window has passed; and no account is sent more than PER_ACCOUNT links in the window.
PASSWORD_RESET_TIMEOUT = int(os.environ.get("PASSWORD_RESET_TIMEOUT", str(60 * 60)))
PASSWORD_RESET_THROTTLE_WINDOW = int(os.environ.get("PASSWORD_RESET_THROTTLE_WINDOW", str(60 * 60)))
PASSWORD_RESET_THROTTLE_PER_ACCOUNT = int(os.environ.get("PASSWORD_RESET_THROTTLE_PER_ACCOUNT", "3"))
PASSWORD_RESET_THROTTLE_PER_ADDRESS = int(os.environ.get("PASSWORD_RESET_THROTTLE_PER_ADDRESS", "20"))

# Every page's Content-Security-Policy (core/security.py): everything from this site, nothing
# inline. Bootstrap and all the CSS are served from static/.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True

# Production (DEBUG off) is served over HTTPS only, behind a TLS proxy that sets
# X-Forwarded-Proto: https (and overwrites any such header from the client) and appends the
# client's address to X-Forwarded-For. `make run` (DEBUG on) serves plain HTTP on 127.0.0.1.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 365 * 24 * 60 * 60
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
# The header holding the client's address as the proxy saw it (its last entry), for the login
# throttle; None: the connection's own address (REMOTE_ADDR).
CLIENT_IP_HEADER = None if DEBUG else "HTTP_X_FORWARDED_FOR"

# Logs go to standard error, one line per event, with the request's path and user id, never what
# was typed (core/logging.py). LOG_LEVEL applies to Django and the app: by default warnings and
# errors, and with DEBUG also INFO (the development server's line per request). Other libraries
# add only their warnings and errors (WeasyPrint and fontTools describe every PDF at INFO). SQL is
# never logged: Django logs it at DEBUG with its parameters, which are the records' contents.
LOG_LEVEL = parse_log_level("LOG_LEVEL", os.environ.get("LOG_LEVEL"), default="INFO" if DEBUG else "WARNING")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request": {"()": "core.logging.RequestFilter"},
        "anonymous_not_found_as_info": {"()": "core.logging.AnonymousNotFoundAsInfo"},
    },
    "formatters": {"one_line": {"()": "core.logging.OneLineFormatter"}},
    "handlers": {
        "stderr": {
            "class": "core.logging.StandardErrorHandler",
            "level": LOG_LEVEL,
            "filters": ["request"],
            "formatter": "one_line",
        },
        # The same, for the loggers of background work, which say themselves what they let through.
        "tasks": {"class": "core.logging.StandardErrorHandler", "filters": ["request"], "formatter": "one_line"},
    },
    "root": {"handlers": ["stderr"], "level": "WARNING" if LOG_LEVEL in ("DEBUG", "INFO") else LOG_LEVEL},
    "loggers": {
        # Django's own handlers (the console when DEBUG is on, emails to ADMINS) give way to the one above.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.server": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        # 5xx are errors, 4xx warnings, as Django logs them; but see AnonymousNotFoundAsInfo.
        "django.request": {"filters": ["anonymous_not_found_as_info"]},
        "django.db.backends": {"level": "INFO" if LOG_LEVEL == "DEBUG" else LOG_LEVEL},
        # The task engine's own lines (a worker started, a task taken again), beside core.tasks' own.
        "django-q": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        **{
            app: {"level": LOG_LEVEL}
            for app in (
                "config",
                "core",
                "audit",
                "competencies",
                "roles",
                "staff",
                "outbox",
                "appraisal",
                "reports",
                "demo",
                "bench",
            )
        },
        # Every task's start, end, failure and retry, and every email's delivery, whatever LOG_LEVEL says.
        **{
            name: {"handlers": ["tasks"], "level": "DEBUG" if LOG_LEVEL == "DEBUG" else "INFO", "propagate": False}
            for name in ("core.tasks", "outbox")
        },
    },
}

# An HR admin's rights need a second factor verified in the session (core/access.py); without one they
# have a member of staff's. Whoever has set one up gives it after the password (staff/second_factor_views.py).
# Off only where that is wanted on purpose (HR_REQUIRES_SECOND_FACTOR=0): then nobody is asked for one.
HR_REQUIRES_SECOND_FACTOR = parse_bool(
    "HR_REQUIRES_SECOND_FACTOR", os.environ.get("HR_REQUIRES_SECOND_FACTOR"), default=True
)
# The name an authenticator app shows beside the code.
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Second Step appraisals")

# Single sign-on with the organisation's accounts (OpenID Connect: Microsoft Entra ID, Google Workspace or
# any standard provider; staff/sso.py, README "Single sign-on"). Off unless SSO_ISSUER, SSO_CLIENT_ID and
# SSO_CLIENT_SECRET are all set. Tokens are trusted from that issuer alone (Entra ID: the organisation's
# tenant, https://login.microsoftonline.com/<tenant id>/v2.0; Google: https://accounts.google.com, with
# SSO_HOSTED_DOMAIN the organisation's Workspace domain). SSO_ONLY=1 makes it the only way in for everyone
# but HR admins, who keep their password and second factor. An HR admin's single sign-on counts as their
# second factor only when the token's `amr` claim names one of SSO_MFA_METHODS.
SSO_ISSUER = os.environ.get("SSO_ISSUER", "").strip().rstrip("/")
SSO_CLIENT_ID = os.environ.get("SSO_CLIENT_ID", "").strip()
SSO_CLIENT_SECRET = os.environ.get("SSO_CLIENT_SECRET", "")
SSO_PROVIDER_NAME = os.environ.get("SSO_PROVIDER_NAME", "").strip() or "your organisation's account"
# The discovery document's address, if not <SSO_ISSUER>/.well-known/openid-configuration.
SSO_DISCOVERY_URL = os.environ.get("SSO_DISCOVERY_URL", "").strip()
SSO_HOSTED_DOMAIN = os.environ.get("SSO_HOSTED_DOMAIN", "").strip().lower()
SSO_ONLY = parse_bool("SSO_ONLY", os.environ.get("SSO_ONLY"), default=False)
SSO_MFA_METHODS = parse_list(os.environ.get("SSO_MFA_METHODS"), default=["mfa"])
SSO_TIMEOUT = float(os.environ.get("SSO_TIMEOUT", "10"))
if bool(SSO_ISSUER) + bool(SSO_CLIENT_ID) + bool(SSO_CLIENT_SECRET) in (1, 2):
    raise ImproperlyConfigured("Single sign-on needs all three of SSO_ISSUER, SSO_CLIENT_ID and SSO_CLIENT_SECRET.")
if SSO_ONLY and not SSO_ISSUER:
    raise ImproperlyConfigured("SSO_ONLY=1 needs single sign-on set up: SSO_ISSUER, SSO_CLIENT_ID, SSO_CLIENT_SECRET.")
# mozilla-django-oidc, which does the protocol: the authorization code flow with state, nonce and PKCE,
# ID tokens signed with RS256 (the endpoints come from the provider's discovery document).
OIDC_RP_SCOPES = "openid email profile"
OIDC_USE_PKCE = True
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_TIMEOUT = SSO_TIMEOUT
OIDC_AUTHENTICATION_CALLBACK_URL = "sso_callback"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

# Static files are served by the app itself (WhiteNoise), so one process serves the whole site.
# With DEBUG off, `collectstatic` first copies them to STATIC_ROOT under names that carry a hash of
# their content (css/app.3f2a….css, listed in STATIC_ROOT/staticfiles.json, which {% static %}
# reads), with gzip and Brotli copies beside them; those are sent compressed when the browser
# accepts it and may be cached for ten years. With DEBUG on (`make run`), they are served from
# static/ as they are, under their own names, and nothing needs collecting.
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Where collectstatic puts them: STATIC_ROOT in the environment, else staticfiles/ in the project.
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
# Files the app keeps (completed records' PDFs, appraisal/record_pdfs.py): MEDIA_ROOT in the environment,
# else media/ in the project. Never served as they are: only through the views that check access.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_ALLOW_ALL_ORIGINS = False  # no other site has any use for them
# Files served at the site's root under their own names, such as /favicon.ico, which browsers and
# other tools ask for without reading a page.
WHITENOISE_ROOT = BASE_DIR / "site_root"


def _static_file_headers(headers, path: str, url: str) -> None:
    """Static files are answered before core.security's middleware, so they get the policy here
    (an SVG opened on its own is a document too)."""
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY


WHITENOISE_ADD_HEADERS_FUNCTION = _static_file_headers

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Every email goes into the outbox (outbox/backends.py), in the transaction of the change that
# causes it; a worker delivers it through OUTBOX_DELIVERY_BACKEND: printed to the worker's console
# unless an SMTP server is given (EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD,
# EMAIL_USE_TLS). A mail server gets EMAIL_TIMEOUT seconds to answer each step.
EMAIL_BACKEND = "outbox.backends.OutboxBackend"
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
if os.environ.get("EMAIL_HOST"):
    OUTBOX_DELIVERY_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["EMAIL_HOST"]
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = parse_bool("EMAIL_USE_TLS", os.environ.get("EMAIL_USE_TLS"), default=True)
else:
    OUTBOX_DELIVERY_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "appraisals@localhost")
# The address emails link to.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
# The domain of each email's Message-ID (the same on every try, so a copy can be recognised).
OUTBOX_MESSAGE_ID_DOMAIN = os.environ.get("OUTBOX_MESSAGE_ID_DOMAIN") or (urlsplit(SITE_URL).hostname or "localhost")

# The task engine: Django Q2 with its ORM broker (docs/background-work.md). Any number of worker
# processes (`manage.py qcluster`), on any number of machines, share the queue in the database.
Q_CLUSTER = {
    "name": "appraisals",
    "orm": "default",
    "workers": int(os.environ.get("TASK_WORKERS", "2")),
    "timeout": 300,  # a task running longer is stopped, and counted as failed
    "retry": 360,  # a task not finished this long after a worker took it goes to another (the first died)
    "max_attempts": 3,  # ... at most this many times
    "ack_failures": True,  # a task that raised is recorded as failed, not taken again (core.tasks retries it)
    "catch_up": False,  # a schedule missed (no worker running) runs once at the next chance, not once per miss
    "save_limit": 1000,  # successful tasks kept for the admin's view of the engine
    "poll": 1,  # seconds between looks at an empty queue
    "label": "Background tasks",
    "bulk": 1,
}
# Periodic work (core.tasks.sync_schedule writes it into the engine's schedules after migrate):
# name -> the task's kind for the logs, its function, and when (cron, in TIME_ZONE).
SCHEDULE = {
    "deliver due emails": {"kind": "deliver due emails", "func": "outbox.delivery.deliver_due", "cron": "* * * * *"},
    "clear expired": {"kind": "clear expired", "func": "appraisal.jobs.clear_expired", "cron": "17 2 * * *"},
    "apply handovers": {
        "kind": "apply handovers",
        "func": "appraisal.leavers.apply_due_handovers",
        "cron": "5 0 * * *",
    },
    "clear old emails": {"kind": "clear old emails", "func": "outbox.delivery.clear_old", "cron": "47 2 * * *"},
    "send reminders": {"kind": "send reminders", "func": "appraisal.reminders.send_due", "cron": "0 8 * * *"},
    "clear old jobs": {"kind": "clear old jobs", "func": "core.jobs.clear_expired", "cron": "23 * * * *"},
    "check report tallies": {
        "kind": "check report tallies",
        "func": "appraisal.tallies.check_and_mend",
        "cron": "37 3 * * *",
    },
}
# Long jobs (core/jobs.py): a job works in slices of about this many seconds (well inside the engine's
# time limit), a file it makes (a cycle's ZIP) is kept this many hours, and a finished job's page
# this many days.
JOB_SLICE_SECONDS = float(os.environ.get("JOB_SLICE_SECONDS", "120"))
JOB_FILE_HOURS = int(os.environ.get("JOB_FILE_HOURS", "24"))
JOB_KEEP_DAYS = int(os.environ.get("JOB_KEEP_DAYS", "30"))
# A cycle's opening prepares this many people's appraisals in each of its transactions (core/jobs.py).
CYCLE_OPENING_BATCH = int(os.environ.get("CYCLE_OPENING_BATCH", "500"))
# Whoever must act next on an appraisal is reminded this many days before its cycle's due date, then
# weekly once it is overdue (appraisal/reminders.py).
REMINDER_DAYS_BEFORE = int(os.environ.get("REMINDER_DAYS_BEFORE", "7"))
# How long an invitation's link, or a printed set-up code, can be used to set a first password.
INVITATION_DAYS = int(os.environ.get("INVITATION_DAYS", "5"))
if not 1 <= INVITATION_DAYS <= 60:
    raise ImproperlyConfigured(f"INVITATION_DAYS must be between 1 and 60, not {INVITATION_DAYS}.")
# How long the outbox keeps an email once delivered or given up (HR's delivery log shows them).
OUTBOX_KEEP_DAYS = int(os.environ.get("OUTBOX_KEEP_DAYS", "365"))

# A PDF made while someone waits must be ready in this many seconds (well inside a server's
# 30-second timeout); a record that takes longer gets a page that says so (roles.pdf.write_pdf).
PDF_TIME_LIMIT = float(os.environ.get("PDF_TIME_LIMIT", "20"))
# ... and one made by a worker (a completed record's PDF, kept: appraisal.record_pdfs) in this many.
PDF_TASK_TIME_LIMIT = float(os.environ.get("PDF_TASK_TIME_LIMIT", "120"))

# Where the organisation's source documents' data lives (see fixtures/README.md).
FIXTURES_DIR = BASE_DIR / "fixtures"
