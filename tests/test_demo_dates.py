"""The demo moves with the day it is built for, keeps that day, and lets every person in the README sign in."""

import datetime
import io
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from appraisal.models import Appraisal, AppraisalCycle, AppraisalEvent
from demo.dates import REFERENCE_DAY, DemoCalendar, add_months
from demo.management.commands.seed_demo import NEW_STARTERS
from demo.models import DemoBuild
from roles.models import RoleProfileVersion
from staff.models import StaffMember

State = Appraisal.State


def seed(**options) -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def current_cycle() -> AppraisalCycle:
    return AppraisalCycle.objects.order_by("-period_end")[0]


# --- the calendar -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day, months, expected",
    [
        (datetime.date(2026, 3, 31), 6, datetime.date(2026, 9, 30)),  # a month's last day stays the last
        (datetime.date(2026, 6, 30), 6, datetime.date(2026, 12, 31)),
        (datetime.date(2025, 4, 1), 6, datetime.date(2025, 10, 1)),
        (datetime.date(2025, 8, 29), 6, datetime.date(2026, 2, 28)),  # clamped to February's length
        (datetime.date(2024, 2, 29), 12, datetime.date(2025, 2, 28)),
        (datetime.date(2026, 3, 31), -3, datetime.date(2025, 12, 31)),
        (datetime.date(2026, 1, 15), -13, datetime.date(2024, 12, 15)),
    ],
)
def test_dates_move_by_whole_months(day, months, expected):
    assert add_months(day, months) == expected


def test_the_reference_day_leaves_the_written_dates_as_they_are():
    calendar = DemoCalendar(REFERENCE_DAY)
    assert calendar.months == 0
    assert calendar.date("2026-03-31") == datetime.date(2026, 3, 31)
    assert calendar.written_year(datetime.date(2025, 3, 31)) == 2025


def test_for_every_day_of_two_years_the_current_period_has_ended_and_is_due_within_weeks():
    day = datetime.date(2026, 1, 1)
    while day < datetime.date(2028, 1, 1):
        calendar = DemoCalendar(day)
        period_end, due = calendar.date("2026-03-31"), calendar.date("2026-06-30")
        opened = period_end + datetime.timedelta(days=3)
        assert 3 * 7 <= (day - opened).days <= 9 * 7, day  # a round a few weeks old
        assert 4 * 7 <= (due - day).days <= 10 * 7, day  # due in a few weeks
        assert calendar.written_year(period_end) == 2026
        day += datetime.timedelta(days=1)


# --- the demo built for a day ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("day", [datetime.date(2026, 11, 29), datetime.date(2027, 11, 29)])
def test_the_demo_built_for_a_day_is_in_season_on_that_day(day):
    seed(today=day)
    assert DemoBuild.objects.get().built_for == day
    cycle = current_cycle()
    assert cycle.period_end < cycle.opened_at.date() < day < cycle.due_on
    assert cycle.due_on - day <= datetime.timedelta(weeks=10)
    assert cycle.name == f"Annual appraisal {cycle.period_end.year}"
    overdue = Appraisal.objects.exclude(state=State.COMPLETED).filter(cycle__due_on__lt=day)
    assert overdue.count() <= 3  # at most a few
    open_now = cycle.appraisals.exclude(state=State.COMPLETED)
    assert open_now.count() >= 10  # most of the round is still to do
    past = list(AppraisalCycle.objects.exclude(pk=cycle.pk).order_by("period_end"))
    assert [c.period_end for c in past] == [add_months(cycle.period_end, -12 * n) for n in (3, 2, 1)]
    assert not Appraisal.objects.filter(cycle__in=past).exclude(state=State.COMPLETED).exists()
    # Nothing happened after the day (built today: before now), or before the role profiles were published.
    now = timezone.now()
    afternoon = datetime.datetime.combine(day, datetime.time(17, 1), tzinfo=datetime.UTC)
    assert not AppraisalEvent.objects.filter(at__gt=now if day == timezone.localdate(now) else afternoon).exists()
    first_opening = past[0].opened_at
    published = RoleProfileVersion.objects.filter(status=RoleProfileVersion.Status.PUBLISHED)
    assert published.exists() and not published.filter(published_at__gte=first_opening).exists()
    # People joined and left with the calendar: the leaver left months before the day, the newest joined this year.
    amy = StaffMember.objects.get(user__username="amy")
    assert cycle.period_start < amy.left_on < cycle.period_end
    zara = StaffMember.objects.get(user__username="zara")
    assert cycle.period_start < zara.role_profile_since < cycle.period_end
    assert not Appraisal.objects.filter(staff_member=zara).exclude(cycle=cycle).exists()


@pytest.mark.django_db(transaction=True)  # as from the command line: the reset empties committed tables
def test_the_day_is_kept_until_the_demo_is_reset():
    seed(today=datetime.date(2026, 11, 29))
    cycles = list(AppraisalCycle.objects.values_list("name", "period_end", "due_on"))
    appraisals = Appraisal.objects.count()

    output = seed()  # run again, any day: nothing changes
    assert list(AppraisalCycle.objects.values_list("name", "period_end", "due_on")) == cycles
    assert Appraisal.objects.count() == appraisals
    assert "built around 29 November 2026" in output

    with pytest.raises(CommandError, match=r"built for 2026-11-29.*--reset --today=2027-02-10"):
        seed(today=datetime.date(2027, 2, 10))
    assert Appraisal.objects.count() == appraisals

    output = seed(reset=True, interactive=False, today=datetime.date(2027, 2, 10))
    assert "Database emptied" in output
    assert DemoBuild.objects.get().built_for == datetime.date(2027, 2, 10)
    assert current_cycle().period_end == datetime.date(2026, 12, 31)
    assert Appraisal.objects.count() == appraisals


@pytest.mark.django_db
def test_a_reset_is_refused_where_there_is_no_demo(django_user_model):
    django_user_model.objects.create_user("someone", password="not the demo")
    with pytest.raises(CommandError, match="holds no demo"):
        seed(reset=True, interactive=False)
    assert django_user_model.objects.filter(username="someone").exists()


@pytest.mark.django_db
def test_a_demo_from_before_the_moving_dates_is_kept_as_written():
    seed(today=REFERENCE_DAY)
    DemoBuild.objects.all().delete()  # as an earlier version of seed_demo left it
    appraisals = Appraisal.objects.count()
    seed()
    assert DemoBuild.objects.get().built_for == REFERENCE_DAY
    assert Appraisal.objects.count() == appraisals


@pytest.mark.django_db
def test_an_old_demo_says_how_to_rebuild_it_for_today():
    assert "--reset" in seed(today=datetime.date(2024, 1, 10))


# --- the logins --------------------------------------------------------------------------------------


def readme_logins() -> dict[str, str]:
    """{username: its row} for each login in the README's table of demo logins."""
    text = Path(settings.BASE_DIR, "README.md").read_text()
    table = text[text.index("Demo logins") : text.index("## Commands")]
    logins = {}
    for row in table.splitlines():
        cells = row.split("|")
        if len(cells) > 2:
            for username in re.findall(r"`([a-z]+)`", cells[1]):
                logins[username] = row
    return logins


@pytest.mark.django_db
def test_every_demo_login_in_the_readme_signs_in_but_the_leaver():
    seed(today=datetime.date(2026, 11, 29))
    logins = readme_logins()
    assert {"hr", "manager", "staff", "zara", "tom", "head", "amy"} <= set(logins)
    for username, row in logins.items():
        response = Client().post(reverse("login"), {"username": username, "password": "demo"})
        if "cannot sign in" in row:
            assert response.status_code == 200, username
            assert StaffMember.objects.get(user__username=username).left_on < datetime.date(2026, 11, 29)
        else:
            assert response.status_code == 302, username
    leavers = [username for username, row in logins.items() if "cannot sign in" in row]
    assert leavers == ["amy"]


@pytest.mark.django_db
def test_every_demo_person_has_the_demo_password():
    seed(today=datetime.date(2026, 11, 29))
    starters = [username for username, *_ in NEW_STARTERS]  # no password yet: to be invited
    people = StaffMember.objects.select_related("user").exclude(user__username__in=starters)
    assert people.count() == 26
    assert all(member.user.check_password("demo") for member in people)
    assert not any(
        member.user.has_usable_password() for member in StaffMember.objects.filter(user__username__in=starters)
    )


@pytest.mark.django_db
def test_the_readme_people_are_where_it_says():
    seed(today=datetime.date(2026, 11, 29))
    cycle = current_cycle()
    state = {a.staff_member.user.username: a for a in cycle.appraisals.select_related("staff_member__user")}
    assert state["zara"].state == State.SELF_ASSESSMENT
    assert state["daniel"].state == State.SELF_ASSESSMENT
    assert state["staff"].state == state["ben"].state == State.AWAITING_SIGN_OFF
    assert state["tom"].state == State.AWAITING_COUNTERSIGN and state["tom"].staff_agrees is False
    assert Appraisal.objects.filter(staff_member__user__username="kemi", staff_agrees=False).exists()
    assert StaffMember.objects.filter(line_manager__user__username="manager", left_on=None).count() == 8  # Noah new
