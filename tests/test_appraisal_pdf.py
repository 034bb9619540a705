"""The appraisal record as a PDF: it shows the whole record, it is frozen against later changes to
the framework and the role profile, people's text is printed as text, and only the right people
get it. Each render takes about half a second, so each test renders as few PDFs as it can."""

import datetime
import io
import re
import unicodedata

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from pypdf import PdfReader

from appraisal.access import get_appraisal_for
from appraisal.models import Appraisal
from appraisal.pdf import render_appraisal_pdf
from appraisal.selectors import appraisal_sheet
from appraisal.services import scoring, workflow
from competencies import services as framework
from competencies.models import Competency, Level
from roles import services as roles
from roles.models import RoleProfile
from tests.appraisals import fresh, open_appraisal, rate, reload

pytestmark = pytest.mark.django_db

PARTLY_COMPETENCY = "Customer Care"  # rated "partly" at Exceptional, then overridden to Exceptional
OVERRIDE_REASON = "Led the tenants' forum all year <with> no support & great results."
MEASURE_COMMENT = "Rent arrears down by a third.\nVoids let within the target."
OBJECTIVES = "Run the move-on workshop.\nMentor the new support worker."
DEVELOPMENT_PLAN = "Level 3 Diploma in Health and Social Care."
MANAGER_COMMENTS = "A strong year on the ward.\n\nThank you for your work on the forum."
SIGN_OFF_COMMENTS = "Thank you, a fair record."
COUNTERSIGN_COMMENTS = "Agreed at the meeting."


def squash(text: str) -> str:
    """Text without the layout: no whitespace, hyphens or bullets, so wrapped lines compare equal."""
    return re.sub(r"[\s\-\u00ad\u2010•]+", "", unicodedata.normalize("NFKC", text))


def pdf_pages(pdf: bytes) -> list[str]:
    assert pdf.startswith(b"%PDF-")
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def running_line(line: str) -> bool:
    """A page's running header or footer, left out so that a sentence may run across pages."""
    return bool(re.search(r"Page \d+ of \d+\s*$", line)) or line.startswith(
        ("Appraisal record ·", "Draft · not a completed record")
    )


def body(pages: list[str]) -> str:
    return squash("\n".join(line for page in pages for line in page.splitlines() if not running_line(line)))


def render(user, appraisal) -> list[str]:
    """The PDF's pages as `user` would download it (loaded the way the view loads it)."""
    return pdf_pages(render_appraisal_pdf(get_appraisal_for(fresh(user), appraisal.pk)))


def evidence_for(name: str, number: int) -> str:
    return f"Seen in supervision: {name}, level {number}."


def complete_with_override(hr, manager, staff) -> Appraisal:
    """An appraisal rated, with one override, measures reviewed, shared, signed off and countersigned."""
    appraisal = open_appraisal(hr, staff)
    sheet = appraisal_sheet(reload(appraisal))
    ratings: dict[int, tuple[str, str]] = {}
    overrides: dict[int, tuple[int | None, str]] = {}
    for competency in sheet.competencies:
        scored = competency.scored
        for level in competency.levels:
            partly = scored.name == PARTLY_COMPETENCY and level.number == scored.exceptional_level
            for row in level.indicators:
                ratings[row.indicator.pk] = (
                    "partly" if partly else "consistently",
                    evidence_for(scored.name, level.number),
                )
        if scored.name == PARTLY_COMPETENCY:
            overrides[scored.competency_id] = (scored.exceptional_level, OVERRIDE_REASON)
    assert overrides, f"the role's window should include {PARTLY_COMPETENCY}"
    measure = sheet.measures[0]["measure"]
    appraisal = reload(appraisal)
    scoring.save_review(
        by=fresh(manager), appraisal=appraisal, revision=appraisal.revision, ratings=ratings, overrides=overrides,
        measures={measure.pk: MEASURE_COMMENT}, meeting_date=datetime.date(2026, 4, 15), objectives=OBJECTIVES,
        development_plan=DEVELOPMENT_PLAN, manager_comments=MANAGER_COMMENTS,
    )  # fmt: skip
    workflow.share(by=fresh(manager), appraisal=reload(appraisal))
    workflow.sign_off(by=fresh(staff), appraisal=reload(appraisal), agrees=True, comments=SIGN_OFF_COMMENTS)
    workflow.countersign(by=fresh(manager), appraisal=reload(appraisal), comments=COUNTERSIGN_COMMENTS)
    appraisal = reload(appraisal)
    assert appraisal.is_completed
    return appraisal


def local_date(value: datetime.datetime) -> str:
    return timezone.localtime(value).strftime("%-d %B %Y")


def test_the_pdf_of_a_completed_appraisal_shows_the_whole_record(hr, manager, staff):
    appraisal = complete_with_override(hr, manager, staff)
    pages = render(manager, appraisal)
    text, pdf = "\n".join(pages), body(pages)
    version, cycle = appraisal.role_version, appraisal.cycle

    assert pdf.startswith(squash("Appraisal record Staff Example Second Step"))
    assert "not a completed" not in text and "Draft" not in pages[0]
    for fact in [
        "Service Supported Housing, Bristol",
        f"Role profile {version.title}, version {version.number} ({version.date_label})",
        f"Cycle {cycle.name}, {cycle.period_label}",
        "Appraiser Manager Example",
        "Meeting date 15 April 2026",
        f"State Completed, {local_date(appraisal.completed_at)}",
    ]:
        assert squash(fact) in pdf, fact

    sheet = appraisal_sheet(appraisal)
    assert len(sheet.competencies) == len(appraisal.role_version.requirements.all()) > 1
    overridden = None
    for competency in sheet.competencies:
        scored = competency.scored
        heading = (
            f"{scored.name} Window {scored.window_label}: Entry level {scored.entry_level}, "
            f"Desired level {scored.desired_level}, Exceptional level {scored.exceptional_level}"
        )
        assert squash(heading) in pdf, heading
        for level in competency.levels:
            assert squash(f"{level.label} level ({level.number}) {level.lead}") in pdf
            for row in level.indicators:
                assert squash(f"{row.indicator.text} {row.rating_label} {row.evidence}") in pdf, row.indicator.text
        derived, final = scored.level_label(scored.derived_level), scored.level_label(scored.achieved_level)
        assert squash(f"Derived level {derived} Final level {final}") in pdf, scored.name
        if scored.override_level is not None:
            overridden = scored
    assert overridden is not None and overridden.name == PARTLY_COMPETENCY
    assert overridden.level_label(overridden.derived_level) != overridden.level_label(overridden.achieved_level)
    assert squash(f"Reason for the override {OVERRIDE_REASON}") in pdf
    assert squash("Partly") in pdf and squash("Consistently demonstrated") in pdf

    measure = sheet.measures[0]["measure"]
    assert squash(f"3. Performance measures {measure.text} {MEASURE_COMMENT}") in pdf
    assert squash(f"Overall comments {MANAGER_COMMENTS}") in pdf
    assert squash(f"Objectives for the next year {OBJECTIVES}") in pdf
    assert squash(f"Development plan {DEVELOPMENT_PLAN}") in pdf
    assert (
        squash(f"Signed off by Staff Example on {local_date(appraisal.signed_off_at)}") in pdf
        and squash(f"The person appraised agrees with this record. Comments {SIGN_OFF_COMMENTS}") in pdf
    )
    assert (
        squash(f"Countersigned by Manager Example on {local_date(appraisal.countersigned_at)}") in pdf
        and squash(f"Comments {COUNTERSIGN_COMMENTS}") in pdf
    )
    assert "disagrees" not in text
    for event in appraisal.events.all():
        assert squash(f"{local_date(event.at)}") in pdf and squash(event.action.capitalize()) in pdf
    assert squash("Sign off → Awaiting countersignature") in pdf and squash("Countersign → Completed") in pdf

    pages_count = len(pages)
    assert pages_count > 1
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {pages_count}" in page
        assert squash(f"Appraisal record · Staff Example · {cycle.name}") in squash(page)


def test_the_record_is_frozen_against_later_changes_to_the_framework_and_role_profile(client, hr, manager, staff):
    appraisal = complete_with_override(hr, manager, staff)
    before = render(hr, appraisal)

    scored = appraisal.competencies.get(
        name="Partnership and Teamwork"
    )  # the framework defines levels 1-4: two windows
    competency = Competency.objects.get(pk=scored.competency_id)
    old_name = competency.name
    level = Level.objects.get(competency=competency, number=scored.desired_level)
    old_lead = level.lead
    indicator = level.indicators.current().order_by("position").first()
    old_text = indicator.text
    by = fresh(hr)

    framework.update_competency(by=by, competency=competency, name="A renamed competency")
    framework.update_level(by=by, level=level, lead="A new lead sentence for this level.")
    framework.update_indicators(
        by=by,
        level=level,
        items=[
            {"id": item.pk, "text": "A reworded indicator." if item.pk == indicator.pk else item.text, "retire": False}
            for item in level.indicators.current().order_by("position")
        ],
    )
    profile = RoleProfile.objects.get(slug="support-worker-supported-housing")
    draft = roles.start_draft(by=by, role_profile=profile)
    entry_levels = {requirement.competency_id: requirement.entry_level for requirement in draft.requirements.all()}
    new_entry = next(entry for entry in competency.valid_entry_levels() if entry != scored.entry_level)
    entry_levels[competency.pk] = new_entry
    roles.set_windows(by=by, version=draft, entry_levels=entry_levels)
    roles.publish(by=by, version=draft, note="A window moved.", document_date=datetime.date(2026, 5, 1))

    # The framework and the role profile did change...
    competency.refresh_from_db()
    level.refresh_from_db()
    assert competency.name == "A renamed competency" and level.lead == "A new lead sentence for this level."
    assert not level.indicators.current().filter(text=old_text).exists()
    assert profile.current_version.number == appraisal.role_version.number + 1
    assert profile.current_version.requirements.get(competency=competency).entry_level == new_entry

    # ...and the record did not.
    after = render(hr, appraisal)
    assert after == before
    text = body(after)
    assert squash(old_name) in text and squash(old_text) in text
    assert squash("A renamed competency") not in text and squash("A reworded indicator.") not in text
    assert squash("A new lead sentence") not in text
    if old_lead:
        assert squash(old_lead) in text

    client.force_login(manager)
    response = client.get(reverse("appraisal", args=[appraisal.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert escape(old_name) in page and escape(old_text) in page
    assert "A renamed competency" not in page and "A reworded indicator." not in page


def test_text_people_type_is_printed_as_text_and_a_draft_says_it_is_a_draft(hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    rate(
        appraisal,
        manager,
        evidence="<b>bold</b>",
        objectives="<script>alert(1)</script>",
        manager_comments="<i>x</i> & <u>y</u>",
    )
    pages = render(manager, appraisal)
    text = "\n".join(pages)
    assert "<b>bold</b>" in text
    assert squash("<script>alert(1)</script>") in body(pages)
    assert squash("<i>x</i> & <u>y</u>") in body(pages)
    assert "Draft: this is not a completed appraisal record." in pages[0]
    assert squash("It is at the stage “Manager review”") in squash(pages[0])
    assert all("Draft · not a completed record" in page for page in pages)
    assert "Not signed off yet." in text and "Not countersigned yet." in text


def test_the_pdf_is_for_the_appraiser_and_hr_and_for_the_person_once_shared(client, hr, manager, staff, other_staff):
    appraisal = open_appraisal(hr, staff)
    url = reverse("appraisal_pdf", args=[appraisal.pk])
    assert url == f"/appraisals/{appraisal.pk}.pdf"
    for user in (manager, hr):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200, user
        assert response["Content-Type"] == "application/pdf"
        assert response.content.startswith(b"%PDF-")
        assert response["Content-Disposition"] == f'inline; filename="appraisal-{appraisal.pk}-staff.pdf"'
    client.force_login(staff)
    assert client.get(url).status_code == 403  # not shared yet: the manager's scores are not theirs to read
    client.force_login(other_staff)
    assert client.get(url).status_code == 404
    client.logout()
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
