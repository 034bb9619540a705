"""Staff records: the people the organisation employs, the role each holds and who manages them,
with the history of both, the services they work in, and failed logins.

The tables keep the names they had when staff records were part of `roles` (Meta.db_table).
"""

import datetime

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from roles.models import RoleProfile


def name_order(first_name: str, last_name: str, username: str) -> str:
    """Where a person comes in a list by name: last name (else the username), then first name, case-folded.

    The organisation report's long lists keep it beside their rows (`appraisal.tallies`), so that the
    database reads a page of them in this order rather than sorting everyone's names for each page. The
    two parts are joined by a control character, which sorts before every letter in a binary collation
    (SQLite's, PostgreSQL's "C"); a linguistic collation skips it, and compares the names run together."""
    return f"{(last_name or username).casefold()}\x1f{first_name.casefold()}"


def display_name(first_name: str | None, last_name: str | None, username: str | None) -> str:
    """A person's name from values, as `StaffMember.name` gives it: their full name, else their username
    ("" for no login at all, read through an outer join)."""
    return f"{first_name or ''} {last_name or ''}".strip() or (username or "")


class Service(models.Model):
    """A service of the organisation that staff work in (used to group people in reports)."""

    name = models.CharField(max_length=200, unique=True)

    class Meta:
        db_table = "roles_service"  # kept from when staff records were part of roles
        ordering = ["name"]

    def __str__(self):
        return self.name


# Why someone is not emailed a link, when they cannot sign in (`can_sign_in_q`), in HR's lists.
NO_ACCESS = "not yet signed in / no access"


def can_sign_in_q(prefix: str = "") -> models.Q:
    """Whether a member of staff (`prefix`: the path to their record, ending in "__") can sign in: a login that is
    active, with a usable password (or, with single sign-on, an email address), and employment not ended before
    today (`staff.auth`: the last day still counts). `StaffMember.can_sign_in` says the same of one person in Python."""
    today = timezone.localdate()
    way_in = ~models.Q(**{f"{prefix}user__password__startswith": UNUSABLE_PASSWORD_PREFIX}) & ~models.Q(
        **{f"{prefix}user__password": ""}
    )
    if single_sign_on():
        way_in |= ~models.Q(**{f"{prefix}user__email": ""})
    return (
        models.Q(**{f"{prefix}user__is_active": True})
        & way_in
        & (models.Q(**{f"{prefix}left_on__isnull": True}) | models.Q(**{f"{prefix}left_on__gte": today}))
    )


def single_sign_on() -> bool:
    """Whether single sign-on is set up (staff/sso.py): then anyone with an email address on their
    record can sign in, by it, with or without a password here."""
    return bool(settings.SSO_ISSUER and settings.SSO_CLIENT_ID and settings.SSO_CLIENT_SECRET)


class StaffMemberQuerySet(models.QuerySet):
    def active(self, on: datetime.date | None = None):
        on = on or timezone.localdate()
        return self.filter(models.Q(left_on__isnull=True) | models.Q(left_on__gt=on))

    def able_to_sign_in(self):
        return self.filter(can_sign_in_q())

    def names(self) -> dict[int, str]:
        """{id: name} of these staff members (`display_name`), read as values in one query."""
        return {
            pk: display_name(first, last, username)
            for pk, first, last, username in self.order_by().values_list(
                "pk", "user__first_name", "user__last_name", "user__username"
            )
        }

    def unable_to_sign_in(self):
        return self.exclude(can_sign_in_q())


def user_can_sign_in(user, member: "StaffMember | None" = None) -> bool:
    """Whether this login can sign in now: active, with a usable password (or, with single sign-on, an email
    address), and (for a member of staff, `member` or the login's own record) employment not ended before today."""
    if not user.is_active:
        return False
    has_password = bool(user.password) and user.has_usable_password()
    if not has_password and not (single_sign_on() and user.email):
        return False
    if member is None:
        member = getattr(user, "staff_member", None)
    return member is None or member.left_on is None or member.left_on >= timezone.localdate()


class StaffMember(models.Model):
    """A person employed by the organisation: their account, the role they hold and who manages them."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="staff_member")
    job_title = models.CharField(
        max_length=200, blank=True, help_text="For people whose job has no role profile here (e.g. Team Manager)."
    )
    service = models.ForeignKey(Service, null=True, blank=True, on_delete=models.PROTECT, related_name="staff")
    role_profile = models.ForeignKey(
        RoleProfile, null=True, blank=True, on_delete=models.PROTECT, related_name="holders"
    )
    role_profile_since = models.DateField(null=True, blank=True)
    line_manager = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reports")
    line_manager_since = models.DateField(null=True, blank=True)
    left_on = models.DateField(
        null=True, blank=True, help_text="Last day of employment; empty while the person works here."
    )
    email_is_personal = models.BooleanField(
        default=False, help_text="The email address is the person's own, not a work address (for their invitation)."
    )

    objects = StaffMemberQuerySet.as_manager()

    class Meta:
        db_table = "roles_staffmember"
        ordering = ["user__last_name", "user__first_name"]

    def __str__(self):
        return self.name

    @property
    def name(self) -> str:
        return self.user.get_full_name() or self.user.username

    def is_active_on(self, day: datetime.date) -> bool:
        return self.left_on is None or self.left_on > day

    @property
    def is_active(self) -> bool:
        return self.is_active_on(timezone.localdate())

    @property
    def can_sign_in(self) -> bool:
        """Whether the person can sign in now, and so be emailed links into the system (`can_sign_in_q`)."""
        return user_can_sign_in(self.user, self)

    def clean(self):
        super().clean()
        errors = {}
        if self.role_profile_id and not self.role_profile_since:
            errors["role_profile_since"] = "Give the date from which this person holds the role profile."
        if self.line_manager_id and not self.line_manager_since:
            errors["line_manager_since"] = "Give the date from which this line manager manages this person."
        if self.line_manager_id and self.pk:
            from staff.hierarchy import managers_above

            if self.line_manager_id == self.pk or self.pk in managers_above(self.line_manager_id):
                errors["line_manager"] = "A person cannot be their own line manager, directly or further up the line."
        if errors:
            raise ValidationError(errors)


class HistoryEntry(models.Model):
    """A row of a person's history: from `since`, recorded when and by whom. Rows are only ever added."""

    since = models.DateField()
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        abstract = True
        ordering = ["staff_member", "since", "pk"]


class RoleAssignment(HistoryEntry):
    """History: from `since`, the person holds `role_profile`. The newest row is the current one."""

    staff_member = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="role_history")
    role_profile = models.ForeignKey(RoleProfile, on_delete=models.PROTECT, related_name="+")

    class Meta(HistoryEntry.Meta):
        db_table = "roles_roleassignment"

    def __str__(self):
        return f"{self.staff_member}: {self.role_profile} from {self.since:%d %b %Y}"


class LineManagerAssignment(HistoryEntry):
    """History: from `since`, `line_manager` manages the person (empty: nobody does)."""

    staff_member = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="manager_history")
    line_manager = models.ForeignKey(StaffMember, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta(HistoryEntry.Meta):
        db_table = "roles_linemanagerassignment"

    def __str__(self):
        return f"{self.staff_member}: managed by {self.line_manager or 'nobody'} from {self.since:%d %b %Y}"


class FailedLogin(models.Model):
    """A failed login, kept in the database so that every server process counts it (staff/login.py),
    or one whose password is being checked: an attempt is counted before it is checked.

    Rows older than the throttling window are ignored, and removed when the next attempt is made.
    """

    username = models.CharField(max_length=150)  # lower-cased, as typed: the login need not exist
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "roles_failedlogin"
        indexes = [models.Index(fields=["username", "at"]), models.Index(fields=["ip_address", "at"])]

    def __str__(self):
        return f"{self.username} from {self.ip_address or 'an unknown address'} at {self.at:%d %b %Y %H:%M}"


class Invitation(models.Model):
    """An invitation to set a first password: a link emailed to the person, or a set-up code HR prints for them.

    Only a keyed hash of the link's token or of the code is kept (`staff.invitations.secret_hash`). An
    invitation is used once, stops working at `expires_at`, and ends when a newer one is made for the person.
    """

    class Kind(models.TextChoices):
        LINK = "link", "Emailed link"
        CODE = "code", "Printed set-up code"

    staff_member = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="invitations")
    kind = models.CharField(max_length=4, choices=Kind.choices, default=Kind.LINK)
    email = models.EmailField(blank=True, help_text="The address the link was sent to; empty for a set-up code.")
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    secret_hash = models.CharField(max_length=128)
    used_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True, help_text="When a newer invitation replaced it.")
    failed_attempts = models.PositiveSmallIntegerField(default=0, help_text="Wrong set-up codes given for it.")

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["staff_member", "-created_at"], name="invitation_by_person")]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.staff_member} on {self.created_at:%d %b %Y}"

    @property
    def is_open(self) -> bool:
        """Whether it can still be used: not used, not replaced, not expired."""
        return self.used_at is None and self.ended_at is None and self.expires_at > timezone.now()


class PasswordResetRequest(models.Model):
    """A request for a password reset link, kept so that every server process counts it
    (staff/password_reset.py): by what was typed and by the client's address, whether or not an
    account matched. Rows older than the throttling window are ignored, and removed by the next request.
    """

    identifier = models.CharField(max_length=254)  # lower-cased, as typed: the login need not exist
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["identifier", "at"]), models.Index(fields=["ip_address", "at"])]

    def __str__(self):
        return f"{self.identifier} from {self.ip_address or 'an unknown address'} at {self.at:%d %b %Y %H:%M}"


class SingleSignOnIdentity(models.Model):
    """A login's account at the organisation's single sign-on provider (staff/sso.py): the provider's
    issuer and its stable, never reassigned identifier of the person (the token's `sub`). Made at the
    person's first single sign-on, which found them by the email address on their record; from then on
    they are found by this alone, so a later change of address at the provider can neither lock them out
    nor let someone else in."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identities")
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    email = models.CharField(max_length=254, blank=True, help_text="The address the provider gave at the last sign-in.")
    bound_at = models.DateTimeField(default=timezone.now)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "single sign-on account"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_unique_subject"),
            # One account per provider for each login: a second subject claiming the same login is refused.
            models.UniqueConstraint(fields=["user", "issuer"], name="sso_identity_one_per_issuer"),
        ]

    def __str__(self):
        return f"{self.email or self.subject} at {self.issuer}"
