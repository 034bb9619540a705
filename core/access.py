"""Who is an HR admin: membership of one group is the whole grant (the app asks `is_hr_admin`, not
Django permissions). Views ask these helpers; they never decide access by hiding links.

With settings.HR_REQUIRES_SECOND_FACTOR on, the grant also needs a second factor: a signed-in HR admin
whose session has not been verified with one (`user.is_verified()`, set by django-otp's middleware) has
only the rights of an ordinary member of staff, and HR pages send them to verify (`staff.second_factor`).
A user read outside a request (a command's, a service's caller) carries no session, so the check is
the group alone."""

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser, Group, User
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import resolve_url

from core.requests import remembered

HR_ADMIN_GROUP = "HR admin"

# Whoever asks: a login (the project's user model is Django's `User`) or no one (`request.user` when logged out).
# Every access and permission check takes one; a service that records who did something takes a `User`.
Person = User | AnonymousUser


# The signed-in user is read with this flag (`hr_admin_flag`, in the same query as the user, by the
# authentication backend), so that a page does not ask the database again.
HR_ADMIN_FLAG = "hr_admin_flag"


def hr_admin_flag() -> Exists:
    """An annotation of users: whether the user is in the HR admin group."""
    return Exists(User.groups.through.objects.filter(user_id=OuterRef("pk"), group__name=HR_ADMIN_GROUP))


# Where an HR admin without a verified second factor is sent by HR pages (with ?next= back): the page
# verifies, or enrols someone who has no device yet.
SECOND_FACTOR_URL = "second_factor_verify"


def in_hr_admin_group(user: Person) -> bool:
    """Whether the user is in the HR admin group, verified or not."""
    if not user.is_authenticated:
        return False
    if (flag := getattr(user, HR_ADMIN_FLAG, None)) is not None:
        return bool(flag)
    return remembered(("is_hr_admin", user.pk), lambda: user.groups.filter(name=HR_ADMIN_GROUP).exists())


def lacks_second_factor(user: Person) -> bool:
    """Whether the session must verify a second factor before the user's HR admin rights count."""
    if not getattr(settings, "HR_REQUIRES_SECOND_FACTOR", False):
        return False
    is_verified = getattr(user, "is_verified", None)  # installed by django-otp's middleware on request users
    return callable(is_verified) and not is_verified()


def is_hr_admin(user: Person) -> bool:
    return in_hr_admin_group(user) and not lacks_second_factor(user)


def is_unverified_hr_admin(user: Person) -> bool:
    """An HR admin whose session has only staff rights until a second factor is verified."""
    return in_hr_admin_group(user) and lacks_second_factor(user)


def hr_admin_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Anonymous users go to the login page; HR admins without a verified second factor go to verify it
    (and come back); other logged-in users who are not HR admins get 403."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if is_unverified_hr_admin(request.user):
            return HttpResponseRedirect(
                f"{resolve_url(SECOND_FACTOR_URL)}?{urlencode({'next': request.get_full_path()})}"
            )
        if not is_hr_admin(request.user):
            raise PermissionDenied("Only HR admins can do this.")
        return view(request, *args, **kwargs)

    return wrapper


def ensure_hr_admin_group() -> Group:
    """The HR admin group."""
    group, _ = Group.objects.get_or_create(name=HR_ADMIN_GROUP)
    return group


def make_hr_admin(user: User) -> None:
    user.groups.add(ensure_hr_admin_group())
