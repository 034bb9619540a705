"""Journeys through the app in a real browser, each from the login to the end, with axe-core run on
every main page they pass (e2e/conftest.py, check_page)."""

import io
import re
import subprocess
import time
import zipfile
from typing import Any

from pypdf import PdfReader

from e2e.conftest import MOBILE, VERIFY_PATH, authenticator_code, check_page, shoot

ROLE = "housing-worker"  # the role profile journey 1 edits; no other test depends on its wording
CYCLE = "Annual appraisal 2027"  # the cycle journey 2 opens

# What the scoring page says after Save: "Draft saved.", or, when autosave had saved it all already,
# that there was nothing left to save.
SAVED = re.compile(r"Draft saved\.|No changes to save")


def pdf_text(person, link) -> str:
    """Follow a PDF link as the person would (the browser shows it), and return the PDF's text.

    Chromium shows an inline PDF in its viewer and hands the page a viewer document, so the file's
    bytes are fetched again with the person's cookies to read them."""
    page = person.page
    with page.expect_response(lambda response: ".pdf" in response.url) as answer:
        link.click()
    response = answer.value
    assert response.status == 200, response.url
    assert response.headers["content-type"] == "application/pdf"
    assert re.search(r'filename="[^"]+\.pdf"', response.headers["content-disposition"])
    body = person.context.request.get(response.url).body()
    assert body.startswith(b"%PDF")
    text = "\n".join(page_.extract_text() for page_ in PdfReader(io.BytesIO(body)).pages)
    page.go_back()
    return " ".join(text.split())


def focused(page) -> dict:
    return page.evaluate(
        """() => {
            const e = document.activeElement;
            return {tag: e.tagName.toLowerCase(), type: e.type || '', name: e.name || '', value: e.value ?? '',
                    checked: !!e.checked, text: (e.innerText || '').trim(), id: e.id, cls: e.className || ''};
        }"""
    )


def assert_focus_visible(page) -> None:
    """The focused element shows a focus indicator, and nothing fixed or sticky hides it."""
    state = page.evaluate(
        """() => {
            const e = document.activeElement, style = getComputedStyle(e);
            // Focus inside the browser's own parts of a field (a date field's calendar button).
            if (!e.matches(':focus')) return {indicator: true, inView: true, uncovered: true};
            const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
            const shadow = style.boxShadow && style.boxShadow !== 'none';
            const box = e.getBoundingClientRect();
            const x = box.left + box.width / 2, y = box.top + box.height / 2;
            const top = document.elementFromPoint(x, y);
            return {indicator: outline || shadow, inView: y >= 0 && y <= window.innerHeight,
                    uncovered: !!top && (top === e || e.contains(top)
                                         || (e.labels && [...e.labels].some(l => l.contains(top)))),
                    what: e.outerHTML.slice(0, 120), over: top ? top.outerHTML.slice(0, 120) : null};
        }"""
    )
    assert state["indicator"], f"no visible focus indicator on {state['what']}"
    assert state["inView"] and state["uncovered"], f"the focused {state['what']} is hidden under {state['over']}"


def tab_to(page, test, *, limit=400, key="Tab") -> dict:
    """Press Tab until the focused element passes test(element); return it."""
    for _ in range(limit):
        page.keyboard.press(key)
        element = focused(page)
        if test(element):
            return element
    raise AssertionError(f"{limit} presses of {key} never reached the element")


def test_hr_edits_a_role_profile_and_publishes_it(session):
    started = time.monotonic()
    hr = session("hr")
    page = hr.page
    check_page(hr, "journey-hr-home")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Role profiles").click()
    check_page(hr, "journey-role-profiles")
    page.get_by_role("link", name="Housing Worker", exact=True).click()
    version_before = int(re.search(r"version (\d+)", page.locator(".doc-actions a").first.text_content()).group(1))
    check_page(hr, "journey-role-profile-before")
    page.get_by_role("button", name="Edit (start a new draft)").click()
    page.wait_for_url(f"**/roles/{ROLE}/draft/")
    check_page(hr, "journey-draft")

    # A window: the first competency whose window can move, moved to another allowed window.
    page.get_by_role("link", name="Required windows (competencies)").click()
    check_page(hr, "journey-draft-windows")
    selects = page.locator("select")
    changed = None
    for index in range(selects.count()):
        select = selects.nth(index)
        current = select.input_value()
        options = [
            value
            for value in select.locator("option").evaluate_all("os => os.map(o => o.value)")
            if value and value != current
        ]
        if current and options:
            select.select_option(options[0])
            label = select.locator(f"option[value='{options[0]}']").inner_text()
            competency = select.locator("xpath=ancestor::section[1]//h2").inner_text()
            changed = (select.get_attribute("id"), options[0], competency, label.split(" ")[0])  # e.g. "3–5"
            break
    assert changed, "no competency offers another window"
    page.get_by_role("button", name="Save windows").click()
    assert page.get_by_role("status").filter(has_text="Required windows saved.").is_visible()
    # Saved, the page shows the indicators of the window now chosen.
    assert page.locator(f"#{changed[0]}").input_value() == changed[1]
    shown = page.get_by_role("region", name=f"Indicators of the chosen window for {changed[2]}")
    assert f"Exceptional Level ({changed[3].split('–')[1]})" in shown.inner_text()
    page.get_by_role("link", name="Back to the draft").click()

    # A sentence of the job purpose.
    sentence = "Keeps each tenant's support plan up to date after every visit."
    page.get_by_role("link", name="Title and job description").click()
    check_page(hr, "journey-draft-details")
    purpose = page.get_by_label("Purpose")
    purpose.fill(purpose.input_value().rstrip() + " " + sentence)
    page.get_by_role("button", name="Save").click()
    assert page.get_by_role("status").filter(has_text="saved").is_visible()
    assert sentence in page.locator("article").inner_text()

    # Publishing asks for a note, then for a confirmation of what changes.
    page.get_by_role("button", name=re.compile(r"Publish version \d+")).click()
    page.wait_for_url(f"**/roles/{ROLE}/draft/publish/")
    assert page.get_by_text("Say briefly what changed in this version.").is_visible()
    check_page(hr, "journey-publish-without-note")
    note = f"{changed[2]} window now {changed[3]}; a sentence added to the purpose."
    page.get_by_label("What changed").fill(note)
    page.get_by_role("button", name=re.compile(r"Publish version \d+")).click()
    page.locator(".confirmation").wait_for()
    assert page.get_by_role("heading", level=1).inner_text().startswith(f"Publish version {version_before + 1}")
    confirmation = page.locator(".confirmation").inner_text()
    assert note in confirmation and f"{changed[2]}: " in confirmation and "1.1 Job purpose" in confirmation
    check_page(hr, "journey-publish-confirmation")
    page.get_by_role("button", name=re.compile(r"Publish version \d+")).click()
    page.wait_for_url(f"**/roles/{ROLE}/")
    assert page.get_by_role("status").filter(has_text="is now the current role profile").is_visible()
    assert sentence in page.locator("article").inner_text()
    _, _, competency, window = changed
    assert page.get_by_role("region", name=f"{competency}: levels {window}").count() == 1
    check_page(hr, "journey-role-profile-published")

    page.get_by_role("link", name="Version history").click()
    check_page(hr, "journey-role-profile-versions")
    newest = page.locator("tbody tr").first
    assert newest.get_by_role("rowheader").inner_text() == f"Version {version_before + 1}"
    assert "Current" in newest.inner_text() and "Helen Hughes" in newest.inner_text()
    assert note in newest.inner_text()
    page.go_back()
    text = pdf_text(hr, page.get_by_role("link", name=re.compile("Download PDF")))
    assert " ".join(sentence.split()) in text
    assert "Housing Worker" in text
    print(f"journey 1 (role profile): {time.monotonic() - started:.1f}s")


def date_keys(page, day: int, month: int, year: int) -> str:
    """The digits to type into a date field for this date, in the order the browser's date fields
    ask for them (Chromium lays them out in its own locale's order, as the person sees them)."""
    probe = page.context.new_page()
    probe.set_content("<input type=date>")
    probe.locator("input").focus()
    probe.keyboard.type("01022003")
    value = probe.locator("input").input_value()
    probe.close()
    order = {"2003-01-02": "mdy", "2003-02-01": "dmy"}[value]
    parts = {"d": f"{day:02d}", "m": f"{month:02d}", "y": f"{year:04d}"}
    return "".join(parts[part] for part in order)


def score_with_keyboard(page) -> dict:
    """Fill in the scoring page with the keyboard alone: Tab from the top of the page, arrow keys
    within each indicator's rating group, typed text. Every indicator is rated "consistently
    demonstrated"; the first gets written evidence; the meeting date and objectives are typed."""
    page.keyboard.press("Tab")
    skip = focused(page)
    assert skip["text"] == "Skip to main content"
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "main"

    meeting_keys = date_keys(page, 20, 5, 2027)
    done: dict[str, Any] = {"rated": 0, "evidence": "", "measure": "", "meeting": False, "objectives": ""}
    for _ in range(2000):
        page.keyboard.press("Tab")
        assert_focus_visible(page)  # every stop on the way: an indicator shows, nothing covers it
        element = focused(page)
        if element["type"] == "radio" and element["name"].startswith("rating-"):
            # Tab lands on the group's checked radio ("Not rated"); the arrow keys move along the group.
            assert element["value"] == "" and element["checked"], element
            for _ in range(3):
                page.keyboard.press("ArrowRight")
            element = focused(page)
            assert element["value"] == "consistently" and element["checked"], element
            assert_focus_visible(page)
            done["rated"] += 1
        elif element["tag"] == "summary" and not done["evidence"]:
            page.keyboard.press("Enter")  # opens the evidence box
            page.keyboard.press("Tab")
            assert focused(page)["name"].startswith("evidence-")
            done["evidence"] = "Set up the weekly house meeting and kept its notes."
            page.keyboard.type(done["evidence"])
        elif element["name"].startswith("measure-") and not done["measure"]:
            done["measure"] = "All visits recorded on time."
            page.keyboard.type(done["measure"])
        elif element["name"] == "meeting_date" and not done["meeting"]:
            page.keyboard.type(meeting_keys)  # the field moves on from day to month to year by itself
            done["meeting"] = True
        elif element["name"] == "objectives":
            done["objectives"] = "Lead one house meeting a month."
            page.keyboard.type(done["objectives"])
        elif element["tag"] == "button" and element["text"] == "Save draft" and not element["name"]:
            with page.expect_navigation():
                page.keyboard.press("Enter")
            return done
    raise AssertionError("never reached the Save draft button at the foot of the page")


def test_cycle_scored_by_keyboard_shared_signed_and_countersigned(session):
    started = time.monotonic()
    # HR opens a new cycle.
    hr = session("hr")
    page = hr.page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cycles").click()
    check_page(hr, "journey-cycles")
    page.get_by_role("link", name="New cycle").click()
    page.get_by_label("Name").fill(CYCLE)
    page.get_by_label("Period start").fill("2026-04-01")
    page.get_by_label("Period end").fill("2027-03-31")
    page.get_by_label("Due date").fill("2027-06-30")
    self_assessment = page.get_by_label("Staff self-assess first")
    if self_assessment.is_checked():
        self_assessment.uncheck()
    page.get_by_role("button", name="Create the cycle").click()
    page.get_by_role("heading", name=CYCLE, level=1).wait_for()
    check_page(hr, "journey-cycle-not-opened")
    page.get_by_role("button", name="Open the cycle: create everyone's appraisal").click()
    # First a confirmation: what opening creates, who is emailed, what cannot be undone.
    page.get_by_role("heading", name=f"Open {CYCLE}?", level=1).wait_for()
    assert "What can't be undone" in page.locator("main").inner_text()
    check_page(hr, "journey-cycle-open-confirm")
    page.get_by_role("button", name="Open the cycle", exact=True).click()
    # The request returns at once; the job's page follows the worker, refreshing itself, to the end.
    page.get_by_role("heading", name=f"Opening: {CYCLE}", level=1).wait_for()
    check_page(hr, "journey-cycle-opening")
    page.locator("#job").get_by_text("Done.", exact=True).wait_for(timeout=60_000)  # not "until it is done."
    assert re.search(r"\d+ appraisals created\.", page.get_by_role("status").inner_text())
    check_page(hr, "journey-cycle-opening-done")
    page.get_by_role("link", name="Back to the cycle").click()
    assert "Opened" in page.locator("dl").inner_text()
    check_page(hr, "journey-cycle-opened")
    assert page.get_by_role("row", name=re.compile("Sam Taylor")).count() == 1

    # The manager scores Sam Taylor's appraisal with the keyboard alone.
    manager = session("manager")
    page = manager.page
    check_page(manager, "journey-manager-home")
    page.get_by_role("link", name=f"Sam Taylor, {CYCLE}").click()
    record_url = page.url
    check_page(manager, "journey-record-manager-review")
    page.get_by_role("link", name="Score the appraisal").click()
    check_page(manager, "journey-scoring", screenshot=False)
    keyboard_started = time.monotonic()
    done = score_with_keyboard(page)
    keyboard_time = time.monotonic() - keyboard_started
    assert done["rated"] >= 30 and done["meeting"] and done["evidence"] and done["objectives"], done
    assert page.get_by_role("status").filter(has_text=SAVED).is_visible()

    # Reload: the draft is there.
    page.reload()
    assert page.locator("input[type=radio][value=consistently]:checked").count() == done["rated"]
    assert page.locator("input[type=radio][value='']:checked").count() == 0
    assert page.locator("textarea[name^=evidence-]").first.input_value() == done["evidence"]
    assert page.get_by_label("Date of the appraisal meeting").input_value() == "2027-05-20"
    assert page.get_by_label("Objectives for the next year").input_value() == done["objectives"]
    assert "Exceptional" in page.locator(".card-footer").first.inner_text()  # derived from the saved ratings

    # Share it, still by keyboard, from the record.
    page.goto(record_url)
    check_page(manager, "journey-record-before-sharing")
    tab_to(page, lambda element: element["tag"] == "button" and element["text"].startswith("Share with Sam Taylor"))
    assert_focus_visible(page)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    # First a confirmation: who is told, what can't be undone; confirmed by keyboard too.
    assert page.get_by_role("heading", level=1).inner_text() == "Share the record with Sam Taylor for sign-off?"
    check_page(manager, "journey-share-confirmation")
    tab_to(page, lambda element: element["tag"] == "button" and element["text"] == "Share the record")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("status").filter(has_text="hared").is_visible()
    assert (
        "Awaiting sign-off" in page.locator(".record-summary").inner_text()
        or "sign-off" in page.locator(".record-summary").inner_text().lower()
    )
    check_page(manager, "journey-record-shared")

    # Sam reads it, comments and signs off.
    staff = session("staff")
    page = staff.page
    page.get_by_role("link", name=f"Your {CYCLE} appraisal").click()
    check_page(staff, "journey-record-to-sign")
    assert done["evidence"] in page.locator("main").inner_text()
    assert done["objectives"] in page.locator("main").inner_text()
    page.get_by_label("I agree with this record").check()
    comment = "Thank you: a fair record of my year."
    page.get_by_label("Your comments").fill(comment)
    page.get_by_role("button", name="Sign off").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Sign off your appraisal?"
    assert comment in page.locator("main").inner_text()
    check_page(staff, "journey-sign-off-confirmation")
    page.get_by_role("button", name="Sign off").click()
    assert page.get_by_role("status").is_visible()
    assert comment in page.locator("main").inner_text()
    check_page(staff, "journey-record-signed")

    # The manager countersigns; the record is complete and locked.
    page = manager.page
    page.goto(record_url)
    check_page(manager, "journey-record-to-countersign")
    page.get_by_label("Your comments (optional)").fill("Agreed. Well done this year.")
    page.get_by_role("button", name="Countersign and complete…").click()
    assert "completed and locked" in page.locator("main").inner_text()
    page.get_by_role("button", name="Countersign and complete").click()
    assert "Completed" in page.locator(".record-summary").inner_text()
    assert "locked" in page.locator(".record-summary").inner_text()
    check_page(manager, "journey-record-completed")
    text = pdf_text(manager, page.get_by_role("link", name="Download PDF"))
    assert "Sam Taylor" in text and CYCLE in text and done["evidence"] in text and comment in text

    # Sam can download it too.
    page = staff.page
    page.reload()
    assert "Completed" in page.locator(".record-summary").inner_text()
    assert "Sam Taylor" in pdf_text(staff, page.get_by_role("link", name="Download PDF"))
    print(
        f"journey 2 (cycle to countersignature): {time.monotonic() - started:.1f}s, "
        f"keyboard scoring of {done['rated']} indicators {keyboard_time:.1f}s"
    )


def test_staff_reads_their_history_and_downloads_it(session):
    started = time.monotonic()
    staff = session("staff")
    page = staff.page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My history").click()
    page.get_by_role("heading", name="My competency history", level=1).wait_for()
    check_page(staff, "journey-my-history")
    charts = page.locator("svg.level-chart")
    assert charts.count() >= 8
    assert charts.first.get_attribute("role") == "img"
    tables = page.locator("table.history-table")
    assert tables.count() == charts.count()
    rows = tables.first.locator("tbody tr")
    assert rows.count() >= 3  # 2023, 2024 and 2025 at least
    assert re.search(r"Level \d", rows.first.inner_text())
    text = pdf_text(staff, page.get_by_role("link", name="Download PDF", exact=True))
    assert "Sam Taylor" in text and "competency history" in text.lower()
    print(f"journey 3 (history): {time.monotonic() - started:.1f}s")


def test_staff_cannot_open_another_persons_appraisal(session, server):
    started = time.monotonic()
    staff = session("staff")
    page = staff.page
    own = page.goto(f"/appraisals/{server.current_appraisal('staff')}/")
    assert own.status == 200
    for path in (
        f"/appraisals/{server.current_appraisal('aisha')}/",
        f"/appraisals/{server.current_appraisal('aisha')}/review/",
        f"/appraisals/{server.current_appraisal('aisha')}.pdf",
        f"/people/{server.staff_id('aisha')}/history/",
    ):
        response = page.goto(path)
        assert response.status == 404, path
        assert page.get_by_role("heading", level=1).inner_text() == "Not found", path
        assert "Aisha" not in page.locator("main").inner_text()
    check_page(staff, "journey-not-found")
    print(f"journey 4 (another person's appraisal): {time.monotonic() - started:.1f}s")


def test_hr_downloads_a_cycles_completed_records_as_one_zip(session, server):
    started = time.monotonic()
    hr = session("hr")
    page = hr.page
    page.goto(f"/appraisals/cycles/{server.ids['current_cycle']}/")
    page.get_by_role("button", name="Make a ZIP of every completed record's PDF").click()
    page.get_by_role("heading", name=re.compile("as one ZIP$"), level=1).wait_for()
    check_page(hr, "journey-cycle-zip-progress")
    # Exactly "Done.": the page says "until it is done." while the worker makes each record's PDF, then the ZIP.
    page.locator("#job").get_by_text("Done.", exact=True).wait_for(timeout=120_000)
    summary = page.get_by_role("status").inner_text()
    count = int(re.search(r"(\d+) completed records? in one ZIP", summary).group(1))
    check_page(hr, "journey-cycle-zip-done")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile(r"^Download .*\.zip$")).click()
    archive = zipfile.ZipFile(download.value.path())
    names = archive.namelist()
    assert count >= 3 and len(names) == count and all(name.endswith(".pdf") for name in names)
    assert all(archive.read(name).startswith(b"%PDF") for name in names)
    # The cycle's page offers the same file while it is kept.
    page.get_by_role("link", name="Back to the cycle").click()
    assert page.get_by_role("link", name=re.compile(r"^Download .*\.zip$")).count() == 1
    print(f"journey 5 (a cycle's records as one ZIP of {count} PDFs): {time.monotonic() - started:.1f}s")


def test_a_manager_scores_without_pressing_save_closes_the_tab_and_finds_everything(session, server):
    started = time.monotonic()
    manager = session("manager")
    page = manager.page
    url = f"/appraisals/{server.current_appraisal('owen')}/review/"
    page.goto(url)
    status = page.locator("#autosave-status")
    ratings = page.locator("input[type=radio][value=consistently]")
    count = ratings.count()
    assert count >= 30
    for index in range(count):
        ratings.nth(index).check()
    first = page.locator("fieldset.indicator").first
    first.locator("summary").click()
    first.locator("textarea").fill("Ran the handover on Mondays.")
    page.get_by_label("Objectives for the next year").fill("Lead the night rota review.")
    status.filter(has_text=re.compile(r"^Saved at \d\d:\d\d$")).wait_for(timeout=20_000)
    page.wait_for_function("() => document.getElementById('autosave-status').textContent.startsWith('Saved at')")
    total = page.locator("#sheet-progress").inner_text()
    assert f"{count} of {count} indicators rated" in total, total
    assert "Exceptional" in page.locator("[data-level]").first.inner_text()  # derived on the server, shown live
    check_page(manager, "journey-autosaved")
    page.close()  # no Save pressed

    page = manager.context.new_page()
    page.goto(url)
    assert page.locator("input[type=radio][value=consistently]:checked").count() == count
    assert page.locator("textarea[name^=evidence-]").first.input_value() == "Ran the handover on Mondays."
    assert page.get_by_label("Objectives for the next year").input_value() == "Lead the night rota review."
    manager.page = page
    print(f"journey 6 (scored by autosave, {count} indicators): {time.monotonic() - started:.1f}s")


def test_two_tabs_on_one_record_meet_the_conflict_message(session, server):
    manager = session("manager")
    url = f"/appraisals/{server.current_appraisal('owen')}/review/"
    first, second = manager.page, manager.context.new_page()
    first.goto(url)
    second.goto(url)
    first.get_by_label("Overall comments").fill("Written in the first tab.")
    first.locator("#autosave-status").filter(has_text="Saved at").wait_for(timeout=20_000)
    second.get_by_label("Overall comments").fill("Written in the second tab.")
    conflict = second.locator("#autosave-status").filter(has_text="Not saved:")
    conflict.wait_for(timeout=20_000)
    assert "after you opened it" in conflict.inner_text() and "Reload the page" in conflict.inner_text()
    # Leaving with the unsaved text asks first (the browser's own "Leave site?" question).
    asked = []
    second.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.accept()))
    second.reload()
    assert asked == ["beforeunload"]
    assert second.get_by_label("Overall comments").input_value() == "Written in the first tab."


def test_the_page_s_shortcuts_take_a_fraction_of_the_actions_of_rating_one_by_one(session, server):
    # Before: every indicator clicked, then Save (Rhys Example's appraisal, scored by Daniel).
    daniel = session("daniel")
    page = daniel.page
    page.goto(f"/appraisals/{server.current_appraisal('rhys')}/review/")
    started, actions = time.monotonic(), 0
    ratings = page.locator("input[type=radio][value=consistently]")
    indicators = ratings.count()
    for index in range(indicators):
        ratings.nth(index).check()
        actions += 1
    page.locator(".sticky-actions").get_by_role("button", name="Save draft", exact=True).click()
    actions += 1
    page.get_by_role("status").filter(has_text=SAVED).wait_for()
    one_by_one = (actions, time.monotonic() - started)

    # After: each level marked at once, nothing else pressed (Femi Example's, scored by Grace).
    grace = session("grace")
    page = grace.page
    page.goto(f"/appraisals/{server.current_appraisal('femi')}/review/")
    started, actions = time.monotonic(), 0
    buttons = page.locator("button.mark-level")
    for index in range(buttons.count()):
        buttons.nth(index).click()
        actions += 1
    page.locator("#autosave-status").filter(has_text="Saved at").wait_for(timeout=20_000)
    page.wait_for_function("() => !document.getElementById('autosave-status').textContent.startsWith('Saving')")
    shortcuts = (actions, time.monotonic() - started)
    assert (
        page.locator("input[type=radio][value=consistently]:checked").count()
        == page.locator("fieldset.indicator").count()
    )
    assert "✓ all" in page.get_by_role("navigation", name="Competencies").inner_text()
    check_page(grace, "journey-scored-by-levels")
    page.reload()  # saved by the page itself
    assert (
        page.locator("input[type=radio][value=consistently]:checked").count()
        == page.locator("fieldset.indicator").count()
    )
    assert shortcuts[0] * 2 < one_by_one[0]
    print(
        f"journey 7 (scoring {indicators} indicators): one by one then Save {one_by_one[0]} actions in "
        f"{one_by_one[1]:.1f}s; a level at a time, saved by the page, {shortcuts[0]} actions in {shortcuts[1]:.1f}s"
    )


def test_on_a_phone_the_scoring_page_shows_one_competency_at_a_time(session, server):
    manager = session("manager", viewport=MOBILE)
    page = manager.page
    page.goto(f"/appraisals/{server.current_appraisal('leah')}/review/")
    steps = page.locator(".sheet-step")
    visible = page.locator(".sheet-step:visible")
    assert steps.count() > 10 and visible.count() == 1
    first = visible.first.locator("h2").inner_text()
    check_page(manager, "journey-scoring-phone")
    page.get_by_role("button", name=re.compile("^Next: ")).first.click()
    assert visible.count() == 1 and visible.first.locator("h2").inner_text() != first
    assert page.evaluate("() => document.activeElement.tagName") == "H2"  # focus moves to what is shown
    page.get_by_role("button", name=f"Previous: {first}").click()
    assert visible.first.locator("h2").inner_text() == first


def test_a_record_printed_from_the_browser_has_no_actions_and_no_heading_left_at_a_page_foot(session, server, tmp_path):
    manager = session("manager")
    page = manager.page
    page.goto(f"/appraisals/{server.current_appraisal('aisha')}/")  # completed: a long record, every section
    assert page.get_by_role("heading", name="What you can do").is_visible()  # on screen, not on paper
    headings = {text.strip() for text in page.locator("main :is(h1, h2, h3, h4)").all_inner_texts() if text.strip()}
    page.emulate_media(media="print")
    path = tmp_path / "record.pdf"
    path.write_bytes(page.pdf(format="A4", print_background=True))
    text = subprocess.run(
        ["pdftotext", str(path), "-"],  # noqa: S607 - poppler-utils, found on the PATH
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pages = [[line.strip() for line in chunk.splitlines() if line.strip()] for chunk in text.split("\f")]
    pages = [lines for lines in pages if lines]
    assert len(pages) >= 3 and "Aisha Begum" in pages[0][0]
    assert "What you can do" not in text
    # A heading keeps at least the start of what it heads on its page.
    ends = [lines[-1] for lines in pages[:-1]]
    assert not [line for line in ends if line in headings], ends


def test_a_disagreement_walked_through_each_route(session, server):
    """Tom disagrees: his manager takes the record back to discuss it, shares it again, and on a second
    disagreement refers it to Priya Shah, who returns it for changes; on the third the manager countersigns
    noting it. Hamza's disagreement, referred to Priya by the demo, she completes as it stands."""
    started = time.monotonic()
    record = f"/appraisals/{server.current_appraisal('tom')}/"
    manager, tom, head = session("manager"), session("tom"), session("head")

    def tom_disagrees(again: str) -> None:
        page = tom.page
        page.goto(record)
        page.get_by_label("I disagree with this record (say why below)").check()
        page.get_by_label("Your comments").fill(again)
        page.get_by_role("button", name="Sign off").click()
        assert page.get_by_role("heading", level=1).inner_text() == (
            "Sign off your appraisal, recording that you disagree?"
        )
        page.get_by_role("button", name="Sign off, disagreeing").click()
        assert "Awaiting countersignature" in page.locator(".record-summary").inner_text()

    def manager_shares() -> None:
        page = manager.page
        page.goto(record)
        page.get_by_role("button", name=re.compile("^Share with Tom Hardy")).click()
        page.get_by_role("button", name="Share the record").click()
        assert page.get_by_role("status").filter(has_text="hared").is_visible()

    # 1. Take it back to discuss: his comments are beside the three routes.
    page = manager.page
    page.goto(record)
    disagreement = page.locator("#disagreement")
    assert "Tom Hardy disagrees with this record" in disagreement.inner_text()
    assert "Working with Change" in disagreement.inner_text()
    check_page(manager, "journey-disagreement-routes")
    disagreement.get_by_label("What you will discuss with them").fill("Let us go through the rota evidence.")
    disagreement.get_by_role("button", name="Take back to discuss").click()
    assert "Manager review" in page.locator(".record-summary").inner_text()

    # 2. Shared again, a second disagreement, referred to the line manager's manager, returned by her.
    manager_shares()
    tom_disagrees("Still the same: the rota concerns were raised properly.")
    page = manager.page
    page.goto(record)
    page.get_by_label("Priya Shah, the line manager's manager").check()
    page.get_by_label("What the disagreement is about, and what you would like decided").fill("We still disagree.")
    page.get_by_role("button", name="Refer the disagreement").click()
    assert "Referred after disagreement" in page.locator(".record-summary").inner_text()
    page = head.page
    page.goto("/")
    page.get_by_role("link", name=re.compile("Tom Hardy")).first.click()
    check_page(head, "journey-referral-to-decide")
    page.get_by_label("Return it to the appraiser to change, then to be shared and signed again").check()
    page.get_by_label("Your decision and the reasons for it").fill("Rescore Working with Change with the evidence.")
    page.get_by_role("button", name="Decide…").click()
    check_page(head, "journey-referral-confirmation")
    page.get_by_role("button", name="Return it for changes").click()
    assert "Manager review" in page.locator(".record-summary").inner_text()

    # 3. Shared again, disagreeing again: countersigned, noting it.
    manager_shares()
    tom_disagrees("I accept the rest but not Working with Change.")
    page = manager.page
    page.goto(record)
    page.get_by_label("Your response to their disagreement").fill("Noted; we will review it at supervision.")
    page.get_by_role("button", name="Countersign noting the disagreement…").click()
    assert "(noting their disagreement)" in page.get_by_role("heading", level=1).inner_text()
    page.get_by_role("button", name="Countersign and complete").click()
    assert "Completed" in page.locator(".record-summary").inner_text()
    text = pdf_text(manager, page.get_by_role("link", name="Download PDF"))
    assert "Tom Hardy disagrees with this record" in text.split("1. Summary of levels")[0]  # on its first page

    # Hamza's, referred to Priya by the demo: she completes it as it stands.
    page = head.page
    page.goto(f"/appraisals/{server.current_appraisal('hamza')}/")
    page.get_by_label("Complete it as it stands, with the disagreement and my decision kept in it").check()
    page.get_by_label("Your decision and the reasons for it").fill("The evidence supports the level.")
    page.get_by_role("button", name="Decide…").click()
    page.get_by_role("button", name="Complete the record").click()
    assert "Completed" in page.locator(".record-summary").inner_text()
    assert "Decision on the referral" in page.locator("main").inner_text()
    print(f"disagreement routes: {time.monotonic() - started:.1f}s")


def test_a_new_hr_admin_sets_up_a_second_factor_and_signs_in_with_it(session, server):
    """An HR admin made with `create_hr_admin` opens an HR page, is sent to set up the second factor
    (the QR code, and the key as text, which this test reads as a person types it into their app),
    confirms it with a first code, keeps the recovery codes, and next time signs in with a code."""
    password = "a-long-and-unusual-phrase"
    server.manage("create_hr_admin", "hr_new", extra_env={"HR_ADMIN_PASSWORD": password})
    person = session()
    person.give_password("hr_new", password=password)
    page = person.page
    assert page.url == f"{server.url}/"
    assert page.get_by_role("link", name="Staff", exact=True).count() == 0  # no HR rights yet
    page.get_by_role("link", name="Give it for your HR admin rights").click()
    page.wait_for_url("**/accounts/second-factor/set-up/**")
    assert page.locator(".second-factor-qr svg[role=img]").is_visible()
    check_page(person, "second-factor-set-up")
    secret = page.locator("#second-factor-secret").inner_text()
    page.get_by_label("Code from the app").fill(authenticator_code(secret))
    page.get_by_role("button", name="Confirm").click()
    codes = page.locator(".second-factor-codes li").all_inner_texts()
    assert len(codes) == 10
    check_page(person, "second-factor-recovery-codes")
    page.get_by_role("link", name="I have kept them: continue").click()
    page.wait_for_url(f"{server.url}/")
    assert page.get_by_role("link", name="Staff", exact=True).is_visible()

    again = session()
    again.give_password("hr_new", password=password)
    assert VERIFY_PATH in again.page.url
    again.give_code(secret)
    again.page.wait_for_url(f"{server.url}/")
    again.page.get_by_role("link", name="Staff", exact=True).click()
    again.page.wait_for_url(f"{server.url}/staff/")


def test_the_demo_hr_signs_in_with_the_secret_seed_demo_printed(session, server):
    person = session()
    person.give_password("hr")
    page = person.page
    assert VERIFY_PATH in page.url
    check_page(person, "second-factor-verify")
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Continue").click()
    assert "did not match" in page.get_by_role("alert").inner_text()
    assert VERIFY_PATH in page.url
    time.sleep(1.5)  # the wait after one wrong code
    person.give_code(server.secrets["hr"])  # the key as printed by seed_demo
    page.wait_for_url(f"{server.url}/")
    assert page.get_by_role("link", name="Staff", exact=True).is_visible()
    shoot(page, "second-factor-signed-in-desktop")


# The body of the newest email to an address, from the outbox of the server's database.
LATEST_EMAIL_SCRIPT = """
from email import message_from_string
from outbox.models import Email
email = Email.objects.filter(recipients={address!r}).order_by("-pk").first()
print(message_from_string(email.raw).get_payload(decode=True).decode() if email else "")
"""


def test_a_person_who_forgot_their_password_sets_a_new_one_from_the_emailed_link(session, server):
    started = time.monotonic()
    new_password = "a-quiet-harbour-at-dawn"
    person = session()
    page = person.page
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Forgot password?").click()
    page.get_by_role("heading", name="Forgot your password?", level=1).wait_for()
    check_page(person, "journey-password-reset-request")
    page.get_by_label("Username or email address").fill("kemi@example.org")
    page.get_by_role("button", name="Email me a link").click()
    page.get_by_role("heading", name="Check your email", level=1).wait_for()
    check_page(person, "journey-password-reset-sent")
    # She reads the email and follows its link.
    body = server.shell(LATEST_EMAIL_SCRIPT.format(address="kemi@example.org"))
    link = re.search(r"/accounts/password/reset/[^/\s]+/[^/\s]+/", body)
    assert link, body
    page.goto(link.group(0))
    page.get_by_role("heading", name="Set a new password", level=1).wait_for()
    check_page(person, "journey-password-reset-set")
    page.get_by_label(re.compile(r"^\s*New password\s*\*?\s*$")).fill(new_password)
    page.get_by_label(re.compile(r"^\s*New password confirmation")).fill(new_password)
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url(f"{server.url}/accounts/login/")
    assert "Your password was changed" in page.get_by_role("status").inner_text()
    page.get_by_label("Username").fill("kemi")
    page.get_by_label("Password").fill(new_password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server.url}/")
    # The link worked once.
    again = session()
    again.page.goto(link.group(0))
    again.page.get_by_role("heading", name="This link cannot be used", level=1).wait_for()
    check_page(again, "journey-password-reset-bad-link")
    again.page.get_by_role("link", name="Ask for a new link").click()
    again.page.get_by_role("heading", name="Forgot your password?", level=1).wait_for()
    print(f"journey (a forgotten password reset from the email): {time.monotonic() - started:.1f}s")


# The newest invitation emailed to an address, read from the server's outbox: its link.
INVITATION_LINK_SCRIPT = """
import email, re
from outbox.models import Email
raw = Email.objects.filter(recipients__contains=%r).order_by("-pk").first().raw
body = email.message_from_string(raw).get_payload(decode=True).decode()
print(re.search(r"https?://\\S+/accounts/welcome/\\d+/\\S+/", body).group(0))
"""


def test_hr_invites_a_new_starter_who_sets_a_password_from_the_email_and_signs_in(session, server):
    hr = session("hr")
    page = hr.page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Staff").click()
    page.get_by_role("columnheader", name="Access").wait_for()
    assert "Not invited" in page.locator("main").inner_text() and "Invited" in page.locator("main").inner_text()
    check_page(hr, "journey-invite-staff-list")
    page.get_by_role("link", name="Invite everyone not yet invited").click()
    page.get_by_role("heading", name="Invite everyone not yet invited?", level=1).wait_for()
    check_page(hr, "journey-invite-everyone-preview")
    page.get_by_role("link", name="Go back").click()

    # HR adds a new starter, and invites them from the record the form leads to.
    page.get_by_role("link", name="Add a member of staff").click()
    page.get_by_label("First name").fill("Nell")
    page.get_by_label("Last name").fill("Starter")
    page.get_by_label("Email").fill("nell.starter@example.org")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("heading", name="Nell Starter", level=1).wait_for()
    assert "invite them below" in page.locator("main").inner_text()
    page.get_by_role("button", name="Invite by email").click()
    page.get_by_text("An invitation was emailed to Nell Starter").wait_for()
    check_page(hr, "journey-invite-sent")

    # The starter opens the link from the email, sets a password and is signed in.
    link = server.shell(INVITATION_LINK_SCRIPT % "nell.starter@example.org").strip().splitlines()[-1]
    path = "/" + link.split("/", 3)[3]
    starter = session()
    starter.page.goto(path)
    starter.page.get_by_role("heading", name="Set your password", level=1).wait_for()
    check_page(starter, "journey-invite-set-password")
    starter.page.locator("#id_new_password1").fill("a-long-and-unusual-phrase")
    starter.page.locator("#id_new_password2").fill("a-long-and-unusual-phrase")
    starter.page.get_by_role("button", name="Set password and sign in").click()
    starter.page.get_by_text("Your password is set and you are signed in").wait_for()
    check_page(starter, "journey-invite-signed-in")

    # The link works once: opened again, it says so and how to get a new one.
    again = session()
    again.page.goto(path)
    again.page.get_by_role("heading", name="This link or code cannot be used", level=1).wait_for()
    assert "Ask HR for a new invitation" in again.page.locator("main").inner_text()
    check_page(again, "journey-invite-used-link")

    # The starter signs in with the new password; HR sees them active.
    later = session()
    later.page.goto("/accounts/login/")
    later.page.get_by_label("Username").fill("nell.starter")
    later.page.get_by_label("Password").fill("a-long-and-unusual-phrase")
    later.page.get_by_role("button", name="Log in").click()
    later.page.wait_for_url(f"{server.url}/")
    page.reload()
    assert "Active" in page.locator("#access").inner_text()

    # Instead of an email (for someone with no address), HR can print a set-up code.
    page.goto(f"/staff/{server.staff_id('noah')}/setup-code/")
    check_page(hr, "journey-setup-code-explained")
    page.get_by_role("button", name="Make the code").click()
    page.locator("#setup-code").wait_for()
    check_page(hr, "journey-setup-code-printed")
    setup = session()
    setup.page.goto("/accounts/welcome/code/")
    check_page(setup, "journey-setup-code-page")
