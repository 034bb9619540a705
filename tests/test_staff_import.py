"""HR imports staff from a CSV file: every row is checked first, then all are created or none."""

import csv
import datetime
import io
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import TestCase
from django.urls import reverse
from django.utils.html import escape

from audit.models import AuditEntry
from core.models import Job
from staff.imports import import_staff, preview_import
from staff.leaving import mark_leaver
from staff.models import LineManagerAssignment, RoleAssignment, StaffMember
from staff.records import create_staff_member
from tests.test_staff_records import email_of_length, snapshot

pytestmark = pytest.mark.django_db

HEADER = "name,email,role_profile,line_manager,start_date\n"


def upload(client, text: str | bytes, name="staff.csv"):
    content = text.encode() if isinstance(text, str) else text
    return client.post(reverse("staff_import"), {"file": SimpleUploadedFile(name, content, content_type="text/csv")})


def confirm(client, text: str):
    """Confirm an import: the job it starts runs at once here (tests/conftest.py); its page is returned."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(reverse("staff_import"), {"csv_text": text})
    assert response.status_code == 302, response
    job = Job.objects.get(kind="import staff")
    assert response.url == reverse("job", args=[job.pk])
    return client.get(response.url)


@pytest.fixture
def good_file(manager):
    manager.email = "morgan.ellis@example.org"
    manager.save()
    # Kofi is managed by Alex, who comes later in the file: Alex must be created first.
    return HEADER + (
        "Kofi Mensah,kofi.mensah@example.org,housing-worker,Alex.de.Souza@example.org,2025-09-01\n"
        "Alex de Souza,alex.de.souza@example.org,night senior support worker,morgan.ellis@example.org,01/04/2024\n"
        "Jess Hill,jess.hill@example.org,RECOVERY-COACH-SOMERSET,,2025-10-13\n"
    )


def test_a_good_file_is_previewed_and_nothing_is_created_until_confirmed(client, hr, good_file):
    client.force_login(hr)
    before = snapshot()
    response = upload(client, good_file)
    assert response.status_code == 200
    page = response.content.decode()
    assert "All 3 rows can be imported" in page and "Import 3 people" in page
    assert "Alex de Souza" in page and "(line 3)" in page and "Manager Example" in page
    assert response.context["confirm"].initial["csv_text"] == good_file
    assert snapshot() == before


def test_confirming_a_good_file_creates_everyone_with_history_and_audit_entries(client, hr, manager, good_file):
    client.force_login(hr)
    page = confirm(client, good_file).content.decode()
    assert "Done." in page and "Imported 3 people" in page and reverse("staff_list") in page

    kofi, alex, jess = (
        StaffMember.objects.get(user__email=f"{name}@example.org")
        for name in ("kofi.mensah", "alex.de.souza", "jess.hill")
    )
    assert (alex.user.first_name, alex.user.last_name, alex.user.username) == ("Alex de", "Souza", "alex.de.souza")
    assert not kofi.user.has_usable_password()
    assert (kofi.role_profile.slug, kofi.role_profile_since, kofi.line_manager) == (
        "housing-worker",
        datetime.date(2025, 9, 1),
        alex,
    )
    assert (alex.role_profile.slug, alex.role_profile_since, alex.line_manager) == (
        "night-senior-support-worker",
        datetime.date(2024, 4, 1),
        manager.staff_member,
    )
    assert (jess.role_profile.slug, jess.line_manager) == ("recovery-coach-somerset", None)

    assert list(
        RoleAssignment.objects.filter(staff_member=kofi).values_list("role_profile__slug", "since", "recorded_by")
    ) == [("housing-worker", datetime.date(2025, 9, 1), hr.pk)]
    assert list(LineManagerAssignment.objects.filter(staff_member=kofi).values_list("line_manager", "since")) == [
        (alex.pk, datetime.date(2025, 9, 1))
    ]
    assert LineManagerAssignment.objects.filter(staff_member=jess).count() == 0
    assert alex.pk < kofi.pk  # the manager in the file was created first

    assert AuditEntry.objects.filter(action="create", person__in=[kofi, alex, jess], actor=hr).count() == 3
    entry = AuditEntry.objects.get(action="import")
    assert entry.actor == hr and entry.object_type == "staff import"
    assert entry.changes == {"count": 3, "names": ["Kofi Mensah", "Alex de Souza", "Jess Hill"]}


def test_a_file_with_bad_rows_shows_every_rows_problem_and_imports_nothing(client, hr, manager, staff, other_staff):
    staff.email = "sam.taylor@example.org"
    staff.save()
    other_staff.email = "gone@example.org"
    other_staff.save()
    mark_leaver(by=hr, member=other_staff.staff_member, left_on=datetime.date(2024, 1, 31))
    rows = [
        "Good Person,good@example.org,housing-worker,boss@example.org,2025-01-06",  # manager on line 3, itself fine
        "Boss Person,boss@example.org,housing-worker,,2025-01-06",
        "Bad Email,not-an-email,housing-worker,,2025-01-06",
        "Taken Email,SAM.TAYLOR@example.org,housing-worker,,2025-01-06",
        "Twice One,twice@example.org,housing-worker,,2025-01-06",
        "Twice Two,twice@example.org,housing-worker,,2025-01-06",
        "No Role,norole@example.org,chief-executive,,2025-01-06",
        "No Manager,nomanager@example.org,housing-worker,nobody@example.org,2025-01-06",
        "Left Manager,leftmanager@example.org,housing-worker,gone@example.org,2025-01-06",
        "Loop One,loop1@example.org,housing-worker,loop2@example.org,2025-01-06",
        "Loop Two,loop2@example.org,housing-worker,loop1@example.org,2025-01-06",
        "Bad Date,baddate@example.org,housing-worker,,2025-13-45",
        ",noname@example.org,housing-worker,,2025-01-06",
        "Madonna,mononym@example.org,housing-worker,,2025-01-06",
        "Short Row,short@example.org,housing-worker",
    ]
    client.force_login(hr)
    before = snapshot()
    response = upload(client, HEADER + "\n".join(rows) + "\n")
    page = response.content.decode()
    assert "12 of 15 rows have problems" in page and "Nothing can be imported" in page
    assert response.context["confirm"] is None and "csv_text" not in page
    errors = {row.line: row.errors for row in response.context["preview"].rows}
    assert errors[2] == [] and errors[3] == []
    assert response.context["preview"].rows[0].manager_row.line == 3
    expected = {
        4: "“not-an-email” is not a valid email address.",
        5: "sam.taylor@example.org is already the email address of Staff Example.",
        7: "twice@example.org is also on line 6 of this file.",
        8: "There is no published role profile called “chief-executive”",
        9: "No one working here or in this file has the email nobody@example.org",
        10: "left on 31 January 2024",
        11: "go round in a loop: loop1@example.org → loop2@example.org → loop1@example.org",
        12: "go round in a loop: loop2@example.org → loop1@example.org → loop2@example.org",
        13: "“2025-13-45” is not a date: write it as YYYY-MM-DD or DD/MM/YYYY.",
        14: "The name is missing.",
        15: "Give a first and a last name (“First Last”), not just “Madonna”.",
        16: "This line has 3 values; it needs 5.",
    }
    for line, message in expected.items():
        assert any(message in error for error in errors[line]), (line, errors[line])
        assert escape(errors[line][0]) in page
    assert errors[6] == []  # the first of the two rows with the same email is not itself wrong
    assert snapshot() == before


def test_a_bad_file_posted_as_if_confirmed_imports_nothing(client, hr):
    client.force_login(hr)
    before = snapshot()
    page = confirm(client, HEADER + "Only Name,bad-email,housing-worker,,2025-01-06\n").content.decode()
    assert "It did not finish." in page and "no longer passes the checks" in page
    assert "Line 2: " in page and "Nothing was imported" in page
    assert snapshot() == before


def test_an_email_taken_between_preview_and_confirm_stops_the_whole_import(client, hr, staff, good_file):
    client.force_login(hr)
    assert upload(client, good_file).context["preview"].is_valid
    staff.email = "jess.hill@example.org"  # someone else took it meanwhile
    staff.save()
    before = snapshot()
    page = confirm(client, good_file).content.decode()
    assert "jess.hill@example.org is already the email address of Staff Example" in page
    assert "Nothing was imported" in page
    assert snapshot() == before


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "The file is empty."),
        (b"  \n\n", "The file is empty."),
        (b"name,email,role\nA B,a@example.org,housing-worker\n", "The first line must be exactly"),
        (HEADER.encode(), "The file has a header line but nobody in it."),
        (
            (HEADER + "Zoë Brontë,zoe@example.org,housing-worker,,2025-01-06\n").encode("latin-1"),
            "The file is not UTF-8 text",
        ),
        (HEADER.encode() + b"A B,a@example.org,housing-worker,,2025-01-06\n" * 25_000, "the limit is 1 MB"),
    ],
    ids=["empty", "blank", "wrong-header", "header-only", "not-utf-8", "too-large"],
)
def test_a_file_that_cannot_be_read_says_why(client, hr, content, message):
    client.force_login(hr)
    before = snapshot()
    response = upload(client, content)
    assert response.status_code == 200
    assert escape(message) in response.content.decode()
    assert "Import 0" not in response.content.decode()
    assert snapshot() == before


def test_a_utf8_file_from_excel_with_a_byte_order_mark_is_read(client, hr):
    client.force_login(hr)
    text = HEADER + "Zoë Brontë,zoe@example.org,Housing Worker,,06/01/2025\n"
    response = upload(client, b"\xef\xbb\xbf" + text.encode())
    assert response.context["preview"].is_valid
    assert "Zoë Brontë" in response.content.decode()


def test_the_template_can_be_downloaded_and_passes_the_checks(client, hr):
    client.force_login(hr)
    response = client.get(reverse("staff_import_template"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["name", "email", "role_profile", "line_manager", "start_date"]
    assert len(rows) == 2
    assert upload(client, response.content).context["preview"].is_valid


def test_the_import_page_explains_the_columns_and_links_the_template(client, hr):
    client.force_login(hr)
    page = client.get(reverse("staff_import")).content.decode()
    assert "name,email,role_profile,line_manager,start_date" in page
    assert reverse("staff_import_template") in page
    assert 'enctype="multipart/form-data"' in page


def chain_file(size: int, *, loop: bool = False) -> str:
    """A file in which each person is line-managed by the person on the next line, so the first line is the
    bottom of a line of management `size` people deep; with `loop`, the last person is managed by the first."""
    rows = []
    for number in range(size):
        manager = f"p{number + 1}@example.org" if number + 1 < size else ("p0@example.org" if loop else "")
        rows.append(f"Person No{number:04},p{number}@example.org,housing-worker,{manager},2025-01-06")
    return HEADER + "\n".join(rows) + "\n"


def timed(check):
    started = time.perf_counter()
    result = check()
    return result, time.perf_counter() - started


def test_a_line_of_management_a_thousand_people_deep_is_imported_managers_first(client, hr):
    text = chain_file(1000)
    client.force_login(hr)
    assert "Done." in confirm(client, text).content.decode()
    people = {
        member.user.email: member
        for member in StaffMember.objects.filter(user__email__endswith="@example.org").select_related(
            "user", "line_manager__user"
        )
    }
    assert len(people) == 1000
    assert people["p999@example.org"].line_manager is None
    for number in range(999):
        person, manager = people[f"p{number}@example.org"], people[f"p{number + 1}@example.org"]
        assert person.line_manager == manager and manager.pk < person.pk, number
    assert LineManagerAssignment.objects.filter(staff_member__in=people.values()).count() == 999


def test_the_preview_of_a_line_of_management_a_thousand_people_deep_is_quick(client, hr):
    client.force_login(hr)
    response, seconds = timed(lambda: upload(client, chain_file(1000)))
    assert response.context["preview"].is_valid
    assert "Import 1000 people" in response.content.decode()
    # The checks are linear in the file's length; following each row's whole line again took minutes.
    assert seconds < 10


def test_a_loop_of_a_thousand_line_managers_is_found_quickly_and_named_briefly(hr):
    text = chain_file(1000, loop=True) + "Outside Loop,outside@example.org,housing-worker,p500@example.org,2025-01-06\n"
    preview, seconds = timed(lambda: preview_import(text))
    assert seconds < 10
    errors = {row.email: row.errors for row in preview.rows}
    assert errors["outside@example.org"] == []  # managed by someone in the loop, but not in it
    for number in range(1000):
        (message,) = errors[f"p{number}@example.org"]
        assert message.startswith(
            f"The line managers in this file go round in a loop of 1,000 people: p{number}@example.org → "
        )
        assert message.endswith(f" → p{number}@example.org.")
        assert len(message) < 300  # not a thousand addresses on each of a thousand rows


def organisation_file(size: int) -> str:
    """`size` people under one head, each line manager with eight reports, every report before their manager."""
    rows = []
    for number in reversed(range(size)):
        manager = f"p{(number - 1) // 8}@example.org" if number else ""
        rows.append(f"Person No{number:05},p{number}@example.org,housing-worker,{manager},2025-01-06")
    return HEADER + "\n".join(rows) + "\n"


@pytest.mark.parametrize("shape", ["organisation", "line"])
def test_a_large_import_takes_a_bounded_number_of_queries(hr, shape, django_assert_max_num_queries):
    size = 3000
    text = organisation_file(size) if shape == "organisation" else chain_file(size)
    with django_assert_max_num_queries(5):
        assert preview_import(text).is_valid
    # Each table is written in batches of a few hundred rows (SQLite takes at most 999 values a
    # query): a few dozen queries for thousands of people, where one query or more per person held
    # the database for as long as the import took.
    with django_assert_max_num_queries(150):
        people = import_staff(by=hr, csv_text=text)
    assert len(people) == size
    assert StaffMember.objects.filter(user__email__endswith="@example.org").count() == size
    assert RoleAssignment.objects.filter(staff_member__in=people).count() == size
    assert LineManagerAssignment.objects.filter(staff_member__in=people).count() == size - 1
    assert AuditEntry.objects.filter(action="create", person__in=people).count() == size


def written(emails: list[str], audit_after: int) -> dict:
    """Everything written about the people with `emails`: logins, records, history and audit entries, in the order
    written, with people named by email rather than by id."""
    User = get_user_model()
    users = User.objects.filter(email__in=emails).order_by("pk")
    members = StaffMember.objects.filter(user__in=users).select_related("user", "line_manager__user").order_by("pk")
    email_of = {member.pk: member.user.email for member in members}
    return {
        "logins": [
            (
                u.username,
                u.first_name,
                u.last_name,
                u.email,
                u.is_active,
                u.is_staff,
                u.is_superuser,
                u.has_usable_password(),
                u.password.startswith("!"),
                u.last_login,
                u.groups.count(),
            )
            for u in users
        ],
        "records": [
            (
                m.user.email,
                m.service_id,
                m.job_title,
                m.role_profile_id,
                m.role_profile_since,
                m.line_manager.user.email if m.line_manager else None,
                m.line_manager_since,
                m.left_on,
            )
            for m in members
        ],
        "roles": [
            (email_of[a.staff_member_id], a.role_profile_id, a.since, a.recorded_by_id)
            for a in RoleAssignment.objects.filter(staff_member__in=members).order_by("pk")
        ],
        "line managers": [
            (
                email_of[a.staff_member_id],
                a.line_manager.user.email if a.line_manager else None,
                a.since,
                a.recorded_by_id,
            )
            for a in LineManagerAssignment.objects.filter(staff_member__in=members)
            .select_related("line_manager__user")
            .order_by("pk")
        ],
        "audit": [
            (
                e.actor_id,
                e.action,
                e.object_type,
                e.object_id == str(e.person_id),
                e.object_repr,
                email_of[e.person_id],
                e.changes,
            )
            for e in AuditEntry.objects.filter(pk__gt=audit_after, person__in=members).order_by("pk")
        ],
    }


class Undo(Exception):
    pass


def test_an_import_writes_what_adding_each_person_in_turn_would(hr, manager):
    manager.email = "morgan.ellis@example.org"
    manager.save()
    create_staff_member(by=hr, first_name="Sam", last_name="Jones", email="sam.jones@old.example")  # login sam.jones
    get_user_model().objects.create_user(username="SAM.JONES3", email="")  # taken whatever the case
    text = HEADER + (
        "Sam Jones,sam.jones@b.example,housing-worker,Sam.Jones@c.example,2025-09-01\n"  # after the manager on line 4
        "Ann O'Brien,o'brien@example.org,Housing Worker,morgan.ellis@example.org,01/04/2024\n"
        "Sam Jones,sam.jones@c.example,night-senior-support-worker,morgan.ellis@example.org,2025-01-06\n"
        "Bo Hill,bo@example.org,recovery-coach-somerset,,2025-10-13\n"
        "Zoë de la Cruz,Zoe+Cruz@example.org,housing-worker,o'brien@example.org,2025-02-03\n"
        "Sam Jones,sam.jones@d.example,housing-worker,,2025-09-01\n"
    )
    preview = preview_import(text)
    assert preview.is_valid
    emails = [row.email for row in preview.rows]
    mark = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first()

    # The same people added one by one, managers first, then undone.
    with pytest.raises(Undo), transaction.atomic():
        added = {}
        for line in (4, 2, 3, 5, 6, 7):
            row = preview.rows[line - 2]
            manager_of_row = added[row.manager_row.line] if row.manager_row else row.manager
            added[line] = create_staff_member(
                by=hr,
                first_name=row.first_name,
                last_name=row.last_name,
                email=row.email,
                role_profile=row.role_profile,
                role_since=row.start_date,
                line_manager=manager_of_row,
                manager_since=row.start_date if manager_of_row else None,
            )
        one_by_one = written(emails, mark)
        raise Undo
    assert not StaffMember.objects.filter(user__email__in=emails).exists()

    people = import_staff(by=hr, csv_text=text)
    assert written(emails, mark) == one_by_one
    assert [person.user.username for person in people] == [
        "sam.jones4",
        "obrien",
        "sam.jones2",
        "bo",
        "zoe+cruz",
        "sam.jones5",
    ]
    assert [person.user.email for person in people] == emails  # in the file's order
    summary = AuditEntry.objects.filter(pk__gt=mark).order_by("pk").last()
    assert (summary.action, summary.changes["count"], summary.changes["names"][0]) == ("import", 6, "Sam Jones")


def test_the_email_helper_makes_valid_addresses_of_the_length_asked():
    from django.core.validators import validate_email

    for size in (254, 255, 312):
        assert len(email_of_length(size)) == size
        validate_email(email_of_length(size))


# Each row: the name and email as written in the file; None where the row is to be imported as it
# is, else what the preview says about it.
FIELD_LIMITS = [
    pytest.param(f"{'F' * 150} Last", "long.first@example.org", None, id="first-name-150"),
    pytest.param(f"First {'L' * 150}", "long.last@example.org", None, id="last-name-150"),
    pytest.param("Ada Lovelace", email_of_length(254), None, id="email-254"),
    pytest.param("Zoë Brontë-Ōtsuka", "zoe@example.org", None, id="accented"),
    pytest.param(
        f"{'F' * 151} Last",
        "f@example.org",
        "The first name is 151 characters long; the limit is 150.",
        id="first-name-151",
    ),
    pytest.param(
        f"First {'L' * 151}",
        "l@example.org",
        "The last name is 151 characters long; the limit is 150.",
        id="last-name-151",
    ),
    pytest.param(
        "Ada Lovelace",
        email_of_length(255),
        "The email address is 255 characters long; the limit is 254.",
        id="email-255",
    ),
    pytest.param(
        "Ada Lovelace",
        email_of_length(312),
        "The email address is 312 characters long; the limit is 254.",
        id="email-312",
    ),
    pytest.param(
        "Ad\x00a Lovelace",
        "ada@example.org",
        "The first name contains a control character (U+0000)",
        id="nul-in-first-name",
    ),
    pytest.param(
        "Ada Love\x00lace",
        "ada@example.org",
        "The last name contains a control character (U+0000)",
        id="nul-in-last-name",
    ),
    pytest.param(
        "Ada Lovelace",
        "ada\x00@example.org",
        "The email address contains a control character (U+0000)",
        id="nul-in-email",
    ),
    pytest.param(
        "Ada Love\x07lace",
        "ada@example.org",
        "The last name contains a control character (U+0007)",
        id="bell-in-last-name",
    ),
    pytest.param(
        "Ada Lovelace\x7f",
        "ada@example.org",
        "The last name contains a control character (U+007F)",
        id="delete-in-last-name",
    ),
]


@pytest.mark.parametrize("name, email, message", FIELD_LIMITS)
def test_the_preview_accepts_exactly_what_the_import_saves(client, hr, name, email, message):
    text = HEADER + f'"{name}",{email},housing-worker,,2025-01-06\n'
    client.force_login(hr)
    before = snapshot()
    response = upload(client, text)
    (row,) = response.context["preview"].rows
    if message is not None:
        assert len(row.errors) == 1 and row.errors[0].startswith(message), row.errors
        assert escape(message) in response.content.decode()
        assert response.context["confirm"] is None
        assert snapshot() == before
        return
    assert row.errors == [] and response.context["confirm"] is not None
    assert "Done." in confirm(client, text).content.decode()
    user = get_user_model().objects.get(email=email)
    assert (user.first_name, user.last_name) == tuple(name.rsplit(" ", 1))
    assert StaffMember.objects.filter(user=user, role_profile__slug="housing-worker").exists()


def test_every_row_the_preview_accepts_is_imported_together(hr):
    accepted = [param.values for param in FIELD_LIMITS if param.values[2] is None]
    text = HEADER + "".join(f'"{name}",{email},housing-worker,,2025-01-06\n' for name, email, _ in accepted)
    assert preview_import(text).is_valid
    people = import_staff(by=hr, csv_text=text)
    saved = StaffMember.objects.filter(pk__in=[person.pk for person in people]).select_related("user").order_by("pk")
    assert [(member.user.first_name, member.user.last_name, member.user.email) for member in saved] == [
        (*name.rsplit(" ", 1), email) for name, email, _ in accepted
    ]


def test_a_control_character_in_a_line_managers_email_is_reported_not_looked_up(client, hr):
    text = HEADER + "Ada Lovelace,ada@example.org,housing-worker,boss\x00@example.org,2025-01-06\n"
    client.force_login(hr)
    response = upload(client, text)
    assert response.status_code == 200
    (row,) = response.context["preview"].rows
    assert row.errors == [
        "No one working here or in this file has the email boss\x00@example.org, given as the line manager."
    ]
