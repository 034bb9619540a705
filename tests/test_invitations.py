"""Invitations (staff/invitations.py): HR invites a new starter, who sets their first password from the
emailed link, or from a printed set-up code, and is signed in; the refusals change nothing; the staff
list shows each person's access; only people who can sign in are emailed links."""

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from appraisal import reminders
from appraisal.models import Appraisal
from appraisal.services import cycles
from audit.models import AuditEntry
from outbox.models import Email
from staff import invitations
from staff.leaving import mark_leaver
from staff.models import Invitation, StaffMember
from staff.records import create_staff_member
from tests.appraisals import fresh, make_cycle
from tests.conftest import make_person
from tests.snapshots import snapshot

NEW_PASSWORD = "a-long-and-unusual-phrase"
LINK = re.compile(r"https?://\S+/accounts/welcome/(\d+)/(\S+)/")


@pytest.fixture
def starter(hr):
    """A new starter, just added: a login without a password."""
    return create_staff_member(by=hr, first_name="Ada", last_name="Starter", email="ada@example.org")


def invite(client, member, capture):
    with capture(execute=True):
        return client.post(reverse("staff_invite", args=[member.pk]))


def link_in(message) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(0)


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def set_password(client, link, password=NEW_PASSWORD):
    return client.post(path_of(link), {"new_password1": password, "new_password2": password})


def audit(member, action):
    return list(AuditEntry.objects.filter(person=member, action=action))


# Inviting from the record; setting the password from the link.


def test_hr_invites_a_starter_who_sets_a_password_from_the_link_and_is_signed_in(
    client, hr, starter, django_capture_on_commit_callbacks
):
    client.force_login(hr)
    response = invite(client, starter, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.to == ["ada@example.org"] and "ada" in message.body
    link = link_in(message)

    visitor = Client()
    page = visitor.get(path_of(link))
    assert page.status_code == 200 and "Set your password" in page.content.decode()
    response = set_password(visitor, link)
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert visitor.get(reverse("home")).wsgi_request.user == starter.user  # signed in
    starter.user.refresh_from_db()
    assert starter.user.check_password(NEW_PASSWORD)
    assert Invitation.objects.get().used_at is not None
    assert get_user_model().objects.get(pk=starter.user_id).has_usable_password()


def test_the_password_must_pass_the_validators(client, hr, starter, django_capture_on_commit_callbacks):
    client.force_login(hr)
    invite(client, starter, django_capture_on_commit_callbacks)
    link = link_in(mail.outbox[0])
    before = snapshot()
    response = set_password(Client(), link, "password")
    assert response.status_code == 200 and "too common" in response.content.decode()
    assert snapshot() == before


def test_a_used_link_gives_a_clear_page_and_changes_nothing(client, hr, starter, django_capture_on_commit_callbacks):
    client.force_login(hr)
    invite(client, starter, django_capture_on_commit_callbacks)
    link = link_in(mail.outbox[0])
    set_password(Client(), link)
    before = snapshot()
    for response in (Client().get(path_of(link)), set_password(Client(), link, "another-long-phrase-here")):
        page = response.content.decode()
        assert "cannot be used" in page and "was used on" in page and "Ask HR for a new invitation" in page
    assert snapshot() == before
    starter.user.refresh_from_db()
    assert starter.user.check_password(NEW_PASSWORD)


def test_an_expired_link_gives_a_clear_page_and_changes_nothing(
    client, hr, starter, django_capture_on_commit_callbacks
):
    client.force_login(hr)
    invite(client, starter, django_capture_on_commit_callbacks)
    link = link_in(mail.outbox[0])
    Invitation.objects.update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    before = snapshot()
    response = set_password(Client(), link)
    assert "It expired on" in response.content.decode() and "Ask HR" in response.content.decode()
    assert snapshot() == before
    assert not get_user_model().objects.get(pk=starter.user_id).has_usable_password()


def test_a_forged_link_gives_a_clear_page_and_changes_nothing(client, hr, starter, django_capture_on_commit_callbacks):
    client.force_login(hr)
    invite(client, starter, django_capture_on_commit_callbacks)
    invitation = Invitation.objects.get()
    before = snapshot()
    for pk, token in ((invitation.pk, "guessed-token"), (invitation.pk + 100, "guessed-token")):
        url = reverse("invitation_accept", args=[pk, token])
        response = Client().post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
        assert response.status_code == 404 and "not one the system made" in response.content.decode()
    assert snapshot() == before


def test_a_link_stops_working_once_hr_has_set_a_password(client, hr, starter, django_capture_on_commit_callbacks):
    client.force_login(hr)
    invite(client, starter, django_capture_on_commit_callbacks)
    link = link_in(mail.outbox[0])
    client.post(
        reverse("staff_set_password", args=[starter.pk]), {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    before = snapshot()
    assert "has been set for this account" in set_password(Client(), link, "another-long-phrase-here").content.decode()
    assert snapshot() == before


def test_the_invitation_expires_after_invitation_days(hr, starter, settings):
    settings.INVITATION_DAYS = 3
    invitation = invitations.invite(by=hr, member=starter)
    assert invitation.expires_at - invitation.created_at == datetime.timedelta(days=3)


def test_a_resend_sends_a_new_link_and_the_old_one_stops_working(
    client, hr, starter, django_capture_on_commit_callbacks
):
    client.force_login(hr)
    invite(client, starter, django_capture_on_commit_callbacks)
    invite(client, starter, django_capture_on_commit_callbacks)
    old, new = (link_in(message) for message in mail.outbox)
    assert old != new
    response = set_password(Client(), old)
    assert "newer invitation" in response.content.decode()
    assert set_password(Client(), new).status_code == 302
    assert [entry.action for entry in AuditEntry.objects.filter(person=starter).order_by("pk")][-3:] == [
        "invite",
        "resend invitation",
        "set up account",
    ]


def test_after_adding_a_person_hr_is_offered_the_invitation(client, hr):
    client.force_login(hr)
    response = client.post(
        reverse("staff_create"), {"first_name": "Bo", "last_name": "New", "email": "bo@example.org"}, follow=True
    )
    page = response.content.decode()
    assert "invite them below" in page
    member = StaffMember.objects.get(user__email="bo@example.org")
    assert reverse("staff_invite", args=[member.pk]) in page
    assert reverse("staff_setup_code", args=[member.pk]) in page


def test_nobody_is_invited_who_has_left_or_can_already_sign_in(client, hr, staff, starter):
    mark_leaver(by=hr, member=starter, left_on=timezone.localdate() - datetime.timedelta(days=1))
    client.force_login(hr)
    before = snapshot()
    for member in (starter, staff.staff_member):
        response = client.post(reverse("staff_invite", args=[member.pk]), follow=True)
        assert "cannot be invited" in response.content.decode()
    assert snapshot() == before


def test_an_hr_admin_cannot_invite_someone_above_them(client, hr, manager):
    hr_member = hr.staff_member
    hr_member.line_manager, hr_member.line_manager_since = manager.staff_member, datetime.date(2024, 1, 1)
    hr_member.save()
    manager.set_unusable_password()
    manager.email = "morgan@example.org"
    manager.save()
    client.force_login(hr)
    before = snapshot()
    assert client.post(reverse("staff_invite", args=[manager.staff_member.pk])).status_code == 403
    assert snapshot() == before


# A personal email address.


def test_hr_marks_an_address_as_personal_and_the_invitation_goes_there(
    client, hr, starter, django_capture_on_commit_callbacks
):
    client.force_login(hr)
    response = client.post(
        reverse("staff_edit", args=[starter.pk]),
        {"first_name": "Ada", "last_name": "Starter", "email": "ada.home@example.com", "email_is_personal": "on"},
    )
    assert response.status_code == 302
    starter.refresh_from_db()
    assert starter.email_is_personal
    assert "Personal address" in client.get(reverse("staff_detail", args=[starter.pk])).content.decode()
    invite(client, starter, django_capture_on_commit_callbacks)
    assert mail.outbox[0].to == ["ada.home@example.com"]
    (entry,) = audit(starter, "invite")
    assert entry.changes["sent to"] == "ada.home@example.com (personal address)"


# A printed set-up code.


def code_from(page: str) -> str:
    match = re.search(r'id="setup-code">([A-Z0-9-]+)<', page)
    assert match, page
    return match.group(1)


def test_hr_prints_a_code_and_the_person_sets_up_their_account_with_it(client, hr, starter):
    client.force_login(hr)
    response = client.post(reverse("staff_setup_code", args=[starter.pk]), follow=True)
    page = response.content.decode()
    code = code_from(page)
    assert "Ada Starter" in page and reverse("invitation_code") in page and starter.user.username in page
    assert code.replace("-", "") not in str(Invitation.objects.values().get())  # only its hash is kept
    assert code_from(page) and "setup-code" not in client.get(response.wsgi_request.path).content.decode()

    visitor = Client()
    assert visitor.get(reverse("invitation_code")).status_code == 200
    response = visitor.post(
        reverse("invitation_code"),
        {
            "username": starter.user.username.upper(),
            "code": code.lower(),
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    starter.user.refresh_from_db()
    assert starter.user.check_password(NEW_PASSWORD)


def post_code(username, code, password=NEW_PASSWORD):
    return Client().post(
        reverse("invitation_code"),
        {"username": username, "code": code, "new_password1": password, "new_password2": password},
    )


def test_a_used_or_wrong_code_is_refused_and_changes_nothing(hr, starter):
    _, code = invitations.print_code(by=hr, member=starter)
    assert post_code(starter.user.username, code).status_code == 302
    before = snapshot()
    response = post_code(starter.user.username, code, "another-long-phrase-here")
    assert "was used on" in response.content.decode() and "ask HR for a new set-up code" in response.content.decode()
    assert post_code("nobody", code).status_code == 200
    assert snapshot() == before


def test_a_code_stops_working_after_a_few_wrong_guesses(hr, starter):
    _, code = invitations.print_code(by=hr, member=starter)
    for _ in range(invitations.CODE_ATTEMPTS):
        assert "do not go together" in post_code(starter.user.username, "WRONGCOD").content.decode()
    assert "newer invitation" in post_code(starter.user.username, code).content.decode()
    assert not get_user_model().objects.get(pk=starter.user_id).has_usable_password()


def test_an_expired_code_is_refused(hr, starter):
    _, code = invitations.print_code(by=hr, member=starter)
    Invitation.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert "It expired on" in post_code(starter.user.username, code).content.decode()


# The audit trail.


def test_every_invitation_code_and_set_up_is_audited_without_the_secret(
    client, hr, starter, django_capture_on_commit_callbacks
):
    client.force_login(hr)
    invite(client, starter, django_capture_on_commit_callbacks)
    link = link_in(mail.outbox[0])
    token = link.rstrip("/").rsplit("/", 1)[1]
    _, code = invitations.print_code(by=hr, member=starter)
    post_code(starter.user.username, code)
    entries = list(AuditEntry.objects.filter(person=starter).order_by("pk").values("action", "changes", "actor"))
    assert [entry["action"] for entry in entries][-3:] == ["invite", "print set-up code", "set up account"]
    everything = str(entries)
    assert token not in everything and code not in everything and code.replace("-", "") not in everything
    assert entries[-1]["actor"] == starter.user_id


# Inviting many at once.


def add_people(hr, count):
    return [
        create_staff_member(by=hr, first_name=f"Person{n}", last_name="New", email=f"p{n}@example.org")
        for n in range(count)
    ]


def test_invite_everyone_not_yet_invited_shows_a_preview_then_invites(
    client, hr, staff, django_capture_on_commit_callbacks
):
    people = add_people(hr, 3)
    invitations.invite(by=hr, member=people[0])  # already invited: not again
    mark_leaver(by=hr, member=people[1], left_on=timezone.localdate() - datetime.timedelta(days=1))
    StaffMember.objects.filter(pk=people[2].pk).update()
    nomail = create_staff_member(by=hr, first_name="No", last_name="Mail", email="nomail@example.org")
    get_user_model().objects.filter(pk=nomail.user_id).update(email="")
    mail.outbox.clear()
    client.force_login(hr)
    before = snapshot()
    page = client.get(reverse("staff_invite_many")).content.decode()
    assert snapshot() == before
    assert "Invite everyone not yet invited?" in page
    assert "Person2 New (p2@example.org)" in page and "Invite 1 person" in page
    assert "No Mail: no email address" in page  # listed as not invited, with the reason
    assert "Person0" not in page and "Person1" not in page and "Staff Example" not in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("staff_invite_many"), {"confirmed": "1"})
    assert response.status_code == 302
    assert [message.to for message in mail.outbox] == [["p2@example.org"]]
    assert len(audit(people[2], "invite")) == 1


def test_everyone_imported_is_invited_in_one_step(client, hr, django_capture_on_commit_callbacks):
    client.force_login(hr)
    csv_text = (
        "name,email,role_profile,line_manager,start_date\r\n"
        "Al One,al@example.org,housing-worker,,2025-09-01\r\n"
        "Bea Two,bea@example.org,housing-worker,,2025-09-01\r\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("staff_import"), {"csv_text": csv_text})
    page = client.get(response.url).content.decode()
    assert "Done." in page and "Invite the 2 people imported" in page, page
    url = re.search(r'href="([^"]*/staff/invite/\?job=\d+)"', page).group(1).replace("&amp;", "&")
    assert "Al One (al@example.org)" in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"confirmed": "1"})
    assert sorted(message.to[0] for message in mail.outbox) == ["al@example.org", "bea@example.org"]


# The staff list.


def test_the_staff_list_shows_each_persons_access(client, hr, staff, hr_client_day=None):
    people = add_people(hr, 3)
    invitations.invite(by=hr, member=people[0])
    mark_leaver(by=hr, member=people[1], left_on=timezone.localdate() - datetime.timedelta(days=1))
    get_user_model().objects.filter(pk=staff.pk).update(last_login=timezone.now())
    client.force_login(hr)
    rows = {
        name: row
        for name, row in re.findall(
            r'<th scope="row"[^>]*><a [^>]*>([^<]+)</a></th>(.*?)</tr>',
            client.get(reverse("staff_list")).content.decode(),
            re.S,
        )
    }
    assert "Invited" in rows["Person0 New"] and timezone.localdate().strftime("%-d %b %Y") in rows["Person0 New"]
    assert "Left" in rows["Person1 New"]
    assert "Not invited" in rows["Person2 New"]
    assert "Active" in rows["Staff Example"] and "last signed in" in rows["Staff Example"]


@pytest.mark.parametrize("size", [4, 30])
def test_the_staff_list_reads_access_in_the_same_few_queries(client, hr, size, django_assert_max_num_queries):
    people = add_people(hr, size)
    invitations.invite_many(by=hr, members=people[: size // 2])
    client.force_login(hr)
    with django_assert_max_num_queries(9):
        response = client.get(reverse("staff_list"))
    assert len(response.context["members"]) == size + 1


# Only people who can sign in are emailed links.


@pytest.fixture
def cycle_with_a_newcomer(hr, manager, staff):
    """A cycle with self-assessment: Sam can sign in; Nia, a new starter with an address, cannot yet."""
    for user, email in ((manager, "morgan@example.org"), (staff, "sam@example.org")):
        user.email = email
        user.save()
    nia = make_person("nia", manager=manager)
    nia.email = "nia@example.org"
    nia.set_unusable_password()
    nia.save()
    return make_cycle(hr, self_assessment=True), nia


def test_opening_a_cycle_emails_only_people_who_can_sign_in_and_lists_the_others(
    client, hr, cycle_with_a_newcomer, django_capture_on_commit_callbacks
):
    cycle, nia = cycle_with_a_newcomer
    client.force_login(hr)
    page = client.post(reverse("cycle_open", args=[cycle.pk])).content.decode()  # the confirmation
    assert "Nia Example (not yet signed in / no access)" in page and reverse("staff_invite_many") in page
    with django_capture_on_commit_callbacks(execute=True):
        cycles.open_cycle(by=fresh(hr), cycle=cycle)
    assert [message.to for message in mail.outbox] == [["sam@example.org"]]
    assert Appraisal.objects.filter(cycle=cycle, staff_member=nia.staff_member).exists()  # it proceeds
    page = client.get(reverse("cycle_detail", args=[cycle.pk])).content.decode()
    assert "not yet signed in / no access" in page and "Nia Example" in page
    assert f"{reverse('staff_invite_many')}?cycle={cycle.pk}" in page
    preview = client.get(reverse("staff_invite_many"), {"cycle": cycle.pk}).content.decode()
    assert "Nia Example (nia@example.org)" in preview and "Sam" not in preview


def test_reminders_leave_out_people_who_cannot_sign_in_and_list_them(
    client, hr, cycle_with_a_newcomer, django_capture_on_commit_callbacks
):
    cycle, nia = cycle_with_a_newcomer
    cycles.open_cycle(by=fresh(hr), cycle=cycle)
    mail.outbox.clear()
    cycle.refresh_from_db()
    today = cycle.due_on + datetime.timedelta(days=7)
    with django_capture_on_commit_callbacks(execute=True):
        plan = reminders.send(cycle, today=today, kind="overdue")
    assert [message.to for message in mail.outbox] == [["sam@example.org"]]
    assert [(r.member.name, r.reason) for r in plan.not_emailed] == [("Nia Example", "not yet signed in / no access")]


def test_notifications_are_not_emailed_to_someone_without_access(
    hr, manager, staff, django_capture_on_commit_callbacks
):
    from appraisal import notifications

    manager.email, staff.email = "morgan@example.org", "sam@example.org"
    manager.save()
    staff.set_unusable_password()
    staff.save()
    cycle = make_cycle(hr)
    cycles.open_cycle(by=fresh(hr), cycle=cycle)
    appraisal = Appraisal.objects.select_related("staff_member__user", "appraiser__user").get(
        staff_member=staff.staff_member
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        notifications.sign_off_due(appraisal)  # to the person: no access
        notifications.reopened(appraisal)  # to the appraiser: can sign in
    assert [message.to for message in mail.outbox] == [["morgan@example.org"]]
    assert not Email.objects.filter(recipients__contains="sam@example.org").exists()


def test_a_leaver_is_not_emailed(hr, manager, staff, django_capture_on_commit_callbacks):
    from appraisal import notifications

    staff.email = "sam@example.org"
    staff.save()
    cycle = make_cycle(hr)
    cycles.open_cycle(by=fresh(hr), cycle=cycle)
    StaffMember.objects.filter(pk=staff.staff_member.pk).update(
        left_on=timezone.localdate() - datetime.timedelta(days=2)
    )
    appraisal = Appraisal.objects.select_related("staff_member__user").get(staff_member__user=staff)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        notifications.completed(appraisal)
    assert mail.outbox == []


def test_someone_with_no_email_address_is_added_and_sets_up_their_account_with_a_printed_code(client, hr, staff):
    client.force_login(hr)
    response = client.post(reverse("staff_create"), {"first_name": "Noor", "last_name": "Al Amin", "email": ""})
    member = StaffMember.objects.get(user__first_name="Noor")
    assert response.status_code == 302 and (member.user.username, member.user.email) == ("noor.alamin", "")
    client.post(reverse("staff_create"), {"first_name": "Noor", "last_name": "Al Amin", "email": ""})
    assert StaffMember.objects.filter(user__username="noor.alamin2").exists()  # a second, without an address either
    page = client.get(reverse("staff_detail", args=[member.pk])).content.decode()
    assert reverse("staff_setup_code", args=[member.pk]) in page
    code = code_from(client.post(reverse("staff_setup_code", args=[member.pk]), follow=True).content.decode())
    assert post_code("noor.alamin", code).status_code == 302
    member.user.refresh_from_db()
    assert member.user.check_password(NEW_PASSWORD)
    # An address is still checked when one is given.
    response = client.post(reverse("staff_create"), {"first_name": "Bo", "last_name": "Ng", "email": "not an address"})
    assert response.status_code == 200 and "valid email address" in response.content.decode()
