"""Who is an HR admin: membership of one group is the whole grant (the app asks `is_hr_admin`, not
Django permissions). Views ask these helpers; they never decide access by hiding links."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser, Group, User
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponseBase

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


def is_hr_admin(user: Person) -> bool:
    if not user.is_authenticated:
        return False
    if (flag := getattr(user, HR_ADMIN_FLAG, None)) is not None:
        return bool(flag)
    return remembered(("is_hr_admin", user.pk), lambda: user.groups.filter(name=HR_ADMIN_GROUP).exists())


def hr_admin_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Anonymous users go to the login page; logged-in users who are not HR admins get 403."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
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
