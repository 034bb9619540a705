"""Production hardening: session limits, login throttling, password rules, the Content-Security-Policy
and the HTTPS settings."""

import json
import os
import re
import secrets
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.hashers import get_hasher
from django.contrib.auth.password_validation import (
    MinimumLengthValidator,
    get_default_password_validators,
    validate_password,
)
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from appraisal.models import Appraisal
from core.security import SEEN_KEY, STARTED_KEY
from staff.login import client_ip
from staff.models import FailedLogin
from tests.appraisals import complete, open_appraisal, reload
from tests.conftest import PASSWORD
from tests.test_appraisal_pages import SITE, form_data, page_field, review_url

MINUTE = 60
HOUR = 60 * MINUTE
IDLE_MESSAGE = "You were signed out after 30 minutes without activity"
ABSOLUTE_MESSAGE = "You were signed out 12 hours after you logged in"
THROTTLED = "Too many failed attempts. Try again in 15 minutes."


def age_session(client, *, idle: int, since_login: int | None = None) -> None:
    """Move the session's clock back: last seen `idle` seconds ago, logged in `since_login` seconds ago."""
    session = client.session
    now = int(time.time())
    session[SEEN_KEY] = now - idle
    session[STARTED_KEY] = now - (idle if since_login is None else since_login)
    session.save()


def signed_in(client) -> bool:
    return client.get(reverse("home")).status_code == 200


# Sessions ------------------------------------------------------------------------------------------


def test_the_session_limits_are_30_minutes_idle_and_12_hours_in_all():
    assert settings.SESSION_IDLE_TIMEOUT == 30 * MINUTE
    assert settings.SESSION_ABSOLUTE_TIMEOUT == 12 * HOUR
    assert settings.SESSION_COOKIE_AGE == 12 * HOUR
    assert settings.SESSION_COOKIE_HTTPONLY
    names = list(settings.MIDDLEWARE)
    assert names.index("core.security.session_limits") > names.index(
        "django.contrib.auth.middleware.AuthenticationMiddleware"
    )


def test_logging_in_through_the_form_starts_the_session_clock(client, staff):
    before = int(time.time())
    response = client.post(reverse("login"), {"username": "staff", "password": PASSWORD})
    assert response.status_code == 302
    session = client.session
    assert before <= session[STARTED_KEY] == session[SEEN_KEY] <= int(time.time())
    assert int(response.cookies[settings.SESSION_COOKIE_NAME]["max-age"]) == 12 * HOUR


def test_a_session_idle_for_31_minutes_is_signed_out_and_the_login_page_says_why(client, staff):
    client.force_login(staff)
    age_session(client, idle=31 * MINUTE)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    page = client.get(response.url).content.decode()
    assert IDLE_MESSAGE in page
    assert not signed_in(client)


def test_a_session_idle_for_29_minutes_stays_signed_in_and_is_seen_again(client, staff):
    client.force_login(staff)
    age_session(client, idle=29 * MINUTE, since_login=11 * HOUR)
    started = client.session[STARTED_KEY]
    assert signed_in(client)
    session = client.session
    assert abs(session[SEEN_KEY] - time.time()) < 5  # seen now: the next 30 minutes count from here
    assert session[STARTED_KEY] == started  # the 12 hours still count from the login


def test_a_session_12_hours_old_is_signed_out_however_active(client, staff):
    client.force_login(staff)
    age_session(client, idle=10, since_login=12 * HOUR + MINUTE)
    response = client.get(reverse("appraisal_list"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert ABSOLUTE_MESSAGE in client.get(response.url).content.decode()
    assert not signed_in(client)


def test_an_ordinary_request_neither_writes_the_session_nor_adds_a_query(client, staff):
    client.force_login(staff)
    signed_in(client)
    seen = client.session[SEEN_KEY]
    with CaptureQueriesContext(connection) as captured:
        assert signed_in(client)
    assert not [
        query["sql"] for query in captured if "django_session" in query["sql"] and not query["sql"].startswith("SELECT")
    ]
    assert sum("django_session" in query["sql"] for query in captured) == 1  # the session is read once, as before
    assert client.session[SEEN_KEY] == seen


def test_a_session_from_before_the_limits_starts_its_clock_on_first_sight(client, staff):
    client.force_login(staff)
    session = client.session
    del session[STARTED_KEY], session[SEEN_KEY]
    session.save()
    assert signed_in(client)
    session = client.session
    assert abs(session[STARTED_KEY] - time.time()) < 5 and session[SEEN_KEY] == session[STARTED_KEY]


def test_a_review_saved_after_31_minutes_idle_is_not_applied_and_its_input_comes_back_after_the_login(
    hr, manager, staff
):
    appraisal = open_appraisal(hr, staff)
    browser = Client(headers={"Origin": SITE})
    assert browser.post(reverse("login"), {"username": "manager", "password": PASSWORD}).status_code == 302
    data = form_data(
        appraisal,
        evidence="Typed before a long phone call",
        objectives="Objectives typed late",
        kept_for=page_field(browser, review_url(appraisal), "kept_for"),
    )
    age_session(browser, idle=31 * MINUTE)
    response = browser.post(review_url(appraisal), data)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert reload(appraisal).revision == 1 and reload(appraisal).objectives == ""  # nothing applied
    login_page = browser.get(response.url).content.decode()
    assert IDLE_MESSAGE in login_page
    response = browser.post(response.url, {"username": "manager", "password": PASSWORD}, follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == review_url(appraisal)
    assert "You were signed out before your changes were saved" in page
    assert "Typed before a long phone call" in page and "Objectives typed late" in page
    assert reload(appraisal).objectives == ""  # still only shown, not saved
    assert browser.post(review_url(appraisal), data).status_code == 302
    assert reload(appraisal).objectives == "Objectives typed late"


# Login throttling -----------------------------------------------------------------------------------


def attempt(client, username, password, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


@pytest.fixture
def hasher_calls(monkeypatch):
    """How many times the password hasher has checked a password."""
    hasher = type(get_hasher())
    calls = []
    verify = hasher.verify

    def counting_verify(self, password, encoded):
        calls.append(password)
        return verify(self, password, encoded)

    monkeypatch.setattr(hasher, "verify", counting_verify)
    return calls


def test_five_wrong_passwords_refuse_even_the_right_one_without_checking_it(client, staff, hasher_calls):
    for _ in range(settings.LOGIN_THROTTLE_PER_USERNAME):
        response = attempt(client, "staff", "wrong-password")
        assert response.status_code == 200 and THROTTLED not in response.content.decode()
    assert len(hasher_calls) == 5 and FailedLogin.objects.filter(username="staff").count() == 5
    response = attempt(client, "staff", PASSWORD)
    assert response.status_code == 200
    assert THROTTLED in response.content.decode()
    assert len(hasher_calls) == 5  # the password was not checked
    assert FailedLogin.objects.count() == 5  # a refused attempt is not counted: the wait does not grow
    assert not signed_in(client)
    assert THROTTLED in attempt(client, "STAFF", PASSWORD).content.decode()  # the same username in capitals


def test_a_refused_login_says_why_in_an_alert_that_both_fields_point_to(client, staff):
    page = attempt(client, "staff", "wrong-password").content.decode()
    assert '<div class="alert alert-danger" role="alert" id="login-error">' in page
    assert page.count('aria-invalid="true" aria-describedby="login-error"') == 2  # username and password
    assert page.count("correct username and password") == 1  # said once, not again inside the form


def test_a_throttled_username_does_not_block_another(client, staff, manager):
    for _ in range(5):
        attempt(client, "staff", "wrong-password")
    response = attempt(client, "manager", PASSWORD)
    assert response.status_code == 302
    assert signed_in(client)


def test_after_the_window_the_username_may_log_in_again(client, staff):
    for _ in range(5):
        attempt(client, "staff", "wrong-password")
    FailedLogin.objects.update(at=F("at") - timedelta(minutes=10))
    assert "Try again in 5 minutes." in attempt(client, "staff", PASSWORD).content.decode()
    FailedLogin.objects.update(at=F("at") - timedelta(minutes=5, seconds=1))
    assert attempt(client, "staff", PASSWORD).status_code == 302
    assert signed_in(client)


def test_a_successful_login_clears_the_usernames_failures(client, staff, manager):
    for _ in range(4):
        attempt(client, "staff", "wrong-password")
    attempt(client, "manager", "wrong-password")
    assert attempt(client, "staff", PASSWORD).status_code == 302
    assert list(FailedLogin.objects.values_list("username", flat=True)) == ["manager"]
    client.logout()
    for _ in range(4):  # the count starts again from nothing
        attempt(client, "staff", "wrong-password")
    assert attempt(client, "staff", PASSWORD).status_code == 302


def test_30_failures_from_one_address_block_it_for_every_username(client, staff):
    address = {"REMOTE_ADDR": "203.0.113.7"}
    for number in range(settings.LOGIN_THROTTLE_PER_ADDRESS):
        assert THROTTLED not in attempt(client, f"guess{number}", "wrong-password", **address).content.decode()
    assert set(FailedLogin.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}
    assert THROTTLED in attempt(client, "staff", PASSWORD, **address).content.decode()
    assert attempt(client, "staff", PASSWORD, REMOTE_ADDR="198.51.100.2").status_code == 302


def test_failures_older_than_the_window_are_removed_when_another_is_recorded(client, staff):
    for _ in range(3):
        attempt(client, "staff", "wrong-password")
    FailedLogin.objects.update(at=F("at") - timedelta(minutes=16))
    attempt(client, "manager", "wrong-password")
    assert list(FailedLogin.objects.values_list("username", flat=True)) == ["manager"]


def test_an_attempt_whose_check_fails_for_another_reason_than_the_password_is_not_counted(client, staff, monkeypatch):
    def broken_backend(self, request, username=None, password=None, **kwargs):
        raise RuntimeError("the password check could not run")

    monkeypatch.setattr(ModelBackend, "authenticate", broken_backend)
    with pytest.raises(RuntimeError):
        attempt(client, "staff", PASSWORD)
    assert not FailedLogin.objects.exists()


def test_the_client_address_is_the_last_one_the_proxy_forwarded(settings):
    request = RequestFactory().post("/", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9", REMOTE_ADDR="10.0.0.1")
    settings.CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    assert client_ip(request) == "203.0.113.9"  # what the client wrote itself is to its left
    settings.CLIENT_IP_HEADER = None
    assert client_ip(request) == "10.0.0.1"
    assert client_ip(RequestFactory().post("/", REMOTE_ADDR="not an address")) is None


# Passwords ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["password", "12345678", "helenhughes1"])
def test_weak_passwords_are_refused(db, password):
    user = get_user_model()(username="helenhughes", first_name="Helen", last_name="Hughes")
    with pytest.raises(ValidationError):
        validate_password(password, user)


def test_a_long_uncommon_password_is_accepted_and_the_minimum_length_is_at_least_8(db):
    user = get_user_model()(username="helenhughes")
    validate_password(PASSWORD, user)
    lengths = [
        validator.min_length
        for validator in get_default_password_validators()
        if isinstance(validator, MinimumLengthValidator)
    ]
    assert lengths and min(lengths) >= 8
    with pytest.raises(ValidationError):
        validate_password("Zq7#vK2", user)  # seven characters


# Content-Security-Policy --------------------------------------------------------------------------


def test_every_response_carries_the_content_security_policy(client, staff):
    # A page, a redirect to log in, and a page not found.
    responses = [client.get(reverse("login")), client.get(reverse("home")), client.get("/no-such-page/")]
    assert [response.status_code for response in responses] == [200, 302, 404]
    client.force_login(staff)
    responses.append(client.get(reverse("home")))
    for response in responses:
        policy = response.headers["Content-Security-Policy"]
        directives = dict(directive.strip().split(" ", 1) for directive in policy.split(";"))
        assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
        assert directives["default-src"] == "'self'" and directives["object-src"] == "'none'"
        assert directives["frame-ancestors"] == "'none'"
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


INLINE = {
    "a style attribute": re.compile(r"""\sstyle\s*=""", re.IGNORECASE),
    "a <style> element": re.compile(r"<style[\s>]", re.IGNORECASE),
    "an inline <script>": re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.IGNORECASE),
    "an event handler attribute": re.compile(r"""\son[a-z]+\s*=\s*["']""", re.IGNORECASE),
    "a javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def inline_code(text: str) -> list[str]:
    return [name for name, pattern in INLINE.items() if pattern.search(text)]


def test_the_inline_code_check_finds_what_it_looks_for():
    assert inline_code('<th style="width: 7rem">') == ["a style attribute"]
    assert inline_code("<style>p {}</style>") == ["a <style> element"]
    assert inline_code("<script>alert(1)</script>") == ["an inline <script>"]
    assert inline_code('<button onclick="go()">') == ["an event handler attribute"]
    assert inline_code('<text font-style="italic" fill="#495057"><script src="/static/x.js"></script>') == []


def test_no_template_has_inline_styles_or_scripts():
    templates = [path for path in (settings.BASE_DIR / "templates").rglob("*") if path.is_file()]
    assert len(templates) > 20
    found = {
        str(path.relative_to(settings.BASE_DIR)): inline_code(path.read_text(encoding="utf-8")) for path in templates
    }
    assert {path: kinds for path, kinds in found.items() if kinds} == {}


def test_the_pages_render_without_inline_styles(client, hr, manager, staff, other_staff):
    complete(open_appraisal(hr, staff, year=2025), manager=manager, staff=staff)
    appraisal = open_appraisal(hr, staff)
    complete(appraisal, manager=manager, staff=staff)
    in_review = Appraisal.objects.get(cycle=appraisal.cycle, staff_member__user=other_staff)
    pages = {"login": client.get(reverse("login"))}
    client.force_login(hr)
    for name, args in [
        ("home", []),
        ("framework", []),
        ("framework_matrix", []),
        ("role_profile_list", []),
        ("role_profile_detail", ["support-worker-supported-housing"]),
        ("reports", []),
        ("cycle_list", []),
        ("staff_list", []),
        ("audit_log", []),
        ("person_history", [staff.staff_member.pk]),
        ("appraisal", [appraisal.pk]),
    ]:
        pages[name] = client.get(reverse(name, args=args))
    client.force_login(other_staff.staff_member.line_manager.user)
    pages["review"] = client.get(review_url(in_review))
    for name, response in pages.items():
        assert response.status_code == 200, name
        assert inline_code(response.content.decode()) == [], name
    # The state bar: half in review, then half completed, shifted by the states before it.
    bar = re.search(r'<svg class="state-bar".*?\n  </svg>', pages["reports"].content.decode(), re.DOTALL).group()
    assert re.findall(r'class="state-segment (state-[a-z_]+)" width="([0-9.]+)%"', bar) == [
        ("state-manager_review", "50.000"),
        ("state-completed", "50.000"),
    ]
    assert bar.count('<svg x="50.000%">') == 1 and bar.count("</svg>") == bar.count("<svg")
    assert 'class="key-band key-band-desired"' in pages["person_history"].content.decode()


# Production settings ------------------------------------------------------------------------------


def production_environment(tmp_path, **overrides) -> dict:
    """The environment the README documents for production, without anything from this test run."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "EMAIL_", "SITE_URL"))
    }
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "appraisals.example.org",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
        **overrides,
    }


def test_the_production_settings_pass_the_deployment_checks(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=production_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


SHOW_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
names = ["DEBUG", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
         "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_HTTPONLY"]
print(json.dumps({name: getattr(settings, name) for name in names}))
"""


def settings_with(tmp_path, **environment) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", SHOW_SETTINGS],
        cwd=settings.BASE_DIR,
        env=production_environment(tmp_path, **environment),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def test_production_requires_https_and_local_development_does_not(tmp_path):
    year = 365 * 24 * HOUR
    assert settings_with(tmp_path) == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": year,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SESSION_COOKIE_HTTPONLY": True,
    }
    assert settings_with(tmp_path, DEBUG="0")["SECURE_SSL_REDIRECT"] is True
    development = settings_with(tmp_path, DEBUG="1")
    assert development["DEBUG"] is True
    assert (
        not development["SECURE_SSL_REDIRECT"]
        and not development["SESSION_COOKIE_SECURE"]
        and not development["SECURE_HSTS_SECONDS"]
    )
