"""When the person disagrees: the countersign step shows their comments beside three routes (countersign
noting it, take the record back to discuss it, refer it to the line manager's manager or to HR), and a
referred record waits in its own state for the referee's decision."""

import datetime
import html
import io
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from appraisal.access import get_appraisal_for
from appraisal.models import Appraisal, AppraisalEvent
from appraisal.pdf import render_appraisal_pdf
from appraisal.permissions import NotAllowed
from appraisal.services import workflow
from audit.models import AuditEntry
from outbox.models import Email
from roles.models import RoleProfile
from staff.models import StaffMember
from tests.appraisals import fresh, open_appraisal, rate, reload
from tests.conftest import make_person

State = Appraisal.State
DISAGREEMENT = "The level for teamwork is too low: I led the rota changes."


def _text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


@pytest.fixture
def head(manager):
    """The manager's own line manager: the line manager's manager of `staff`."""
    head = make_person("head", role=None)
    StaffMember.objects.filter(user=manager).update(
        line_manager=head.staff_member, line_manager_since=datetime.date(2023, 1, 1)
    )
    for user in (head, manager):
        user.email = f"{user.username}@example.org"
        user.save()
    return head


def _disagreed(hr, manager, staff) -> Appraisal:
    appraisal = rate(open_appraisal(hr, staff), manager)
    appraisal = workflow.share(by=fresh(manager), appraisal=reload(appraisal))
    return workflow.sign_off(by=fresh(staff), appraisal=reload(appraisal), agrees=False, comments=DISAGREEMENT)


def _emails_to(address: str) -> list[Email]:
    return list(Email.objects.filter(recipients__contains=address))


def test_the_countersign_step_shows_the_disagreement_beside_the_three_routes(client, hr, manager, staff, head):
    appraisal = _disagreed(hr, manager, staff)
    client.force_login(manager)
    page = client.get(reverse("appraisal", args=[appraisal.pk])).content.decode()
    actions = page[page.index('id="actions"') : page.index("</section>\n\n", page.index('id="actions"'))]
    assert "Staff Example disagrees with this record" in html.unescape(actions)
    assert html.escape(DISAGREEMENT, quote=True) in actions or DISAGREEMENT in html.unescape(actions)
    for route in ("appraisal_countersign", "appraisal_take_back", "appraisal_refer"):
        assert reverse(route, args=[appraisal.pk]) in actions
    assert "Head Example, the line manager&#x27;s manager" in actions or "Head Example, the line manager's manager" in (
        html.unescape(actions)
    )


def test_countersigning_a_disagreement_needs_the_appraiser_s_response_and_is_recorded_as_such(
    client, hr, manager, staff, head
):
    appraisal = _disagreed(hr, manager, staff)
    client.force_login(manager)
    url = reverse("appraisal_countersign", args=[appraisal.pk])
    response = client.post(url, {"comments": "", "revision": reload(appraisal).revision})
    assert response.status_code == 400 and "say how you have considered their comments" in _text(response).lower()
    with pytest.raises(ValidationError):
        workflow.countersign(by=fresh(manager), appraisal=reload(appraisal), comments=" ")
    response = client.post(url, {"comments": "We talked; the level stands.", "revision": reload(appraisal).revision})
    assert "(noting their disagreement)" in _text(response)  # the confirmation
    response = client.post(
        url, {"comments": "We talked; the level stands.", "revision": reload(appraisal).revision, "confirmed": "1"}
    )
    appraisal = reload(appraisal)
    assert appraisal.state == State.COMPLETED and appraisal.staff_agrees is False
    assert AppraisalEvent.objects.filter(appraisal=appraisal, action="countersign, noting disagreement").exists()


def test_taking_the_record_back_clears_the_signature_and_tells_the_person(client, hr, manager, staff, head):
    staff.email = "staff@example.org"
    staff.save()
    appraisal = _disagreed(hr, manager, staff)
    client.force_login(manager)
    url = reverse("appraisal_take_back", args=[appraisal.pk])
    response = client.post(url, {"reason": "", "revision": reload(appraisal).revision})
    assert response.status_code == 400 and "Say what you will discuss" in _text(response)
    response = client.post(url, {"reason": "Let us meet on Tuesday.", "revision": reload(appraisal).revision})
    assert response.status_code == 302
    appraisal = reload(appraisal)
    assert (appraisal.state, appraisal.staff_agrees, appraisal.signed_off_at, appraisal.shared_at) == (
        State.MANAGER_REVIEW,
        None,
        None,
        None,
    )
    # The person's comments stay in the record's history.
    assert AppraisalEvent.objects.filter(appraisal=appraisal, comment=DISAGREEMENT).exists()
    assert any("discuss" in email.subject for email in _emails_to("staff@example.org"))
    entry = AuditEntry.objects.filter(action="take back to discuss").latest("pk")
    assert entry.changes["reason"] == "Let us meet on Tuesday."


def test_a_disagreement_referred_to_the_line_manager_s_manager_who_completes_the_record(
    client, hr, manager, staff, head
):
    staff.email = "staff@example.org"
    staff.save()
    appraisal = _disagreed(hr, manager, staff)
    client.force_login(manager)
    response = client.post(
        reverse("appraisal_refer", args=[appraisal.pk]),
        {"to": "manager", "note": "We could not agree.", "revision": reload(appraisal).revision},
    )
    assert response.status_code == 302
    appraisal = reload(appraisal)
    assert (appraisal.state, appraisal.referred_to, appraisal.referral_note) == (
        State.REFERRED,
        head.staff_member,
        "We could not agree.",
    )
    assert any("A disagreement to decide" in email.subject for email in _emails_to("head@example.org"))
    assert any("referred" in email.subject for email in _emails_to("staff@example.org"))
    # The appraiser can no longer countersign; the head decides.
    with pytest.raises(NotAllowed):
        workflow.decide_referral(by=fresh(manager), appraisal=reload(appraisal), outcome="complete", decision="x")
    client.force_login(head)
    page = _text(client.get(reverse("appraisal", args=[appraisal.pk])))
    assert "Decide on the disagreement" in page and "We could not agree." in page and DISAGREEMENT in page
    url = reverse("appraisal_decide_referral", args=[appraisal.pk])
    response = client.post(url, {"outcome": "complete", "decision": "", "revision": reload(appraisal).revision})
    assert response.status_code == 400 and "Give your decision" in _text(response)
    fields = {"outcome": "complete", "decision": "The level is fair.", "revision": reload(appraisal).revision}
    response = client.post(url, fields)
    assert response.status_code == 200 and "Complete Staff Example's appraisal as it stands?" in _text(response)
    assert reload(appraisal).state == State.REFERRED  # nothing until confirmed
    response = client.post(url, {**fields, "confirmed": "1"})
    appraisal = reload(appraisal)
    assert appraisal.state == State.COMPLETED
    assert (appraisal.referral_decision, appraisal.referral_decided_by, appraisal.countersigned_by) == (
        "The level is fair.",
        head,
        head,
    )
    assert any("Decided" in email.subject for email in _emails_to("staff@example.org"))
    page = _text(client.get(reverse("appraisal", args=[appraisal.pk])))
    assert "Decision on the referral" in page and "The level is fair." in page


def test_a_disagreement_referred_to_hr_who_return_it_for_changes(client, hr, manager, staff):
    hr.email = "hr@example.org"
    hr.save()
    appraisal = _disagreed(hr, manager, staff)  # the manager has no manager: HR is the only way on
    client.force_login(manager)
    page = client.get(reverse("appraisal", args=[appraisal.pk])).content.decode()
    assert 'value="manager"' not in page and 'value="hr"' in page
    response = client.post(
        reverse("appraisal_refer", args=[appraisal.pk]),
        {"to": "manager", "note": "Please decide.", "revision": reload(appraisal).revision},
    )
    assert response.status_code == 400 and reload(appraisal).state == State.AWAITING_COUNTERSIGN
    client.post(
        reverse("appraisal_refer", args=[appraisal.pk]),
        {"to": "hr", "note": "Please decide.", "revision": reload(appraisal).revision},
    )
    appraisal = reload(appraisal)
    assert (appraisal.state, appraisal.referred_to) == (State.REFERRED, None)
    assert any("A disagreement to decide" in email.subject for email in _emails_to("hr@example.org"))
    client.force_login(hr)
    client.post(
        reverse("appraisal_decide_referral", args=[appraisal.pk]),
        {"outcome": "return", "decision": "Rescore teamwork.", "revision": appraisal.revision, "confirmed": "1"},
    )
    appraisal = reload(appraisal)
    assert (appraisal.state, appraisal.staff_agrees, appraisal.referred_at, appraisal.shared_at) == (
        State.MANAGER_REVIEW,
        None,
        None,
        None,
    )
    assert AppraisalEvent.objects.filter(appraisal=appraisal, comment="Rescore teamwork.").exists()


def test_only_a_disagreement_is_referred_and_only_by_the_appraiser(client, hr, manager, staff, head):
    appraisal = rate(open_appraisal(hr, staff), manager)
    appraisal = workflow.share(by=fresh(manager), appraisal=reload(appraisal))
    appraisal = workflow.sign_off(by=fresh(staff), appraisal=reload(appraisal), agrees=True, comments="Fair.")
    with pytest.raises(ValidationError):
        workflow.refer(by=fresh(manager), appraisal=reload(appraisal), to="hr", note="Just checking.")
    with pytest.raises(NotAllowed):
        workflow.refer(by=fresh(staff), appraisal=reload(appraisal), to="hr", note="Me too.")
    client.force_login(manager)
    page = client.get(reverse("appraisal", args=[appraisal.pk])).content.decode()
    assert reverse("appraisal_refer", args=[appraisal.pk]) not in page  # agreed: countersign, or take it back
    assert reverse("appraisal_take_back", args=[appraisal.pk]) in page


def test_the_pdf_says_so_on_its_first_page(hr, manager, staff, head):
    appraisal = _disagreed(hr, manager, staff)
    appraisal = workflow.refer(by=fresh(manager), appraisal=reload(appraisal), to="manager", note="Please decide.")
    pdf = render_appraisal_pdf(get_appraisal_for(fresh(hr), appraisal.pk))
    first = re.sub(r"\s+", " ", PdfReader(io.BytesIO(pdf)).pages[0].extract_text())
    assert "disagrees with this record" in first and "Referred" in first


def test_the_referee_finds_it_waiting_and_the_team_page_and_reminders_name_them(client, hr, manager, staff, head):
    from appraisal import reminders

    appraisal = _disagreed(hr, manager, staff)
    workflow.refer(by=fresh(manager), appraisal=reload(appraisal), to="manager", note="Please decide.")
    client.force_login(head)
    home = _text(client.get(reverse("home")))
    assert re.search(r"Staff Example, Annual appraisal 2026 ?: decide on a disagreement referred to you", home)
    client.force_login(manager)
    team = _text(client.get(reverse("team")))
    assert "Referred after disagreement Head Example" in team
    plan = reminders.plan(reload(appraisal).cycle, today=datetime.date(2026, 7, 1))
    waiting = {recipient.member: [a.pk for a in recipient.appraisals] for recipient in plan.emailed}
    assert appraisal.pk in waiting[head.staff_member]  # (beside the manager's own appraisal, which Head conducts)
    assert appraisal.pk not in waiting.get(manager.staff_member, [])
    assert "decide on the disagreement referred to you" in reminders.WHAT[State.REFERRED]


def test_hr_s_cycle_page_and_report_list_disagreements_and_referrals_waiting_ones_first(
    client, hr, manager, staff, head
):
    other = make_person("other", manager=manager)
    referred = _disagreed(hr, manager, staff)
    workflow.refer(by=fresh(manager), appraisal=reload(referred), to="manager", note="Please decide.")
    waiting = Appraisal.objects.get(cycle=referred.cycle, staff_member__user=other)
    waiting = workflow.share(by=fresh(manager), appraisal=reload(rate(waiting, manager)))
    workflow.sign_off(by=fresh(other), appraisal=reload(waiting), agrees=False, comments="Not fair.")
    client.force_login(hr)
    for url in (reverse("cycle_detail", args=[referred.cycle_id]), reverse("reports")):
        page = _text(client.get(url))
        listed = page[page.index("Disagreements and referrals") :]
        referred_at = f"{timezone.localdate():%-d %B %Y}"
        assert f"Staff Example Manager Example Referred to Head Example on {referred_at}: awaiting a decision" in listed
        assert "Other Example Manager Example Awaiting Manager Example: countersign noting it" in listed
        assert listed.index("Staff Example") < listed.index("Other Example")  # the referral first
    # The report's filters apply: neither is a Housing Worker's.
    housing = RoleProfile.objects.get(slug="housing-worker")
    page = _text(client.get(reverse("reports"), {"cycle": referred.cycle_id, "role": housing.pk}))
    assert "Nobody has recorded disagreement with their record within these filters." in page


def test_the_list_of_disagreements_is_in_order_and_a_limit_takes_the_first(hr, manager, staff, head):
    from appraisal.disagreements import disagreements

    people = []
    for first, last in [("Zoe", "Adams"), ("Amy", "Young"), ("Bea", "Adams"), ("Al", "Agrees")]:
        person = make_person(f"{first}_{last}".lower(), manager=manager)
        person.first_name, person.last_name = first, last
        person.save()
        people.append(person)
    referred = _disagreed(hr, manager, staff)  # opens the cycle, for everyone
    workflow.refer(by=fresh(manager), appraisal=reload(referred), to="manager", note="Please decide.")
    for person in people:
        appraisal = Appraisal.objects.get(cycle=referred.cycle, staff_member__user=person)
        appraisal = workflow.share(by=fresh(manager), appraisal=reload(rate(appraisal, manager)))
        agrees = person.last_name == "Agrees"
        workflow.sign_off(
            by=fresh(person), appraisal=reload(appraisal), agrees=agrees, comments="Fair." if agrees else "No."
        )

    def names(records):
        return [record.person for record in records]

    cycle = referred.cycle
    # The referral first, then those awaiting a countersignature by last name and first name; not the agreed one.
    expected = ["Staff Example", "Bea Adams", "Zoe Adams", "Amy Young"]
    assert names(disagreements(cycle)) == expected
    assert names(disagreements(cycle, limit=2)) == expected[:2]
    assert names(disagreements(cycle, within=~Q(appraisal__staff_member__user__username="bea_adams"), limit=2)) == [
        "Staff Example",
        "Zoe Adams",
    ]
    # Each record comes with its people and where it stands, read in the same query.
    with CaptureQueriesContext(connection) as queries:
        found = disagreements(cycle, limit=3)
        assert [record.appraiser for record in found] == ["Manager Example"] * 3
        assert found[0].stands.startswith("Referred to Head Example on ")
        assert found[1].stands == "Awaiting Manager Example: countersign noting it, take it back, or refer it"
    assert len(queries) == 1
