"""Limits on a login session, and the Content-Security-Policy of every page.

A session ends after SESSION_IDLE_TIMEOUT seconds without a request and, however active,
SESSION_ABSOLUTE_TIMEOUT seconds after the login: a shared office computer left signed in does not
stay open to the next person for long. The user is then signed out and the request carries on as
anonymous, so a page sends them to log in and a form that keeps unsaved input (appraisal/drafts.py)
keeps what they typed through the login.

Both times are kept in the session itself (seconds since the epoch), so every server process sees
them. "Last seen" is written only when it is more than SEEN_RESOLUTION seconds old: an ordinary
request reads the session, as it always did, but does not write it.
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY as USER_SESSION_KEY, logout
from django.http import HttpResponse
from django.template.loader import render_to_string

STARTED_KEY = "session_started"
SEEN_KEY = "session_seen"
# Activity is recorded to the minute: a session is written at most once a minute, and so ends
# after between 29 and 30 minutes without a request.
SEEN_RESOLUTION = 60

IDLE = "idle"
ABSOLUTE = "absolute"
SIGNED_OUT_MESSAGES = {
    IDLE: "You were signed out after {minutes} minutes without activity. Log in again to carry on.",
    ABSOLUTE: "You were signed out {hours} hours after you logged in. Log in again to carry on.",
}


ENDED_MESSAGE = "You were signed out: your access to this system has ended. If that is wrong, contact HR."


def start_session_clock(sender, request, user, **kwargs):
    """user_logged_in receiver: the session's limits count from the login."""
    now = int(time.time())
    request.session[STARTED_KEY] = now
    request.session[SEEN_KEY] = now


def expiry(session, now: int) -> str | None:
    """IDLE or ABSOLUTE if this signed-in session has run out, else None (refreshing "last seen")."""
    if USER_SESSION_KEY not in session:
        return None
    started, seen = session.get(STARTED_KEY), session.get(SEEN_KEY)
    if started is None or seen is None:  # signed in before these limits applied: they start now
        session[STARTED_KEY] = started or now
        session[SEEN_KEY] = now
        return None
    if now - seen > settings.SESSION_IDLE_TIMEOUT:
        return IDLE
    if now - started > settings.SESSION_ABSOLUTE_TIMEOUT:
        return ABSOLUTE
    if now - seen > SEEN_RESOLUTION:
        session[SEEN_KEY] = now
    return None


def signed_out_message(reason: str) -> str:
    return SIGNED_OUT_MESSAGES[reason].format(
        minutes=settings.SESSION_IDLE_TIMEOUT // 60, hours=settings.SESSION_ABSOLUTE_TIMEOUT // 3600
    )


def session_limits(get_response):
    """Middleware (after AuthenticationMiddleware and MessageMiddleware): sign out a session that ran out.

    The login page then says why, through the messages framework.
    """

    def middleware(request):
        if USER_SESSION_KEY in request.session and not request.user.is_authenticated:
            # Signed in, but the login no longer works: the person has left (staff/auth.py).
            logout(request)
            messages.info(request, ENDED_MESSAGE)
            return get_response(request)
        reason = expiry(request.session, int(time.time()))
        if reason:
            logout(request)
            messages.info(request, signed_out_message(reason))
        return get_response(request)

    return middleware


def content_security_policy(get_response):
    """Middleware: every response carries settings.CONTENT_SECURITY_POLICY.

    Pages load scripts, styles, fonts and images from this site only, with no inline script or
    style, so injected markup cannot run or restyle anything. With DEBUG on, Django's own error
    pages (which are styled inline) are left without the policy so that they stay readable.
    """

    def middleware(request):
        response = get_response(request)
        if not (settings.DEBUG and response.status_code >= 400):
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response

    return middleware


def limit_request_body(get_response):
    """Middleware (first): a request whose body is larger than settings.MAX_REQUEST_BYTES is refused
    with 413 before anything reads it, whoever sends it and whatever it holds (form fields or files);
    a query string holding a NUL is refused with 400.

    Django's own limit (DATA_UPLOAD_MAX_MEMORY_SIZE) covers form fields only, and only when they are
    read; this one covers uploads too, and every address. Forms refuse a NUL in what they read, but
    a view may filter on a query value directly, and PostgreSQL refuses a NUL in any string.
    """

    def middleware(request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BYTES:
            limit = settings.MAX_REQUEST_BYTES / 1_000_000
            page = render_to_string("413.html", {"size": length / 1_000_000, "limit": limit})
            return HttpResponse(page, status=413)
        if any("\x00" in key or "\x00" in value for key, values in request.GET.lists() for value in values):
            return HttpResponse(render_to_string("400_query.html"), status=400)
        return get_response(request)

    return middleware
