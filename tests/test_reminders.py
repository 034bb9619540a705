"""Reminders that chase what is due (appraisal/reminders.py), with a fixed clock."""

import datetime

import pytest
from django.conf import settings
from django.core import mail
from django.db import IntegrityError, transaction
from django.urls import reverse

from appraisal import reminders
from appraisal.models import Appraisal, Reminder
from appraisal.services import cycles
from audit.models import AuditEntry
from outbox.models import Email
from staff.models import StaffMember
from tests.appraisals import fresh, make_cycle
from tests.conftest import make_person

State = Appraisal.State
DUE = datetime.date(2026, 6, 30)  # make_cycle's due date for 2026
BEFORE = DUE - datetime.timedelta(days=7)


@pytest.fixture
def team(hr, manager, staff):
    """A cycle asking for self-assessment: Sam, Kim and Noor assess themselves (Noor has no email address);
    Lee's and Ray's appraisals are with their manager."""
    for user, email in ((manager, "morgan@example.org"), (staff, "sam@example.org")):
        user.email = email
        user.save()
    people = {name: make_person(name, manager=manager) for name in ("kim", "lee", "ray", "noor")}
    for name in ("kim", "lee", "ray"):
        people[name].email = f"{name}@example.org"
        people[name].save()
    cycle = make_cycle(hr, self_assessment=True)
    cycles.open_cycle(by=fresh(hr), cycle=cycle)
    Appraisal.objects.filter(cycle=cycle, staff_member__user__username__in=["lee", "ray"]).update(
        state=State.MANAGER_REVIEW
    )
    Email.objects.update(status=Email.Status.SENT)  # the opening's own emails: not what these tests are about
    mail.outbox.clear()
    cycle.refresh_from_db()
    return cycle


def send_due(today, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return reminders.send_due(today)


def by_recipient() -> dict[str, str]:
    return {message.to[0]: str(message.body) for message in mail.outbox}


def test_reminder_days_are_some_days_before_the_due_date_then_weekly(team):
    kinds = {
        offset: reminders.is_reminder_day(team, DUE + datetime.timedelta(days=offset)) for offset in range(-10, 30)
    }
    assert {offset for offset, kind in kinds.items() if kind} == {-settings.REMINDER_DAYS_BEFORE, 7, 14, 21, 28}
    assert kinds[-7] == Reminder.Kind.BEFORE_DUE and kinds[14] == Reminder.Kind.OVERDUE
    team.opened_at = None
    assert reminders.is_reminder_day(team, BEFORE) is None  # not opened: nothing to chase


def test_each_person_is_reminded_of_their_own_and_each_appraiser_gets_one_digest(
    team, django_capture_on_commit_callbacks
):
    assert send_due(DUE - datetime.timedelta(days=8), django_capture_on_commit_callbacks) == 0  # not a reminder day
    assert mail.outbox == []
    assert send_due(BEFORE, django_capture_on_commit_callbacks) == 3
    emails = by_recipient()
    assert set(emails) == {"sam@example.org", "kim@example.org", "morgan@example.org"}  # Noor has no address
    assert (
        "fill in the self-assessment" in emails["sam@example.org"]
        and "is due by 30 June 2026" in emails["sam@example.org"]
    )
    digest = emails["morgan@example.org"]  # one email for both of the manager's reviews
    assert "Lee Example: score the appraisal and share it" in digest
    assert "Ray Example: score the appraisal and share it" in digest
    assert [m.subject for m in mail.outbox if m.to == ["morgan@example.org"]] == [
        "Reminder: 2 appraisal(s) waiting for you in Annual appraisal 2026"
    ]
    assert Reminder.objects.filter(kind=Reminder.Kind.BEFORE_DUE).count() == 4


def test_never_the_same_reminder_twice_a_day_however_it_is_started(
    team, hr, client, django_capture_on_commit_callbacks
):
    overdue = DUE + datetime.timedelta(days=7)
    send_due(overdue, django_capture_on_commit_callbacks)
    first = len(mail.outbox)
    assert first == 3 and "was due on 30 June 2026" in by_recipient()["sam@example.org"]
    send_due(overdue, django_capture_on_commit_callbacks)  # the day's run, again
    with django_capture_on_commit_callbacks(execute=True):
        sent = reminders.send(team, today=overdue, kind=Reminder.Kind.BY_HR, by=fresh(hr), overdue_only=True)
    assert sent.emailed == [] and len(mail.outbox) == first
    with pytest.raises(IntegrityError), transaction.atomic():  # the database itself refuses a second
        reminder = Reminder.objects.first()
        Reminder.objects.create(
            appraisal=reminder.appraisal, recipient=reminder.recipient, state=reminder.state, sent_on=overdue, kind="x"
        )
    send_due(overdue + datetime.timedelta(days=7), django_capture_on_commit_callbacks)  # a week on: chased again
    assert len(mail.outbox) == 2 * first


def test_a_step_taken_is_not_chased_and_the_next_step_is(team, staff, django_capture_on_commit_callbacks):
    send_due(BEFORE, django_capture_on_commit_callbacks)
    sams = Appraisal.objects.get(cycle=team, staff_member__user=staff)
    Appraisal.objects.filter(pk=sams.pk).update(state=State.MANAGER_REVIEW)  # Sam has submitted
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        reminders.send(team, today=BEFORE, kind=Reminder.Kind.BY_HR)  # same day: the new step is new
    assert [message.to for message in mail.outbox] == [["morgan@example.org"]]
    assert "Staff Example: score the appraisal and share it" in mail.outbox[0].body
    assert "Lee Example" not in mail.outbox[0].body  # already chased today


def test_leavers_and_people_without_an_address_are_listed_not_emailed(team, manager):
    StaffMember.objects.filter(user=manager).update(left_on=DUE)  # the appraiser has left
    plan = reminders.plan(team, today=DUE + datetime.timedelta(days=7))
    assert {(r.member.user.username, r.reason) for r in plan.not_emailed} == {
        ("manager", "left on 30 June 2026"),
        ("noor", "no email address"),
    }
    assert {r.member.user.username for r in plan.emailed} == {"staff", "kim"}


def test_hr_previews_then_reminds_everyone_overdue(team, hr, client, monkeypatch, django_capture_on_commit_callbacks):
    import appraisal.views.cycles as views

    url = reverse("cycle_remind", args=[team.pk])
    client.force_login(hr)
    monkeypatch.setattr(views.timezone, "localdate", lambda: BEFORE)
    assert "nothing is overdue yet" in client.get(url).content.decode()

    monkeypatch.setattr(views.timezone, "localdate", lambda: DUE + datetime.timedelta(days=2))
    page = client.get(url).content.decode()
    assert "Who will be emailed (3), about 4 appraisals" in page
    assert "Their own appraisal: fill in the self-assessment" in page and "Lee Example: score the appraisal" in page
    assert "Send 3 reminders" in page
    assert mail.outbox == [] and not Reminder.objects.exists()  # the preview sends nothing

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, follow=True)
    assert "Reminders sent to 3 people about 4 appraisal(s)." in response.content.decode()
    assert len(mail.outbox) == 3 and Reminder.objects.filter(kind=Reminder.Kind.BY_HR).count() == 4
    entry = AuditEntry.objects.get(action="remind")
    assert entry.object_id == str(team.pk)


def test_the_reminders_are_on_the_schedule():
    assert settings.SCHEDULE["send reminders"]["func"] == "appraisal.reminders.send_due"
