"""No lost work: what someone typed into a long form survives an expired session or a stale page.

Two things can stop a save from reaching its view:

- the session expired, so the user is anonymous when they press Save;
- the page's CSRF token is stale (the user logged out and in again in another tab, say), so
  Django refuses the request before any view runs.

In both cases the submitted fields are kept, under the form's path, for the person the form was
shown to, and the user is sent back to the form (through the login page if need be). The form then
shows what they typed, *not yet saved*, with a note saying so: they check it and press Save again.
Nothing is applied without that second, valid request, so input that a CSRF check refused is never
saved on its own. Saving still goes through the revision check, so typing kept this way cannot
silently overwrite a newer save.

What is kept, for whom, and for how long:

- **Only for the person the form was shown to.** The page carries a signed field, `kept_for`,
  naming that person and the form's address (`form_token`); input arriving without it, or with
  someone else's, or for another address, is not kept. It is given back only to that person, signed
  in, on that form, which checks their access again as it always does.
- **Only from this site's own pages.** The request's Origin (or, without one, its Referer) must be
  this site: another site can make a browser send a form here, but not with this site's origin.
- **Within bounds.** At most MAX_KEPT_BYTES of one form (larger input is not kept), one kept form
  per person and address, at most MAX_KEPT_FORMS per person, for KEEP_FOR. An anonymous request
  writes no session: kept input waits in the database (`KeptInput`) for the person's next login,
  and `manage.py clear_expired` removes what has expired.
"""

import datetime
import json
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponseBase, HttpResponseRedirect, QueryDict
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.views.csrf import csrf_failure as django_csrf_failure

from appraisal.models import KeptInput
from staff.auth import StaffBackend

KEPT_FOR_FIELD = "kept_for"
KEPT_FOR_SALT = "appraisal.drafts.kept_for"
SESSION_FLAG = "has_kept_input"  # set at login when something is kept: pages read the table only then
KEEP_FOR = datetime.timedelta(days=3)
MAX_KEPT_BYTES = 512_000
MAX_KEPT_FIELDS = 5000
MAX_KEPT_FORMS = 20
NOT_KEPT_FIELDS = {"csrfmiddlewaretoken", KEPT_FOR_FIELD}
KEPT_MESSAGE = (
    "You were signed out before your changes were saved. They are below, not yet saved: check them and press Save."
)
STALE_PAGE_MESSAGE = (
    "This page had expired before your changes were saved. They are below, not yet saved: check them and press Save."
)


def form_token(request) -> str:
    """The value of the form's `kept_for` field: who the form at this address was shown to, signed."""
    return signing.dumps([request.user.pk, request.path], salt=KEPT_FOR_SALT)


def _shown_to(request) -> int | None:
    """The id of the person the POSTed form was shown to, if its `kept_for` field is genuine and for this address."""
    try:
        user_id, path = signing.loads(request.POST.get(KEPT_FOR_FIELD, ""), salt=KEPT_FOR_SALT, max_age=KEEP_FOR)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return user_id if path == request.path and isinstance(user_id, int) else None


def from_this_site(request) -> bool:
    """Whether the request was sent from one of this site's pages (its Origin, else its Referer)."""
    origin = request.META.get("HTTP_ORIGIN")
    if origin is None:
        referer = urlsplit(request.META.get("HTTP_REFERER", ""))
        if not referer.scheme or not referer.netloc:
            return False
        origin = f"{referer.scheme}://{referer.netloc}"
    return origin == f"{request.scheme}://{request.get_host()}" or origin in settings.CSRF_TRUSTED_ORIGINS


def keep(request, reason: str) -> bool:
    """Keep the POSTed fields for the person the form was shown to; False if they may not be kept."""
    user_id = _shown_to(request)
    if user_id is None or not from_this_site(request):
        return False
    if request.user.is_authenticated and request.user.pk != user_id:
        return False
    # A NUL is never part of what someone typed (forms refuse it) and PostgreSQL cannot keep one.
    data = {
        key.replace("\x00", ""): [value.replace("\x00", "") for value in request.POST.getlist(key)]
        for key in list(request.POST)[:MAX_KEPT_FIELDS]
        if key not in NOT_KEPT_FIELDS
    }
    if len(json.dumps(data)) > MAX_KEPT_BYTES:
        return False
    now = timezone.now()
    with transaction.atomic():
        person = get_user_model().objects.filter(pk=user_id).first()
        if person is None or not StaffBackend().user_can_authenticate(person):
            return False  # nobody who can sign in any more (a leaver, say) to give it back to
        KeptInput.objects.update_or_create(
            user_id=user_id, path=request.path, defaults={"data": data, "reason": reason, "kept_at": now}
        )
        beyond = list(
            KeptInput.objects.filter(user_id=user_id).order_by("-kept_at").values_list("pk", flat=True)[MAX_KEPT_FORMS:]
        )
        KeptInput.objects.filter(user_id=user_id).filter(Q(pk__in=beyond) | Q(kept_at__lt=now - KEEP_FOR)).delete()
    if request.user.is_authenticated:
        request.session[SESSION_FLAG] = True
    return True


def take(request):
    """The input kept for this user and path, as a QueryDict-like dict of lists, or None; it is given back only once."""
    if not request.session.get(SESSION_FLAG):
        return None
    kept = KeptInput.objects.filter(user=request.user, kept_at__gte=timezone.now() - KEEP_FOR)
    entry = kept.filter(path=request.path).first()
    if entry is not None:
        entry.delete()
    if not kept.exists():
        del request.session[SESSION_FLAG]
    if entry is None:
        return None
    data = QueryDict(mutable=True)
    for key, values in entry.data.items():
        data.setlist(key, values)
    messages.warning(request, STALE_PAGE_MESSAGE if entry.reason == KeptInput.Reason.STALE_TOKEN else KEPT_MESSAGE)
    return data


def note_kept_input(sender, request, user, **kwargs):
    """user_logged_in receiver: if something was kept for this person, their forms look for it."""
    if KeptInput.objects.filter(user=user, kept_at__gte=timezone.now() - KEEP_FOR).exists():
        request.session[SESSION_FLAG] = True


def clear_expired() -> int:
    """Remove kept input older than KEEP_FOR; returns how many forms were removed."""
    deleted, _ = KeptInput.objects.filter(kept_at__lt=timezone.now() - KEEP_FOR).delete()
    return deleted


# The views marked by `keeps_unsaved_input`, as the URLs name them: `csrf_failure` looks up a refused POST's view.
VIEWS_KEEPING_INPUT: set[Callable[..., HttpResponseBase]] = set()


def keeps_unsaved_input(view):
    """For a form view: an anonymous POST (expired session) is kept for its person, and the user sent to log in.

    The view itself must require login for GET; it reads kept input with `take(request)` and puts
    `form_token(request)` in its form as the `kept_for` field. The outermost decorator: the URL names what it returns.
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method == "POST" and not request.user.is_authenticated:
            keep(request, KeptInput.Reason.SIGNED_OUT)
            return redirect_to_login(request.path)
        return view(request, *args, **kwargs)

    VIEWS_KEEPING_INPUT.add(wrapper)
    return wrapper


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: for a form that keeps unsaved input, keep it and show the form again."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        match = None
    if (
        request.method == "POST"
        and match is not None
        and match.func in VIEWS_KEEPING_INPUT
        and keep(request, KeptInput.Reason.STALE_TOKEN)
    ):
        if not request.user.is_authenticated:
            return redirect_to_login(request.path)
        return HttpResponseRedirect(request.path)
    return django_csrf_failure(request, reason=reason)
