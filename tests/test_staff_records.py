"""HR keeps staff records in the product: who works here, which role they hold, who manages them."""

import datetime
import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import escape

from audit.models import AuditEntry
from roles.models import RoleProfile, RoleProfileVersion
from staff.leaving import mark_leaver
from staff.models import LineManagerAssignment, RoleAssignment, Service, StaffMember
from staff.records import assign_line_manager, assign_role_profile, create_staff_member, update_staff_details

pytestmark = pytest.mark.django_db

LIST_PAGES = ["staff_list", "staff_create", "staff_import", "staff_import_template"]
PERSON_PAGES = ["staff_detail", "staff_edit", "staff_assign_role", "staff_assign_manager", "staff_mark_leaver"]
FORM_PAGES = ["staff_create", "staff_import"] + PERSON_PAGES[1:]


def url_for(name, member=None):
    return reverse(name, args=[member.pk]) if name in PERSON_PAGES else reverse(name)


def field_error(response, field) -> str:
    """The error shown right below a form field (empty if none)."""
    match = re.search(
        rf'<div id="id_{field}_error" class="invalid-feedback">(.*?)</div>', response.content.decode(), re.S
    )
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


def snapshot():
    """Counts of everything a staff form could write."""
    return (
        get_user_model().objects.count(),
        StaffMember.objects.count(),
        RoleAssignment.objects.count(),
        LineManagerAssignment.objects.count(),
        AuditEntry.objects.count(),
        list(
            StaffMember.objects.order_by("pk").values_list(
                "role_profile", "role_profile_since", "line_manager", "line_manager_since", "left_on"
            )
        ),
    )


def email_of_length(size: int) -> str:
    """A valid email address `size` characters long (a 64-character local part, labels of at most 63)."""
    local, labels = "a" * 64, []
    room = size - len(local) - 1 - len(".org")
    while room > 0:
        label = min(63, room)
        if room - label == 1:  # a label needs a character after its dot
            label -= 1
        labels.append("b" * label)
        room -= label + 1
    return f"{local}@{'.'.join(labels)}.org"


def profile(slug):
    return RoleProfile.objects.get(slug=slug)


@pytest.fixture
def newcomer(hr, manager):
    """Someone added through the product, so with one row of role and line-manager history each."""
    return create_staff_member(
        by=hr,
        first_name="Nia",
        last_name="Roberts",
        email="nia.roberts@example.org",
        role_profile=profile("support-worker-supported-housing"),
        role_since=datetime.date(2023, 5, 1),
        line_manager=manager.staff_member,
        manager_since=datetime.date(2023, 5, 1),
    )


# Who may use the pages.


@pytest.mark.parametrize("who", ["staff", "manager"])
@pytest.mark.parametrize("name", LIST_PAGES + PERSON_PAGES)
def test_every_staff_page_is_refused_to_people_who_are_not_hr_admins(client, request, who, name, staff):
    client.force_login(request.getfixturevalue(who))
    response = client.get(url_for(name, staff.staff_member))
    assert response.status_code == 403
    assert "Role history" not in response.content.decode() and "Import" not in response.content.decode()


@pytest.mark.parametrize("who", ["staff", "manager"])
@pytest.mark.parametrize("name", FORM_PAGES)
def test_posting_to_a_staff_form_is_refused_to_people_who_are_not_hr_admins(client, request, who, name, staff):
    before = snapshot()
    client.force_login(request.getfixturevalue(who))
    data = {
        "first_name": "X",
        "last_name": "Y",
        "email": "x@example.org",
        "left_on": "2025-01-01",
        "since": "2030-01-01",
    }
    assert client.post(url_for(name, staff.staff_member), data).status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("name", LIST_PAGES + PERSON_PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, name, staff):
    response = client.get(url_for(name, staff.staff_member))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("name", PERSON_PAGES)
def test_an_unknown_person_is_not_found(client, hr, name):
    client.force_login(hr)
    assert client.get(reverse(name, args=[987654])).status_code == 404


@pytest.mark.parametrize("name", LIST_PAGES + PERSON_PAGES)
def test_hr_admins_open_every_staff_page(client, hr, staff, name):
    client.force_login(hr)
    assert client.get(url_for(name, staff.staff_member)).status_code == 200


def test_the_navigation_links_to_staff_for_hr_admins_only(client, hr, staff):
    client.force_login(staff)
    assert reverse("staff_list") not in client.get(reverse("home")).content.decode()
    client.force_login(hr)
    assert reverse("staff_list") in client.get(reverse("home")).content.decode()


# The list.


def test_the_list_shows_everyone_with_role_service_manager_and_status(client, hr, manager, staff, other_staff):
    mark_leaver(by=hr, member=other_staff.staff_member, left_on=datetime.date(2024, 12, 31))
    client.force_login(hr)
    page = client.get(reverse("staff_list")).content.decode()
    for user in (hr, manager, staff, other_staff):
        assert reverse("staff_detail", args=[user.staff_member.pk]) in page
    assert "Support Worker (Supported Housing)" in page and "Supported Housing, Bristol" in page
    assert "Manager Example" in page  # staff's line manager
    assert "Left" in page and "31 Dec 2024" in page


def test_the_list_filters_by_service_role_profile_and_status(client, hr, manager, staff, other_staff):
    mark_leaver(by=hr, member=other_staff.staff_member, left_on=datetime.date(2024, 12, 31))
    client.force_login(hr)

    def names(**params):
        response = client.get(reverse("staff_list"), params)
        return {member.user.username for member in response.context["members"]}

    service = Service.objects.get(name="Supported Housing, Bristol")
    assert names(service=service.pk) == {"staff"}
    assert names(role_profile=profile("senior-service-coordinator-afeo").pk) == {"manager", "other_manager"}
    assert names(status="left") == {"other_staff"}
    assert "other_staff" not in names(status="active")
    assert names() == {"hr", "manager", "staff", "other_manager", "other_staff"}
    assert names(status="nonsense") == names()  # a filter it does not understand is ignored


def add_people(count, *, by):
    service = Service.objects.create(name=f"Service {count}")
    boss = None
    for number in range(count):
        boss = create_staff_member(
            by=by,
            first_name=f"Person{number}",
            last_name="Example",
            email=f"person{number}@example.org",
            service=service,
            role_profile=profile("housing-worker" if number % 2 else "recovery-coach-somerset"),
            role_since=datetime.date(2024, 1, 1),
            line_manager=boss if number % 3 else None,
            manager_since=datetime.date(2024, 1, 1),
        )


@pytest.mark.parametrize("size", [5, 40])
def test_the_list_takes_the_same_few_queries_however_many_people(client, hr, size, django_assert_max_num_queries):
    add_people(size, by=hr)
    housing_worker = profile("housing-worker")
    client.force_login(hr)
    with django_assert_max_num_queries(9):
        response = client.get(reverse("staff_list"))
    assert len(response.context["members"]) == size + 1
    with django_assert_max_num_queries(11):  # and the filter's role profile, read with its versions
        response = client.get(reverse("staff_list"), {"status": "active", "role_profile": housing_worker.pk})
    assert len(response.context["members"]) == size // 2


def test_a_persons_page_takes_a_bounded_number_of_queries(client, hr, newcomer, django_assert_max_num_queries):
    for number, year in enumerate(range(2024, 2027)):
        for half, month in enumerate((1, 7)):
            assign_role_profile(
                by=hr,
                member=newcomer,
                role_profile=profile("housing-worker" if (number * 2 + half) % 2 else "recovery-coach-somerset"),
                since=datetime.date(year, month, 1),
            )
    client.force_login(hr)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("staff_detail", args=[newcomer.pk]))
    assert response.status_code == 200


# Creating and editing a person.


def test_hr_adds_a_person_with_a_role_and_a_line_manager(client, hr, manager):
    client.force_login(hr)
    service = Service.objects.create(name="Housing Services")
    response = client.post(
        reverse("staff_create"),
        {
            "first_name": "Ola",
            "last_name": "Nowak",
            "email": "Ola.Nowak@Example.org",
            "service": service.pk,
            "job_title": "",
            "role_profile": profile("housing-worker").pk,
            "role_since": "2025-09-01",
            "line_manager": manager.staff_member.pk,
            "manager_since": "01/09/2025",
        },
    )
    member = StaffMember.objects.get(user__email="ola.nowak@example.org")
    assert response.status_code == 302 and response.url == reverse("staff_detail", args=[member.pk])
    user = member.user
    assert (user.first_name, user.last_name, user.username) == ("Ola", "Nowak", "ola.nowak")
    assert not user.has_usable_password()
    assert (member.service, member.role_profile.slug, member.role_profile_since) == (
        service,
        "housing-worker",
        datetime.date(2025, 9, 1),
    )
    assert (member.line_manager, member.line_manager_since) == (manager.staff_member, datetime.date(2025, 9, 1))
    assert list(member.role_history.values_list("role_profile__slug", "since")) == [
        ("housing-worker", datetime.date(2025, 9, 1))
    ]
    assert list(member.manager_history.values_list("line_manager", "recorded_by")) == [(manager.staff_member.pk, hr.pk)]
    entry = AuditEntry.objects.get(person=member)
    assert (entry.action, entry.actor, entry.changes["role_profile"]) == ("create", hr, "Housing Worker")

    page = client.get(response.url).content.decode()
    assert "cannot sign in until they set a password: invite them below" in page
    assert "No password yet" in page


def test_the_new_persons_login_is_made_unique(hr):
    first = create_staff_member(by=hr, first_name="Sam", last_name="Jones", email="sam.jones@example.org")
    second = create_staff_member(by=hr, first_name="Sam", last_name="Jones", email="Sam.Jones@elsewhere.example")
    assert (first.user.username, second.user.username) == ("sam.jones", "sam.jones2")


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"email": "staff@example.org"}, "email", "already the email address of someone else"),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"first_name": ""}, "first_name", "This field is required."),
        ({"role_since": ""}, "role_since", "Give the date from which this person holds the role profile."),
        ({"manager_since": "31/31/2025"}, "manager_since", "Enter a valid date."),
    ],
)
def test_adding_a_person_with_bad_input_says_why_next_to_the_field_and_saves_nothing(
    client, hr, manager, staff, changes, field, message
):
    staff.email = "staff@example.org"
    staff.save()
    client.force_login(hr)
    data = {
        "first_name": "Ola",
        "last_name": "Nowak",
        "email": "ola@example.org",
        "role_profile": profile("housing-worker").pk,
        "role_since": "2025-09-01",
        "line_manager": manager.staff_member.pk,
        "manager_since": "2025-09-01",
    }
    before = snapshot()
    response = client.post(reverse("staff_create"), data | changes)
    assert response.status_code == 200
    assert message in field_error(response, field)
    assert snapshot() == before


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"first_name": "F" * 151}, "first_name", "The first name is 151 characters long; the limit is 150."),
        ({"last_name": "L" * 151}, "last_name", "The last name is 151 characters long; the limit is 150."),
        ({"email": email_of_length(312)}, "email", "The email address is 312 characters long; the limit is 254."),
        ({"first_name": "Ol\x00a"}, "first_name", "The first name contains a control character (U+0000)"),
        ({"last_name": "No\twak"}, "last_name", "The last name contains a control character (U+0009)"),
        ({"email": "ola\x1b@example.org"}, "email", "The email address contains a control character (U+001B)"),
    ],
)
def test_a_person_is_refused_what_their_record_cannot_store(hr, staff, changes, field, message):
    details = {"first_name": "Ola", "last_name": "Nowak", "email": "ola@example.org"}
    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        create_staff_member(by=hr, **(details | changes))
    assert refused.value.message_dict[field][0].startswith(message)
    with pytest.raises(ValidationError) as refused:
        update_staff_details(by=hr, member=staff.staff_member, service=None, job_title="", **(details | changes))
    assert refused.value.message_dict[field][0].startswith(message)
    assert snapshot() == before


def test_a_person_is_given_names_and_an_email_as_long_as_their_record_stores(hr, staff):
    details = {"first_name": "F" * 150, "last_name": "L" * 150, "email": email_of_length(254)}
    member = create_staff_member(by=hr, **details)
    member.user.refresh_from_db()
    assert (member.user.first_name, member.user.last_name, member.user.email) == tuple(details.values())
    details["email"] = details["email"].replace("a", "e", 1)
    update_staff_details(by=hr, member=staff.staff_member, service=None, job_title="", **details)
    staff.refresh_from_db()
    assert (staff.first_name, staff.last_name, staff.email) == tuple(details.values())


def test_a_control_character_typed_into_a_name_is_refused_next_to_the_field(client, hr):
    client.force_login(hr)
    before = snapshot()
    response = client.post(
        reverse("staff_create"), {"first_name": "Ol\x07a", "last_name": "Nowak", "email": "ola@example.org"}
    )
    assert response.status_code == 200
    assert "The first name contains a control character (U+0007)" in field_error(response, "first_name")
    assert snapshot() == before


def test_a_person_who_has_left_cannot_be_chosen_as_line_manager(client, hr, manager, staff):
    mark_leaver(by=hr, member=staff.staff_member, left_on=datetime.date(2024, 1, 31))
    client.force_login(hr)
    before = snapshot()
    response = client.post(
        reverse("staff_create"),
        {
            "first_name": "Ola",
            "last_name": "Nowak",
            "email": "ola@example.org",
            "line_manager": staff.staff_member.pk,
            "manager_since": "2025-09-01",
        },
    )
    assert "Select a valid choice" in field_error(response, "line_manager")
    assert snapshot() == before
    with pytest.raises(ValidationError) as refused:
        create_staff_member(
            by=hr,
            first_name="Ola",
            last_name="Nowak",
            email="ola@example.org",
            line_manager=staff.staff_member,
            manager_since=datetime.date(2025, 9, 1),
        )
    assert "left on 31 January 2024" in refused.value.message_dict["line_manager"][0]


def test_hr_edits_a_persons_details(client, hr, staff):
    member = staff.staff_member
    client.force_login(hr)
    service = Service.objects.create(name="Night Support, Bristol")
    response = client.post(
        reverse("staff_edit", args=[member.pk]),
        {
            "first_name": "Samantha",
            "last_name": "Taylor",
            "email": "sam.taylor@example.org",
            "service": service.pk,
            "job_title": "",
        },
    )
    assert response.status_code == 302
    member.refresh_from_db()
    member.user.refresh_from_db()
    assert (member.user.get_full_name(), member.user.email, member.service) == (
        "Samantha Taylor",
        "sam.taylor@example.org",
        service,
    )
    entry = AuditEntry.objects.get(person=member, action="edit")
    assert entry.changes["first_name"] == ["Staff", "Samantha"]
    assert entry.changes["service"] == ["Supported Housing, Bristol", "Night Support, Bristol"]
    assert "last_name" in entry.changes and "job_title" not in entry.changes

    page = client.get(reverse("staff_detail", args=[member.pk])).content.decode()
    assert "Samantha Taylor" in page and "Staff → Samantha" in page


def test_saving_unchanged_details_records_nothing(client, hr, staff):
    member = staff.staff_member
    client.force_login(hr)
    data = {"first_name": "Staff", "last_name": "Example", "email": "", "service": member.service_id, "job_title": ""}
    data["email"] = "staff@example.org"
    response = client.post(reverse("staff_edit", args=[member.pk]), data, follow=True)
    assert "details were saved." in response.content.decode()
    before = snapshot()
    response = client.post(reverse("staff_edit", args=[member.pk]), data, follow=True)
    assert response.redirect_chain[0][1] == 302
    assert snapshot() == before
    page = response.content.decode()
    assert "No changes to save" in page and "details were saved" not in page  # and it says so


def test_an_edit_to_an_email_someone_else_has_is_refused(client, hr, staff, manager):
    manager.email = "morgan@example.org"
    manager.save()
    client.force_login(hr)
    before = snapshot()
    response = client.post(
        reverse("staff_edit", args=[staff.staff_member.pk]),
        {"first_name": "Staff", "last_name": "Example", "email": "MORGAN@example.org", "service": "", "job_title": ""},
    )
    assert "already the email address of someone else" in field_error(response, "email")
    assert snapshot() == before
    staff.refresh_from_db()
    assert staff.email == ""


# Role profile and line manager from a date: history is kept.


def test_a_new_role_from_a_date_keeps_the_old_one_in_the_history(client, hr, newcomer):
    client.force_login(hr)
    response = client.post(
        reverse("staff_assign_role", args=[newcomer.pk]),
        {"role_profile": profile("night-senior-support-worker").pk, "since": "2025-10-06"},
    )
    assert response.status_code == 302
    newcomer.refresh_from_db()
    assert (newcomer.role_profile.slug, newcomer.role_profile_since) == (
        "night-senior-support-worker",
        datetime.date(2025, 10, 6),
    )
    history = list(newcomer.role_history.values_list("role_profile__slug", "since"))
    assert history == [
        ("support-worker-supported-housing", datetime.date(2023, 5, 1)),
        ("night-senior-support-worker", datetime.date(2025, 10, 6)),
    ]
    entry = AuditEntry.objects.get(person=newcomer, action="assign role")
    assert entry.changes == {
        "role_profile": ["Support Worker (Supported Housing)", "Night Senior Support Worker"],
        "role_profile_since": ["2023-05-01", "2025-10-06"],
    }
    page = client.get(reverse("staff_detail", args=[newcomer.pk])).content.decode()
    assert "6 Oct 2025" in page and "1 May 2023" in page and "Night Senior Support Worker" in page


def test_a_role_cannot_start_before_the_current_one(client, hr, newcomer):
    client.force_login(hr)
    before = snapshot()
    response = client.post(
        reverse("staff_assign_role", args=[newcomer.pk]),
        {"role_profile": profile("housing-worker").pk, "since": "2023-04-30"},
    )
    assert response.status_code == 200
    assert "held since 1 May 2023" in field_error(response, "since")
    assert snapshot() == before


def test_the_role_held_already_is_not_assigned_again(client, hr, newcomer):
    client.force_login(hr)
    before = snapshot()
    response = client.post(
        reverse("staff_assign_role", args=[newcomer.pk]),
        {"role_profile": profile("support-worker-supported-housing").pk, "since": "2025-01-01"},
    )
    assert "already holds this role profile" in field_error(response, "role_profile")
    assert snapshot() == before


def test_a_role_profile_with_no_published_version_cannot_be_assigned(client, hr, newcomer):
    draft_only = RoleProfile.objects.create(slug="peer-mentor")
    RoleProfileVersion.objects.create(role_profile=draft_only, number=1, title="Peer Mentor")
    client.force_login(hr)
    before = snapshot()
    response = client.post(
        reverse("staff_assign_role", args=[newcomer.pk]), {"role_profile": draft_only.pk, "since": "2025-01-01"}
    )
    assert "Select a valid choice" in field_error(response, "role_profile")
    assert "Peer Mentor" not in response.content.decode()  # not offered
    with pytest.raises(ValidationError) as refused:
        assign_role_profile(by=hr, member=newcomer, role_profile=draft_only, since=datetime.date(2025, 1, 1))
    assert "no published version" in refused.value.message_dict["role_profile"][0]
    assert snapshot() == before


def test_a_new_line_manager_from_a_date_keeps_the_old_one_in_the_history(client, hr, newcomer, manager, other_manager):
    client.force_login(hr)
    response = client.post(
        reverse("staff_assign_manager", args=[newcomer.pk]),
        {"manager": other_manager.staff_member.pk, "since": "2025-03-03"},
    )
    assert response.status_code == 302
    newcomer.refresh_from_db()
    assert (newcomer.line_manager, newcomer.line_manager_since) == (
        other_manager.staff_member,
        datetime.date(2025, 3, 3),
    )
    history = list(newcomer.manager_history.values_list("line_manager", "since"))
    assert history == [
        (manager.staff_member.pk, datetime.date(2023, 5, 1)),
        (other_manager.staff_member.pk, datetime.date(2025, 3, 3)),
    ]
    entry = AuditEntry.objects.get(person=newcomer, action="assign line manager")
    assert entry.changes["line_manager"] == ["Manager Example", "Other Manager Example"]
    page = client.get(reverse("staff_detail", args=[newcomer.pk])).content.decode()
    assert "Other Manager Example" in page and "3 Mar 2025" in page


def test_nobody_can_be_recorded_as_line_manager_from_a_date(client, hr, newcomer):
    client.force_login(hr)
    response = client.post(reverse("staff_assign_manager", args=[newcomer.pk]), {"manager": "", "since": "2025-03-03"})
    assert response.status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.line_manager is None and newcomer.line_manager_since == datetime.date(2025, 3, 3)
    assert newcomer.manager_history.count() == 2


def test_a_line_manager_cannot_start_before_the_current_one(client, hr, newcomer, other_manager):
    client.force_login(hr)
    before = snapshot()
    response = client.post(
        reverse("staff_assign_manager", args=[newcomer.pk]),
        {"manager": other_manager.staff_member.pk, "since": "2022-12-31"},
    )
    assert "recorded from 1 May 2023" in field_error(response, "since")
    assert snapshot() == before


def test_a_line_management_loop_is_refused(client, hr, manager, staff):
    """The manager's own report cannot become the manager's line manager."""
    client.force_login(hr)
    before = snapshot()
    response = client.post(
        reverse("staff_assign_manager", args=[manager.staff_member.pk]),
        {"manager": staff.staff_member.pk, "since": "2025-03-03"},
    )
    assert response.status_code == 200
    assert "cannot be their own line manager, directly or further up the line" in field_error(response, "manager")
    assert snapshot() == before
    manager.staff_member.refresh_from_db()
    assert manager.staff_member.line_manager is None


def test_self_management_is_refused(hr, staff):
    member = staff.staff_member
    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        assign_line_manager(by=hr, member=member, manager=member, since=datetime.date(2025, 1, 1))
    assert refused.value.message_dict["manager"] == ["A person cannot be their own line manager."]
    assert snapshot() == before


def test_the_person_is_not_offered_as_their_own_line_manager(client, hr, staff):
    client.force_login(hr)
    form = client.get(reverse("staff_assign_manager", args=[staff.staff_member.pk])).context["form"]
    assert staff.staff_member not in form.fields["manager"].queryset


def test_someone_who_has_left_cannot_become_a_line_manager(client, hr, newcomer, other_staff):
    mark_leaver(by=hr, member=other_staff.staff_member, left_on=datetime.date(2024, 6, 30))
    client.force_login(hr)
    before = snapshot()
    response = client.post(
        reverse("staff_assign_manager", args=[newcomer.pk]),
        {"manager": other_staff.staff_member.pk, "since": "2025-03-03"},
    )
    assert "Select a valid choice" in field_error(response, "manager")
    with pytest.raises(ValidationError) as refused:
        assign_line_manager(by=hr, member=newcomer, manager=other_staff.staff_member, since=datetime.date(2025, 3, 3))
    assert "left on 30 June 2024" in refused.value.message_dict["manager"][0]
    assert snapshot() == before


# Leavers.


def test_hr_marks_a_leaver_and_can_change_or_clear_the_date(client, hr, staff):
    member = staff.staff_member
    client.force_login(hr)
    assert client.post(reverse("staff_mark_leaver", args=[member.pk]), {"left_on": "2025-07-31"}).status_code == 302
    member.refresh_from_db()
    assert member.left_on == datetime.date(2025, 7, 31) and not member.is_active
    assert member in StaffMember.objects.exclude(pk__in=StaffMember.objects.active())
    page = client.get(reverse("staff_detail", args=[member.pk])).content.decode()
    assert "Left; last day 31 July 2025" in page

    client.post(reverse("staff_mark_leaver", args=[member.pk]), {"left_on": "2025-08-15"})
    client.post(reverse("staff_mark_leaver", args=[member.pk]), {"left_on": ""})
    member.refresh_from_db()
    assert member.left_on is None
    actions = list(AuditEntry.objects.filter(person=member).order_by("pk").values_list("action", "changes"))
    assert actions == [
        ("mark leaver", {"left_on": [None, "2025-07-31"]}),
        ("mark leaver", {"left_on": ["2025-07-31", "2025-08-15"]}),
        ("clear leaver", {"left_on": ["2025-08-15", None]}),
    ]
    # Records are kept: the person's history and record are still there.
    assert StaffMember.objects.filter(pk=member.pk).exists()


def test_a_line_manager_with_reports_cannot_leave_before_they_are_moved(client, hr, manager, staff):
    client.force_login(hr)
    before = snapshot()
    response = client.post(reverse("staff_mark_leaver", args=[manager.staff_member.pk]), {"left_on": "2025-07-31"})
    assert "line-manages 1 person who will still be working here" in field_error(response, "left_on")
    assert snapshot() == before


def test_a_leaving_date_before_the_current_role_is_refused(client, hr, staff):
    client.force_login(hr)
    before = snapshot()
    response = client.post(reverse("staff_mark_leaver", args=[staff.staff_member.pk]), {"left_on": "2020-01-01"})
    assert "cannot be before" in field_error(response, "left_on")
    assert snapshot() == before


# The audit trail on a person's page.


def test_a_persons_page_lists_the_changes_made_to_their_record(client, hr, newcomer, other_manager):
    assign_line_manager(by=hr, member=newcomer, manager=other_manager.staff_member, since=datetime.date(2025, 2, 1))
    mark_leaver(by=hr, member=newcomer, left_on=datetime.date(2025, 12, 31))
    client.force_login(hr)
    response = client.get(reverse("staff_detail", args=[newcomer.pk]))
    entries = [entry.action for entry, _ in response.context["audit_entries"]]
    assert entries == ["mark leaver", "assign line manager", "create"]
    page = response.content.decode()
    assert "Assign line manager" in page and escape("Manager Example → Other Manager Example") in page


# The demo organisation.


def test_the_demo_people_have_their_history_once_however_often_it_is_seeded():
    from django.core.management import call_command

    from demo.dates import REFERENCE_DAY

    call_command("seed_demo", today=REFERENCE_DAY, stdout=io.StringIO())  # the dates as the demo writes them
    counts = RoleAssignment.objects.count(), LineManagerAssignment.objects.count()
    call_command("seed_demo", stdout=io.StringIO())
    assert (RoleAssignment.objects.count(), LineManagerAssignment.objects.count()) == counts

    morgan = StaffMember.objects.get(user__username="manager")
    assert list(morgan.role_history.values_list("role_profile__slug", "since")) == [
        ("support-worker-supported-housing", datetime.date(2019, 2, 4)),
        ("senior-service-coordinator-afeo", datetime.date(2022, 4, 1)),
    ]
    jo = StaffMember.objects.get(user__username="jo")
    assert list(jo.manager_history.values_list("line_manager__user__username", flat=True)) == ["manager", "head"]
    for member in StaffMember.objects.all():
        role = member.role_history.last()
        assert (
            (role.role_profile_id, role.since) == (member.role_profile_id, member.role_profile_since)
            if role
            else member.role_profile_id is None
        )
        manager = member.manager_history.last()
        assert (
            (manager.line_manager_id, manager.since) == (member.line_manager_id, member.line_manager_since)
            if manager
            else member.line_manager_id is None
        )
