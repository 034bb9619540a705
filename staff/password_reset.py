""" "Forgot password?": a link by email to set a new password, which works once and not for long.

Nothing on the way tells a stranger whether an account exists. The page after a request is the same
whatever was typed, and so is the work done to get there: for an unknown username or address, one
that belongs to someone who cannot sign in (inactive, left, no password yet) or who has no email
address, a stand-in account's link is made and its email written and audited exactly as a real one
is, in a savepoint that is then rolled back. Only the savepoint's outcome differs, so the time the
page takes gives nothing away either.

Requests are throttled like logins (staff/login.py): by what was typed (lower-cased) and by the
client's address, counted in the database before anything else is done, with a message that is the
same for every name typed. The throttle counts what was typed, not the account it matched, so that it
cannot be used to learn which username and address belong together; an account is also sent no more
than PASSWORD_RESET_THROTTLE_PER_ACCOUNT links in the window however it was asked for, silently.

The link is Django's password reset token: signed, it expires after settings.PASSWORD_RESET_TIMEOUT
seconds, and it stops working once the password changes (or the person logs in), so it works once.
Setting the new password ends the person's other sessions: each session holds a hash of the
password it was opened with, which no longer matches.
"""

import math
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from audit.models import AuditEntry
from audit.trail import record
from core.tasks import enqueue_on_commit
from staff import sso
from staff.auth import has_left, left_on_annotation
from staff.login import Throttled, refused_until
from staff.models import PasswordResetRequest, StaffMember

THROTTLED_MESSAGE = "Too many requests for a password reset link. Try again in {wait}."
REQUESTED = "password reset requested"
RESET = "password reset"
IDENTIFIER_LENGTH = 254
# Where a stand-in account's email would go: a reserved domain (RFC 2606), never delivered.
STAND_IN_ADDRESS = "nobody@example.invalid"
# A stand-in account's password: shaped like a real hash, matching no password.
STAND_IN_PASSWORD = "pbkdf2_sha256$1000000$standin$" + "A" * 43 + "="


def window() -> timedelta:
    return timedelta(seconds=settings.PASSWORD_RESET_THROTTLE_WINDOW)


def throttled_message(wait: timedelta) -> str:
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    return THROTTLED_MESSAGE.format(wait=f"{minutes} minute{'' if minutes == 1 else 's'}")


def clear_old_requests() -> int:
    """Remove requests too old to count; returns how many."""
    deleted, _ = PasswordResetRequest.objects.filter(at__lte=timezone.now() - window()).delete()
    return deleted


def reserve_request(identifier: str, ip_address: str | None) -> PasswordResetRequest:
    """Count a request before anything is looked up; raise Throttled (and count nothing) if that takes
    what was typed or the address over its limit. Must run outside a transaction (see staff/login.py)."""
    now = timezone.now()
    clear_old_requests()
    attempt = PasswordResetRequest.objects.create(identifier=identifier, ip_address=ip_address, at=now)
    limits = [
        refused_until(
            PasswordResetRequest.objects.filter(identifier=identifier),
            settings.PASSWORD_RESET_THROTTLE_PER_ACCOUNT,
            now,
            window(),
        )
    ]
    if ip_address:
        limits.append(
            refused_until(
                PasswordResetRequest.objects.filter(ip_address=ip_address),
                settings.PASSWORD_RESET_THROTTLE_PER_ADDRESS,
                now,
                window(),
            )
        )
    until = max(filter(None, limits), default=None)
    if until:
        attempt.delete()
        raise Throttled(until - now)
    return attempt


def _accounts(identifier: str) -> list:
    """The accounts a username or email address names (several may share an address), with their
    leaving dates, whether or not they may be sent a link."""
    return list(
        get_user_model()
        ._default_manager.annotate(staff_left_on=left_on_annotation())
        .filter(Q(username__iexact=identifier) | Q(email__iexact=identifier))
        .order_by("pk")
    )


def _why_not(user) -> str | None:
    """Why `user` is sent no link, or None if they are sent one."""
    sent = _links_sent(user)  # counted first, so that it is counted for everyone
    if not user.is_active:
        return "inactive"
    if has_left(user):
        return "left"
    if not user.has_usable_password():
        return "no password"
    if sso.only_way_in(user):
        return "single sign-on only"
    if not user.email:
        return "no email address"
    if sent >= settings.PASSWORD_RESET_THROTTLE_PER_ACCOUNT:
        return "too many requests"
    return None


def _links_sent(user) -> int:
    """How many links `user` was sent within the window (the audit trail says)."""
    return AuditEntry.objects.filter(
        action=REQUESTED,
        object_type="login",
        object_id=str(user.pk or ""),
        at__gt=timezone.now() - window(),
        changes__emailed=True,
    ).count()


def _stand_in(identifier: str):
    """An unsaved account for a request that matches no one, for which the same work is done."""
    user = get_user_model()(username=identifier[:150], email=STAND_IN_ADDRESS, password=STAND_IN_PASSWORD)
    user.staff_left_on = None  # type: ignore[attr-defined]
    return user


def link_lifetime_in_minutes() -> int:
    return max(1, round(settings.PASSWORD_RESET_TIMEOUT / 60))


def reset_link(user) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    return settings.SITE_URL.rstrip("/") + path


def _email(user) -> EmailMessage:
    context = {
        "user": user,
        "link": reset_link(user),
        "minutes": link_lifetime_in_minutes(),
        "login_url": settings.SITE_URL.rstrip("/") + reverse("login"),
    }
    subject = " ".join(render_to_string("registration/password_reset_subject.txt", context).split())
    body = render_to_string("registration/password_reset_email.txt", context)
    # Written (and then rolled back) for someone without an address too, so it needs one.
    return EmailMessage(subject, body, to=[user.email or STAND_IN_ADDRESS])


def request_reset(*, identifier: str, ip_address: str | None) -> None:
    """Email a link to set a new password to each account that `identifier` (a username or email
    address) names and that may have one; raise Throttled if too many requests were made. The same
    work is done whatever `identifier` names (see the module's docstring)."""
    identifier = identifier.strip()[:IDENTIFIER_LENGTH]
    reserve_request(identifier.lower(), ip_address)
    accounts = _accounts(identifier) if identifier else []
    for user in accounts or [_stand_in(identifier)]:
        _send_link(user, real=user.pk is not None)


def _send_link(user, *, real: bool) -> None:
    """Write the link's email to the outbox and audit it; roll the email back if `user` may not have one,
    and the audit entry too if `user` is a stand-in. Rolling a savepoint back costs what keeping it does
    (one statement more, to the database server): the work before it is the same, and so is the task
    queued after it."""
    with transaction.atomic():
        why_not = _why_not(user)  # asked of a stand-in too, for the time it takes
        if not real:
            why_not = "no account"
        with transaction.atomic():
            _email(user).send()
            if why_not:
                transaction.set_rollback(True)
        member = StaffMember.objects.filter(user_id=user.pk).first()
        record(
            actor=None,
            action=REQUESTED,
            obj=user,
            object_type="login",
            person=member,
            changes={"emailed": True} if why_not is None else {"emailed": False, "why": why_not},
        )
        if not real:
            transaction.set_rollback(True)
    if why_not:
        # What a kept email queues once its transaction commits (its delivery), queued all the same:
        # a run of the outbox's regular delivery, which finds nothing more to do.
        enqueue_on_commit("deliver due emails", "outbox.delivery.deliver_due")


def may_reset(user) -> bool:
    """Whether a link may still set `user`'s password (not once they have left or been made inactive)."""
    return user.is_active and not has_left(user)


@transaction.atomic
def reset_password(*, user, password: str) -> None:
    """Set `user`'s new password from a link (the form has validated it); their other sessions end."""
    user.set_password(password)
    user.save(update_fields=["password"])
    member = StaffMember.objects.filter(user_id=user.pk).first()
    record(actor=user, action=RESET, obj=user, object_type="login", person=member)
