"""Competency history: a person's own at /my/history/ (and its PDF), and the same view for their
managers up the line and HR admins; nobody else learns the person exists."""

import datetime
import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from appraisal.history import person_history
from appraisal.models import Appraisal
from competencies.models import Level
from staff.models import StaffMember
from tests.appraisals import PROMOTED_ON, SUSTAINED, complete, open_appraisal, promoted_history
from tests.conftest import make_person
from tests.queries import queries_for
from tests.test_appraisal_pdf import squash

pytestmark = pytest.mark.django_db

SSC_TITLE = "Senior Service Coordinator"


def history_of(user):
    person = StaffMember.objects.select_related("user", "service", "role_profile", "line_manager__user").get(user=user)
    return person_history(person)


def competency(history, name):
    return next(row for row in history.competencies if row.name == name)


def test_the_history_follows_one_competency_across_the_promotion(hr, manager, staff):
    promoted_history(hr, manager, staff)
    history = history_of(staff)
    assert [a.cycle.name for a in history.completed] == [
        "Annual appraisal 2024",
        "Annual appraisal 2025",
        "Annual appraisal 2026",
    ]
    row = competency(history, SUSTAINED)
    # Levels are absolute: 4 as a Support Worker (window 2–4) twice, then 5 in the new role (3–5), by the rule.
    assert [(p.level, p.entry_level) for p in row.points] == [(4, 2), (4, 2), (5, 3)]
    assert [p.by_rule for p in row.points] == [False, False, True]
    assert row.points[-1].role_title.startswith(SSC_TITLE) and row.points[0].role_title.startswith("Support Worker")
    assert row.entry_level == 3  # the band is the current role's window
    assert row.top_reached and row.next_level is None
    assert [(c.since, c.title.startswith(SSC_TITLE), c.approximate) for c in history.role_changes] == [
        (PROMOTED_ON, True, False)
    ]
    assert [(c.name, p.level) for c, p in history.sustained_achievements if c.name == SUSTAINED] == [(SUSTAINED, 5)]


def test_the_history_shows_the_self_assessment_beside_the_manager_s_level(hr, manager, staff):
    promoted_history(hr, manager, staff)
    row = competency(history_of(staff), "Customer Care")
    # 2026 was self-assessed "partly" throughout (below entry), the earlier years not at all.
    assert [p.self_level for p in row.points] == [None, None, row.points[-1].entry_level - 1]
    assert row.points[-1].self_label == f"Level {row.points[-1].entry_level - 1} (below entry)"
    assert row.has_self_assessment


def test_the_next_level_up_lists_its_indicators(hr, manager, staff):
    appraisal = open_appraisal(hr, staff, year=2026)
    # Everything consistently demonstrated except above Customer Care's Entry level (2): the record shows Entry.
    complete(
        appraisal,
        manager=manager,
        staff=staff,
        per_competency={"Customer Care": lambda n: "consistently" if n == 2 else "partly"},
    )
    row = competency(history_of(staff), "Customer Care")
    assert row.latest.level == row.entry_level == 2
    level = Level.objects.get(competency__name="Customer Care", number=3)
    assert row.next_level.level == level and not row.next_level.beyond_window
    assert [i.text for i in row.next_level.indicators] == [i.text for i in level.indicators.current()]
    assert row.latest_against_role == "Level 2 (Entry)"


def test_a_rule_level_next_says_since_when_the_level_below_has_been_held(hr, manager, staff):
    for year in (2025, 2026):
        complete(open_appraisal(hr, staff, year=year), manager=manager, staff=staff)
    # As a Support Worker, Organisation and Sector Awareness tops the window at 4; level 5 is a rule.
    row = competency(history_of(staff), SUSTAINED)
    assert row.latest.level == 4 and row.next_level.level.number == 5
    assert row.next_level.level.sustained_level == 4 and row.next_level.beyond_window
    assert row.next_level.held_since == datetime.date(2025, 3, 31)


def test_a_rule_level_next_says_the_rule_and_what_is_held_so_far_apart(client, hr, manager, staff):
    for year in (2025, 2026):
        complete(open_appraisal(hr, staff, year=year), manager=manager, staff=staff)
    next_level = competency(history_of(staff), SUSTAINED).next_level
    rule = "Competency at Level 4 maintained for at least 1 year as recorded in annual appraisal."
    so_far = "Level 4 or above recorded continuously since 31 March 2025. Level 5 is not reached yet."
    assert (next_level.rule, next_level.so_far) == (rule, so_far)
    client.force_login(staff)
    page = client.get(reverse("my_history")).content.decode()
    assert f'<span class="fw-semibold">The rule:</span> {rule}</p>' in page
    assert f'<span class="fw-semibold">So far:</span> {so_far}</p>' in page
    # On paper too, as two statements: never the rule's words running into the record's.
    text = squash(
        "".join(p.extract_text() for p in PdfReader(io.BytesIO(client.get(reverse("my_history_pdf")).content)).pages)
    )
    assert squash(f"The rule: {rule}") in text and squash(f"So far: {so_far}") in text
    assert squash("annual appraisal Level 4 or above") not in text


def test_the_chart_draws_the_current_window_the_levels_and_the_role_change(hr, manager, staff):
    promoted_history(hr, manager, staff)
    chart = competency(history_of(staff), SUSTAINED).chart
    assert [(band["label"], band["level"]) for band in chart.bands] == [
        ("Entry", 3),
        ("Desired", 4),
        ("Exceptional", 5),
    ]
    assert [mark.label for mark in chart.marks] == ["4", "4", "5"] and [m.by_rule for m in chart.marks] == [
        False,
        False,
        True,
    ]
    assert len(chart.self_marks) == 1
    xs = [float(tick["x"]) for tick in chart.ticks]
    assert xs == sorted(xs) and len(xs) == 3
    [change] = chart.role_changes
    assert xs[1] < float(change["x"]) < xs[2] and change["label"] == "Role change May 2025"
    assert [
        span["title"].startswith(prefix)
        for span, prefix in zip(chart.role_spans, ["Support Worker", SSC_TITLE], strict=True)
    ] == [True, True]
    # A higher level is drawn higher up.
    ys = [float(mark.y) for mark in chart.marks]
    assert ys[0] == ys[1] > ys[2]


def test_my_history_page_shows_chart_table_role_change_and_appraisals(client, hr, manager, staff):
    records = promoted_history(hr, manager, staff)
    current = open_appraisal(hr, staff, year=2027)  # in self-assessment: listed, not downloadable by its owner
    client.force_login(staff)
    page = client.get(reverse("my_history")).content.decode()
    assert page.count('<svg class="level-chart"') == len(history_of(staff).competencies)
    assert "Role change May 2025" in page and "1 May 2025" in page
    assert "Level 5 (Exceptional)" in page and "by the sustained-level rule" in page
    assert f"<caption>{SUSTAINED}: each completed appraisal</caption>" in page
    for record in records:
        assert reverse("appraisal", args=[record.pk]) in page and reverse("appraisal_pdf", args=[record.pk]) in page
    assert reverse("appraisal", args=[current.pk]) in page and reverse("appraisal_pdf", args=[current.pk]) not in page
    assert reverse("role_profile_detail", args=["senior-service-coordinator-afeo"]) in page
    assert reverse("my_history_pdf") in page


def test_a_person_with_no_completed_appraisal_is_told_so(client, hr, staff):
    open_appraisal(hr, staff, year=2026)
    client.force_login(staff)
    page = client.get(reverse("my_history")).content.decode()
    assert "You have no completed appraisals yet" in page and '<svg class="level-chart"' not in page


def test_the_history_pdf_holds_the_charts_and_the_tables(client, hr, manager, staff):
    promoted_history(hr, manager, staff)
    client.force_login(staff)
    response = client.get(reverse("my_history_pdf"))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = squash("\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages))
    assert squash("Competency history") in text and squash(staff.get_full_name()) in text
    assert squash(SUSTAINED) in text and squash("Level 5 (Exceptional), by the sustained-level rule") in text
    # The chart's own labels are drawn as text in the PDF: axis, band and role change.
    assert squash("Role change May 2025") in text and squash("Exceptional (5)") in text and squash("Mar 2026") in text


@pytest.fixture
def head(manager):
    """Priya, who manages `manager`: above `staff` in the line."""
    user = make_person("head", role=None)
    StaffMember.objects.filter(user=manager).update(
        line_manager=user.staff_member, line_manager_since=datetime.date(2023, 1, 1)
    )
    return user


@pytest.mark.parametrize(
    "viewer, status",
    [
        ("staff", 200),
        ("manager", 200),
        ("head", 200),
        ("hr", 200),
        ("other_manager", 404),
        ("other_staff", 404),
    ],
)
def test_a_person_s_history_is_for_themselves_their_line_and_hr(
    client, request, head, staff, other_staff, viewer, status
):
    client.force_login(request.getfixturevalue(viewer))
    person = staff.staff_member.pk
    page = client.get(reverse("person_history", args=[person]))
    assert page.status_code == status
    if status == 200:
        assert staff.get_full_name() in page.content.decode()
    else:  # nothing of the record, not even the name (the page's header names the viewer)
        main = page.content.decode().split('<main id="main"', 1)[1]
        assert staff.get_full_name() not in main and "Not found" in main
    if viewer in (
        "other_manager",
        "hr",
    ):  # the PDF follows the same rule (rendered for two viewers only: it takes time)
        assert client.get(reverse("person_history_pdf", args=[person])).status_code == status


def test_a_report_cannot_see_their_manager_s_history(client, manager, staff):
    client.force_login(staff)
    assert client.get(reverse("person_history", args=[manager.staff_member.pk])).status_code == 404
    assert client.get(reverse("person_history", args=[999999])).status_code == 404


def test_history_pages_ask_anonymous_visitors_to_log_in(client, staff):
    for url in (
        reverse("my_history"),
        reverse("my_history_pdf"),
        reverse("person_history", args=[staff.staff_member.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_an_account_without_a_staff_record_has_no_history(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("visitor", password="x"))
    assert client.get(reverse("my_history")).status_code == 404


def test_the_history_page_and_pdf_make_as_many_queries_for_one_record_as_for_many(
    client, hr, manager, staff, django_assert_max_num_queries
):
    client.force_login(manager)
    urls = [
        reverse("person_history", args=[staff.staff_member.pk]),
        reverse("person_history_pdf", args=[staff.staff_member.pk]),
    ]
    complete(open_appraisal(hr, staff, year=2023), manager=manager, staff=staff)
    small = [queries_for(client, url) for url in urls]
    # Three more years (one self-assessed), a promotion, more colleagues.
    for name in ("colleague_one", "colleague_two"):
        make_person(name, manager=manager)
    promoted_history(hr, manager, staff)
    assert Appraisal.objects.completed().filter(staff_member__user=staff).count() == 4
    large = []
    for url in urls:
        with django_assert_max_num_queries(15):
            large.append(queries_for(client, url))
    assert large == small
