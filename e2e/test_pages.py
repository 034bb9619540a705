"""Every main page, as each kind of user meets it, at desktop (1280 px) and mobile (375 px) widths:
axe-core's WCAG 2.2 A/AA rules, no sideways scrolling of the page at 375 px, and a screenshot of
each in e2e/screenshots/ for a person to review."""

import pytest

from e2e.conftest import DESKTOP, MOBILE, axe_violations, check_page

ROLE = "recovery-coach-somerset"


def pages_for(username, server):
    """(name, path) of the main pages username reaches, in the order a visit would go."""
    appraisal = server.current_appraisal
    if username is None:
        return [("login", "/accounts/login/"), ("not-found", "/no-such-page/")]
    if username == "staff":
        return [
            ("home-staff", "/"),
            ("appraisals-staff", "/appraisals/"),
            ("record-awaiting-sign-off", f"/appraisals/{appraisal('staff')}/"),
            ("my-history", "/my/history/"),
            ("role-profiles", "/roles/"),
            ("role-profile", "/roles/support-worker-supported-housing/"),
            ("role-profile-versions", "/roles/support-worker-supported-housing/versions/"),
            ("framework", "/framework/"),
            ("matrix", "/framework/matrix/"),
            ("change-password", "/accounts/password/"),
            ("not-found-appraisal", f"/appraisals/{appraisal('aisha')}/"),
        ]
    if username == "daniel":
        return [
            ("record-self-assessment", f"/appraisals/{appraisal('daniel')}/"),
            ("self-assessment", f"/appraisals/{appraisal('daniel')}/self-assessment/"),
        ]
    if username == "manager":
        return [
            ("home-manager", "/"),
            ("team", "/team/"),
            ("team-line", "/team/?scope=line"),
            ("appraisals-manager", "/appraisals/"),
            ("record-manager-review", f"/appraisals/{appraisal('leah')}/"),
            ("scoring", f"/appraisals/{appraisal('leah')}/review/"),
            ("record-awaiting-countersign", f"/appraisals/{appraisal('tom')}/"),
            ("record-completed", f"/appraisals/{appraisal('aisha')}/"),
            ("person-history", f"/people/{server.staff_id('staff')}/history/"),
        ]
    assert username == "hr"
    return [
        ("home-hr", "/"),
        ("reports", "/reports/"),
        ("cycles", "/appraisals/cycles/"),
        ("cycle", f"/appraisals/cycles/{server.ids['current_cycle']}/"),
        ("cycle-new", "/appraisals/cycles/new/"),
        ("record-hr", f"/appraisals/{appraisal('aisha')}/"),
        ("reopen", f"/appraisals/{appraisal('aisha')}/reopen/"),
        ("change-appraiser", f"/appraisals/{appraisal('leah')}/appraiser/"),
        ("staff-list", "/staff/"),
        ("staff-detail", f"/staff/{server.staff_id('staff')}/"),
        ("leaving-date-with-handover", f"/staff/{server.staff_id('manager')}/leaver/"),
        ("staff-new", "/staff/new/"),
        ("staff-import", "/staff/import/"),
        ("audit", "/audit/"),
        ("framework-edit", "/framework/edit/"),
        ("role-profile-new", "/roles/new/"),
        ("role-profile-hr", f"/roles/{ROLE}/"),
        ("draft", f"/roles/{ROLE}/draft/"),
        ("draft-details", f"/roles/{ROLE}/draft/details/"),
        ("draft-windows", f"/roles/{ROLE}/draft/windows/"),
        ("draft-accountabilities", f"/roles/{ROLE}/draft/accountabilities/"),
        ("draft-person-specification", f"/roles/{ROLE}/draft/person-specification/"),
        ("draft-organisation", f"/roles/{ROLE}/draft/organisation/"),
        ("role-profile-compare", f"/roles/{ROLE}/compare/?from=1&to=2"),
    ]


def start_draft(person) -> None:
    """HR's draft of ROLE, so that the draft pages exist (started once, continued afterwards)."""
    page = person.page
    page.goto(f"/roles/{ROLE}/")
    start = page.get_by_role("button", name="Edit (start a new draft)")
    if start.count():
        start.click()
        page.wait_for_url(f"**/roles/{ROLE}/draft/")


@pytest.mark.parametrize("width", ["desktop", "mobile"])
@pytest.mark.parametrize("username", [None, "staff", "daniel", "manager", "hr"])
def test_main_pages(session, server, username, width):
    person = session(username, viewport=DESKTOP if width == "desktop" else MOBILE)
    if username == "hr":
        start_draft(person)
    failures = []
    for name, path in pages_for(username, server):
        response = person.page.goto(path)
        expected = 404 if name.startswith("not-found") else 200
        if response.status != expected:
            failures.append(f"{name}: {path} answered {response.status}, not {expected}")
            continue
        try:
            check_page(person, name)
        except AssertionError as error:
            failures.append(str(error))
    assert not failures, "\n\n".join(failures)
    assert not person.console_errors, person.console_errors


def test_form_errors_are_tied_to_their_fields(session):
    """A refused form says what is wrong next to each field, and the field points to its message."""
    person = session("hr")
    page = person.page
    page.goto("/appraisals/cycles/new/")
    page.get_by_role("button", name="Create the cycle").click()
    name = page.get_by_label("Name")
    assert name.get_attribute("aria-invalid") == "true"
    described_by = name.get_attribute("aria-describedby") or ""
    messages = [page.locator(f"[id='{ident}']").inner_text() for ident in described_by.split()]
    assert any("required" in message.lower() for message in messages), messages
    check_page(person, "cycle-new-errors")

    anonymous = session()
    page = anonymous.page
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("staff")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    alert = page.get_by_role("alert").filter(has_text="correct username and password")
    assert alert.is_visible()
    for label in ("Username", "Password"):
        field = page.get_by_label(label)
        assert field.get_attribute("aria-invalid") == "true"
        assert field.get_attribute("aria-describedby") == alert.get_attribute("id")
    check_page(anonymous, "login-error")


def test_the_accessibility_check_finds_what_it_should(session):
    """The checker itself: a field that loses its label, and text that loses its contrast, fail."""
    person = session()
    page = person.page
    page.goto("/accounts/login/")
    failing, _ = axe_violations(page)
    assert failing == []
    page.evaluate("""() => {
        document.querySelector("label[for='id_username']").remove();
        document.querySelector('h1').style.color = '#bbbbbb';
    }""")
    failing, _ = axe_violations(page)
    assert {"label", "color-contrast"} <= {violation["id"] for violation in failing}
