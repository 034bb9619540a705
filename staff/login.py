"""The login form, with repeated failures throttled.

After LOGIN_THROTTLE_PER_USERNAME failed logins for one username, or LOGIN_THROTTLE_PER_ADDRESS
from one address, within LOGIN_THROTTLE_WINDOW seconds, further attempts are refused until the
oldest of those failures leaves the window, even with the right password: guessing a password
becomes too slow to succeed. A refused attempt is not checked (the password hasher is not run) and
not counted, so the wait never grows. Failures are rows in the database (`FailedLogin`), so all
server processes share them; a successful login clears its username's failures.

Attempts sent in parallel cannot all slip under a limit together: each attempt is counted as a
failure (its row written and committed) before the rows in the window are counted, its own among
them. Of any number of parallel attempts, those counted after the limit was reached see it and are
refused, their rows removed at once, so no more than the limit are ever checked (in a burst, an
attempt may be refused that alone would have been checked; never the reverse). A checked attempt
keeps its row if the password is wrong; the right one clears the username's rows. This must run
outside a transaction (as the login view does), so that each attempt's row is there for the others
to count before it counts theirs.
"""

import ipaddress
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils import timezone

from staff import sso
from staff.auth import LEFT_ON_ATTRIBUTE, left_message
from staff.models import FailedLogin

THROTTLED_MESSAGE = "Too many failed attempts. Try again in {wait}."


def window() -> timedelta:
    return timedelta(seconds=settings.LOGIN_THROTTLE_WINDOW)


def client_ip(request) -> str | None:
    """The client's address: the last entry of settings.CLIENT_IP_HEADER (set by the TLS proxy), else
    the connection's own address; None if neither is an IP address."""
    forwarded = request.META.get(settings.CLIENT_IP_HEADER, "") if settings.CLIENT_IP_HEADER else ""
    candidate = forwarded.rsplit(",", 1)[-1].strip() if forwarded.strip() else request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


class Throttled(Exception):
    """An attempt refused by the limits, unchecked and uncounted; `wait`: how long the refusals last."""

    def __init__(self, wait: timedelta):
        super().__init__(wait)
        self.wait = wait


def refused_until(attempts, limit: int, now: datetime, period: timedelta | None = None) -> datetime | None:
    """When no more than `limit` of these attempts (the one being made among them) fall in the
    window (`period`, the login throttle's unless given), or None if no more do now."""
    period = window() if period is None else period
    recent = list(attempts.filter(at__gt=now - period).order_by("-at").values_list("at", flat=True)[: limit + 1])
    return recent[limit] + period if len(recent) > limit else None


def reserve_attempt(username: str, ip_address: str | None) -> FailedLogin:
    """Count an attempt as a failure before its password is checked; raise Throttled (and count
    nothing) if that takes the username or the address over its limit. Old failures are removed."""
    now = timezone.now()
    clear_old_failures()
    attempt = FailedLogin.objects.create(username=username, ip_address=ip_address, at=now)
    limits = [refused_until(FailedLogin.objects.filter(username=username), settings.LOGIN_THROTTLE_PER_USERNAME, now)]
    if ip_address:
        limits.append(
            refused_until(FailedLogin.objects.filter(ip_address=ip_address), settings.LOGIN_THROTTLE_PER_ADDRESS, now)
        )
    until = max(filter(None, limits), default=None)
    if until:
        attempt.delete()
        raise Throttled(until - now)
    return attempt


def clear_old_failures() -> int:
    """Remove failures too old to count; returns how many."""
    deleted, _ = FailedLogin.objects.filter(at__lte=timezone.now() - window()).delete()
    return deleted


def clear_failures(username: str) -> None:
    FailedLogin.objects.filter(username=username).delete()


def throttled_message(wait: timedelta) -> str:
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    return THROTTLED_MESSAGE.format(wait=f"{minutes} minute{'' if minutes == 1 else 's'}")


class ThrottledAuthenticationForm(AuthenticationForm):
    """The login form: refuses a throttled username or address before any password is checked."""

    ERROR_ID = "login-error"

    def full_clean(self):
        super().full_clean()
        if self.non_field_errors():
            # The message (templates/registration/login.html) is about both fields: each points to it.
            for name in ("username", "password"):
                self.fields[name].widget.attrs.update({"aria-invalid": "true", "aria-describedby": self.ERROR_ID})

    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if username is None or not password:
            return super().clean()
        key = username.lower()
        try:
            attempt = reserve_attempt(key, client_ip(self.request))
        except Throttled as refusal:
            raise ValidationError(throttled_message(refusal.wait), code="throttled") from None
        try:
            cleaned_data = super().clean()
        except ValidationError as error:
            left_on = getattr(self.request, LEFT_ON_ATTRIBUTE, None)
            if left_on is not None:  # the right password, for someone who has left: not a failed login
                attempt.delete()
                raise ValidationError(left_message(left_on), code="left") from None
            if error.code != "invalid_login":  # only a wrong password is a failed login
                attempt.delete()
            raise
        except Exception:
            attempt.delete()
            raise
        clear_failures(key)
        return cleaned_data

    def confirm_login_allowed(self, user):
        """With single sign-on the only way in (SSO_ONLY), a password signs in HR admins alone (their
        break-glass route); checked after the password, so a stranger learns nothing of who is HR."""
        super().confirm_login_allowed(user)
        if sso.only_way_in(user):
            name = sso.provider().name  # type: ignore[union-attr]  # only_way_in: it is configured
            raise ValidationError(
                f"Sign in with {name}: passwords here are for HR admins only. Use the button above.",
                code="sso_only",
            )


class LoginView(auth_views.LoginView):
    """Django's login page, with the throttled form, and single sign-on's button when it is set up."""

    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        config = sso.provider()
        context["sso_provider_name"] = config.name if config else ""
        context["sso_only"] = sso.only_way_in()
        return context
