"""Staff records: the people the organisation employs, the role each holds and who manages them,
with the history of both, the services they work in, and failed logins.

The tables keep the names they had when staff records were part of `roles` (Meta.db_table).
"""

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from roles.models import RoleProfile


class Service(models.Model):
    """A service of the organisation that staff work in (used to group people in reports)."""

    name = models.CharField(max_length=200, unique=True)

    class Meta:
        db_table = "roles_service"  # kept from when staff records were part of roles
        ordering = ["name"]

    def __str__(self):
        return self.name


class StaffMemberQuerySet(models.QuerySet):
    def active(self, on: datetime.date | None = None):
        on = on or timezone.localdate()
        return self.filter(models.Q(left_on__isnull=True) | models.Q(left_on__gt=on))


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
