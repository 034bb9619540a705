"""The organisation report reads tallies kept with every change (`appraisal.tallies`) rather than every
record. Its numbers must be exactly those computed from the records, as the report computed them
before: compared here over the demo and a scaled organisation, for every opened cycle and filter, for
an HR admin whose own records are left out and one without, and again after each kind of change that
moves the numbers (completing, reopening, reassigning, a change of service, a new opening, a job's
opening)."""

import io
from collections import Counter

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db.models import Count, Q
from django.test import TestCase
from django.utils import timezone

from appraisal import tallies
from appraisal.models import (
    EVERY_SERVICE,
    Appraisal,
    AppraisalCycle,
    DevelopmentNeed,
    ListedDisagreement,
    ProgressTally,
    ScoredCompetency,
    StandingTally,
)
from appraisal.rules import STANDINGS_IN_ORDER, Standing
from appraisal.services import cycles, workflow
from bench.scale import seed_scale
from core.access import HR_ADMIN_GROUP
from demo.dates import REFERENCE_DAY
from reports import selectors as reports
from roles.models import RoleProfile
from staff import records
from staff.access import hr_conflicts
from staff.models import Service, StaffMember, display_name, name_order
from tests.appraisals import complete, fresh, reload

pytestmark = pytest.mark.django_db

State = Appraisal.State


# --- the report as it was computed from the records ------------------------------------------------


def reference(filters: reports.ReportFilters) -> dict:
    """Every number of the report, computed from the records (the report's queries before the tallies)."""
    today = timezone.localdate()
    overdue = Count("pk", filter=~Q(state=State.COMPLETED) & Q(cycle__due_on__lt=today))
    appraisals = Appraisal.objects.filter(filters.appraisal_q())

    def by(*fields):
        groups: dict = {}
        for row in appraisals.values(*fields, "state").annotate(n=Count("pk"), late=overdue).order_by():
            key = tuple(row[field] for field in fields)
            counts, late = groups.get(key, (Counter(), 0))
            counts[row["state"]] += row["n"]
            groups[key] = (counts, late + row["late"])
        return groups

    (state_counts, state_overdue) = by().get((), (Counter(), 0))
    services = {
        (name or reports.NO_SERVICE): (dict(counts), late)
        for (_pk, name), (counts, late) in by("staff_member__service_id", "staff_member__service__name").items()
    }
    service_order = [
        name or reports.NO_SERVICE
        for (_pk, name) in sorted(
            by("staff_member__service_id", "staff_member__service__name"),
            key=lambda key: (key[1] is None, (key[1] or "").casefold()),
        )
    ]
    manager_groups = by(
        "appraiser_id", "appraiser__user__first_name", "appraiser__user__last_name", "appraiser__user__username"
    )
    managers = {
        display_name(first, last, username): (dict(counts), late)
        for (_pk, first, last, username), (counts, late) in manager_groups.items()
    }
    manager_order = [
        display_name(first, last, username)
        for (pk, first, last, username) in sorted(manager_groups, key=lambda key: (name_order(*key[1:]), key[0]))
    ]
    heat: Counter = Counter()
    for row in (
        ScoredCompetency.objects.with_standing()
        .filter(filters.appraisal_q("appraisal__"), appraisal__state=State.COMPLETED)
        .values("appraisal__role_version__role_profile_id", "competency__name", "standing")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        if Standing(row["standing"]) in STANDINGS_IN_ORDER:
            heat[row["appraisal__role_version__role_profile_id"], row["competency__name"], row["standing"]] += row["n"]
    # By the person's name (`name_order`: last name, else username, then first name, case-folded), the record,
    # the competency's place in it.
    scored_below = (
        ScoredCompetency.objects.with_standing()
        .filter(
            filters.appraisal_q("appraisal__"), appraisal__state=State.COMPLETED, standing=Standing.BELOW_ENTRY.value
        )
        .values_list(
            "appraisal__staff_member__user__first_name",
            "appraisal__staff_member__user__last_name",
            "appraisal__staff_member__user__username",
            "appraisal_id",
            "position",
            "name",
            "achieved",
            "entry_level",
        )
    )
    below = [
        row[3:]
        for row in sorted(
            (name_order(first, last, username), appraisal_id, position, appraisal_id, name, achieved, entry)
            for first, last, username, appraisal_id, position, name, achieved, entry in scored_below
        )
    ]
    return {
        "by state": (dict(state_counts), state_overdue),
        "services": services,
        "service order": service_order,
        "managers": managers,
        "manager order": manager_order,
        "heat": heat,
        "below entry": below,
        "below entry count": len(below),
    }


def report(filters: reports.ReportFilters) -> dict:
    """The same numbers, from the report as it is now."""

    def counts(progress):
        return {state: count for state, count in progress.counts.items() if count}

    progress = reports.progress_by_state(filters)
    services = reports.progress_by(filters, "service")
    assert reports.progress_by_state(filters, by_service=services) == progress  # the page adds up the services'
    managers = reports.progress_by(filters, "manager")
    heatmap = reports.standing_heatmap(filters)
    heat: Counter = Counter()
    for row in heatmap.rows:
        for role, cell in zip(heatmap.roles, row.cells, strict=True):
            for standing, count in (cell.counts if cell else {}).items():
                heat[role["id"], row.name, standing.value] += count
    return {
        "by state": (counts(progress), progress.overdue),
        "services": {group.label: (counts(group), group.overdue) for group in services},
        "service order": [group.label for group in services],
        "managers": {group.label: (counts(group), group.overdue) for group in managers},
        "manager order": [group.label for group in managers],
        "heat": +heat,
        "below entry": [
            (row.appraisal_id, row.competency, row.achieved_level, row.entry_level)
            for row in reports.below_entry(filters)
        ],
        # The page counts them from the heatmap, with no query of their own.
        "below entry count": heatmap.below_entry,
    }


def every_filter(excluded: frozenset[int] = frozenset(), *, combined: bool = False):
    """Every opened cycle with no filter, each service, each role profile (`combined`: each pair too)."""
    services = [None, *Service.objects.all()]
    roles = [None, *RoleProfile.objects.all()]
    pairs = (
        [(s, r) for s in services for r in roles]
        if combined
        else [(s, None) for s in services] + [(None, r) for r in roles[1:]]
    )
    for cycle in reports.opened_cycles():
        for service, role in pairs:
            yield reports.ReportFilters(cycle=cycle, service=service, role_profile=role, excluded_people=excluded)


def assert_every_service_is_the_sum_of_each_service_s() -> None:
    """The standing tallies of every service together (`EVERY_SERVICE`, which the report without a service
    filter reads) are the sums of each service's."""
    each: Counter = Counter()
    together: Counter = Counter()
    for cycle, service, role, competency, standing, count in StandingTally.objects.values_list(
        "cycle_id", "service_key", "role_profile_id", "competency_id", "standing", "count"
    ):
        (together if service == EVERY_SERVICE else each)[cycle, role, competency, standing] += count
    assert together and each == together


def assert_report_is_exact(*, viewers=(), combined: bool = False) -> int:
    """The report equals the computation from the records for every cycle and filter (and each viewer's
    exclusions); the tallies equal a recount. Returns how many reports were compared."""
    assert tallies.rebuild() == 0, "the tallies differed from a recount of the records"
    assert_every_service_is_the_sum_of_each_service_s()
    compared = 0
    for excluded in [frozenset(), *(hr_conflicts(viewer) for viewer in viewers)]:
        for filters in every_filter(excluded, combined=combined):
            assert report(filters) == reference(filters), filters
            compared += 1
    return compared


# --- the demo --------------------------------------------------------------------------------------


@pytest.fixture
def demo():
    call_command("seed_demo", today=REFERENCE_DAY, stdout=io.StringIO())
    return User.objects.get(username="hr")


def person(username: str) -> StaffMember:
    return StaffMember.objects.select_related("user").get(user__username=username)


def test_the_demo_s_report_is_exact_for_every_cycle_filter_and_viewer(demo):
    assert ProgressTally.objects.exists()
    assert demo.groups.filter(name=HR_ADMIN_GROUP).exists() and hr_conflicts(demo)  # their own record is left out
    assert assert_report_is_exact(viewers=[demo], combined=True) > 100


def test_the_report_stays_exact_after_each_kind_of_change(demo):
    hr = fresh(demo)
    completed = Appraisal.objects.filter(state=State.COMPLETED).order_by("-cycle__period_end", "pk").first()
    workflow.reopen(by=hr, appraisal=reload(completed), reason="A rating was entered against the wrong person.")
    assert reload(completed).state != State.COMPLETED
    assert_report_is_exact(viewers=[hr])

    open_one = (
        Appraisal.objects.exclude(state=State.COMPLETED).filter(cycle=completed.cycle).exclude(pk=completed.pk).first()
    )
    heads = StaffMember.objects.active().exclude(pk__in=[open_one.staff_member_id, open_one.appraiser_id])
    new_appraiser = next(m for m in heads if workflow.appraiser_problem(open_one, m) is None)
    workflow.reassign_appraiser(
        by=hr, appraisal=reload(open_one), appraiser=new_appraiser, reason="The manager is away for three months."
    )
    assert reload(open_one).appraiser_id == new_appraiser.pk
    assert_report_is_exact(viewers=[hr])

    mover = Appraisal.objects.filter(state=State.COMPLETED).exclude(staff_member__service=None).first().staff_member
    elsewhere = Service.objects.exclude(pk=mover.service_id).first()
    records.update_staff_details(
        by=hr,
        member=mover,
        first_name=mover.user.first_name,
        last_name=mover.user.last_name,
        email=mover.user.email,
        service=elsewhere,
        job_title=mover.job_title,
    )
    assert_report_is_exact(viewers=[hr])
    records.update_staff_details(
        by=hr,
        member=person(mover.user.username),
        first_name=mover.user.first_name,
        last_name=mover.user.last_name,
        email=mover.user.email,
        service=None,
        job_title=mover.job_title,
    )
    assert_report_is_exact()

    # Completed through every step of the workflow by the record's own people.
    scoring = Appraisal.objects.filter(state=State.MANAGER_REVIEW).select_related(
        "staff_member__user", "appraiser__user"
    )
    appraisal = scoring.first()
    complete(appraisal, manager=appraisal.appraiser.user, staff=appraisal.staff_member.user)
    assert reload(appraisal).state == State.COMPLETED
    assert_report_is_exact(viewers=[hr])


def next_cycle(hr: User, name: str, *, self_assessment: bool) -> AppraisalCycle:
    """A new cycle the year after the demo's latest, not opened yet."""
    latest = AppraisalCycle.objects.order_by("-period_end")[0]
    year = latest.period_end.year + 1
    return cycles.create_cycle(
        by=hr,
        name=name,
        period_start=latest.period_end.replace(year=year - 1, day=1, month=4),
        period_end=latest.period_end.replace(year=year),
        due_on=latest.due_on.replace(year=year),
        self_assessment=self_assessment,
    )


def test_an_opening_counts_its_appraisals_at_once_or_when_its_job_publishes_them(demo):
    hr = fresh(demo)
    new = next_cycle(hr, "Annual appraisal, next year", self_assessment=True)
    cycles.open_cycle(by=hr, cycle=new)
    assert Appraisal.objects.filter(cycle=new).exists()
    assert_report_is_exact(viewers=[hr])


class OpeningJobTest(TestCase):
    """An opening run as a job: its appraisals are counted when they are published, not before."""

    def test_a_job_s_opening_is_counted_when_published(self):
        call_command("seed_demo", today=REFERENCE_DAY, stdout=io.StringIO())
        hr = User.objects.get(username="hr")
        new = next_cycle(hr, "Annual appraisal, by a job", self_assessment=False)
        with self.captureOnCommitCallbacks(execute=True):
            cycles.start_opening(by=fresh(hr), cycle=new)
        assert Appraisal.objects.filter(cycle=new).exists()
        assert ProgressTally.objects.filter(cycle=new).exists()
        assert_report_is_exact()


# --- a scaled organisation ---------------------------------------------------------------------------


def test_a_scaled_organisation_s_report_is_exact_before_and_after_changes():
    seed_scale(staff=80, years=2)
    hr = User.objects.get(username="hr")
    assert Appraisal.objects.filter(state=State.COMPLETED).count() > 100
    assert_report_is_exact(viewers=[hr])
    completed = Appraisal.objects.filter(state=State.COMPLETED).order_by("-cycle__period_end", "pk").first()
    workflow.reopen(by=fresh(hr), appraisal=reload(completed), reason="Reopened to check the report.")
    open_one = Appraisal.objects.filter(state=State.MANAGER_REVIEW).first()
    new_appraiser = next(
        m for m in StaffMember.objects.active().order_by("pk") if workflow.appraiser_problem(open_one, m) is None
    )
    workflow.reassign_appraiser(by=fresh(hr), appraisal=reload(open_one), appraiser=new_appraiser, reason="Cover.")
    assert_report_is_exact(viewers=[hr])


# --- the page: the sections that grow with the organisation, a page at a time --------------------------


def test_the_managers_and_staff_below_entry_are_shown_a_page_at_a_time(client, demo, monkeypatch):
    from reports import views

    monkeypatch.setattr(views, "REPORT_PAGE_SIZE", 1)
    cycle = AppraisalCycle.objects.get(
        pk=DevelopmentNeed.objects.values("cycle_id").annotate(n=Count("pk")).order_by("-n")[0]["cycle_id"]
    )
    filters = reports.ReportFilters(cycle=cycle, excluded_people=hr_conflicts(demo))
    managers = [group.label for group in reports.progress_by(filters, "manager")]
    below = [(row.appraisal_id, row.competency) for row in reports.below_entry(filters)]
    assert len(managers) > 1 and len(below) > 1
    client.force_login(demo)
    seen_managers, seen_below = [], []
    for number in range(1, max(len(managers), len(below)) + 1):
        response = client.get("/reports/", {"cycle": cycle.pk, "managers": number, "below": number})
        page = response.context
        if number <= len(managers):
            assert page["by_manager"].number == number
            seen_managers += [label for label, _counts in page["by_manager"]]
        if number <= len(below):
            seen_below += [(row.appraisal_id, row.competency) for row in page["below_entry"]]
        content = response.content.decode()
        if number < len(managers):
            # The next page's link keeps the cycle and the other section's page, and returns to the section.
            other = f"&amp;below={page['below_entry'].number}" if page["below_entry"].number > 1 else ""
            assert f"?cycle={cycle.pk}{other}&amp;managers={number + 1}#by-manager-heading" in content
    assert seen_managers == managers  # each once, in the report's order
    assert seen_below == below
    # A page beyond the last, or not a number: the last page, or the first.
    beyond = client.get("/reports/", {"cycle": cycle.pk, "managers": 999, "below": "x"}).context
    assert beyond["by_manager"].number == beyond["by_manager"].paginator.num_pages
    assert beyond["below_entry"].number == 1


def test_a_tally_changed_outside_the_application_is_mended_and_the_nightly_check_says_so(demo, caplog):
    tally = ProgressTally.objects.order_by("pk").first()
    ProgressTally.objects.filter(pk=tally.pk).update(count=tally.count + 5)  # a change made in a database shell
    with caplog.at_level("WARNING", logger="appraisal.tallies"):
        assert tallies.check_and_mend() == 1
    assert "differed from the records in 1 places" in caplog.text
    assert ProgressTally.objects.get(pk=tally.pk).count == tally.count
    out = io.StringIO()
    call_command("rebuild_report_tallies", stdout=out)
    assert "match the records" in out.getvalue()
    need = DevelopmentNeed.objects.order_by("pk").first()
    need.delete()
    out = io.StringIO()
    call_command("rebuild_report_tallies", stdout=out)
    assert "differed from the records in 1 place(s); mended" in out.getvalue()
    assert DevelopmentNeed.objects.filter(scored_competency_id=need.scored_competency_id).exists()
    # The names' order kept in the rows, changed past `on_user_saved`: mended too.
    tally = ProgressTally.objects.order_by("pk").first()
    ProgressTally.objects.filter(pk=tally.pk).update(appraiser_order="0")
    listed = ListedDisagreement.objects.order_by("pk").first()
    ListedDisagreement.objects.filter(pk=listed.pk).update(person_order="0")
    assert tallies.rebuild() == 2
    assert ProgressTally.objects.get(pk=tally.pk).appraiser_order == tally.appraiser_order
    assert ListedDisagreement.objects.get(pk=listed.pk).person_order == listed.person_order
    assert tallies.rebuild() == 0


# --- the lists by name: the name's order kept in their rows --------------------------------------------


def rename(hr: User, member: StaffMember, first_name: str, last_name: str) -> None:
    member = person(member.user.username)
    records.update_staff_details(
        by=hr,
        member=member,
        first_name=first_name,
        last_name=last_name,
        email=member.user.email,
        service=member.service,
        job_title=member.job_title,
    )


def test_a_change_of_name_moves_the_person_in_the_report_s_lists_at_once(demo):
    hr = fresh(demo)
    cycle = AppraisalCycle.objects.get(
        pk=DevelopmentNeed.objects.values("cycle_id").annotate(n=Count("pk")).order_by("-n")[0]["cycle_id"]
    )
    filters = reports.ReportFilters(cycle=cycle)
    managers = reports.ManagerGroups(filters)
    below = list(reports.below_entry(filters))
    assert len(managers) > 1 and len({row.staff_member_id for row in below}) > 1
    first_manager = StaffMember.objects.get(
        pk=ProgressTally.objects.filter(cycle=cycle).order_by("appraiser_order", "appraiser_id")[0].appraiser_id
    )
    first_person = StaffMember.objects.get(pk=below[0].staff_member_id)
    assert managers[0][0] == first_manager.name and below[0].person == first_person.name

    rename(hr, first_manager, "Zed", "Zzyzx")
    rename(hr, first_person, "Zoe", "Zzyzx-Last")
    managers = reports.ManagerGroups(filters)
    assert managers[len(managers) - 1][0] == "Zed Zzyzx" and managers[0][0] != "Zed Zzyzx"
    below = list(reports.below_entry(filters))
    assert below[-1].person == "Zoe Zzyzx-Last" and below[0].person != "Zoe Zzyzx-Last"
    assert tallies.rebuild() == 0  # the kept orders equal a recount of the records

    # A disagreement too: the demo's waiting ones, each under its person's name.
    listed = ListedDisagreement.objects.select_related("appraisal__staff_member__user").order_by("appraisal_id")
    assert listed.exists()
    disagreeing = listed[0].appraisal.staff_member
    rename(hr, disagreeing, "Ada", "Aardvark")
    assert ListedDisagreement.objects.get(pk=listed[0].pk).person_order == name_order("Ada", "Aardvark", "")
    assert tallies.rebuild() == 0


def test_the_order_of_names_sorts_by_last_name_else_username_then_first_name_ignoring_case():
    people = [("ann", "Smith", "as"), ("Bob", "smith", "bs"), ("Cy", "", "aaron"), ("Di", "Smithson", "ds")]
    assert sorted(people, key=lambda p: name_order(*p)) == [
        ("Cy", "", "aaron"),
        ("ann", "Smith", "as"),
        ("Bob", "smith", "bs"),
        ("Di", "Smithson", "ds"),
    ]
