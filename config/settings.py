"""Settings for the competency appraisal system.

Everything that differs between a laptop and production comes from the environment, read here
and nowhere else: DATABASE_URL, SECRET_KEY, DEBUG, ALLOWED_HOSTS.
"""

import os
from pathlib import Path

from config.env import local_secret_key, parse_bool, parse_database_url, parse_list

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = parse_bool("DEBUG", os.environ.get("DEBUG"), default=False)

# Production sets SECRET_KEY. A laptop with none gets a random key kept in a git-ignored file,
# so sessions survive restarts without anyone having to invent a secret.
SECRET_KEY = os.environ.get("SECRET_KEY", "") or local_secret_key(BASE_DIR / ".secret_key")

ALLOWED_HOSTS = parse_list(os.environ.get("ALLOWED_HOSTS"), default=["localhost", "127.0.0.1", "[::1]"])

DATABASES = {"default": parse_database_url(os.environ.get("DATABASE_URL"), base_dir=BASE_DIR)}

INSTALLED_APPS = [
    "config.admin.BackOfficeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "competencies",
    "roles",
    "appraisal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
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
                "roles.context_processors.navigation",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# A save refused for a stale CSRF token keeps what was typed (see appraisal/drafts.py).
CSRF_FAILURE_VIEW = "appraisal.drafts.csrf_failure"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Appraisal notifications: printed to the console unless an SMTP server is given (EMAIL_HOST,
# EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS).
if os.environ.get("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["EMAIL_HOST"]
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = parse_bool("EMAIL_USE_TLS", os.environ.get("EMAIL_USE_TLS"), default=True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "appraisals@localhost")
# The address emails link to.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")

# Where the organisation's source documents' data lives (see fixtures/README.md).
FIXTURES_DIR = BASE_DIR / "fixtures"
