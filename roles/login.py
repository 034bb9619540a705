"""The login form, with repeated failures throttled.

After LOGIN_THROTTLE_PER_USERNAME failed logins for one username, or LOGIN_THROTTLE_PER_ADDRESS
from one address, within LOGIN_THROTTLE_WINDOW seconds, further attempts are refused until the
oldest of those failures leaves the window, even with the right password: guessing a password
becomes too slow to succeed. A refused attempt is not checked (the password hasher is not run) and
not counted, so the wait never grows. Failures are rows in the database (`FailedLogin`), so all
server processes share them; a successful login clears its username's failures.
"""

import ipaddress
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils import timezone

from roles.models import FailedLogin

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


def _refused_until(failures, limit: int, now: datetime) -> datetime | None:
    """When `limit` recent failures no longer all fall in the window, or None if there are fewer."""
    recent = list(failures.filter(at__gt=now - window()).order_by("-at").values_list("at", flat=True)[:limit])
    return recent[-1] + window() if len(recent) >= limit else None


def refused_for(username: str, ip_address: str | None) -> timedelta | None:
    """How much longer attempts for this username, or from this address, are refused (None: not refused)."""
    now = timezone.now()
    limits = [_refused_until(FailedLogin.objects.filter(username=username), settings.LOGIN_THROTTLE_PER_USERNAME, now)]
    if ip_address:
        limits.append(_refused_until(FailedLogin.objects.filter(ip_address=ip_address), settings.LOGIN_THROTTLE_PER_ADDRESS, now))
    until = max(filter(None, limits), default=None)
    return until - now if until else None


def record_failure(username: str, ip_address: str | None) -> None:
    """Count a failed login, and remove failures too old to count any more."""
    clear_old_failures()
    FailedLogin.objects.create(username=username, ip_address=ip_address, at=timezone.now())


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
        key, ip_address = username.lower(), client_ip(self.request)
        wait = refused_for(key, ip_address)
        if wait:
            raise ValidationError(throttled_message(wait), code="throttled")
        try:
            cleaned_data = super().clean()
        except ValidationError as error:
            if error.code == "invalid_login":
                record_failure(key, ip_address)
            raise
        clear_failures(key)
        return cleaned_data
