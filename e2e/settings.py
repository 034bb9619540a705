"""Settings of the server the browser tests drive: the real settings, served over plain HTTP on
127.0.0.1 with DEBUG off (so the pages carry the production Content-Security-Policy)."""

import os

os.environ.setdefault("SECRET_KEY", "browser-tests-only-not-a-secret")

from config.settings import *  # noqa: F403

# A local server speaks plain HTTP: no redirect to https://, cookies not HTTPS-only, and the login
# throttle counts by the connection's own address (there is no proxy to set X-Forwarded-For).
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
CLIENT_IP_HEADER = None
# e2e/conftest.py collects the static files into a folder of its run (STATIC_ROOT in the
# environment), as production collects them before it starts; WhiteNoise serves them from there.
# Emails go into the outbox, as in production (a journey reads a password reset link there), and the
# worker delivers them nowhere: the workflow's notifications are tested by the unit suite.
OUTBOX_DELIVERY_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# As in production, an HR admin's rights need a second factor: e2e/conftest.py's login gives the demo
# hr's code, from the secret seed_demo prints.
HR_REQUIRES_SECOND_FACTOR = True
