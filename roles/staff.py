"""Staff records: every write to a person's record, and the CSV import that creates many at once.

Each service is keyword-only and atomic, raises `ValidationError({field: message})` with messages
meant to be shown next to the form field they concern, and writes its audit entry about the person
in the same transaction. Role and line-manager history is appended to, never changed or deleted;
`StaffMember.role_profile` / `line_manager` (and their `_since`) mirror the newest history row.
"""

import csv
import datetime
import io
import math
import re
import secrets
import unicodedata
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.db.models.functions import Lower
from django.utils import timezone

from appraisal.audit import build, field_changes, record, record_all
from config.dates import employment_date_problem
from config.text import BIDI_MESSAGE, has_bidi_control, name_problem, normalise_text
from roles.hierarchy import lock_hierarchy, loops_made, managers_above
from roles.models import LineManagerAssignment, RoleAssignment, RoleProfile, Service, StaffMember

IMPORT_COLUMNS = ["name", "email", "role_profile", "line_manager", "start_date"]
IMPORT_DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]
MAX_IMPORT_BYTES = 1_000_000
IMPORT_BATCH_SIZE = 1000  # rows a query when an import writes a table (SQLite may take fewer)
LOOP_NAMED_IN_FULL = 5  # a longer loop of line managers is named by its first and last few people


# Writes to one person's record.


@transaction.atomic
def create_staff_member(
    *,
    by,
    first_name: str,
    last_name: str,
    email: str,
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
        username=_unique_username(email), email=email, first_name=first_name, last_name=last_name, password=None
    )
    member = StaffMember.objects.create(user=user, service=service, job_title=job_title)
    if role_profile is not None:
        _append_role(by=by, member=member, role_profile=role_profile, since=role_since)
    if line_manager is not None:
        _append_line_manager(by=by, member=member, manager=line_manager, since=manager_since)
    changes = _created(member, line_manager=line_manager, line_manager_since=manager_since if line_manager else None)
    record(actor=by, action="create", obj=member, person=member, changes=changes)
    return member


@transaction.atomic
def update_staff_details(
    *, by, member: StaffMember, first_name: str, last_name: str, email: str, service: Service | None, job_title: str
) -> StaffMember:
    """Change a person's name, email, service and job title. Saves and audits only what changed."""
    email, job_title = _normal_email(email), normalise_text(job_title)
    errors = _details_errors(first_name=first_name, last_name=last_name, email=email, user=member.user)  # the names as typed
    first_name, last_name = normalise_text(first_name), normalise_text(last_name)
    if errors:
        raise ValidationError(errors)
    user = member.user
    before = _details(member)
    user.first_name, user.last_name, user.email = first_name, last_name, email
    member.service, member.job_title = service, job_title
    changes = field_changes(before, _details(member))
    if not changes:
        return member
    user.save(update_fields=["first_name", "last_name", "email"])
    member.save(update_fields=["service", "job_title"])
    record(actor=by, action="edit", obj=member, person=member, changes=changes)
    return member


@transaction.atomic
def assign_role_profile(*, by, member: StaffMember, role_profile: RoleProfile, since: datetime.date) -> RoleAssignment:
    """From `since`, the person holds `role_profile`: a new history row, and the current state updated."""
    _lock(member)
    errors = {}
    if role_profile is None:
        errors["role_profile"] = "Choose a role profile."
    elif (message := _unpublished_error(role_profile)) is not None:
        errors["role_profile"] = message
    elif member.role_profile_id == role_profile.pk:
        errors["role_profile"] = f"{member.name} already holds this role profile (since {_day(member.role_profile_since)})."
    current = _latest(member.role_history.all(), member.role_profile_since)
    if since is None:
        errors["since"] = "Give the date from which this person holds the role profile."
    elif (message := employment_date_problem(since)) is not None:
        errors["since"] = message
    elif current is not None and since < current:
        errors["since"] = (
            f"The current role profile is held since {_day(current)}; a new one can only start on or after that date. "
            "History is not rewritten."
        )
    if errors:
        raise ValidationError(errors)
    before = {"role_profile": member.role_profile, "role_profile_since": member.role_profile_since}
    assignment = _append_role(by=by, member=member, role_profile=role_profile, since=since)
    after = {"role_profile": member.role_profile, "role_profile_since": member.role_profile_since}
    record(actor=by, action="assign role", obj=member, person=member, changes=field_changes(before, after))
    return assignment


@transaction.atomic
def assign_line_manager(*, by, member: StaffMember, manager: StaffMember | None, since: datetime.date) -> LineManagerAssignment:
    """From `since`, `manager` line-manages the person (None: nobody does). Appends history; the
    current state changes now, or on `since` if that is ahead (`apply_due_line_changes`)."""
    _lock(member)
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
            f"{manager.name} already line-manages {member.name}." if manager else f"{member.name} has no line manager already."
        )
    current = _latest(member.manager_history.all(), member.line_manager_since)
    if since is None:
        errors["since"] = "Give the date from which this takes effect."
    elif (message := employment_date_problem(since)) is not None:
        errors["since"] = message
    elif current is not None and since < current:
        errors["since"] = (
            f"The current line manager is recorded from {_day(current)}; a change can only start on or after that date. "
            "History is not rewritten."
        )
    if errors:
        raise ValidationError(errors)
    before = {"line_manager": member.line_manager, "line_manager_since": member.line_manager_since}
    assignment = _append_line_manager(by=by, member=member, manager=manager, since=since)
    after = {"line_manager": manager, "line_manager_since": since}
    record(actor=by, action="assign line manager", obj=member, person=member, changes=field_changes(before, after))
    return assignment


def reports_to_hand_over(member: StaffMember, left_on: datetime.date | None) -> list[StaffMember]:
    """The people `member` line-manages who will still work here after `left_on` (today's reports if None)."""
    return list(StaffMember.objects.active(left_on or timezone.localdate()).filter(line_manager=member).select_related("user"))


@transaction.atomic
def mark_leaver(
    *, by, member: StaffMember, left_on: datetime.date | None, line_successors: dict[int, StaffMember] | None = None
) -> StaffMember:
    """Record the person's last day of employment, change it, or (with None) clear it. Their records are kept.

    Everyone they line-manage who will still work here after that day needs a successor
    (`line_successors`, {report id: new line manager}), from the day after the last day: at once if
    that day has come, else on the day (`apply_due_line_changes`). Changing or clearing the date
    cancels a handover that has not taken effect yet. All or nothing.
    """
    _lock(member)
    line_successors = line_successors or {}
    if (message := employment_date_problem(left_on)) is not None:
        raise ValidationError({"left_on": message})
    today = timezone.localdate()
    _cancel_pending_handover(by=by, member=member, today=today)
    errors = {}
    reports = []
    if left_on is not None:
        latest_start = max(filter(None, [member.role_profile_since, member.line_manager_since]), default=None)
        if latest_start is not None and left_on < latest_start:
            errors["left_on"] = (
                f"The leaving date cannot be before the start of {member.name}'s current role profile or line manager "
                f"({_day(latest_start)})."
            )
        reports = reports_to_hand_over(member, left_on)
        errors.update(_handover_errors(member, left_on, reports, line_successors))
    if errors:
        raise ValidationError(errors)
    effective = left_on + datetime.timedelta(days=1) if left_on else None
    for report in reports:
        before = {"line_manager": report.line_manager, "line_manager_since": report.line_manager_since}
        successor = line_successors[report.pk]
        _append_line_manager(by=by, member=report, manager=successor, since=effective)
        changes = field_changes(before, {"line_manager": successor, "line_manager_since": effective})
        record(actor=by, action="assign line manager", obj=report, person=report, changes={**changes, "reason": f"{member.name} leaves"})
    if member.left_on == left_on:
        return member
    before = {"left_on": member.left_on}
    member.left_on = left_on
    member.save(update_fields=["left_on"])
    action = "mark leaver" if left_on else "clear leaver"
    record(actor=by, action=action, obj=member, person=member, changes=field_changes(before, {"left_on": left_on}))
    return member


def _handover_errors(member: StaffMember, left_on: datetime.date, reports: list[StaffMember], successors: dict[int, StaffMember]) -> dict:
    """{field: message} for reports without a fit successor: "left_on" for the missing ones, "report-<id>" for each unfit."""
    errors = {}
    missing = [report for report in reports if report.pk not in successors]
    if missing:
        people = "person" if len(missing) == 1 else "people"
        errors["left_on"] = (
            f"{member.name} line-manages {len(missing)} {people} who will still be working here: "
            f"choose who takes over from {_day(left_on + datetime.timedelta(days=1))} ({', '.join(r.name for r in missing)})."
        )
    effective = left_on + datetime.timedelta(days=1)
    fit = {}
    for report in reports:
        successor = successors.get(report.pk)
        if successor is None:
            continue
        if successor.pk == member.pk:
            problem = f"{member.name} is the one leaving: choose someone else to line-manage {report.name}."
        elif successor.pk == report.pk:
            problem = f"{report.name} cannot line-manage themselves: choose someone else."
        elif not successor.is_active_on(effective):
            problem = f"{successor.name} left on {_day(successor.left_on)}; choose someone who works here."
        else:
            fit[report.pk] = successor.pk
            continue
        errors[f"report-{report.pk}"] = problem
    names = {report.pk: report.name for report in reports}
    for report_id in loops_made(fit):
        errors[f"report-{report_id}"] = (
            f"A person cannot be their own line manager, directly or further up the line: with these changes {names[report_id]} "
            "would be above themselves, a loop."
        )
    return errors


def _cancel_pending_handover(*, by, member: StaffMember, today: datetime.date) -> None:
    """Remove the changes of line manager, not yet in effect, away from `member` (a handover for a
    leaving date that is changed or cleared). They never took effect, so no history is lost."""
    pending = LineManagerAssignment.objects.filter(since__gt=today, staff_member__line_manager=member).select_related("staff_member", "line_manager__user")
    for assignment in pending:
        record(
            actor=by,
            action="cancel line manager change",
            obj=assignment.staff_member,
            person=assignment.staff_member,
            changes={"line_manager": [str(assignment.line_manager or "nobody"), str(member)], "from": str(assignment.since)},
        )
    pending.delete()


@transaction.atomic
def apply_due_line_changes(today: datetime.date | None = None) -> list[StaffMember]:
    """Make changes of line manager recorded ahead of their date current once their date has come;
    returns the people whose line manager changed. Safe to run any number of times."""
    today = today or timezone.localdate()
    lock_hierarchy()
    due = (
        LineManagerAssignment.objects.filter(since__lte=today)
        .filter(Q(staff_member__line_manager_since__isnull=True) | Q(since__gt=F("staff_member__line_manager_since")))
        .select_related("staff_member__user", "line_manager__user")
        .order_by("staff_member_id", "since", "pk")
    )
    newest = {}
    for assignment in due:
        newest[assignment.staff_member_id] = assignment  # the last one of each person wins
    changed = []
    for assignment in newest.values():
        member = assignment.staff_member
        before = {"line_manager": member.line_manager, "line_manager_since": member.line_manager_since}
        member.line_manager, member.line_manager_since = assignment.line_manager, assignment.since
        member.save(update_fields=["line_manager", "line_manager_since"])
        changes = field_changes(before, {"line_manager": member.line_manager, "line_manager_since": member.line_manager_since})
        record(actor=None, action="line manager change takes effect", obj=member, person=member, changes=changes)
        changed.append(member)
    return changed


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
        limit = get_user_model()._meta.get_field(name).max_length
        saved = value if name == "email" else normalise_text(value)
        if name != "email" and has_bidi_control(value):
            errors[name] = BIDI_MESSAGE
        elif (control := _control_character(value)) is not None:
            # PostgreSQL refuses a NUL outright; none of these belongs in a name or an address.
            errors[name] = f"The {label} contains a control character ({control}), which cannot be kept; remove it."
        elif not saved:
            errors[name] = f"Give the person's {label}."
        elif len(saved) > limit:
            # PostgreSQL refuses a longer value; SQLite would keep it whole.
            errors[name] = f"The {label} is {len(saved):,} characters long; the limit is {limit:,}."
        elif name != "email" and (problem := name_problem(saved)) is not None:
            errors[name] = problem
    if "email" not in errors:
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


# CSV import: a preview that checks every row, and the import that creates them all or nothing.


@dataclass
class ImportRow:
    """One data line of an import file, what it refers to, and what is wrong with it."""

    line: int
    name: str
    email: str
    role_profile_text: str
    line_manager_text: str
    start_date_text: str
    first_name: str = ""
    last_name: str = ""
    role_profile: RoleProfile | None = None
    start_date: datetime.date | None = None
    manager: StaffMember | None = None  # an existing member of staff
    manager_row: "ImportRow | None" = None  # another row of the same file
    errors: list[str] = field(default_factory=list)


@dataclass
class ImportPreview:
    rows: list[ImportRow]
    errors: list[str]  # about the file as a whole

    @property
    def invalid_rows(self) -> list[ImportRow]:
        return [row for row in self.rows if row.errors]

    @property
    def is_valid(self) -> bool:
        return bool(self.rows) and not self.errors and not self.invalid_rows


@dataclass(frozen=True)
class StaffImport:
    """What one import created, named in the audit trail (it is not a record of its own)."""

    people: tuple
    pk = None

    def __str__(self):
        return f"CSV import of {len(self.people)} {'person' if len(self.people) == 1 else 'people'}"


def check_import_size(size: int) -> None:
    if size > MAX_IMPORT_BYTES:
        raise ValidationError(
            f"The file is {math.ceil(size / 1000):,} kB; the limit is 1 MB ({MAX_IMPORT_BYTES // 1000:,} kB). "
            "Split it into smaller files."
        )


def decode_import_file(data: bytes) -> str:
    """The text of an uploaded import file, or ValidationError saying why it cannot be read."""
    check_import_size(len(data))
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a byte-order mark
    except UnicodeDecodeError:
        raise ValidationError(
            "The file is not UTF-8 text. In Excel, save it as “CSV UTF-8 (Comma delimited)” and upload it again."
        ) from None
    if not text.strip():
        raise ValidationError("The file is empty.")
    return text


def preview_import(csv_text: str) -> ImportPreview:
    """Read an import file and check every row against the file and the records, without writing anything."""
    lines = list(csv.reader(io.StringIO(csv_text)))
    if not lines or not any(cell.strip() for cell in lines[0]):
        return ImportPreview(rows=[], errors=["The file is empty."])
    header = [cell.strip().lower() for cell in lines[0]]
    if header != IMPORT_COLUMNS:
        return ImportPreview(
            rows=[],
            errors=[f"The first line must be exactly “{','.join(IMPORT_COLUMNS)}”; it is “{','.join(lines[0])}”."],
        )
    rows = []
    for number, cells in enumerate(lines[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        values = [cell.strip() for cell in cells] + [""] * (len(IMPORT_COLUMNS) - len(cells))
        row = ImportRow(number, " ".join(values[0].split()), values[1].lower(), values[2], values[3].lower(), values[4])
        if len(cells) != len(IMPORT_COLUMNS):
            row.errors.append(f"This line has {len(cells)} values; it needs {len(IMPORT_COLUMNS)}.")
        rows.append(row)
    if not rows:
        return ImportPreview(rows=[], errors=["The file has a header line but nobody in it."])
    _check_import_rows(rows)
    return ImportPreview(rows=rows, errors=[])


@transaction.atomic
def import_staff(*, by, csv_text: str) -> list[StaffMember]:
    """Create everyone in an import file, managers before their reports, or nobody if any row is wrong.

    Each person gets what `create_staff_member` gives one person (a login without a password, the
    record, the first role and line-manager history rows, a "create" audit entry about them); an
    "import" entry names them all. Each table is written in a few bulk queries rather than a few
    queries a person, so that the import holds the database (on SQLite, every writer waits for it)
    for a moment however long the file. Returns the people in the file's order.
    """
    preview = preview_import(csv_text)
    if not preview.is_valid:
        raise ValidationError("The file has problems; nothing was imported. Fix it and upload it again.")
    rows = _managers_first(preview.rows)
    User = get_user_model()
    # Read once: `by` is often the request's lazy user, every attribute read of which is a call,
    # and it is read a few times for each row of every table.
    by = User.objects.get(pk=by.pk)
    users = [
        User(
            username=User.normalize_username(username),
            email=User.objects.normalize_email(row.email),
            first_name=normalise_text(row.first_name),
            last_name=normalise_text(row.last_name),
            password=_unusable_password(),
        )
        for row, username in zip(rows, _unique_usernames([row.email for row in rows]), strict=True)
    ]
    User.objects.bulk_create(users, batch_size=IMPORT_BATCH_SIZE)

    today = timezone.localdate()
    created: dict[int, StaffMember] = {}  # by line
    for row, user in zip(rows, users, strict=True):
        # As for one person, a line manager from a start date ahead takes over on that day.
        managed_now = bool(row.manager or row.manager_row) and row.start_date <= today
        created[row.line] = StaffMember(
            user=user,
            role_profile=row.role_profile,
            role_profile_since=row.start_date,
            line_manager=row.manager if managed_now else None,
            line_manager_since=row.start_date if managed_now else None,
        )
    StaffMember.objects.bulk_create(created.values(), batch_size=IMPORT_BATCH_SIZE)
    members = list(created.values())  # in the order created
    RoleAssignment.objects.bulk_create(
        [RoleAssignment(staff_member=m, role_profile=m.role_profile, since=m.role_profile_since, recorded_by=by) for m in members],
        batch_size=IMPORT_BATCH_SIZE,
    )
    # A line manager from the file is created in the same queries as their reports, so had no id for
    # them to point to: they point to them once the history rows that name them are written.
    managers = {row.line: created[row.manager_row.line] if row.manager_row else row.manager for row in rows}
    LineManagerAssignment.objects.bulk_create(
        [
            LineManagerAssignment(staff_member=created[row.line], line_manager=managers[row.line], since=row.start_date, recorded_by=by)
            for row in rows
            if managers[row.line] is not None
        ],
        batch_size=IMPORT_BATCH_SIZE,
    )
    for row in rows:
        if row.manager_row and row.start_date <= today:
            created[row.line].line_manager = managers[row.line]
    their_manager = LineManagerAssignment.objects.filter(staff_member=OuterRef("pk")).values("line_manager")[:1]
    for batch in _batches([created[row.line].pk for row in rows if row.manager_row and row.start_date <= today]):
        StaffMember.objects.filter(pk__in=batch).update(line_manager=Subquery(their_manager))
    people = [created[row.line] for row in preview.rows]
    entries = [
        build(
            actor=by, action="create", obj=created[row.line], person=created[row.line],
            changes=_created(created[row.line], line_manager=managers[row.line], line_manager_since=row.start_date if managers[row.line] else None),
        )
        for row in rows
    ]
    entries.append(
        build(
            actor=by,
            action="import",
            obj=StaffImport(tuple(people)),
            object_type="staff import",
            changes={"count": len(people), "names": [person.name for person in people]},
        )
    )
    record_all(entries)
    return people


# Helpers.


def _lock(member: StaffMember) -> None:
    """Lock the person's row and reread their current state, so that two HR admins' changes are checked one after the other.

    Changes to line management wait for each other as a whole (`lock_hierarchy`), before any row is
    locked: a change checks the chain above the new manager, which other people's rows make up.
    """
    lock_hierarchy()
    StaffMember.objects.select_for_update().only("pk").get(pk=member.pk)
    member.refresh_from_db(fields=["role_profile", "role_profile_since", "line_manager", "line_manager_since", "left_on"])


def _normal_email(email: str) -> str:
    return email.strip().lower()


def _details_errors(*, first_name: str, last_name: str, email: str, user=None) -> dict:
    errors = person_field_errors(first_name=first_name, last_name=last_name, email=email)
    if "email" not in errors:
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
        "service": member.service,
        "job_title": member.job_title,
    }


def _unique_username(email: str) -> str:
    """The email's local part, reduced to the characters usernames allow, with a number added if taken."""
    base = _username_base(email)
    users = get_user_model().objects
    username, number = base, 1
    while users.filter(username__iexact=username).exists():
        number += 1
        username = f"{base}{number}"
    return username


def _unique_usernames(emails: list[str]) -> list[str]:
    """`_unique_username` for each email in turn, as if each person's login were saved before the next is made."""
    # Every login's name in one query: a name taken by a login saved long ago matters as much as a
    # file's own repeats, and this reads a column of short strings, once.
    taken = set(get_user_model().objects.annotate(lowered=Lower("username")).values_list("lowered", flat=True))
    usernames = []
    for email in emails:
        base = _username_base(email)
        username, number = base, 1
        while username.lower() in taken:
            number += 1
            username = f"{base}{number}"
        taken.add(username.lower())
        usernames.append(username)
    return usernames


def _username_base(email: str) -> str:
    room = get_user_model()._meta.get_field("username").max_length - 10  # for the number that makes it unique
    return re.sub(r"[^\w.+-]", "", email.split("@")[0].lower())[:room] or "user"


def _unusable_password() -> str:
    """What `set_unusable_password` stores, a mark and 40 random characters, from one read of the
    system's random source rather than forty (which, for thousands of people, took a second)."""
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)


def _batches(values: list, size: int = IMPORT_BATCH_SIZE):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _created(member: StaffMember, *, line_manager: StaffMember | None, line_manager_since: datetime.date | None) -> dict:
    """The changes of a person's "create" audit entry: their record as it was created, with the line
    manager they were given (who may take over only on a day ahead)."""
    return {
        "name": member.name,
        "email": member.user.email,
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
        return f"{manager.name} left on {_day(manager.left_on)}; choose someone who works here."
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
    assignment = RoleAssignment.objects.create(staff_member=member, role_profile=role_profile, since=since, recorded_by=by)
    member.role_profile, member.role_profile_since = role_profile, since
    member.save(update_fields=["role_profile", "role_profile_since"])
    return assignment


def _append_line_manager(*, by, member: StaffMember, manager: StaffMember | None, since: datetime.date) -> LineManagerAssignment:
    """A new history row; the person's current line manager changes now, or on `since` if it is ahead
    (`apply_due_line_changes`)."""
    assignment = LineManagerAssignment.objects.create(staff_member=member, line_manager=manager, since=since, recorded_by=by)
    if since <= timezone.localdate():
        member.line_manager, member.line_manager_since = manager, since
        member.save(update_fields=["line_manager", "line_manager_since"])
    return assignment


def _day(day: datetime.date | None) -> str:
    return f"{day.day} {day:%B %Y}" if day else "an unknown date"


def _check_import_rows(rows: list[ImportRow]) -> None:
    """Fill in each row's names, role profile, date and line manager, and list its problems."""
    by_email: dict[str, ImportRow] = {}
    for row in rows:
        if row.email and row.email not in by_email:
            by_email[row.email] = row
    # PostgreSQL refuses a NUL even in a value to compare with, and no stored address holds one.
    mentioned = {text for row in rows for text in (row.email, row.line_manager_text) if text and "\x00" not in text}
    users = (
        get_user_model()
        .objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=mentioned)
        .select_related("staff_member__user")
    )
    existing = {user.email_lower: user for user in users}
    profiles = {}
    for profile in RoleProfile.objects.with_current_version():
        profiles[profile.slug.lower()] = profile
        profiles[profile.current_version.title.lower()] = profile

    for row in rows:
        if not row.name:
            row.errors.append("The name is missing.")
        elif " " not in row.name:
            row.errors.append(f"Give a first and a last name (“First Last”), not just “{row.name}”.")
        else:
            row.first_name, _, row.last_name = row.name.rpartition(" ")
        field_errors = person_field_errors(first_name=row.first_name, last_name=row.last_name, email=row.email)
        if row.first_name:  # else the name's own message above says what is wrong with it
            row.errors.extend(field_errors[name] for name in ("first_name", "last_name") if name in field_errors)

        if not row.email:
            row.errors.append("The email address is missing.")
        elif "email" in field_errors:
            row.errors.append(field_errors["email"])
        elif (first := by_email[row.email]) is not row:
            row.errors.append(f"{row.email} is also on line {first.line} of this file.")
        elif row.email in existing:
            row.errors.append(f"{row.email} is already the email address of {_person(existing[row.email])}.")

        if not row.role_profile_text:
            row.errors.append("The role profile is missing.")
        else:
            row.role_profile = profiles.get(row.role_profile_text.lower())
            if row.role_profile is None:
                row.errors.append(f"There is no published role profile called “{row.role_profile_text}” (use its title or its slug).")

        row.start_date = _parse_date(row.start_date_text)
        if not row.start_date_text:
            row.errors.append("The start date is missing.")
        elif row.start_date is None:
            row.errors.append(f"“{row.start_date_text}” is not a date: write it as YYYY-MM-DD or DD/MM/YYYY.")
        elif (message := employment_date_problem(row.start_date)) is not None:
            row.errors.append(f"The start date: {message[0].lower()}{message[1:]}")

        manager_email = row.line_manager_text
        if not manager_email:
            pass
        elif manager_email == row.email:
            row.errors.append("A person cannot be their own line manager.")
        elif manager_email in by_email:
            row.manager_row = by_email[manager_email]
        elif manager_email in existing and hasattr(existing[manager_email], "staff_member"):
            manager = existing[manager_email].staff_member
            if manager.is_active:
                row.manager = manager
            else:
                row.errors.append(f"The line manager {manager.name} ({manager_email}) left on {_day(manager.left_on)}.")
        else:
            row.errors.append(f"No one working here or in this file has the email {manager_email}, given as the line manager.")

    _mark_loops(rows)


def _mark_loops(rows: list[ImportRow]) -> None:
    """Give every row whose line managers in the file lead back to it an error naming the loop.

    Each row is followed up its line once (rows already followed are not followed again), so a
    file's checks take time in proportion to its length however deep its lines of management.
    """
    followed: set[int] = set()  # lines
    for start in rows:
        path, position = [], {}  # the rows followed from `start`, and each one's place in it
        row = start
        while row is not None and row.line not in followed and row.line not in position:
            position[row.line] = len(path)
            path.append(row)
            row = row.manager_row
        if row is not None and row.line in position:
            loop = path[position[row.line] :]
            for place, member in enumerate(loop):
                member.errors.append(_loop_message(loop, place))
        followed.update(member.line for member in path)


def _loop_message(loop: list[ImportRow], start: int) -> str:
    """The loop as seen from `loop[start]`: each person's line manager after them, back to the first."""
    size = len(loop)
    emails = [loop[(start + step) % size].email for step in range(min(size, LOOP_NAMED_IN_FULL))]
    if size > LOOP_NAMED_IN_FULL:
        # A loop of hundreds, named in full on each of its rows, would fill the page many times over.
        emails = [*emails[:3], "…", loop[start - 1].email]
    emails.append(loop[start].email)
    counted = f" of {size:,} people" if size > LOOP_NAMED_IN_FULL else ""
    return f"The line managers in this file go round in a loop{counted}: {' → '.join(emails)}."


def _managers_first(rows: list[ImportRow]) -> list[ImportRow]:
    """The rows in the order they are created: the file's order, except that a line manager in the file
    comes before their reports (and before them, their own line manager, and so on up the line).

    Rows whose line managers go round in a loop are refused before this is called.
    """
    ordered, placed = [], set()
    for row in rows:
        line = []
        while row is not None and row.line not in placed:
            placed.add(row.line)
            line.append(row)
            row = row.manager_row
        ordered.extend(reversed(line))
    return ordered


def _person(user) -> str:
    return user.get_full_name() or user.username


def _parse_date(text: str) -> datetime.date | None:
    for date_format in IMPORT_DATE_FORMATS:
        try:
            return datetime.datetime.strptime(text, date_format).date()
        except ValueError:
            continue
    return None
