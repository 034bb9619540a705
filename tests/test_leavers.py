"""Leavers: from the day after their last day of employment a leaver cannot sign in, their sessions
end, and no right that came from their position remains. Marking someone as leaving while they
manage people or conduct appraisals names who takes each over, in the same step.

The leaving date is the last working day (`StaffMember.is_active_on`). It is enforced where every
request is authenticated, so it needs nothing to run on the day, and a date set ahead works.
"""

import datetime
import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from appraisal.models import Appraisal
from appraisal.services import cycles, workflow
from audit.models import AuditEntry
from staff import leaving as staff_leaving
from staff.models import LineManagerAssignment, StaffMember
from tests.appraisals import complete, fresh, make_cycle, rate, reload
from tests.conftest import PASSWORD, make_person
from tests.snapshots import snapshot
from tests.test_appraisal_pages import form_data, review_url

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today()
YESTERDAY = TODAY - datetime.timedelta(days=1)
DAY = datetime.timedelta(days=1)


def leave(member, day):
    """The leaving date, written as it is stored (the services' own checks are tested below)."""
    StaffMember.objects.filter(pk=member.pk).update(left_on=day)


def logs_in(username) -> bool:
    return Client().post(reverse("login"), {"username": username, "password": PASSWORD}).status_code == 302


@pytest.fixture
def team(hr, manager, staff, other_manager):
    """The manager conducts staff's open appraisal, and completed an earlier one."""
    earlier = make_cycle(hr, year=2025)
    cycles.open_cycle(by=fresh(hr), cycle=earlier)
    completed = complete(Appraisal.objects.get(cycle=earlier, staff_member__user=staff), manager=manager, staff=staff)
    cycle = make_cycle(hr, year=2026)
    cycles.open_cycle(by=fresh(hr), cycle=cycle)
    current = rate(Appraisal.objects.get(cycle=cycle, staff_member__user=staff), manager)
    shared = workflow.share(by=fresh(manager), appraisal=reload(current))
    return {"completed": completed, "current": shared}


# --- signing in ----------------------------------------------------------------------------------


def test_a_leaver_cannot_sign_in_from_the_day_after_their_last_day(staff):
    leave(staff.staff_member, TODAY)
    assert logs_in("staff")  # the last day is a working day
    leave(staff.staff_member, YESTERDAY)
    response = Client().post(reverse("login"), {"username": "staff", "password": PASSWORD})
    assert response.status_code == 200
    page = response.content.decode()
    assert "last day of employment" in page and "contact HR" in page


def test_a_leaver_is_told_why_only_with_the_right_password(staff):
    leave(staff.staff_member, YESTERDAY)
    page = Client().post(reverse("login"), {"username": "staff", "password": "a-wrong-guess"}).content.decode()
    assert "last day of employment" not in page  # a wrong password learns nothing about the person


def test_a_leavers_open_session_stops_working_and_says_why(client, staff):
    client.force_login(staff)
    assert client.get(reverse("home")).status_code == 200
    leave(staff.staff_member, YESTERDAY)
    response = client.get(reverse("my_history"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert "access to this system has ended" in client.get(response.url).content.decode()
    assert client.get(reverse("home")).status_code == 302  # and stays signed out


def test_a_leaving_date_set_ahead_takes_effect_on_its_day_with_nothing_run(client, staff, monkeypatch):
    leave(staff.staff_member, TODAY + 10 * DAY)
    client.force_login(staff)
    assert client.get(reverse("home")).status_code == 200
    later = timezone.now() + 11 * DAY
    monkeypatch.setattr(timezone, "now", lambda: later)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert not logs_in("staff")


def test_no_right_from_a_leavers_position_remains(team, manager, staff):
    browser = Client()
    browser.force_login(manager)
    leave(manager.staff_member, YESTERDAY)  # HR forgot the handover: the records still name her
    before = snapshot()
    for url in (
        reverse("appraisal_pdf", args=[team["completed"].pk]),
        reverse("appraisal", args=[team["current"].pk]),
        reverse("person_history", args=[staff.staff_member.pk]),
        reverse("team"),
    ):
        response = browser.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login")), url
    response = browser.post(
        reverse("appraisal_withdraw", args=[team["current"].pk]), {"revision": reload(team["current"]).revision}
    )
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert snapshot() == before
    # Nor can she sign in afresh to do it.
    assert not logs_in("manager")


def test_a_leaver_cannot_save_a_review_even_with_a_page_open(hr, manager, staff):
    cycle = make_cycle(hr, year=2026)
    cycles.open_cycle(by=fresh(hr), cycle=cycle)
    appraisal = Appraisal.objects.get(cycle=cycle, staff_member__user=staff)
    browser = Client()
    browser.force_login(manager)
    data = form_data(appraisal, objectives="Saved after she left")
    leave(manager.staff_member, YESTERDAY)
    response = browser.post(review_url(appraisal), data)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert reload(appraisal).objectives == ""


def test_the_seeded_leaver_cannot_sign_in(db):
    call_command("seed_demo", stdout=io.StringIO())
    amy = StaffMember.objects.select_related("user").get(user__username="amy")
    assert amy.left_on < TODAY
    amy.user.set_password("demo")  # even with a password
    amy.user.save()
    assert Client().post(reverse("login"), {"username": "amy", "password": "demo"}).status_code == 200
    assert Client().post(reverse("login"), {"username": "hr", "password": "demo"}).status_code == 302


# --- marking someone as leaving, with a handover ----------------------------------------------------


def leaver_form(client, member) -> str:
    return client.get(reverse("staff_mark_leaver", args=[member.pk])).content.decode()


def hand_over(client, team, leaver, report, last_day, successor, *, appraisal_to=None):
    """Mark `leaver` as leaving after `last_day`, `successor` taking over their report and the team's
    open appraisal (or `appraisal_to` taking the appraisal)."""
    return client.post(
        reverse("staff_mark_leaver", args=[leaver.pk]),
        {
            "left_on": last_day.isoformat(),
            "successor": successor.pk,
            f"report-{report.pk}": "",
            f"appraisal-{team['current'].pk}": appraisal_to.pk if appraisal_to else "",
        },
    )


def test_the_leaver_form_lists_the_people_and_appraisals_to_hand_over(client, hr, team, manager, staff):
    client.force_login(hr)
    page = leaver_form(client, manager.staff_member)
    assert "Staff Example" in page  # a report, and the appraisee of an open appraisal
    assert f'name="report-{staff.staff_member.pk}"' in page
    assert f'name="appraisal-{team["current"].pk}"' in page
    assert f'name="appraisal-{team["completed"].pk}"' not in page  # completed: nothing to hand over


def test_marking_a_leaver_hands_over_their_reports_and_appraisals_in_one_step(
    client, hr, team, manager, staff, other_manager
):
    client.force_login(hr)
    response = hand_over(client, team, manager.staff_member, staff.staff_member, YESTERDAY, other_manager.staff_member)
    assert response.status_code == 302
    member = StaffMember.objects.get(pk=staff.staff_member.pk)
    assert (
        member.line_manager_id == other_manager.staff_member.pk and member.line_manager_since == TODAY
    )  # the day after the last
    assert reload(team["current"]).appraiser_id == other_manager.staff_member.pk
    assert (
        reload(team["completed"]).appraiser_id == manager.staff_member.pk
    )  # a completed record keeps who conducted it
    assert StaffMember.objects.get(pk=manager.staff_member.pk).left_on == YESTERDAY
    assert AuditEntry.objects.filter(action="reassign", person=staff.staff_member).exists()


def test_each_record_can_go_to_someone_different(client, hr, team, manager, staff, other_manager):
    head = make_person("head", role=None)
    client.force_login(hr)
    hand_over(
        client,
        team,
        manager.staff_member,
        staff.staff_member,
        YESTERDAY,
        other_manager.staff_member,
        appraisal_to=head.staff_member,
    )
    assert StaffMember.objects.get(pk=staff.staff_member.pk).line_manager_id == other_manager.staff_member.pk
    assert reload(team["current"]).appraiser_id == head.staff_member.pk


def test_a_handover_with_anyone_missing_or_unfit_changes_nothing(client, hr, team, manager, staff, other_manager):
    client.force_login(hr)
    gone = make_person("gone", role=None)
    leave(gone.staff_member, YESTERDAY)
    before = snapshot()
    for data, message in [
        ({}, "line-manages 1 person who will still be working here"),
        ({"successor": gone.staff_member.pk}, "does not work here"),
        ({"successor": staff.staff_member.pk}, "cannot"),  # the report cannot manage or appraise themselves
    ]:
        response = client.post(
            reverse("staff_mark_leaver", args=[manager.staff_member.pk]), {"left_on": YESTERDAY.isoformat(), **data}
        )
        assert response.status_code == 200
        assert message in response.content.decode()
        assert snapshot() == before


def test_a_handover_ahead_takes_effect_the_day_after_the_last_day(
    client, hr, team, manager, staff, other_manager, monkeypatch
):
    last_day = TODAY + 5 * DAY
    client.force_login(hr)
    response = hand_over(client, team, manager.staff_member, staff.staff_member, last_day, other_manager.staff_member)
    assert response.status_code == 302
    # Until her last day she still manages and appraises.
    assert StaffMember.objects.get(pk=staff.staff_member.pk).line_manager_id == manager.staff_member.pk
    assert reload(team["current"]).appraiser_id == manager.staff_member.pk
    assert LineManagerAssignment.objects.filter(
        staff_member=staff.staff_member, since=last_day + DAY, line_manager=other_manager.staff_member
    ).exists()
    call_command("apply_handovers", verbosity=0)  # nothing is due yet
    assert reload(team["current"]).appraiser_id == manager.staff_member.pk
    later = timezone.now() + 6 * DAY
    monkeypatch.setattr(timezone, "now", lambda: later)
    call_command("apply_handovers", verbosity=0)
    assert StaffMember.objects.get(pk=staff.staff_member.pk).line_manager_id == other_manager.staff_member.pk
    assert reload(team["current"]).appraiser_id == other_manager.staff_member.pk
    call_command("apply_handovers", verbosity=0)  # once only
    assert AuditEntry.objects.filter(action="reassign", person=staff.staff_member).count() == 1


def test_clearing_a_leaving_date_set_ahead_cancels_its_handover(client, hr, team, manager, staff, other_manager):
    client.force_login(hr)
    hand_over(client, team, manager.staff_member, staff.staff_member, TODAY + 5 * DAY, other_manager.staff_member)
    assert client.post(reverse("staff_mark_leaver", args=[manager.staff_member.pk]), {"left_on": ""}).status_code == 302
    assert not LineManagerAssignment.objects.filter(staff_member=staff.staff_member, since__gt=TODAY).exists()
    staff_leaving.apply_due_line_changes(TODAY + 30 * DAY)
    assert StaffMember.objects.get(pk=staff.staff_member.pk).line_manager_id == manager.staff_member.pk
