"""The CSV import that adds many people at once: a preview that checks every row against the file
and the records, and the import that creates them all or nobody.

Each person gets what adding one person gives (`staff.records.create_staff_member`): a login without
a password, the record, the first role and line-manager history rows, a "create" audit entry about
them; an "import" entry names them all. Every row is checked by the same `person_field_errors` as
one person, so a row the preview accepts is one the import saves.
"""

import csv
import datetime
import io
import math
import secrets
from dataclasses import dataclass, field
from typing import cast

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from audit.trail import build, record_all
from core import jobs
from core.access import is_hr_admin
from core.dates import employment_date_problem, long_date
from core.models import Job
from core.text import normalise_text
from roles.models import RoleProfile
from staff.models import LineManagerAssignment, RoleAssignment, StaffMember
from staff.records import created_changes, person_field_errors, username_base

IMPORT_COLUMNS = ["name", "email", "role_profile", "line_manager", "start_date"]
IMPORT_DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]
MAX_IMPORT_BYTES = 1_000_000
IMPORT_BATCH_SIZE = 1000  # rows a query when an import writes a table (SQLite may take fewer)
IMPORT_KEY = "staff import"  # one import at a time (core.jobs: the key of its job)
LOOP_NAMED_IN_FULL = 5  # a longer loop of line managers is named by its first and last few people


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

    @property
    def start(self) -> datetime.date:
        """The start date of a row that passed the checks (only those are imported)."""
        return cast(datetime.date, self.start_date)


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


def count_rows(csv_text: str) -> int:
    """The number of people in an import file (its lines with something in them, after the header)."""
    return sum(1 for cells in list(csv.reader(io.StringIO(csv_text)))[1:] if any(cell.strip() for cell in cells))


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


def start_import(*, by, csv_text: str, count: int) -> Job:
    """Queue the job that imports a checked file (HR's page); jobs.AlreadyRunning while another import runs."""
    return jobs.start(
        kind="import staff",
        key=IMPORT_KEY,
        func="staff.imports.run_import",
        title=f"Importing {count:,} {'person' if count == 1 else 'people'}",
        url=reverse("staff_list"),
        back="Back to the staff list",
        by=by,
        params={"csv": csv_text},
        total=count,
    )


def run_import(job: Job, progress: jobs.Progress) -> dict:
    """The import job: check the file again against the records as they are now, then create everyone
    in one transaction, which also records the job as done (a worker that dies before it commits
    leaves nothing, and the next one does it all; one that dies after leaves it done)."""
    by = job.created_by
    if not is_hr_admin(by):
        raise jobs.JobFailed("Only HR admins can import staff, and you are no longer one. Nothing was imported.")
    csv_text = job.params["csv"]
    progress(0, step="Checking every row against the records as they are now")
    preview = preview_import(csv_text)
    if not preview.is_valid:
        problems = preview.errors + [f"Line {row.line}: {' '.join(row.errors)}" for row in preview.invalid_rows[:10]]
        raise jobs.JobFailed(
            "The records changed since the file was checked, and it no longer passes the checks: "
            + " ".join(problems)
            + " Nothing was imported. Upload the file again to see every problem."
        )
    count = len(preview.rows)
    progress(0, total=count, step=f"Saving {count:,} people in one step: they appear together when it is done")
    with transaction.atomic():
        people = import_staff(by=by, csv_text=csv_text, preview=preview)
        result = {
            "summary": [
                f"Imported {len(people):,} {'person' if len(people) == 1 else 'people'}. "
                "They cannot sign in until they set a password: invite them, in one step."
            ],
            "staff_ids": [person.pk for person in people],  # whom "invite everyone imported" invites
            "next": {
                "label": f"Invite {'the person' if len(people) == 1 else f'the {len(people):,} people'} imported",
                "url": reverse("staff_invite_many") + f"?job={job.pk}",
            },
        }
        jobs.finish(job, result)
    return result


@transaction.atomic
def import_staff(*, by, csv_text: str, preview: ImportPreview | None = None) -> list[StaffMember]:
    """Create everyone in an import file, managers before their reports, or nobody if any row is wrong.

    Each person gets what `create_staff_member` gives one person (a login without a password, the
    record, the first role and line-manager history rows, a "create" audit entry about them); an
    "import" entry names them all. Each table is written in a few bulk queries rather than a few
    queries a person, so that the import holds the database (on SQLite, every writer waits for it)
    for a moment however long the file. Returns the people in the file's order.
    """
    preview = preview or preview_import(csv_text)
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
        managed_now = bool(row.manager or row.manager_row) and row.start <= today
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
        [
            RoleAssignment(staff_member=m, role_profile=m.role_profile, since=m.role_profile_since, recorded_by=by)  # type: ignore[misc]  # set above
            for m in members
        ],
        batch_size=IMPORT_BATCH_SIZE,
    )
    # A line manager from the file is created in the same queries as their reports, so had no id for
    # them to point to: they point to them once the history rows that name them are written.
    managers = {row.line: created[row.manager_row.line] if row.manager_row else row.manager for row in rows}
    LineManagerAssignment.objects.bulk_create(
        [
            LineManagerAssignment(
                staff_member=created[row.line], line_manager=managers[row.line], since=row.start, recorded_by=by
            )
            for row in rows
            if managers[row.line] is not None
        ],
        batch_size=IMPORT_BATCH_SIZE,
    )
    for row in rows:
        if row.manager_row and row.start <= today:
            created[row.line].line_manager = managers[row.line]
    their_manager = LineManagerAssignment.objects.filter(staff_member=OuterRef("pk")).values("line_manager")[:1]
    for batch in _batches([created[row.line].pk for row in rows if row.manager_row and row.start <= today]):
        StaffMember.objects.filter(pk__in=batch).update(line_manager=Subquery(their_manager))
    people = [created[row.line] for row in preview.rows]
    entries = [
        build(
            actor=by,
            action="create",
            obj=created[row.line],
            person=created[row.line],
            changes=created_changes(
                created[row.line],
                line_manager=managers[row.line],
                line_manager_since=row.start_date if managers[row.line] else None,
            ),
        )
        for row in rows
    ]
    entries.append(
        build(
            actor=by,
            action="import",
            obj=StaffImport(tuple(people)),  # type: ignore[arg-type]  # not a record: named by object_type
            object_type="staff import",
            changes={"count": len(people), "names": [person.name for person in people]},
        )
    )
    record_all(entries)
    return people


def _unique_usernames(emails: list[str]) -> list[str]:
    """`_unique_username` for each email in turn, as if each person's login were saved before the next is made."""
    # Every login's name in one query: a name taken by a login saved long ago matters as much as a
    # file's own repeats, and this reads a column of short strings, once.
    taken = set(get_user_model().objects.annotate(lowered=Lower("username")).values_list("lowered", flat=True))
    usernames = []
    for email in emails:
        base = username_base(email)
        username, number = base, 1
        while username.lower() in taken:
            number += 1
            username = f"{base}{number}"
        taken.add(username.lower())
        usernames.append(username)
    return usernames


def _unusable_password() -> str:
    """What `set_unusable_password` stores, a mark and 40 random characters, from one read of the
    system's random source rather than forty (which, for thousands of people, took a second)."""
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)


def _batches(values: list, size: int = IMPORT_BATCH_SIZE):
    for start in range(0, len(values), size):
        yield values[start : start + size]


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
                row.errors.append(
                    f"There is no published role profile called “{row.role_profile_text}” (use its title or its slug)."
                )

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
                left_on = long_date(manager.left_on)  # type: ignore[arg-type]  # not active: has left
                row.errors.append(f"The line manager {manager.name} ({manager_email}) left on {left_on}.")
        else:
            row.errors.append(
                f"No one working here or in this file has the email {manager_email}, given as the line manager."
            )

    _mark_loops(rows)


def _mark_loops(rows: list[ImportRow]) -> None:
    """Give every row whose line managers in the file lead back to it an error naming the loop.

    Each row is followed up its line once (rows already followed are not followed again), so a
    file's checks take time in proportion to its length however deep its lines of management.
    """
    followed: set[int] = set()  # lines
    for start in rows:
        # the rows followed from `start`, and each one's place in it
        path: list[ImportRow] = []
        position: dict[int, int] = {}
        row: ImportRow | None = start
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
    ordered: list[ImportRow] = []
    placed = set()
    for first in rows:
        line = []
        row: ImportRow | None = first
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
