"""When the database is busy: say so, keep what was typed, and ask to try again; never a 500.

Every write is one transaction, so a write that could not get its lock (SQLite's write lock held by
a long import, a PostgreSQL row lock held past `lock_timeout`, a deadlock broken by PostgreSQL)
changed nothing. Rather than a server error, the person gets a 503 page saying nothing was saved,
with every field they had sent held in a form that sends it again to the same address, so a second
press of the button does what the first could not. Passwords are never written back into a page:
a form that held one asks to go back instead.

Two ways in, because the failure can happen in a view (`BusyDatabaseMiddleware`, which also works
with DEBUG on) or in a middleware such as the one that saves the session (`server_error`, the
project's handler500, which sees the exception being handled).
"""

import logging
import sys

from django.db import OperationalError
from django.http import HttpResponse, HttpResponseServerError
from django.middleware.csrf import get_token
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
# PostgreSQL's codes for a lock not granted in time, a deadlock, a serialization failure and a
# statement stopped by its timeout.
BUSY_PGCODES = {"55P03", "40P01", "40001", "57014"}
BUSY_SQLITE_MESSAGES = ("database is locked", "database table is locked", "database is busy")


def is_busy(error: BaseException | None) -> bool:
    """Whether `error` says the database could not do the work now, rather than that it is wrong."""
    if not isinstance(error, OperationalError):
        return False
    cause = error.__cause__
    if getattr(cause, "pgcode", None) in BUSY_PGCODES:
        return True
    return str(error).lower().startswith(BUSY_SQLITE_MESSAGES)


def busy_response(request) -> HttpResponse:
    fields: list[tuple[str, str]] = []
    holds_password = False
    if request.method == "POST":
        for name, values in request.POST.lists():
            if name == "csrfmiddlewaretoken":
                continue
            if "password" in name.lower():
                holds_password = True
                continue
            fields.extend((name, value) for value in values)
    context = {
        "resend": request.method == "POST" and not holds_password,
        "fields": fields,
        "had_files": bool(request.FILES) if request.method == "POST" else False,
        "action": request.get_full_path(),
        "csrf_token": get_token(request),
        "retry_after": RETRY_AFTER_SECONDS,
    }
    response = HttpResponse(render_to_string("503.html", context), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class BusyDatabaseMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_busy(exception):
            logger.warning("The database was busy: %s %s was not done (%s)", request.method, request.path, exception)
            return busy_response(request)
        return None


def server_error(request):
    """handler500: the busy page for a busy database, else the ordinary 500 page."""
    if is_busy(sys.exc_info()[1]):
        return busy_response(request)
    return HttpResponseServerError(render_to_string("500.html"))
