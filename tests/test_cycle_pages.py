"""The cycle pages. Opening a cycle from its page goes through a confirmation page (plain forms, no
JavaScript): how many appraisals it creates, who is emailed and who is not, who gets no appraisal and
why, and what cannot be undone. Only the confirming POST opens the cycle."""

import datetime
import html
import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from appraisal.models import Appraisal, AppraisalCycle
from appraisal.selectors import appraisal_candidates, opening_preview
from appraisal.services import cycles
from audit.models import AuditEntry
from core import jobs
from core.models import Job
from outbox.models import Email
from roles.models import RoleProfileVersion
from staff.models import StaffMember
from tests.appraisals import fresh, make_cycle
from tests.conftest import make_person

pytestmark = pytest.mark.django_db


class _Forms(HTMLParser):
    """The POST forms of a page: their action and the fields a browser would send."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self.forms.append({"action": attrs.get("action"), "fields": {}})
        elif tag == "input" and self.forms and attrs.get("name") and attrs.get("type") != "submit":
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value", "")


def confirming_form(page: str) -> dict:
    parser = _Forms()
    parser.feed(page)
    [form] = [form for form in parser.forms if "confirmed" in form["fields"]]
    return form


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def with_email(*users):
    for user in users:
        get_user_model().objects.filter(pk=user.pk).update(email=f"{user.username}@example.org")


def nothing_done(cycle) -> bool:
    return (
        not Appraisal.with_staged.filter(cycle=cycle).exists()
        and not Job.objects.exists()
        and not Email.objects.exists()
        and AppraisalCycle.objects.get(pk=cycle.pk).opened_at is None
    )


@pytest.fixture
def organisation(hr, manager, staff):
    """Three people to appraise (two with an email address), and two who cannot be appraised."""
    second = make_person("second", manager=manager)
    third = make_person("third", manager=manager)
    with_email(staff, second, manager)
    make_person("no_role", role=None, manager=manager)
    make_person("no_manager")
    return [staff, second, third]


def test_opening_asks_first_and_does_nothing_until_confirmed(client, hr, organisation):
    cycle = make_cycle(hr, self_assessment=True)
    client.force_login(hr)
    audited = AuditEntry.objects.count()
    response = client.post(reverse("cycle_open", args=[cycle.pk]))
    assert response.status_code == 200 and "core/confirm.html" in [t.name for t in response.templates]
    assert nothing_done(cycle) and AuditEntry.objects.count() == audited

    # The page posts everything again, with `confirmed=1`, to the same URL: only that opens the cycle.
    form = confirming_form(response.content.decode())
    assert form["action"] == reverse("cycle_open", args=[cycle.pk]) and form["fields"]["confirmed"] == "1"
    response = client.post(form["action"], form["fields"])
    job = Job.objects.get(kind="open cycle")
    assert response.status_code == 302 and response.url == reverse("job", args=[job.pk])
    jobs.run(job.pk)
    assert Appraisal.objects.filter(cycle=cycle).count() == 3  # as the confirmation said


def test_the_confirmation_says_what_will_be_created_who_is_emailed_and_who_is_left_out(client, hr, organisation):
    cycle = make_cycle(hr, self_assessment=True)
    client.force_login(hr)
    page = text_of(client.post(reverse("cycle_open", args=[cycle.pk])).content.decode())
    assert f"Open {cycle.name}?" in page
    assert "This creates 3 appraisals" in page and "emails 2 people" in page
    assert "2 people by email, each asked for their self-assessment." in page
    assert (
        "Not emailed, having no email address or no access yet (their appraisals are created all the same): "
        "Third Example (no email address)." in page
    )
    # Everyone else: the two above, the manager (nobody manages them) and HR (no role profile).
    assert "4 active members of staff will have no appraisal" in page
    assert "No Role Example: holds no role profile." in page and "No Manager Example: has no line manager." in page
    assert "1 April 2025 to 31 March 2026" in page and "30 June 2026" in page
    assert "Yes: each person rates themselves before their manager's review" in page
    assert "cannot be recalled" in page and "current published version of the person's role profile" in page
    assert "The cycle cannot be un-opened" in page
    assert "Open the cycle" in page and 'href="' + reverse("cycle_detail", args=[cycle.pk]) + '"' in (
        client.post(reverse("cycle_open", args=[cycle.pk])).content.decode()
    )


def test_without_self_assessment_the_appraisers_are_emailed(client, hr, manager, organisation):
    cycle = make_cycle(hr, self_assessment=False)
    client.force_login(hr)
    page = text_of(client.post(reverse("cycle_open", args=[cycle.pk])).content.decode())
    assert "No: each appraisal starts with the manager's review" in page
    assert "1 appraiser by email, each told which appraisals to carry out." in page
    assert "The people appraised are not emailed now." in page and "Not emailed" not in page


def test_the_counts_agree_with_what_opening_does(hr, manager, organisation):
    leaving = make_person("leaving_manager", role="senior-service-coordinator-afeo")
    make_person("their_report", manager=leaving)
    StaffMember.objects.filter(user=leaving).update(left_on=timezone.localdate() - datetime.timedelta(days=1))
    unpublished = make_person("unpublished", role="housing-worker", manager=manager)
    RoleProfileVersion.objects.filter(role_profile=unpublished.staff_member.role_profile).update(status="draft")
    make_person("left", manager=manager)
    StaffMember.objects.filter(user__username="left").update(left_on=datetime.date(2024, 1, 1))
    cycle = make_cycle(hr, self_assessment=True)
    candidates, problems = appraisal_candidates(cycle)
    preview = opening_preview(cycle)
    assert preview.appraisals == len(candidates) and preview.skipped == len(problems)
    reasons = {entry.staff_member.pk: entry.reason for entry in problems}
    assert {entry.staff_member.pk: entry.reason for entry in preview.skipped_listed} == reasons
    assert "has a line manager who has left (Leaving Manager Example)" in reasons.values()
    assert "holds a role profile with no published version" in reasons.values()
    assert preview.emailed == len(candidates)
    assert preview.not_emailed == sum(1 for c in candidates if not c.staff_member.user.email)

    opened = cycles.open_cycle(by=fresh(hr), cycle=cycle)
    assert len(opened.created) == preview.appraisals
    # Opening again: nobody is left to create, and the same people are still left out.
    again = opening_preview(cycle)
    assert (again.appraisals, again.emailed, again.skipped) == (0, 0, preview.skipped)


def test_long_lists_of_people_are_cut_short_and_counted(client, hr, manager, monkeypatch):
    monkeypatch.setattr("appraisal.views.cycles.LISTED", 2)
    for number in range(5):
        make_person(f"unmanaged_{number}")
        make_person(f"no_email_{number}", manager=manager)
    cycle = make_cycle(hr, self_assessment=True)
    client.force_login(hr)
    page = text_of(client.post(reverse("cycle_open", args=[cycle.pk])).content.decode())
    assert "7 active members of staff will have no appraisal" in page  # with HR and the manager
    assert "… and 5 more, listed on the cycle's page." in page
    assert (
        "Not emailed, having no email address or no access yet (their appraisals are created all the same): "
        "No Email 0 Example (no email address), No Email 1 Example (no email address) and 3 more." in page
    )


def test_the_confirmation_makes_as_many_queries_for_many_people_as_for_few(client, hr, manager, staff):
    cycle = make_cycle(hr, self_assessment=True)
    client.force_login(hr)
    url = reverse("cycle_open", args=[cycle.pk])

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.post(url).status_code == 200
        return len(captured)

    few = queries()
    for number in range(30):
        make_person(f"report_{number}", manager=manager)
        make_person(f"unmanaged_{number}")
    assert queries() == few <= 15


def test_opening_again_says_so(client, hr, organisation):
    cycle = make_cycle(hr, self_assessment=True)
    cycles.open_cycle(by=fresh(hr), cycle=cycle)
    make_person("newcomer", manager=organisation[0])
    client.force_login(hr)
    page = text_of(client.post(reverse("cycle_open", args=[cycle.pk])).content.decode())
    assert f"Open {cycle.name} again?" in page and "This creates 1 appraisal," in page and "Open it again" in page


def test_while_an_opening_runs_no_confirmation_is_offered(client, hr, organisation):
    cycle = make_cycle(hr, self_assessment=True)
    client.force_login(hr)
    client.post(reverse("cycle_open", args=[cycle.pk]), {"confirmed": "1"})
    response = client.post(reverse("cycle_open", args=[cycle.pk]), follow=True)
    assert "already being opened" in response.content.decode() and Job.objects.count() == 1


def test_the_cycles_table_runs_newest_first_as_its_caption_says(client, hr):
    # Created out of order: the newest period first, the oldest last.
    for year in (2026, 2024, 2027, 2025):
        make_cycle(hr, year=year)
    client.force_login(hr)
    page = client.get(reverse("cycle_list")).content.decode()
    assert "Appraisal cycles, newest first" in page
    names = re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a>', page)
    assert names == [f"Annual appraisal {year}" for year in (2027, 2026, 2025, 2024)]
