"""The test provider's settings. What changes from one start to the next (its address, database, control
secret, hosted domain) is read from the environment, which serve.py sets from its arguments before Django
starts."""

import os
import secrets
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The provider's own address, http://127.0.0.1:<port>. django-oidc-provider builds its issuer from it:
# SITE_URL + the path its URLs are included under, so http://127.0.0.1:<port>/openid (urls.py). The
# discovery document and every ID token's `iss` are both built that way, so they agree.
SITE_URL = os.environ["SSO_PROVIDER_URL"]
# The secret the tests send to the control endpoint (control.py).
CONTROL_SECRET = os.environ["SSO_PROVIDER_CONTROL_SECRET"]
# Google's `hd` claim: given, ID tokens of people whose email is at this domain carry it, as Google's do
# for accounts of a Workspace domain; people at other domains get none, as with a personal account.
HOSTED_DOMAIN = os.environ.get("SSO_PROVIDER_HOSTED_DOMAIN", "").lower()

# A new key per start: the provider's sessions last no longer than its process.
SECRET_KEY = secrets.token_urlsafe(50)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oidc_provider",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "tests.oidc_provider.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [HERE / "templates"],
        "APP_DIRS": True,  # django-oidc-provider's error page
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

# A fresh file per start (serve.py's --db). Requests are served on several threads: a writer waits for
# another's lock rather than failing, and takes it at the start of its transaction (no deadlock between two
# readers both turning writers). Durability is not needed of a database that lives for one test run.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["SSO_PROVIDER_DB"],
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

USE_TZ = True
TIME_ZONE = "UTC"

LOGIN_URL = "/accounts/login/"
# Fast logins and password changes: these passwords protect nothing.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# django-oidc-provider: the standard claims come from the user (claims.py); with OIDC_IDTOKEN_INCLUDE_CLAIMS
# the ID token carries those of the scopes asked for (email, profile) as well as userinfo does, and the hook
# adds how the person signed in (`amr`) and Google's `hd`. `sub` is the library's default, the user's
# primary key, so it stays the same when their email changes.
OIDC_USERINFO = "tests.oidc_provider.claims.userinfo"
OIDC_IDTOKEN_INCLUDE_CLAIMS = True
OIDC_IDTOKEN_PROCESSING_HOOK = "tests.oidc_provider.claims.id_token_hook"

# Errors only, to stderr (the test run shows them with the test that caused them): no line per request,
# and no warning for each 4xx a test provokes on purpose.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "ERROR"},
    "loggers": {
        "django": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
        "django.server": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
    },
}

# Cookies do not tell ports apart: the app under test on another 127.0.0.1 port must not have its own
# `sessionid` and `csrftoken` replaced by the provider's (in real life the two are on different hosts).
SESSION_COOKIE_NAME = "provider_sessionid"
CSRF_COOKIE_NAME = "provider_csrftoken"
