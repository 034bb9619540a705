"""The team page: a line manager's reports, where each one's appraisal stands in a cycle (who acts
next, due, overdue) and a grid of their latest levels against their role's window."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from appraisal.models import Appraisal
from appraisal.rules import Standing
from appraisal.services import cycles, workflow
from appraisal.team import LINE, team_overview
from staff.models import StaffMember
from tests.appraisals import SUSTAINED, complete, fresh, open_appraisal, promoted_history, rate, reload
from tests.conftest import make_person
from tests.queries import queries_for

pytestmark = pytest.mark.django_db


def open_cycle_due(hr, *, due_on, self_assessment=True):
    cycle = cycles.create_cycle(
        by=fresh(hr),
        name="Annual appraisal 2026",
        period_start=datetime.date(2025, 4, 1),
        period_end=datetime.date(2026, 3, 31),
        due_on=due_on,
        self_assessment=self_assessment,
    )
    return cycles.open_cycle(by=fresh(hr), cycle=cycle) or cycle


def member_row(team, user):
    return next(m for m in team.members if m.person.user_id == user.pk)


def test_each_report_s_appraisal_shows_its_stage_who_acts_next_and_the_due_date(client, hr, manager, staff):
    second = make_person("second", manager=manager)
    open_cycle_due(hr, due_on=timezone.localdate() + datetime.timedelta(days=30))
    theirs = Appraisal.objects.get(staff_member__user=second)
    workflow.begin_review(by=fresh(manager), appraisal=reload(theirs))
    client.force_login(manager)
    page = client.get(reverse("team")).content.decode()
    team = team_overview(manager.staff_member)
    assert member_row(team, staff).appraisal.next_actor == staff.staff_member  # self-assessment: the person acts
    assert member_row(team, second).appraisal.next_actor == manager.staff_member  # manager review: the manager acts
    assert "Self-assessment" in page and "Manager review" in page and "<strong>You</strong>" in page
    assert staff.get_full_name() in page and "Overdue" not in page and "is-overdue" not in page
    assert "0 of 2</strong> completed" in page


def test_an_appraisal_past_its_due_date_is_flagged_overdue_in_words(client, hr, manager, staff):
    open_cycle_due(hr, due_on=timezone.localdate() - datetime.timedelta(days=3), self_assessment=False)
    client.force_login(manager)
    page = client.get(reverse("team")).content.decode()
    assert "Overdue by 3 days" in page and 'class="is-overdue"' in page and "1 overdue" in page
    # A completed record is not overdue, whatever the date.
    complete(Appraisal.objects.get(staff_member__user=staff), manager=manager, staff=staff)
    page = client.get(reverse("team")).content.decode()
    assert "Overdue by" not in page and "1 of 1</strong> completed" in page and "Nobody: completed" in page


def test_the_grid_shows_the_latest_level_against_the_current_role_s_window(client, hr, manager, staff):
    struggling = make_person("struggling", manager=manager)
    promoted_history(hr, manager, staff)
    appraisal = Appraisal.objects.get(staff_member__user=struggling, cycle__name="Annual appraisal 2026")
    appraisal = workflow.begin_review(by=fresh(manager), appraisal=appraisal)  # that cycle starts with self-assessment
    complete(appraisal, manager=manager, staff=struggling, per_competency={"Customer Care": lambda n: "not_yet"})
    team = team_overview(manager.staff_member)
    names = [c.name for c in team.competencies]
    sustained = member_row(team, staff).cells[names.index(SUSTAINED)]
    assert (sustained.level, sustained.entry_level, sustained.standing) == (5, 3, Standing.EXCEPTIONAL)
    care = member_row(team, struggling).cells[names.index("Customer Care")]
    assert care.standing == Standing.BELOW_ENTRY and care.level == care.entry_level - 1
    assert member_row(team, struggling).below_entry == 1
    client.force_login(manager)
    page = client.get(reverse("team")).content.decode()
    assert (
        '<span class="standing standing-below_entry"><span class="standing-level">1</span> Below entry</span>' in page
    )
    assert (
        '<span class="standing standing-exceptional"><span class="standing-level">5</span> Exceptional</span>' in page
    )
    assert reverse("person_history", args=[staff.staff_member.pk]) in page


def test_a_competency_outside_a_person_s_role_is_marked_not_in_the_role(hr, manager, staff):
    night = make_person("night", role="night-senior-support-worker", manager=manager)
    open_appraisal(hr, staff, year=2026)
    team = team_overview(manager.staff_member)
    for member in team.members:
        assert len(member.cells) == len(team.competencies)
    required = {
        name: [cell.required for cell in member_row(team, user).cells]
        for name, user in (("staff", staff), ("night", night))
    }
    assert required["staff"] != required["night"]  # two roles, two windows: each column says whether it applies
    assert {cell.words for cell in member_row(team, staff).cells if cell.required} == {"Not appraised yet"}
    assert {cell.words for cell in member_row(team, staff).cells if not cell.required} <= {"Not in the role"}


def test_the_line_view_adds_people_further_down(client, hr, manager, staff, other_staff):
    head = make_person("head", role=None)
    StaffMember.objects.filter(user=manager).update(
        line_manager=head.staff_member, line_manager_since=datetime.date(2023, 1, 1)
    )
    open_appraisal(hr, staff, year=2026)
    client.force_login(head)
    direct = client.get(reverse("team")).content.decode()
    line = client.get(reverse("team") + f"?scope={LINE}").content.decode()
    assert manager.get_full_name() in direct and staff.get_full_name() not in direct
    assert staff.get_full_name() in line and f"reports to {manager.get_full_name()}" in line
    assert other_staff.get_full_name() not in line


def test_another_cycle_can_be_chosen_and_an_unknown_one_is_said(client, hr, manager, staff):
    earlier = open_appraisal(hr, staff, year=2025)
    complete(earlier, manager=manager, staff=staff)
    open_appraisal(hr, staff, year=2026)
    client.force_login(manager)
    page = client.get(reverse("team")).content.decode()
    assert '<h2 class="h4" id="appraisals-heading">Annual appraisal 2026</h2>' in page
    page = client.get(reverse("team") + f"?cycle={earlier.cycle_id}").content.decode()
    assert (
        '<h2 class="h4" id="appraisals-heading">Annual appraisal 2025</h2>' in page
        and "1 of 1</strong> completed" in page
    )
    page = client.get(reverse("team") + "?cycle=nonsense").content.decode()
    assert "There is no such opened cycle; showing Annual appraisal 2026." in page


def test_the_team_page_asks_anonymous_visitors_to_log_in(client):
    response = client.get(reverse("team"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_team_page_makes_as_many_queries_for_a_big_team_as_for_a_small_one(
    client, hr, manager, staff, django_assert_max_num_queries
):
    client.force_login(manager)
    urls = [reverse("team"), reverse("team") + f"?scope={LINE}"]
    open_appraisal(hr, staff, year=2024)
    small = [queries_for(client, url) for url in urls]
    for name in ("second", "third", "fourth"):
        make_person(name, manager=manager)
    night = make_person("night_lead", role="night-senior-support-worker", manager=manager)
    make_person("night_worker", manager=night)  # further down the line
    complete(open_appraisal(hr, staff, year=2025), manager=manager, staff=staff)
    # The latest cycle in every stage: self-assessment (the person acts), review (the manager acts), completed.
    latest = open_appraisal(hr, staff, year=2026, self_assessment=True).cycle
    reviewed = Appraisal.objects.get(cycle=latest, staff_member__user__username="second")
    rate(workflow.begin_review(by=fresh(manager), appraisal=reviewed), manager)
    finished = workflow.begin_review(
        by=fresh(manager), appraisal=Appraisal.objects.get(cycle=latest, staff_member__user__username="third")
    )
    complete(finished, manager=manager, staff=finished.staff_member.user)
    states = set(Appraisal.objects.filter(cycle=latest).values_list("state", flat=True))
    assert {"self_assessment", "manager_review", "completed"} <= states
    large = []
    for url in urls:
        with django_assert_max_num_queries(14):
            large.append(queries_for(client, url))
    assert large == small


def test_below_entry_of_a_window_starting_at_1_reads_below_1():
    from appraisal.team import Cell

    cell = Cell(required=True, entry_level=1, level=0)
    assert (cell.level_text, cell.words, cell.standing) == ("<1", "Below entry", Standing.BELOW_ENTRY)
    assert Cell(required=True, entry_level=2, level=4).level_text == "4"
