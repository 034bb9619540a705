"""Logs: one line per event on standard error, naming the request's path and user, never what was typed.

The views here are the site's own URLs plus one that fails, as a bug in a view would.
"""

import pytest
from django.test import Client
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns

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
