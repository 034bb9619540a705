"""No lost work: what someone typed into a long form survives an expired session or a stale page.

Two things can stop a save from reaching its view:

- the session expired, so the user is anonymous when they press Save;
- the page's CSRF token is stale (the user logged out and in again in another tab, say), so
  Django refuses the request before any view runs.

In both cases the submitted fields are kept in the browser's session, under the form's path, and
the user is sent back to the form (through the login page if need be). The form then shows what
they typed, *not yet saved*, with a note saying so: they check it and press Save again. Nothing is
applied without that second, valid request, so input that a CSRF check refused is never saved on
its own. Saving still goes through the revision check, so typing kept this way cannot silently
overwrite a newer save.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect, QueryDict
from django.urls import Resolver404, resolve
from django.views.csrf import csrf_failure as django_csrf_failure

SESSION_KEY = "unsaved_input"
KEPT_MESSAGE = (
    "You were signed out before your changes were saved. They are below, not yet saved: check them and press Save."
)
STALE_TOKEN_MESSAGE = "This page had expired before your changes were saved. They are below, not yet saved: check them and press Save."
MAX_KEPT_FIELDS = 5000


def keep(request, reason: str) -> None:
    """Keep the POSTed fields (all but the CSRF token) for `request.path`."""
    data = {key: request.POST.getlist(key) for key in list(request.POST)[:MAX_KEPT_FIELDS] if key != "csrfmiddlewaretoken"}
    kept = request.session.get(SESSION_KEY, {})
    kept[request.path] = {"data": data, "reason": reason}
    request.session[SESSION_KEY] = kept


def take(request):
    """The input kept for this path, as a QueryDict-like dict of lists, or None; it is kept only once."""
    kept = request.session.get(SESSION_KEY) or {}
    entry = kept.pop(request.path, None)
    if entry is None:
        return None
    request.session[SESSION_KEY] = kept
    data = QueryDict(mutable=True)
    for key, values in entry["data"].items():
        data.setlist(key, values)
    messages.warning(request, STALE_TOKEN_MESSAGE if entry["reason"] == "stale token" else KEPT_MESSAGE)
    return data


def keeps_unsaved_input(view):
    """For a form view: an anonymous POST (expired session) is kept and the user sent to log in.

    The view itself must require login for GET; it reads kept input with `take(request)`.
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method == "POST" and not request.user.is_authenticated:
            keep(request, "signed out")
            return redirect_to_login(request.path)
        return view(request, *args, **kwargs)

    wrapper.keeps_unsaved_input = True
    return wrapper


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: for a form that keeps unsaved input, keep it and show the form again."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        match = None
    if request.method == "POST" and match is not None and getattr(match.func, "keeps_unsaved_input", False):
        keep(request, "stale token")
        if not request.user.is_authenticated:
            return redirect_to_login(request.path)
        return HttpResponseRedirect(request.path)
    return django_csrf_failure(request, reason=reason)
