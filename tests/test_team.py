"""The team page: a line manager's reports, where each one's appraisal stands in a cycle (who acts
next, due, overdue) and a grid of their latest levels against their role's window."""

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from appraisal.models import Appraisal, AppraisalCycle
from appraisal.rules import Standing
from appraisal.services import cycles, workflow
from appraisal.team import LINE, team_overview
from roles.models import RoleProfileVersion
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
    assert member_row(team, staff).actor_id == staff.staff_member.pk  # self-assessment: the person acts
    assert member_row(team, second).actor_id == manager.staff_member.pk  # manager review: the manager acts
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


def test_names_roles_and_cycles_with_markup_are_shown_as_text_in_the_rows(client, hr, manager, staff):
    head = make_person("head", role=None)
    StaffMember.objects.filter(user=manager).update(line_manager=head.staff_member)
    open_appraisal(hr, staff, year=2026)  # in manager review: the manager acts next
    markup, escaped = '<b>"x"</b> & co', "&lt;b&gt;&quot;x&quot;&lt;/b&gt; &amp; co"
    get_user_model().objects.filter(pk__in=[staff.pk, manager.pk]).update(first_name=markup)
    AppraisalCycle.objects.update(name=markup)
    RoleProfileVersion.objects.filter(role_profile=staff.staff_member.role_profile).update(title=markup)
    client.force_login(head)
    page = client.get(reverse("team"), {"scope": LINE}).content.decode()
    assert "<b>" not in page
    assert f"<td>{escaped}</td>" in page  # the role
    assert f"reports to {escaped} Example</span>" in page and f"<td>{escaped} Example</td>" in page  # who acts next
    assert f"> {escaped} Example's appraisal</span>" in page
    assert f'<h2 class="h4" id="appraisals-heading">{escaped}</h2>' in page


# --- a line longer than a page: team by team, a page at a time ---------------------------------


def test_a_line_is_cut_into_teams_in_the_line_s_order():
    from appraisal.team import teams_in_line

    # (id, line manager id, last name, first name): 1 is the viewer; 2 and 3 report to them, 4 to 2,
    # 5 and 6 to 3 (6 first by name), 7 to 4, deeper; 8 to 99, who has left and is not in the line.
    people = [
        (2, 1, "Brown", "Bo"),
        (3, 1, "Adams", "Al"),
        (4, 2, "Cole", "Cy"),
        (5, 3, "Drew", "Di"),
        (6, 3, "Drew", "Dan"),
        (7, 4, "Eve", "Ed"),
        (8, 99, "Fox", "Fi"),
    ]
    teams = teams_in_line(1, people)
    # The viewer's team, then depth first: Adams's team, then Brown's and below it Cole's; the leaver's last.
    assert teams == [(1, [3, 2]), (3, [6, 5]), (2, [4]), (4, [7]), (99, [8])]
    assert sorted(pk for _, team in teams for pk in team) == [2, 3, 4, 5, 6, 7, 8]


def test_whole_teams_go_onto_pages_and_only_a_team_larger_than_a_page_is_cut():
    from appraisal.team import pages_of_teams

    teams = [(1, [11, 12, 13]), (2, [21, 22]), (3, [31, 32, 33, 34]), (4, [41, 42, 43, 44, 45, 46]), (5, [51])]
    pages = pages_of_teams(teams, 5)
    assert [[(part.manager_id, part.people, part.start) for part in page] for page in pages] == [
        [(1, [11, 12, 13], 0), (2, [21, 22], 0)],  # five: full
        [(3, [31, 32, 33, 34], 0)],  # the next team would not fit
        [(4, [41, 42, 43, 44, 45], 0)],  # a team of six on pages of five: cut
        [(4, [46], 5), (5, [51], 0)],  # its last part starts the next page, like a team
    ]
    assert all(sum(len(part.people) for part in page) <= 5 for page in pages)
    assert pages_of_teams([], 5) == []


def build_line(head, sizes):
    """Under `head`, a manager for each of `sizes` (named manager_a, manager_b, …), each with that many
    reports; the first report of manager_a manages one more person, further down. Returns the users."""
    users = []
    for letter, size in zip("abcdefghij", sizes, strict=False):
        boss = make_person(f"manager_{letter}", role="senior-service-coordinator-afeo", manager=head)
        users.append(boss)
        users += [make_person(f"{letter}_report_{number:02}", manager=boss) for number in range(size)]
    users.append(make_person("deeper", manager=users[1]))
    return users


def line_pages(client, **params):
    """Every page of the signed-in head's line: [(the page's Team, its HTML)], from the first page to the last."""
    pages = []
    number = 1
    while True:
        response = client.get(reverse("team"), {"scope": LINE, "page": number, **params})
        assert response.status_code == 200
        team = response.context["team"]
        pages.append((team, response.content.decode()))
        if team.page is None or team.page.next is None:
            return pages
        number = team.page.next


@pytest.fixture
def head(db):
    return make_person("head", role=None)


@pytest.fixture
def small_pages(monkeypatch):
    """Pages of five people, so that a line of a few dozen is a long one."""
    monkeypatch.setattr("appraisal.team.PAGE_SIZE", 5)


def test_a_line_longer_than_a_page_is_shown_team_by_team_each_person_once(client, head, small_pages):
    users = build_line(head, [3, 6, 2])  # 3 managers + 11 reports + 1 further down: 15
    client.force_login(head)
    pages = line_pages(client)
    shown = [member.person.user_id for team, _ in pages for member in team.members]
    assert sorted(shown) == sorted(user.pk for user in users)  # everyone, once
    assert [team.page.number for team, _ in pages] == list(range(1, len(pages) + 1))
    assert all(team.page.count == len(pages) and len(team.members) <= 5 for team, _ in pages)
    # A team is on one page, unless it is larger than a page (manager_b's six).
    on_pages = {}
    for number, (team, _) in enumerate(pages, start=1):
        for group in team.groups:
            on_pages.setdefault(group.manager_id, set()).add(number)
    sizes = {group.manager_id: group.team_size for team, _ in pages for group in team.groups}
    assert (
        {manager for manager, numbers in on_pages.items() if len(numbers) > 1}
        == {manager for manager, size in sizes.items() if size > 5}
        == {users[4].staff_member.pk}
    )
    first, html = pages[0]
    assert "People 1–3 of 15 · page 1 of" in html  # the head's three managers; manager_a's team did not fit
    assert '<h3 class="h5 mt-4">Your direct reports (3 people)</h3>' in html
    assert html.count("<h1") == 1 and html.count("<caption") == 2
    assert '<caption class="visually-hidden">Your direct reports (3 people): each person\'s appraisal' in html
    assert any("Manager B Example&#x27;s team (people 1–5 of 6)" in html for _, html in pages)
    assert any("Manager B Example&#x27;s team (person 6 of 6)" in html for _, html in pages)
    assert "reports to" not in "".join(html for _, html in pages)  # each team's heading says it
    assert 'aria-current="page"' in html and 'rel="next"' in html and 'rel="prev"' not in html


def test_the_page_links_keep_the_chosen_cycle(client, hr, head, small_pages):
    users = build_line(head, [3, 6, 2])
    earlier = open_appraisal(hr, users[1], year=2025)
    open_appraisal(hr, users[1], year=2026)
    client.force_login(head)
    html = client.get(reverse("team"), {"scope": LINE, "cycle": earlier.cycle_id, "page": 2}).content.decode()
    assert f'href="?scope=line&amp;cycle={earlier.cycle_id}&amp;page=3"' in html
    assert f'href="?scope=line&amp;cycle={earlier.cycle_id}&amp;page=1" rel="prev"' in html
    assert '<h2 class="h4" id="appraisals-heading">Annual appraisal 2025</h2>' in html
    # The summary counts the whole line, not the page: nobody's 2025 record is completed, and it is overdue.
    assert "<strong>0 of 15</strong> completed in your line" in html and "15 overdue" in html


@pytest.mark.parametrize("asked, shown", [("99", "last"), ("0", "last"), ("-1", "last"), ("two", 1), ("", 1)])
def test_a_page_that_does_not_exist_shows_the_nearest_and_says_so(client, head, small_pages, asked, shown):
    # As Django's Paginator.get_page: past the last page (or below the first), the last; not a number, the first.
    build_line(head, [3, 6, 2])
    client.force_login(head)
    response = client.get(reverse("team"), {"scope": LINE, "page": asked})
    assert response.status_code == 200
    page = response.context["team"].page
    assert page.number == (page.count if shown == "last" else shown)
    said = f"There is no such page; showing page {page.number} of {page.count}." in response.content.decode()
    assert said == (asked != "")


def test_a_line_within_a_page_and_a_manager_s_own_team_are_one_list_as_before(client, head, small_pages):
    boss = make_person("boss", role="senior-service-coordinator-afeo", manager=head)
    for number in range(3):
        make_person(f"report_{number}", manager=boss)  # 1 + 3: within a page of five
    client.force_login(head)
    team = client.get(reverse("team"), {"scope": LINE, "page": "7"}).context["team"]
    assert team.page is None and len(team.groups) == 1 and team.groups[0].heading == ""
    assert [m.person.username for m in team.members] == ["boss", "report_0", "report_1", "report_2"]
    for number in range(3, 8):
        make_person(f"report_{number}", manager=boss)
    client.force_login(boss)
    response = client.get(reverse("team"), {"page": "2"})  # eight direct reports: their own team, whole
    assert response.context["team"].page is None and len(response.context["team"].members) == 8
    assert "pagination" not in response.content.decode()


def test_a_team_heading_shows_a_name_with_markup_as_text(client, head, small_pages):
    users = build_line(head, [3, 6, 2])
    get_user_model().objects.filter(pk=users[0].pk).update(first_name='<b>"Bold"</b> & Co')
    client.force_login(head)
    html = "".join(html for _, html in line_pages(client))
    assert "&lt;b&gt;&quot;Bold&quot;&lt;/b&gt; &amp; Co Example&#x27;s team (3 people)" in html
    assert "<b>" not in html


def test_a_long_line_makes_as_many_queries_at_any_length(client, hr, head, small_pages, django_assert_max_num_queries):
    users = build_line(head, [3, 6, 2])
    complete(open_appraisal(hr, users[1], year=2025), manager=users[0], staff=users[1])
    open_appraisal(hr, users[1], year=2026, self_assessment=True)
    client.force_login(head)
    urls = [reverse("team") + f"?scope={LINE}", reverse("team") + f"?scope={LINE}&page=99"]
    counts = []
    for url in urls:
        with django_assert_max_num_queries(12):
            counts.append(queries_for(client, url))
    # Three times the line, and more people on the last page: the same queries.
    for letter in "defghi":
        boss = make_person(f"manager_{letter}", role="senior-service-coordinator-afeo", manager=head)
        for number in range(4):
            make_person(f"{letter}_report_{number}", manager=boss)
    assert client.get(urls[0]).context["team"].line_count == 15 + 30
    longer = []
    for url in urls:
        with django_assert_max_num_queries(12):
            longer.append(queries_for(client, url))
    assert longer == counts


# --- overdue appraisals of an earlier cycle -------------------------------------------------------


def test_overdue_appraisals_of_an_earlier_cycle_are_shown_above_the_new_one(client, hr, manager, staff):
    second = make_person("second", manager=manager)
    finished = make_person("finished", manager=manager)
    earlier = open_appraisal(hr, staff, year=2025).cycle  # due 30 June 2025: long past
    complete(Appraisal.objects.get(cycle=earlier, staff_member__user=finished), manager=manager, staff=finished)
    open_appraisal(hr, staff, year=2027)  # the new cycle, not due yet: the page shows it
    client.force_login(manager)
    for scope in ("direct", LINE):
        page = client.get(reverse("team"), {"scope": scope}).content.decode()
        assert '<h2 class="h4" id="appraisals-heading">Annual appraisal 2027</h2>' in page
        notice = page[page.index('id="overdue-earlier-heading"') : page.index('id="appraisals-heading"')]
        assert "Still overdue from an earlier cycle" in notice
        assert f'<a href="?scope={scope}&amp;cycle={earlier.pk}">Annual appraisal 2025</a>: 2 appraisals' in notice
        assert "not completed, due 30 June 2025." in notice
        for user in (staff, second):
            theirs = Appraisal.objects.get(cycle=earlier, staff_member__user=user)
            assert f'<a href="{reverse("appraisal", args=[theirs.pk])}">{user.get_full_name()}<span' in notice
        assert finished.get_full_name() not in notice and "Manager review" in notice
    # Showing that cycle itself: no notice; nor once its appraisals are done.
    page = client.get(reverse("team"), {"cycle": earlier.pk}).content.decode()
    assert "overdue-earlier-heading" not in page
    for user in (staff, second):
        complete(Appraisal.objects.get(cycle=earlier, staff_member__user=user), manager=manager, staff=user)
    assert "overdue-earlier-heading" not in client.get(reverse("team")).content.decode()


def test_a_long_list_of_overdue_earlier_appraisals_is_cut_short_and_counted(client, hr, manager, staff, monkeypatch):
    monkeypatch.setattr("appraisal.team.OVERDUE_LISTED", 1)
    make_person("second", manager=manager)
    make_person("third", manager=manager)
    open_appraisal(hr, staff, year=2025)
    open_appraisal(hr, staff, year=2027)
    client.force_login(manager)
    page = client.get(reverse("team")).content.decode()
    assert ": 3 appraisals not completed" in page and "… and 2 more:" in page
    assert page.count("s appraisal in Annual appraisal 2025</span>") == 1


def test_the_earlier_cycles_notice_makes_as_many_queries_for_many_as_for_one(
    client, hr, manager, staff, django_assert_max_num_queries
):
    open_appraisal(hr, staff, year=2025)
    open_appraisal(hr, staff, year=2027)
    client.force_login(manager)
    urls = [reverse("team"), reverse("team") + f"?scope={LINE}"]
    few = [queries_for(client, url) for url in urls]
    for name in ("second", "third", "fourth"):
        make_person(name, manager=manager)
    open_appraisal(hr, staff, year=2024)  # a second earlier cycle, overdue for everyone
    cycles.open_cycle(by=fresh(hr), cycle=AppraisalCycle.objects.get(name="Annual appraisal 2025"))  # the newcomers
    for url in urls:
        with django_assert_max_num_queries(14):
            assert queries_for(client, url) == few[urls.index(url)]
    assert "Annual appraisal 2024</a>: 4 appraisals" in client.get(urls[0]).content.decode()


def test_the_whole_line_page_shows_below_level_1_as_escaped_text(client, hr, manager, staff):
    from html.parser import HTMLParser

    head = make_person("head", role=None)
    StaffMember.objects.filter(user=manager).update(line_manager=head.staff_member)
    # Partnership and Teamwork's window starts at 1 for a Support Worker: nothing demonstrated is below 1.
    complete(
        open_appraisal(hr, staff),
        manager=manager,
        staff=staff,
        per_competency={"Partnership and Teamwork": lambda n: "not_yet"},
    )

    class Levels(HTMLParser):
        """The text of each level in the grid, and every tag the page opens."""

        def __init__(self):
            super().__init__()
            self.levels, self.tags, self._in_level = [], set(), False

        def handle_starttag(self, tag, attrs):
            self.tags.add(tag)
            self._in_level = ("class", "standing-level") in attrs

        def handle_data(self, data):
            if self._in_level:
                self.levels.append(data)
                self._in_level = False

    client.force_login(head)
    page = client.get(reverse("team"), {"scope": LINE}).content.decode()
    parser = Levels()
    parser.feed(page)
    parser.close()
    assert "<1" in parser.levels and "&lt;1" in page
    assert not re.search(r"<(?![a-zA-Z/!])", page)  # every "<" in the page opens a tag, an end tag or a comment
