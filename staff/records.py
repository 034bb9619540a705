"""Staff records: every write to one person's record, and the handover when someone leaves.

Each service is keyword-only and atomic, raises `ValidationError({field: message})` with messages
meant to be shown next to the form field they concern, and writes its audit entry about the person
in the same transaction. Role and line-manager history is appended to, never changed or deleted;
`StaffMember.role_profile` / `line_manager` (and their `_since`) mirror the newest history row in
effect (a change of line manager recorded ahead takes effect on its day: `apply_due_line_changes`).
The CSV import that creates many people at once is `staff.imports`.
"""

import datetime
import re
import unicodedata
from typing import cast

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from audit.trail import field_changes, record
from core.dates import employment_date_problem
from core.text import BIDI_MESSAGE, has_bidi_control, name_problem, normalise_text
from roles.models import RoleProfile
from staff.hierarchy import lock_hierarchy, managers_above
from staff.models import LineManagerAssignment, RoleAssignment, Service, StaffMember
from staff.signals import service_changed

# Writes to one person's record.


@transaction.atomic
def create_staff_member(
    *,
    by,
    first_name: str,
    last_name: str,
    email: str,
    email_is_personal: bool = False,
    service: Service | None = None,
    job_title: str = "",
    role_profile: RoleProfile | None = None,
    role_since: datetime.date | None = None,
    line_manager: StaffMember | None = None,
    manager_since: datetime.date | None = None,
) -> StaffMember:
    """Create a person's login and staff record, with their first role and line-manager history rows.

    The login gets an unusable password: the person cannot log in until HR sets one.
    """
    email, job_title = _normal_email(email), normalise_text(job_title)
    errors = _details_errors(first_name=first_name, last_name=last_name, email=email)  # the names as typed
    first_name, last_name = normalise_text(first_name), normalise_text(last_name)
    if role_profile is not None:
        if (message := _unpublished_error(role_profile)) is not None:
            errors["role_profile"] = message
        if role_since is None:
            errors["role_since"] = "Give the date from which this person holds the role profile."
        elif (message := employment_date_problem(role_since)) is not None:
            errors["role_since"] = message
    if line_manager is not None:
        if (message := _left_error(line_manager)) is not None:
            errors["line_manager"] = message
        if manager_since is None:
            errors["manager_since"] = "Give the date from which this line manager manages this person."
        elif (message := employment_date_problem(manager_since)) is not None:
            errors["manager_since"] = message
    if errors:
        raise ValidationError(errors)

    user = get_user_model().objects.create_user(
        # Someone with no email address gets a username made of their name.
        username=_unique_username(email or f"{first_name}.{last_name}".replace(" ", "")),
        email=email,
        first_name=first_name,
        last_name=last_name,
        password=None,
    )
    member = StaffMember.objects.create(
        user=user, service=service, job_title=job_title, email_is_personal=email_is_personal
    )
    if role_profile is not None:
        _append_role(by=by, member=member, role_profile=role_profile, since=role_since)  # type: ignore[arg-type]  # required above
    if line_manager is not None:
        append_line_manager(by=by, member=member, manager=line_manager, since=manager_since)  # type: ignore[arg-type]  # required above
    changes = created_changes(
        member, line_manager=line_manager, line_manager_since=manager_since if line_manager else None
    )
    record(actor=by, action="create", obj=member, person=member, changes=changes)
    return member


@transaction.atomic
def update_staff_details(
    *,
    by,
    member: StaffMember,
    first_name: str,
    last_name: str,
    email: str,
    service: Service | None,
    job_title: str,
    email_is_personal: bool = False,
) -> StaffMember:
    """Change a person's name, email, service and job title. Saves and audits only what changed."""
    email, job_title = _normal_email(email), normalise_text(job_title)
    errors = _details_errors(
        first_name=first_name, last_name=last_name, email=email, user=member.user
    )  # the names as typed
    first_name, last_name = normalise_text(first_name), normalise_text(last_name)
    if errors:
        raise ValidationError(errors)
    user = member.user
    before, previous_service_id = _details(member), member.service_id
    user.first_name, user.last_name, user.email = first_name, last_name, email
    member.service, member.job_title, member.email_is_personal = service, job_title, email_is_personal
    changes = field_changes(before, _details(member))
    if not changes:
        return member
    user.save(update_fields=["first_name", "last_name", "email"])
    member.save(update_fields=["service", "job_title", "email_is_personal"])
    if member.service_id != previous_service_id:
        service_changed.send(sender=StaffMember, member=member, previous_service_id=previous_service_id)
    record(actor=by, action="edit", obj=member, person=member, changes=changes)
    return member


@transaction.atomic
def assign_role_profile(*, by, member: StaffMember, role_profile: RoleProfile, since: datetime.date) -> RoleAssignment:
    """From `since`, the person holds `role_profile`: a new history row, and the current state updated."""
    lock_member(member)
    errors = {}
    if role_profile is None:
        errors["role_profile"] = "Choose a role profile."
    elif (message := _unpublished_error(role_profile)) is not None:
        errors["role_profile"] = message
    elif member.role_profile_id == role_profile.pk:
        errors["role_profile"] = (
            f"{member.name} already holds this role profile (since {day_text(member.role_profile_since)})."
        )
    current = _latest(member.role_history.all(), member.role_profile_since)
    if since is None:
        errors["since"] = "Give the date from which this person holds the role profile."
    elif (message := employment_date_problem(since)) is not None:
        errors["since"] = message
    elif current is not None and since < current:
        errors["since"] = (
            f"The current role profile is held since {day_text(current)}; a new one can only start on or after "
            "that date. History is not rewritten."
        )
    if errors:
        raise ValidationError(errors)
    before = {"role_profile": member.role_profile, "role_profile_since": member.role_profile_since}
    assignment = _append_role(by=by, member=member, role_profile=role_profile, since=since)
    after = {"role_profile": member.role_profile, "role_profile_since": member.role_profile_since}
    record(actor=by, action="assign role", obj=member, person=member, changes=field_changes(before, after))
    return assignment


@transaction.atomic
def assign_line_manager(
    *, by, member: StaffMember, manager: StaffMember | None, since: datetime.date
) -> LineManagerAssignment:
    """From `since`, `manager` line-manages the person (None: nobody does). Appends history; the
    current state changes now, or on `since` if that is ahead (`apply_due_line_changes`)."""
    lock_member(member)
    if manager is not None:
        manager.refresh_from_db(fields=["left_on", "line_manager", "line_manager_since"])
    errors = {}
    if manager is not None:
        if manager.pk == member.pk:
            errors["manager"] = "A person cannot be their own line manager."
        elif (message := _left_error(manager)) is not None:
            errors["manager"] = message
        elif (message := _loop_error(member, manager)) is not None:
            errors["manager"] = message
    if "manager" not in errors and member.line_manager_id == (manager.pk if manager else None):
        errors["manager"] = (
            f"{manager.name} already line-manages {member.name}."
            if manager
            else f"{member.name} has no line manager already."
        )
    current = _latest(member.manager_history.all(), member.line_manager_since)
    if since is None:
        errors["since"] = "Give the date from which this takes effect."
    elif (message := employment_date_problem(since)) is not None:
        errors["since"] = message
    elif current is not None and since < current:
        errors["since"] = (
            f"The current line manager is recorded from {day_text(current)}; a change can only start on or after "
            "that date. History is not rewritten."
        )
    if errors:
        raise ValidationError(errors)
    before = {"line_manager": member.line_manager, "line_manager_since": member.line_manager_since}
    assignment = append_line_manager(by=by, member=member, manager=manager, since=since)
    after = {"line_manager": manager, "line_manager_since": since}
    record(actor=by, action="assign line manager", obj=member, person=member, changes=field_changes(before, after))
    return assignment


# The checks of a person's own fields, for one person and for each row of an import alike.

PERSON_FIELDS = {"first_name": "first name", "last_name": "last name", "email": "email address"}


def person_field_errors(*, first_name: str, last_name: str, email: str) -> dict[str, str]:
    """What stops a person's names and email from being saved: `{field: message}`, empty if nothing.

    The one check of these fields: `create_staff_member` and `update_staff_details` refuse what it
    refuses, and the import preview shows it on each row, so a row the preview accepts is one the
    import saves, on any database. Give the names as typed (they are saved through `normalise_text`;
    a direction control is refused even where that would trim it) and the email as it would be saved
    (trimmed, in lower case). Whether the email belongs to someone else is the caller's check: it
    needs the records.
    """
    typed = {"first_name": first_name, "last_name": last_name, "email": email}
    errors = {}
    for name, value in typed.items():
        label = PERSON_FIELDS[name]
        limit = cast(int, get_user_model()._meta.get_field(name).max_length)  # type: ignore[union-attr]  # the login's text fields
        saved = value if name == "email" else normalise_text(value)
        if name != "email" and has_bidi_control(value):
            errors[name] = BIDI_MESSAGE
        elif (control := _control_character(value)) is not None:
            # PostgreSQL refuses a NUL outright; none of these belongs in a name or an address.
            errors[name] = f"The {label} contains a control character ({control}), which cannot be kept; remove it."
        elif not saved and name != "email":  # someone with no email address gets a printed set-up code
            errors[name] = f"Give the person's {label}."
        elif len(saved) > limit:
            # PostgreSQL refuses a longer value; SQLite would keep it whole.
            errors[name] = f"The {label} is {len(saved):,} characters long; the limit is {limit:,}."
        elif name != "email" and (problem := name_problem(saved)) is not None:
            errors[name] = problem
    if email and "email" not in errors:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = f"“{email}” is not a valid email address."
    return errors


def _control_character(text: str) -> str | None:
    """The first control character in `text` (NUL, tab, line breaks, escape, DEL, …) as U+XXXX, if any."""
    for character in text:
        if unicodedata.category(character) == "Cc":
            return f"U+{ord(character):04X}"
    return None


# Helpers.


def lock_member(member: StaffMember) -> None:
    """Lock the person's row and reread their current state, so that two HR admins' changes are checked one after
    the other.

    Changes to line management wait for each other as a whole (`lock_hierarchy`), before any row is
    locked: a change checks the chain above the new manager, which other people's rows make up.
    """
    lock_hierarchy()
    StaffMember.objects.select_for_update().only("pk").get(pk=member.pk)
    member.refresh_from_db(
        fields=["role_profile", "role_profile_since", "line_manager", "line_manager_since", "left_on"]
    )


def _normal_email(email: str) -> str:
    return email.strip().lower()


def _details_errors(*, first_name: str, last_name: str, email: str, user=None) -> dict:
    errors = person_field_errors(first_name=first_name, last_name=last_name, email=email)
    if email and "email" not in errors:
        in_use = get_user_model().objects.filter(email__iexact=email)
        if user is not None:
            in_use = in_use.exclude(pk=user.pk)
        if in_use.exists():
            errors["email"] = f"{email} is already the email address of someone else."
    return errors


def _details(member: StaffMember) -> dict:
    user = member.user
    return {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "email_is_personal": member.email_is_personal,
        "service": member.service,
        "job_title": member.job_title,
    }


def _unique_username(email: str) -> str:
    """The email's local part, reduced to the characters usernames allow, with a number added if taken."""
    base = username_base(email)
    users = get_user_model().objects
    username, number = base, 1
    while users.filter(username__iexact=username).exists():
        number += 1
        username = f"{base}{number}"
    return username


def username_base(email: str) -> str:
    room = (
        cast(int, get_user_model()._meta.get_field("username").max_length) - 10
    )  # for the number that makes it unique
    return re.sub(r"[^\w.+-]", "", email.split("@")[0].lower())[:room] or "user"


def created_changes(
    member: StaffMember, *, line_manager: StaffMember | None, line_manager_since: datetime.date | None
) -> dict:
    """The changes of a person's "create" audit entry: their record as it was created, with the line
    manager they were given (who may take over only on a day ahead)."""
    return {
        "name": member.name,
        "email": member.user.email + (" (personal address)" if member.email_is_personal else ""),
        "username": member.user.username,
        "service": member.service,
        "job_title": member.job_title,
        "role_profile": member.role_profile,
        "role_profile_since": member.role_profile_since,
        "line_manager": line_manager,
        "line_manager_since": line_manager_since,
    }


def _unpublished_error(role_profile: RoleProfile) -> str | None:
    if role_profile.current_version is None:
        return f"The role profile “{role_profile.slug}” has no published version yet; publish it before assigning it."
    return None


def _left_error(manager: StaffMember) -> str | None:
    if not manager.is_active:
        return f"{manager.name} left on {day_text(manager.left_on)}; choose someone who works here."
    return None


def _loop_error(member: StaffMember, manager: StaffMember) -> str | None:
    """Whether `manager` is below `member` now, read from the database (after `_lock`), not from the
    records the form was given: another change may have come first."""
    if member.pk in managers_above(manager.pk):
        return (
            "A person cannot be their own line manager, directly or further up the line: "
            f"{manager.name} is below {member.name} in line management now, so this would make a loop."
        )
    return None


def _latest(history, current_since: datetime.date | None) -> datetime.date | None:
    """The date of the newest history row (or of the current state, for records that predate the history)."""
    newest = history.order_by("-since").values_list("since", flat=True).first()
    return max(filter(None, [newest, current_since]), default=None)


def _append_role(*, by, member: StaffMember, role_profile: RoleProfile, since: datetime.date) -> RoleAssignment:
    assignment = RoleAssignment.objects.create(
        staff_member=member, role_profile=role_profile, since=since, recorded_by=by
    )
    member.role_profile, member.role_profile_since = role_profile, since
    member.save(update_fields=["role_profile", "role_profile_since"])
    return assignment


def append_line_manager(
    *, by, member: StaffMember, manager: StaffMember | None, since: datetime.date
) -> LineManagerAssignment:
    """A new history row; the person's current line manager changes now, or on `since` if it is ahead
    (`apply_due_line_changes`)."""
    assignment = LineManagerAssignment.objects.create(
        staff_member=member, line_manager=manager, since=since, recorded_by=by
    )
    if since <= timezone.localdate():
        member.line_manager, member.line_manager_since = manager, since
        member.save(update_fields=["line_manager", "line_manager_since"])
    return assignment


def day_text(day: datetime.date | None) -> str:
    return f"{day.day} {day:%B %Y}" if day else "an unknown date"
