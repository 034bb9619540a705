"""The history page's body is kept rendered (appraisal.history_cache) and must never outlive a change
it shows: each change below is made through the application and must be on the very next view."""

import datetime

import pytest
from django.urls import reverse

from appraisal import history_cache
from appraisal.services import workflow
from audit.models import AuditEntry
from competencies import services as framework
from competencies.models import Competency
from roles.models import RoleProfile
from staff import records as staff_records
from staff.models import Service
from tests.appraisals import complete, fresh, open_appraisal, promoted_history, reload
from tests.conftest import make_person
from tests.queries import queries_for

pytestmark = pytest.mark.django_db


def main_of(response) -> str:
    return response.content.decode().split('<main id="main"', 1)[1].split("</main>", 1)[0]


def page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return main_of(response)


@pytest.fixture
def rendered(monkeypatch):
    """The people whose history body was rendered (not served from the cache), in order."""
    seen = []
    real = history_cache.person_history

    def counting(person):
        seen.append(person.pk)
        return real(person)

    monkeypatch.setattr(history_cache, "person_history", counting)
    return seen


def test_a_second_view_is_served_from_the_cache_with_the_same_page(client, hr, manager, staff, rendered):
    complete(open_appraisal(hr, staff, year=2025), manager=manager, staff=staff)
    client.force_login(staff)
    url = reverse("my_history")
    cold_queries = queries_for(client, url)
    first = page(client, url)
    warm_queries = queries_for(client, url)
    assert page(client, url) == first
    assert rendered == [staff.staff_member.pk]  # rendered once, then served
    assert "Annual appraisal 2025" in first
    # Served: the session, the user, the viewer's staff record, HR membership, and the version.
    assert warm_queries <= 5 < cold_queries


def test_each_viewer_gets_the_page_written_for_them(client, hr, manager, staff, rendered):
    complete(open_appraisal(hr, staff, year=2025), manager=manager, staff=staff)
    client.force_login(staff)
    own = page(client, reverse("my_history"))
    client.force_login(manager)
    theirs = page(client, reverse("person_history", args=[staff.staff_member.pk]))
    assert "Where you stand now" in own and "Where you stand now" not in theirs
    assert f"Where {staff.first_name} stands now" in theirs
    client.force_login(staff)
    assert page(client, reverse("my_history")) == own
    assert len(rendered) == 2


def test_the_page_shows_each_change_on_the_next_view(client, hr, manager, staff, rendered):
    person = staff.staff_member
    first = complete(open_appraisal(hr, staff, year=2024), manager=manager, staff=staff)
    client.force_login(staff)
    url = reverse("my_history")

    def changed(before: str) -> str:
        after = page(client, url)
        assert after != before
        return after

    body = page(client, url)
    assert "Annual appraisal 2025" not in body

    # An appraisal of a new cycle opened, then completed.
    second = open_appraisal(hr, staff, year=2025)
    body = changed(body)
    assert "Annual appraisal 2025" in body
    complete(second, manager=manager, staff=staff)
    body = changed(body)
    assert body.count("Annual appraisal 2025") > 2  # now in every competency's table

    # HR reopens the first record: it is no longer a completed record of the history.
    workflow.reopen(by=fresh(hr), appraisal=reload(first), reason="Dates wrong.")
    body = changed(body)
    assert "<td>Manager review</td>" in body and "Annual appraisal 2024</th>" in body

    # The person's staff record: a new service, then a promotion.
    new_service = Service.objects.create(name="Cache Street Project")
    staff_records.update_staff_details(
        by=fresh(hr),
        member=person,
        first_name=staff.first_name,
        last_name=staff.last_name,
        email="staff@example.org",
        service=new_service,
        job_title=person.job_title,
    )
    body = changed(body)
    assert "Cache Street Project" in body
    staff_records.assign_role_profile(
        by=fresh(hr),
        member=person,
        role_profile=RoleProfile.objects.get(slug="senior-service-coordinator-afeo"),
        since=datetime.date(2025, 6, 1),
    )
    body = changed(body)
    assert "Senior Service Coordinator" in body

    # The framework, which is about no one in particular.
    competency = Competency.objects.get(name="Customer Care")
    framework.update_competency(by=fresh(hr), competency=competency, name="Care for Customers")
    body = changed(body)
    assert "Care for Customers" in body and "Customer Care" not in body
    assert len(rendered) == 7  # one render per change, and the first


def test_an_entry_with_an_earlier_id_committed_later_changes_the_version(hr, staff):
    """Two transactions may take ids in one order and commit in the other: the version still moves."""
    person = staff.staff_member
    early = AuditEntry.objects.create(
        actor=hr, action="edit", object_type="staff member", object_repr="x", person=person
    )
    AuditEntry.objects.create(actor=hr, action="edit", object_type="staff member", object_repr="y", person=person)
    early_id = early.pk
    early.delete()  # as if its transaction had not committed yet
    before = history_cache.version(person.pk)
    AuditEntry.objects.create(
        pk=early_id, actor=hr, action="edit", object_type="staff member", object_repr="x", person=person
    )
    assert history_cache.version(person.pk) != before


def test_another_person_s_entries_leave_the_page_cached(client, hr, manager, staff, other_staff, rendered):
    complete(open_appraisal(hr, staff, year=2025), manager=manager, staff=staff)
    client.force_login(staff)
    url = reverse("my_history")
    page(client, url)
    before = history_cache.version(staff.staff_member.pk)
    colleague = other_staff.staff_member
    staff_records.update_staff_details(
        by=fresh(hr),
        member=colleague,
        first_name="Renamed",
        last_name=other_staff.last_name,
        email="other@example.org",
        service=colleague.service,
        job_title=colleague.job_title,
    )
    assert history_cache.version(staff.staff_member.pk) == before
    page(client, url)
    assert rendered == [staff.staff_member.pk]


def test_the_cached_page_makes_as_many_queries_for_one_record_as_for_many(
    client, hr, manager, staff, django_assert_max_num_queries
):
    client.force_login(staff)
    url = reverse("my_history")
    complete(open_appraisal(hr, staff, year=2023), manager=manager, staff=staff)
    small = (queries_for(client, url), queries_for(client, url))  # rendered, then served
    for name in ("colleague_one", "colleague_two"):
        make_person(name, manager=manager)
    promoted_history(hr, manager, staff)
    large = []
    for _ in range(2):  # rendered, then served
        with django_assert_max_num_queries(15):
            large.append(queries_for(client, url))
    assert tuple(large) == small
    assert small[1] < small[0]
