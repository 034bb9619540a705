"""Logs on standard error, one line per event, naming the request's path and user.

Whatever runs the app (systemd, a container) collects standard error and splits it at line breaks,
so every event is written as exactly one line: line breaks and other control characters inside it,
a traceback's included, are escaped (``\\n``). A line reads

    2026-11-22T09:17:03.123+00:00 ERROR django.request path=/appraisals/7/ user=12 Internal Server Error: /appraisals/7/ | Traceback (most recent call last):\\n  File ...\\nValueError: ...

with ``-`` for the path and user outside a request or for an anonymous visitor. It never holds what
was typed or stored: no request body, form fields or query string, no local variables; of each
exception's message only the first line, cut at EXCEPTION_MESSAGE_LIMIT characters (a database error
gives the offending values on later lines).

`request_context` (middleware) makes the current request known to every record logged while it is
handled; `RequestFilter` adds its path and user id to the record; `OneLineFormatter` writes the line.
"""  # noqa: E501 - the example is one log line, as written

import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import datetime

from django.http import HttpRequest

EXCEPTION_MESSAGE_LIMIT = 200
MESSAGE_LIMIT = 1000
PATH_LIMIT = 200

_current_request: ContextVar[HttpRequest | None] = ContextVar("current_request", default=None)
# Set while the user of a request is looked up for a record, so that a record logged during that
# lookup does not start another.
_finding_user: ContextVar[bool] = ContextVar("finding_user", default=False)

# Backslashes first, so that an escaped line break can be told from the two characters "\n" typed.
_ESCAPES = {ord("\\"): "\\\\", ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}
_ESCAPES.update({code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)] if code not in _ESCAPES})
# Unicode's own line and paragraph separators, which some readers break lines at.
_ESCAPES.update({code: f"\\u{code:04x}" for code in (0x2028, 0x2029)})


def request_context(get_response):
    """Middleware: records logged while a request is handled carry its path and user (RequestFilter)."""

    def middleware(request):
        token = _current_request.set(request)
        try:
            return get_response(request)
        finally:
            _current_request.reset(token)

    return middleware


def one_line(text: str) -> str:
    return text.translate(_ESCAPES)


def shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _request_of(record: logging.LogRecord) -> HttpRequest | None:
    # django.request's records carry the request itself; django.server's carry a socket there.
    request = getattr(record, "request", None)
    return request if isinstance(request, HttpRequest) else _current_request.get()


def _user_id(request: HttpRequest) -> str:
    """The logged-in user's id, "-" for an anonymous visitor, "?" if it cannot be found out."""
    if _finding_user.get():
        return "?"
    token = _finding_user.set(True)
    try:
        user = getattr(request, "user", None)
        return str(user.pk) if user is not None and user.is_authenticated else "-"
    except Exception:  # noqa: BLE001 - e.g. the database is down: the event is still logged
        return "?"
    finally:
        _finding_user.reset(token)


def annotate(record: logging.LogRecord) -> logging.LogRecord:
    """Give the record `request_path` and `user_id` (once)."""
    if not hasattr(record, "request_path"):
        request = _request_of(record)
        record.request_path = shortened(request.path, PATH_LIMIT) if request is not None else "-"
        record.user_id = _user_id(request) if request is not None else "-"
    return record


class RequestFilter(logging.Filter):
    """Adds the path and user id of the request being handled, if any, to every record."""

    def filter(self, record):
        annotate(record)
        return True


class AnonymousNotFoundAsInfo(logging.Filter):
    """For django.request: a 404 for an anonymous visitor is logged at INFO, not WARNING.

    Scanners ask every public site for hundreds of paths that do not exist, and every page here but
    the login needs a login, so an anonymous 404 is almost always one of those; the TLS proxy's
    access log has them all anyway. A 404 for someone logged in stays a warning: it is either a
    broken link in the app or someone asking for records outside what they may see.
    """

    def filter(self, record):
        if getattr(record, "status_code", None) == 404 and record.levelno == logging.WARNING:
            annotate(record)
            if record.user_id == "-":
                record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return True


class OneLineFormatter(logging.Formatter):
    """time LEVEL logger path=... user=... message[ | traceback], on one line (see the module's docstring)."""

    def format(self, record):
        annotate(record)
        time = datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")
        line = f"{time} {record.levelname} {record.name} path={record.request_path} user={record.user_id} "
        line += shortened(record.getMessage(), MESSAGE_LIMIT)
        if record.exc_info and record.exc_info[1] is not None:
            line += " | " + exception_text(record.exc_info[1])
        if record.stack_info:
            line += " | " + record.stack_info
        return one_line(line)


_CAUSE = "\n\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\n\nDuring handling of the above exception, another exception occurred:\n\n"


def exception_text(error: BaseException | None) -> str:
    """The traceback as Python prints it (chained exceptions too), with each message shortened."""
    chain: list[tuple[BaseException, str]] = []
    seen = set()
    link = ""
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        chain.append((error, link))
        if error.__cause__ is not None:
            error, link = error.__cause__, _CAUSE
        elif error.__context__ is not None and not error.__suppress_context__:
            error, link = error.__context__, _CONTEXT
        else:
            error = None
    text = ""
    for error, link in reversed(chain):
        frames = "".join(traceback.format_list(traceback.extract_tb(error.__traceback__)))
        text += f"Traceback (most recent call last):\n{frames}{_exception_line(error)}{link}"
    return text


def _exception_line(error: BaseException) -> str:
    kind = type(error)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    try:
        message = str(error)
    except Exception:  # noqa: BLE001
        message = "<message not readable>"
    message = shortened(message.split("\n", 1)[0].rstrip(), EXCEPTION_MESSAGE_LIMIT)
    return f"{name}: {message}" if message else name


class StandardErrorHandler(logging.StreamHandler):
    """Writes to sys.stderr as it is when each event is logged, not as it was at start-up (so a
    process or test that redirects standard error gets the lines)."""

    def __init__(self, level=logging.NOTSET):
        logging.Handler.__init__(self, level)

    @property
    def stream(self):
        return sys.stderr
