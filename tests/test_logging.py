"""Logs: one line per event on standard error, naming the request's path and user, never what was typed.

The views here are the site's own URLs plus one that fails, as a bug in a view would.
"""

import logging
import os
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import Client
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns
from core.logging import EXCEPTION_MESSAGE_LIMIT, MESSAGE_LIMIT

SECRET_PASSWORD = "s3cret-Pa55word-typed"
RECORD_TEXT = "Notes about a person's health"


class ReviewNotSaved(Exception):
    pass


def failing_view(request):
    raise ReviewNotSaved("the review could not be saved")


urlpatterns = [path("failing/", failing_view), *site_urlpatterns]


@pytest.mark.urls(__name__)
def test_an_unhandled_exception_is_one_line_on_stderr_with_path_user_and_traceback_but_nothing_typed(capsys, staff):
    browser = Client(raise_request_exception=False)
    browser.force_login(staff)
    capsys.readouterr()

    response = browser.post("/failing/", {"password": SECRET_PASSWORD, "notes": RECORD_TEXT})

    assert response.status_code == 500
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    line = lines[0]
    assert " ERROR django.request " in line
    assert "path=/failing/" in line and f"user={staff.pk} " in line
    assert "Traceback (most recent call last):" in line and "in failing_view" in line
    assert "ReviewNotSaved: the review could not be saved" in line
    assert SECRET_PASSWORD not in line and RECORD_TEXT not in line


def view_that_warns(request):
    logging.getLogger("appraisal.views").warning("Something to look at")
    return HttpResponse("done")


def view_with_chained_error(request):
    # As a database error reads: the values it is about on a later line.
    message = f"duplicate key value violates unique constraint\nDETAIL: Key (notes)=({RECORD_TEXT})"
    try:
        raise LookupError("the first thing that went wrong " + "x" * 500)
    except LookupError as error:
        raise ReviewNotSaved(message) from error


urlpatterns += [path("warns/", view_that_warns), path("chained/", view_with_chained_error)]


def logged(capsys) -> list[str]:
    return capsys.readouterr().err.splitlines()


@pytest.mark.urls(__name__)
def test_a_record_logged_by_the_app_during_a_request_names_its_path_and_user(capsys, staff, client):
    client.force_login(staff)
    capsys.readouterr()
    client.get("/warns/")
    [line] = logged(capsys)
    assert re.fullmatch(rf"\S+ WARNING appraisal\.views path=/warns/ user={staff.pk} Something to look at", line)


def test_a_record_logged_outside_a_request_has_no_path_or_user(capsys):
    logging.getLogger("appraisal.services").error("Nothing to do with a request")
    [line] = logged(capsys)
    assert line.endswith(" ERROR appraisal.services path=- user=- Nothing to do with a request")


@pytest.mark.urls(__name__)
def test_of_an_exception_s_message_only_the_first_line_is_logged_and_shortened_with_the_chain(capsys, staff):
    browser = Client(raise_request_exception=False)
    browser.force_login(staff)
    capsys.readouterr()
    browser.get("/chained/")
    [line] = logged(capsys)
    assert "\\nLookupError: the first thing that went wrong " + "x" * (EXCEPTION_MESSAGE_LIMIT - 33) + "…\\n" in line
    assert "The above exception was the direct cause of the following exception:" in line
    assert "tests.test_logging.ReviewNotSaved: duplicate key value violates unique constraint\\n" not in line
    assert line.endswith("tests.test_logging.ReviewNotSaved: duplicate key value violates unique constraint")
    assert RECORD_TEXT not in line and "DETAIL" not in line


def test_long_messages_are_shortened(capsys):
    logging.getLogger("appraisal").warning("y" * 5000)
    [line] = logged(capsys)
    assert line.endswith("y" * (MESSAGE_LIMIT - 1) + "…")


def test_a_typed_path_with_line_breaks_cannot_forge_a_second_line(capsys, staff, client):
    client.force_login(staff)
    capsys.readouterr()
    client.get("/no-such-page%0A2026-01-01T00:00:00+00:00 ERROR django.request path=/ user=1 Forged%0D/")
    [line] = logged(capsys)
    assert " WARNING django.request path=/no-such-page\\n2026" in line and "Forged\\r/" in line


def test_a_404_is_a_warning_for_someone_logged_in_and_info_for_an_anonymous_visitor(capsys, staff, client):
    capsys.readouterr()
    assert client.get("/wp-login.php").status_code == 404
    assert logged(capsys) == []  # at the default level, WARNING
    client.force_login(staff)
    assert client.get("/appraisals/999999/").status_code == 404
    [line] = logged(capsys)
    assert f" WARNING django.request path=/appraisals/999999/ user={staff.pk} Not Found: /appraisals/999999/" in line


def test_an_anonymous_404_is_logged_at_info_when_log_level_asks_for_it():
    [line] = run_with_log_level("INFO", "Client().get('/wp-login.php', secure=True)")
    assert " INFO django.request path=/wp-login.php user=- Not Found: /wp-login.php" in line


def test_log_level_error_leaves_out_warnings():
    script = "logging.getLogger('django.request').warning('a warning'); logging.getLogger('roles').error('an error')"
    assert [line.split(" ", 1)[1] for line in run_with_log_level("error", script)] == [
        "ERROR roles path=- user=- an error"
    ]


def test_sql_is_never_logged_even_at_debug(tmp_path):
    script = "from django.db import connection; connection.cursor().execute('SELECT %s', ['a stored value'])"
    lines = run_with_log_level("DEBUG", script, DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    assert not [line for line in lines if "django.db.backends" in line or "a stored value" in line]


def test_a_log_level_that_is_not_one_is_refused_at_start_up():
    result = run_with_environment(LOG_LEVEL="loud", script="pass")
    assert result.returncode != 0
    assert "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL; got 'loud'." in result.stderr


def run_with_environment(script: str, **environment) -> subprocess.CompletedProcess:
    """Run `script` in a new process with the real settings (not the suite's) and this environment."""
    code = f"import logging, django; django.setup(); from django.test import Client; {script}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "x" * 50,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "testserver",
        "STATIC_ROOT": str(settings.STATIC_ROOT),
    }  # the static files this run collected, for pages that link them
    env.pop("LOG_LEVEL", None)
    env.update(environment)
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60
    )


def run_with_log_level(level: str, script: str, **environment) -> list[str]:
    result = run_with_environment(script, LOG_LEVEL=level, **environment)
    assert result.returncode == 0, result.stderr
    return result.stderr.splitlines()
