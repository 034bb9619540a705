"""Invitations: how a new member of staff gets into the system.

HR invites a person (one, or many in one step): the person is emailed a link, good for
settings.INVITATION_DAYS days and for one use, to set their first password. For someone with no email
address HR prints a set-up code instead, which the person types with their username on the public
"set up your account" page. A newer invitation ends the older ones (a resend); a used, expired, replaced or
forged link or code changes nothing. Only a keyed hash of a link's token or a code is stored, and the
audit trail names the invitation, never the secret.

Each person's access, as the staff list shows it, is `access_of` over `with_access`.
"""

import datetime
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from audit.trail import build, record, record_all
from core.access import HR_ADMIN_GROUP
from staff import sso
from staff.access import hr_conflicts
from staff.models import Invitation, StaffMember, StaffMemberQuerySet, single_sign_on

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read from paper
CODE_LENGTH = 8
CODE_ATTEMPTS = 5  # wrong codes given for one set-up code before it stops working


# Secrets.


def secret_hash(secret: str) -> str:
    """A keyed hash of a token or code (with SECRET_KEY): the database alone cannot be used to find them."""
    return salted_hmac("staff.invitations", secret, algorithm="sha256").hexdigest()


def normal_code(typed: str) -> str:
    """A set-up code as typed, in the form it was made: capitals, without spaces or dashes."""
    return "".join(character for character in typed.upper() if character.isalnum())


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def code_display(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


# Who can be invited.


def refusal(member: StaffMember, *, by=None, kind: str = Invitation.Kind.LINK) -> str | None:
    """Why `member` cannot be invited (by `by`), or None."""
    if not member.is_active:
        return f"{member.name} has left"
    if member.can_sign_in:
        if single_sign_on() and not member.user.has_usable_password():
            return f"{member.name} can already sign in, with single sign-on"
        return f"{member.name} can already sign in"
    if sso.only_way_in(member.user):  # a password would not let them in
        name = sso.provider().name  # type: ignore[union-attr]  # only_way_in: it is set up
        return f"single sign-on is the only way in: put the address of their {name} account on this record"
    if by is not None and member.pk in hr_conflicts(by):
        return "this is your own record or that of someone above you: another HR admin must invite them"
    if kind == Invitation.Kind.LINK and not member.user.email:
        return "no email address: print a set-up code from their record instead"
    return None


# Inviting.


def _end_open_invitations(members: Iterable[StaffMember], now: datetime.datetime) -> None:
    Invitation.objects.filter(
        staff_member__in=[member.pk for member in members], used_at__isnull=True, ended_at__isnull=True
    ).update(ended_at=now)


def _link_message(member: StaffMember, invitation: Invitation, token: str) -> EmailMessage:
    user = member.user
    link = settings.SITE_URL.rstrip("/") + reverse("invitation_accept", args=[invitation.pk, token])
    until = timezone.localtime(invitation.expires_at)
    body = (
        f"Dear {user.first_name or user.username},\n\n"
        "You have been given an account for the organisation's competency appraisals. Set your password with "
        f"this link, then sign in with your username, {user.username}:\n{link}\n\n"
        f"The link can be used once, until {until:%-d %B %Y at %H:%M}. If it has stopped working, ask HR for a "
        "new one.\n"
    )
    return EmailMessage("Set your password for competency appraisals", body, to=[invitation.email])


@transaction.atomic
def invite(*, by, member: StaffMember) -> Invitation:
    """Email `member` a link to set their first password; any earlier invitation stops working (a resend).

    ValidationError if they cannot be invited (`refusal`)."""
    member = StaffMember.objects.select_for_update().select_related("user").get(pk=member.pk)
    if (reason := refusal(member, by=by)) is not None:
        raise ValidationError(f"{member.name} cannot be invited: {reason}.")
    resend = Invitation.objects.filter(staff_member=member, used_at__isnull=True, ended_at__isnull=True).exists()
    (invitation,) = _invite_all(by=by, members=[member], action="resend invitation" if resend else "invite")
    return invitation


@transaction.atomic
def invite_many(*, by, members: list[StaffMember]) -> list[Invitation]:
    """Invite each of `members` who can be invited (`refusal`), in one transaction; the others are left out."""
    locked = list(
        StaffMember.objects.select_for_update()
        .select_related("user")
        .filter(pk__in=[member.pk for member in members])
        .order_by("pk")
    )
    return _invite_all(by=by, members=[member for member in locked if refusal(member, by=by) is None])


def _invite_all(*, by, members: list[StaffMember], action: str = "invite") -> list[Invitation]:
    now = timezone.now()
    _end_open_invitations(members, now)
    tokens, invitations = [], []
    for member in members:
        token = secrets.token_urlsafe(32)
        tokens.append(token)
        invitations.append(
            Invitation(
                staff_member=member,
                kind=Invitation.Kind.LINK,
                email=member.user.email,
                invited_by=by,
                created_at=now,
                expires_at=now + datetime.timedelta(days=settings.INVITATION_DAYS),
                secret_hash=secret_hash(token),
            )
        )
    Invitation.objects.bulk_create(invitations, batch_size=500)  # SQLite and PostgreSQL give back their ids
    messages = [
        _link_message(member, invitation, token)
        for member, invitation, token in zip(members, invitations, tokens, strict=True)
    ]
    if messages:
        get_connection().send_messages(messages)  # the outbox: delivered once this commits
    record_all(
        [
            build(
                actor=by,
                action=action,
                obj=member,
                person=member,
                changes={
                    "sent to": invitation.email + (" (personal address)" if member.email_is_personal else ""),
                    "expires": invitation.expires_at,
                },
            )
            for member, invitation in zip(members, invitations, strict=True)
        ]
    )
    return invitations


@transaction.atomic
def print_code(*, by, member: StaffMember) -> tuple[Invitation, str]:
    """A set-up code for `member`, to print and hand over; earlier invitations stop working. Returns the
    invitation and the code (shown once; only its hash is kept)."""
    member = StaffMember.objects.select_for_update().select_related("user").get(pk=member.pk)
    if (reason := refusal(member, by=by, kind=Invitation.Kind.CODE)) is not None:
        raise ValidationError(f"No set-up code can be made for {member.name}: {reason}.")
    now = timezone.now()
    _end_open_invitations([member], now)
    code = _new_code()
    invitation = Invitation.objects.create(
        staff_member=member,
        kind=Invitation.Kind.CODE,
        invited_by=by,
        created_at=now,
        expires_at=now + datetime.timedelta(days=settings.INVITATION_DAYS),
        secret_hash=secret_hash(code),
    )
    record(actor=by, action="print set-up code", obj=member, person=member, changes={"expires": invitation.expires_at})
    return invitation, code


# Using an invitation.


@dataclass
class Refused:
    """Why a link or code cannot be used, in words for the person holding it."""

    reason: str
    forged: bool = False  # not an invitation the system made (its page answers 404)


def invitation_for_link(pk: int, token: str) -> Invitation | Refused:
    """The invitation a link names, if it can be used now; else why not. Changes nothing."""
    invitation = (
        Invitation.objects.select_related("staff_member__user")
        .filter(pk=pk, kind=Invitation.Kind.LINK)
        .order_by()
        .first()
    )
    if invitation is None or not hmac.compare_digest(invitation.secret_hash, secret_hash(token)):
        return Refused("This link is not one the system made: it may have been copied incompletely.", forged=True)
    return _usable(invitation)


def _usable(invitation: Invitation) -> Invitation | Refused:
    if invitation.used_at is not None:
        return Refused(
            f"It was used on {timezone.localtime(invitation.used_at):%-d %B %Y}: the password has been set. "
            "Sign in with it, or ask HR if you have forgotten it."
        )
    if invitation.ended_at is not None:
        return Refused("A newer invitation has been made since, and this one no longer works. Use the newest one.")
    if invitation.expires_at <= timezone.now():
        return Refused(f"It expired on {timezone.localtime(invitation.expires_at):%-d %B %Y at %H:%M}.")
    if not invitation.staff_member.is_active:
        return Refused("The staff record it was made for is of someone who has left.")
    if invitation.staff_member.user.has_usable_password():  # HR set one since, say
        return Refused("A password has been set for this account since: sign in with it, or ask HR.")
    return invitation


def invitation_for_code(username: str, code: str) -> Invitation | Refused:
    """The open set-up code invitation of the person with this username, if `code` is its code; else why not.

    A wrong code for an open invitation is counted; after CODE_ATTEMPTS the code stops working."""
    invitation = (
        Invitation.objects.select_related("staff_member__user")
        .filter(staff_member__user__username__iexact=username.strip(), kind=Invitation.Kind.CODE)
        .order_by("-created_at", "-pk")
        .first()
    )
    if invitation is None:
        return Refused("This username and set-up code do not go together.")
    if not hmac.compare_digest(invitation.secret_hash, secret_hash(normal_code(code))):
        if invitation.is_open:
            failed = invitation.failed_attempts + 1
            Invitation.objects.filter(pk=invitation.pk).update(
                failed_attempts=failed, **({"ended_at": timezone.now()} if failed >= CODE_ATTEMPTS else {})
            )
        return Refused("This username and set-up code do not go together.")
    return _usable(invitation)


@transaction.atomic
def accept(*, invitation: Invitation, password: str):
    """Set the person's first password from their invitation (the form has validated it), and use it up.

    Checked again under a lock, so that a link opened twice at once sets one password. Returns the login;
    ValidationError if the invitation can no longer be used."""
    locked = Invitation.objects.select_for_update().select_related("staff_member__user").get(pk=invitation.pk)
    if isinstance(state := _usable(locked), Refused):
        raise ValidationError(state.reason)
    member = locked.staff_member
    user = member.user
    password_validation.validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    locked.used_at = timezone.now()
    locked.save(update_fields=["used_at"])
    record(
        actor=user,
        action="set up account",
        obj=member,
        person=member,
        changes={"password": ["none", "set"], "with": locked.get_kind_display().lower()},
    )
    return user


# Each person's access, for the staff list.


def with_access(members: QuerySet) -> QuerySet:
    """`members` annotated with their newest invitation still open or expired unused (`access_of` reads it)."""
    newest = Invitation.objects.filter(
        staff_member=OuterRef("pk"), used_at__isnull=True, ended_at__isnull=True
    ).order_by("-created_at", "-pk")
    return members.annotate(
        invited_at=Subquery(newest.values("created_at")[:1]),
        invitation_expires_at=Subquery(newest.values("expires_at")[:1]),
        is_hr_admin=Exists(User.groups.through.objects.filter(user_id=OuterRef("user_id"), group__name=HR_ADMIN_GROUP)),
    )


@dataclass(frozen=True)
class Access:
    state: str  # "left", "active", "sso" (single sign-on, no password), "invited", "expired", "not invited"
    label: str
    on: datetime.date | datetime.datetime | None = None


def access_of(member: StaffMember) -> Access:
    """A person's access (their record annotated by `with_access`, with their login)."""
    if not member.is_active:
        return Access("left", "Left", member.left_on)
    if member.can_sign_in:
        last = member.user.last_login
        # Under SSO_ONLY a member of staff's password is refused: single sign-on is their way in.
        is_hr_admin = getattr(member, "is_hr_admin", None)  # annotated by `with_access`
        if single_sign_on() and (
            not member.user.has_usable_password() or sso.only_way_in(member.user, is_hr_admin=is_hr_admin)
        ):
            return Access("sso", "Single sign-on", last)
        return Access("active", "Active", last)
    invited_at = getattr(member, "invited_at", None)
    if invited_at is not None:
        if member.invitation_expires_at <= timezone.now():  # type: ignore[attr-defined]  # annotated with it
            return Access("expired", "Invitation expired", member.invitation_expires_at)  # type: ignore[attr-defined]
        return Access("invited", "Invited", invited_at)
    return Access("not invited", "Not invited")


def not_yet_invited(members: StaffMemberQuerySet) -> QuerySet:
    """Of `members`, those working here who cannot sign in and have no invitation still open."""
    now = timezone.now()
    open_invitations = Invitation.objects.filter(used_at__isnull=True, ended_at__isnull=True, expires_at__gt=now)
    return (
        members.active()
        .unable_to_sign_in()
        .exclude(pk__in=open_invitations.values("staff_member"))
        .select_related("user")
    )


def in_cycle(members: StaffMemberQuerySet, cycle_id: int) -> StaffMemberQuerySet:
    """Of `members`, the people appraised or appraising in the cycle (by the appraisals' related names)."""
    return members.filter(
        Q(pk__in=StaffMember.objects.filter(appraisals__cycle_id=cycle_id).values("pk"))
        | Q(pk__in=StaffMember.objects.filter(appraisals_to_conduct__cycle_id=cycle_id).values("pk"))
    )
