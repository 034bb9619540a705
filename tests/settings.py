"""Test settings: the real settings, with a secret key that tests need not be given."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")

from config.settings import *  # noqa: F403
from config.settings import DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests

# On SQLite, a file rather than memory, so that tests of concurrent saves can open a second
# connection from another thread (an in-memory database is private to one connection).
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"appraisals-test-{os.getpid()}.sqlite3")
    }

# The suite runs with DEBUG off, so with the production settings for HTTPS; the test client speaks
# plain HTTP, so requests are not redirected to https:// and cookies are not marked HTTPS-only.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False

# Static files as production serves them (DEBUG off): tests/conftest.py runs collectstatic here once
# per run, so pages and PDFs ask for the hashed names of the manifest and WhiteNoise serves them.
STATIC_ROOT = os.path.join(tempfile.gettempdir(), f"appraisals-test-static-{os.getpid()}")  # type: ignore[assignment]  # a str serves as well as a Path

# Kept files (completed records' PDFs) in a temporary folder of this run.
MEDIA_ROOT = os.path.join(tempfile.gettempdir(), f"appraisals-test-media-{os.getpid()}")  # type: ignore[assignment]  # a str serves as well as a Path

# The suite signs people in with `force_login`, without a second factor (the demo's hr has one); the
# tests of the second factor (tests/test_second_factor.py) turn the requirement on.
HR_REQUIRES_SECOND_FACTOR = False
