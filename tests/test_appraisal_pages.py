"""The appraisal pages: the scoring form, no lost work, the record, and the outcomes export."""

import csv
import datetime
import io
import re
import threading

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client, TestCase
from django.urls import reverse

from appraisal.models import Appraisal, AppraisalCycle, IndicatorRating, ScoredCompetency
from appraisal.selectors import appraisal_sheet
from appraisal.services import scoring, workflow
from appraisal.services.revisions import StaleRecord
from reports.views import OUTCOME_COLUMNS
from roles.models import RoleProfile
from staff.models import StaffMember
from tests.appraisals import complete, fresh, open_appraisal, rate, reload
from tests.conftest import PASSWORD, make_person

State = Appraisal.State


SITE = "http://testserver"  # the test client's own site, as a browser's Origin header names it


def review_url(appraisal):
    return reverse("appraisal_review", args=[appraisal.pk])


def page_field(client, url, name) -> str:
    """The value of the hidden field `name` on the page at `url`, as a browser would send it back."""
    page = client.get(url).content.decode()
    return re.search(rf'name="{name}" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]  # the page has the field


def form_data(appraisal, *, rating="consistently", evidence="", **extra):
    """A full POST of the scoring form, as a browser would send it."""
    sheet = appraisal_sheet(reload(appraisal))
    data = {
        "revision": reload(appraisal).revision,
        "meeting_date": "2026-04-15",
        "objectives": "",
        "development_plan": "",
        "manager_comments": "",
    }
    for indicator_id in sheet.indicator_ids:
        data[f"rating-{indicator_id}"] = rating
        data[f"evidence-{indicator_id}"] = evidence
    for competency in sheet.competencies:
        data[f"override-{competency.scored.competency_id}"] = ""
        data[f"reason-{competency.scored.competency_id}"] = ""
    for item in sheet.measures:
        data[f"measure-{item['measure'].pk}"] = ""
    data.update(extra)
    return data


def largest_role_slug() -> str | None:
    """The role profile whose current version has the most indicators in its windows."""
    best, most = None, -1
    for profile in RoleProfile.objects.with_current_version():
        version = profile.current_version
        count = sum(
            level.indicators.current().count()
            for requirement in version.requirements.select_related("competency")
            for level in requirement.competency.levels.filter(number__in=list(requirement.window))
        )
        if count > most:
            best, most = profile.slug, count
    return best


# --- the scoring page -----------------------------------------------------------------------------


def test_the_scoring_page_shows_each_competency_s_window_levels_and_indicators(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    client.force_login(manager)
    response = client.get(review_url(appraisal))
    assert response.status_code == 200
    page = response.content.decode()
    sheet = appraisal_sheet(reload(appraisal))
    for competency in sheet.competencies:
        assert competency.scored.name.replace("'", "&#x27;") in page
        for level in competency.levels:
            assert f"{level.label}: level {level.number}" in page
    # One radio group per indicator, with a legend, and an evidence box with a label.
    assert page.count('type="radio"') == 4 * len(sheet.indicator_ids)
    assert page.count('<legend class="indicator-text">') == len(sheet.indicator_ids)
    assert page.count('<label class="visually-hidden" for="e') == len(sheet.indicator_ids)


def test_the_scoring_page_of_the_largest_role_uses_a_bounded_number_of_queries(
    client, hr, django_assert_max_num_queries
):
    boss = make_person("boss", role="senior-service-coordinator-afeo")
    person = make_person("person", role=largest_role_slug(), manager=boss)
    earlier = open_appraisal(hr, person, year=2025, self_assessment=False)
    complete(earlier, manager=boss, staff=person)
    appraisal = open_appraisal(hr, person, year=2026, self_assessment=True)
    scoring.save_self_assessment(
        by=fresh(person),
        appraisal=appraisal,
        revision=appraisal.revision,
        ratings={i: ("partly", "An example") for i in appraisal_sheet(appraisal).indicator_ids},
        comments="",
    )
    workflow.submit_self_assessment(by=fresh(person), appraisal=reload(appraisal))
    rate(appraisal, boss, evidence="Seen in supervision")
    client.force_login(boss)
    with django_assert_max_num_queries(12):
        response = client.get(review_url(appraisal))
    assert response.status_code == 200
    page = response.content.decode()
    assert (
        "Self-assessment: <strong>Partly</strong>" in page
        and "Last year: <strong>Consistently demonstrated</strong>" in page
    )
    with django_assert_max_num_queries(12):
        assert client.get(reverse("appraisal", args=[appraisal.pk])).status_code == 200


def test_saving_the_form_saves_ratings_evidence_and_derives_the_level(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    client.force_login(manager)
    data = form_data(
        appraisal, rating="consistently", evidence="Seen at team meeting", objectives="Lead a house meeting"
    )
    response = client.post(review_url(appraisal), data, follow=True)
    assert response.status_code == 200
    assert "Draft saved." in response.content.decode()
    appraisal = reload(appraisal)
    assert appraisal.objectives == "Lead a house meeting"
    assert set(
        IndicatorRating.objects.filter(scored_competency__appraisal=appraisal).values_list("rating", "evidence")
    ) == {("consistently", "Seen at team meeting")}
    assert all(s.derived_level == s.exceptional_level for s in ScoredCompetency.objects.filter(appraisal=appraisal))


def test_an_override_without_reason_is_refused_next_to_the_field_and_nothing_is_saved(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    competency = appraisal.competencies.first()
    client.force_login(manager)
    data = form_data(
        appraisal,
        objectives="Typed but not saved",
        **{f"override-{competency.competency_id}": str(competency.entry_level)},
    )
    response = client.post(review_url(appraisal), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert f'id="reason{competency.competency_id}-error"' in page
    assert "Give the reason for overriding the derived level." in page
    assert "Typed but not saved" in page  # the input is still on the page
    assert (
        reload(appraisal).objectives == ""
        and not IndicatorRating.objects.filter(scored_competency__appraisal=appraisal).exists()
    )


def test_each_refused_field_of_the_scoring_page_points_to_its_message(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    indicator_id = appraisal_sheet(appraisal).indicator_ids[0]
    measure_id = appraisal_sheet(appraisal).measures[0]["measure"].pk
    too_long = "x" * 10_001
    client.force_login(manager)
    data = form_data(
        appraisal, objectives=too_long, **{f"evidence-{indicator_id}": too_long, f"measure-{measure_id}": too_long}
    )
    page = client.post(review_url(appraisal), data).content.decode()
    for field, message_id, limit in (
        (f'id="e{indicator_id}"', f"i{indicator_id}-error", 1000),  # the evidence box, and its indicator's group
        (f'id="i{indicator_id}"', f"i{indicator_id}-error", 1000),
        (f'id="measure-{measure_id}"', f"measure-{measure_id}-error", 2000),
        ('id="id_objectives"', "id_objectives-error", 5000),
    ):
        tag = re.search(rf"<[a-z]+ [^>]*{field}[^>]*>", page).group(0)
        assert f'aria-describedby="{message_id}"' in tag, tag
        assert re.search(
            rf'id="{message_id}">(<p class="mb-0">)?Ensure this value has at most {limit} characters', page
        ), message_id


def test_the_scoring_page_is_the_appraiser_s_alone(client, hr, manager, staff, other_manager):
    appraisal = open_appraisal(hr, staff)
    client.force_login(staff)
    assert client.get(review_url(appraisal)).status_code == 403
    assert client.post(review_url(appraisal), form_data(appraisal)).status_code == 403
    client.force_login(other_manager)
    assert client.get(review_url(appraisal)).status_code == 404
    assert client.post(review_url(appraisal), form_data(appraisal)).status_code == 404
    client.force_login(hr)
    assert client.get(review_url(appraisal)).status_code == 403
    assert reload(appraisal).revision == 1


def test_a_completed_record_s_form_is_closed(client, hr, manager, staff):
    appraisal = complete(open_appraisal(hr, staff), manager=manager, staff=staff)
    client.force_login(manager)
    response = client.post(review_url(appraisal), form_data(appraisal, rating="not_yet"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("appraisal", args=[appraisal.pk])
    assert "can no longer be done" in response.content.decode() or "that form is closed" in response.content.decode()
    assert not IndicatorRating.objects.filter(scored_competency__appraisal=appraisal, rating="not_yet").exists()


def test_the_self_assessment_form_saves_the_staff_member_s_own_ratings(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff, self_assessment=True)
    client.force_login(staff)
    url = reverse("appraisal_self_assessment", args=[appraisal.pk])
    sheet = appraisal_sheet(appraisal)
    data = {"revision": appraisal.revision, "self_assessment_comments": "A steady year"}
    data.update({f"rating-{i}": "partly" for i in sheet.indicator_ids})
    data.update({f"evidence-{i}": "" for i in sheet.indicator_ids})
    response = client.post(url, {**data, "then": "record"})
    assert response.status_code == 302 and response.url == reverse("appraisal", args=[appraisal.pk]) + "#actions"
    assert set(
        IndicatorRating.objects.filter(scored_competency__appraisal=appraisal).values_list("self_rating", "rating")
    ) == {("partly", "")}
    assert reload(appraisal).self_assessment_comments == "A steady year"
    client.force_login(manager)
    assert client.get(url).status_code == 403


# --- no lost work ---------------------------------------------------------------------------------


def test_a_save_after_the_session_expired_keeps_the_input_through_the_login(hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    browser = Client(headers={"Origin": SITE})  # a browser says which site a form was sent from
    browser.login(username="manager", password=PASSWORD)
    data = form_data(
        appraisal,
        evidence="Typed before the session expired",
        objectives="Objectives typed late",
        kept_for=page_field(browser, review_url(appraisal), "kept_for"),
    )
    Session.objects.all().delete()  # the session expires on the server
    response = browser.post(review_url(appraisal), data)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert reload(appraisal).revision == 1  # nothing applied without a login
    response = browser.post(response.url, {"username": "manager", "password": PASSWORD}, follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == review_url(appraisal)
    assert "You were signed out before your changes were saved" in page
    assert "Typed before the session expired" in page and "Objectives typed late" in page
    # Saved only when the user presses Save on the restored page.
    restored = {key: value for key, value in data.items()}
    response = browser.post(review_url(appraisal), restored)
    assert response.status_code == 302
    assert reload(appraisal).objectives == "Objectives typed late"
    # The input is kept once only.
    assert "You were signed out" not in browser.get(review_url(appraisal)).content.decode()


def test_a_save_from_a_page_with_a_stale_csrf_token_keeps_the_input(hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    browser = Client(enforce_csrf_checks=True, headers={"Origin": SITE})
    browser.login(username="manager", password=PASSWORD)
    page = browser.get(review_url(appraisal)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    kept_for = re.search(r'name="kept_for" value="([^"]+)"', page).group(1)
    # Meanwhile, in another tab, the user logged out and in again: the token rotates.
    browser.logout()
    browser.login(username="manager", password=PASSWORD)
    data = form_data(appraisal, evidence="Typed in the old tab", csrfmiddlewaretoken=token, kept_for=kept_for)
    response = browser.post(review_url(appraisal), data)
    assert response.status_code == 302 and response.url == review_url(appraisal)
    assert not IndicatorRating.objects.filter(scored_competency__appraisal=appraisal).exists()  # not applied
    page = browser.get(review_url(appraisal)).content.decode()
    assert "This page had expired before your changes were saved" in page
    assert page.count("Typed in the old tab") == len(appraisal_sheet(appraisal).indicator_ids)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = browser.post(review_url(appraisal), {**data, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert IndicatorRating.objects.filter(
        scored_competency__appraisal=appraisal, evidence="Typed in the old tab"
    ).exists()


def test_a_stale_token_on_another_form_gets_the_ordinary_refusal(hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    browser = Client(enforce_csrf_checks=True)
    browser.login(username="manager", password=PASSWORD)
    response = browser.post(
        reverse("appraisal_share", args=[appraisal.pk]), {"csrfmiddlewaretoken": "stale", "revision": 1}
    )
    assert response.status_code == 403
    assert reload(appraisal).state == State.MANAGER_REVIEW


def test_the_second_of_two_saves_is_told_and_keeps_its_input(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    client.force_login(manager)
    first = form_data(appraisal, rating="partly", objectives="From the first tab")
    second = form_data(appraisal, rating="consistently", objectives="From the second tab")
    assert client.post(review_url(appraisal), first).status_code == 302
    response = client.post(review_url(appraisal), second)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Not saved: someone else saved first" in page
    assert "From the second tab" in page  # their input is kept
    assert "Saved now: <strong>Partly</strong>" in page  # and what is saved is shown beside it
    appraisal = reload(appraisal)
    assert appraisal.objectives == "From the first tab"
    assert set(
        IndicatorRating.objects.filter(scored_competency__appraisal=appraisal).values_list("rating", flat=True)
    ) == {"partly"}
    # Saving again from the conflict page is a deliberate choice, and applies.
    revision = re.search(r'name="revision" value="(\d+)"', page).group(1)
    assert client.post(review_url(appraisal), {**second, "revision": revision}).status_code == 302
    assert reload(appraisal).objectives == "From the second tab"


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_from_two_connections_apply_exactly_one(framework_loaded):
    hr = make_person("hr", role=None, hr=True)
    manager = make_person("manager", role="senior-service-coordinator-afeo")
    staff = make_person("staff", manager=manager)
    appraisal = open_appraisal(hr, staff)
    revision = appraisal.revision
    barrier = threading.Barrier(2)
    outcomes = []

    def save(objectives):
        try:
            barrier.wait(timeout=10)
            scoring.save_review(
                by=fresh(manager),
                appraisal=reload(appraisal),
                revision=revision,
                ratings={},
                overrides={},
                measures={},
                meeting_date=None,
                objectives=objectives,
                development_plan="",
                manager_comments="",
            )
            outcomes.append(("saved", objectives))
        except StaleRecord:
            outcomes.append(("stale", objectives))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            outcomes.append(("error", repr(error)))
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(text,)) for text in ("Thread one", "Thread two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(kind for kind, _ in outcomes) == ["saved", "stale"], outcomes
    winner = next(text for kind, text in outcomes if kind == "saved")
    appraisal = reload(appraisal)
    assert (appraisal.objectives, appraisal.revision) == (winner, revision + 1)


# --- the record page ------------------------------------------------------------------------------


def test_the_person_sees_no_scores_until_the_record_is_shared(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    rate(appraisal, manager, evidence="Manager's private draft note")
    client.force_login(staff)
    page = client.get(reverse("appraisal", args=[appraisal.pk])).content.decode()
    assert "being prepared" in page and "Manager&#x27;s private draft note" not in page
    assert client.get(reverse("appraisal_pdf", args=[appraisal.pk])).status_code == 403
    workflow.share(by=fresh(manager), appraisal=reload(appraisal))
    page = client.get(reverse("appraisal", args=[appraisal.pk])).content.decode()
    assert "Manager&#x27;s private draft note" in page and "Sign off your appraisal" in page


def test_the_record_is_visible_up_the_line_and_to_hr_and_nobody_else(
    client, hr, manager, staff, other_manager, other_staff
):
    head = make_person("head", role=None)
    StaffMember.objects.filter(user=manager).update(
        line_manager=head.staff_member, line_manager_since=datetime.date(2024, 1, 1)
    )
    appraisal = open_appraisal(hr, staff)
    url = reverse("appraisal", args=[appraisal.pk])
    for user, status in (
        (staff, 200),
        (manager, 200),
        (head, 200),
        (hr, 200),
        (other_manager, 404),
        (other_staff, 404),
    ):
        client.force_login(user)
        assert client.get(url).status_code == status, user.username
    client.logout()
    assert client.get(url).status_code == 302


def test_signing_off_through_the_page_records_disagreement(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    rate(appraisal, manager)
    workflow.share(by=fresh(manager), appraisal=reload(appraisal))
    client.force_login(staff)
    url = reverse("appraisal_sign_off", args=[appraisal.pk])
    response = client.post(url, {"agrees": "no", "comments": "", "revision": reload(appraisal).revision})
    assert response.status_code == 400 and "Say what you disagree with" in response.content.decode()
    response = client.post(
        url, {"agrees": "no", "comments": "Level too low", "revision": reload(appraisal).revision, "confirmed": "1"}
    )
    assert response.status_code == 302
    appraisal = reload(appraisal)
    assert (appraisal.state, appraisal.staff_agrees, appraisal.staff_comments) == (
        State.AWAITING_COUNTERSIGN,
        False,
        "Level too low",
    )


# --- outcomes export ------------------------------------------------------------------------------


def test_the_outcomes_csv_has_one_row_per_appraisal_and_competency(client, hr, manager, staff, other_staff):
    appraisal = open_appraisal(hr, staff)
    competencies = list(appraisal.competencies.all())
    first = competencies[0]
    rate(appraisal, manager, per_competency={first.name: lambda number: "not_yet"})
    other = Appraisal.objects.get(cycle=appraisal.cycle, staff_member__user=other_staff)
    client.force_login(hr)
    response = client.get("/reports/outcomes.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == OUTCOME_COLUMNS
    body = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert len(body) == len(competencies) + other.competencies.count()
    mine = [row for row in body if row["username"] == "staff"]
    below = next(row for row in mine if row["competency"] == first.name)
    assert below == {
        "appraisal_id": str(appraisal.pk),
        "username": "staff",
        "person": "Staff Example",
        "role_profile": appraisal.role_version.title,
        "cycle": "Annual appraisal 2026",
        "cycle_end": "2026-03-31",
        "state": "manager_review",
        "competency": first.name,
        "entry_level": str(first.entry_level),
        "desired_level": str(first.entry_level + 1),
        "exceptional_level": str(first.entry_level + 2),
        "derived_level": str(first.entry_level - 1),
        "achieved_level": str(first.entry_level - 1),
    }
    assert all(row["derived_level"] == row["exceptional_level"] for row in mine if row["competency"] != first.name)
    unscored = [row for row in body if row["username"] == "other_staff"]
    assert unscored and all(row["derived_level"] == "" and row["achieved_level"] == "" for row in unscored)


def test_the_outcomes_csv_is_for_hr_admins_only(client, hr, manager, staff):
    client.force_login(manager)
    assert client.get("/reports/outcomes.csv").status_code == 403
    client.logout()
    assert client.get("/reports/outcomes.csv").status_code == 302


def test_the_cycle_pages_let_hr_create_open_and_follow_a_cycle(client, hr, manager, staff):
    make_person("no_role", role=None, manager=manager)
    client.force_login(hr)
    response = client.post(
        reverse("cycle_create"),
        {
            "name": "Annual appraisal 2026",
            "period_start": "2025-04-01",
            "period_end": "2026-03-31",
            "due_on": "2026-06-30",
            "self_assessment": "on",
        },
    )
    assert response.status_code == 302
    cycle_url = response.url
    confirmation = client.post(cycle_url + "open/")  # first a confirmation page; nothing is opened yet
    assert confirmation.status_code == 200 and "This creates 1 appraisal," in confirmation.content.decode()
    with TestCase.captureOnCommitCallbacks(execute=True):  # the opening job runs at once here (tests/conftest.py)
        response = client.post(cycle_url + "open/", {"confirmed": "1"})
    page = client.get(response.url).content.decode()
    assert "Done." in page and "1 appraisal created." in page
    assert "No_Role Example" in page or "No Role Example" in page
    assert "holds no role profile" in page
    page = client.get(cycle_url).content.decode()  # the cycle's page lists them too, until fixed
    assert "holds no role profile" in page and "Open again for people without an appraisal" in page
    assert Appraisal.objects.filter(cycle__name="Annual appraisal 2026", state=State.SELF_ASSESSMENT).count() == 1
    client.force_login(manager)
    assert client.get(cycle_url).status_code == 403
    assert client.post(cycle_url + "open/").status_code == 403


def test_a_cycle_form_with_bad_dates_says_so_next_to_the_field(client, hr):
    client.force_login(hr)
    response = client.post(
        reverse("cycle_create"),
        {"name": "Bad", "period_start": "2026-04-01", "period_end": "2025-03-31", "due_on": "2026-06-30"},
    )
    assert response.status_code == 200
    assert "The period must end after it starts." in response.content.decode()
    assert not AppraisalCycle.objects.exists()


def test_hr_reopens_a_completed_record_through_its_page_with_a_reason(client, hr, manager, staff):
    appraisal = complete(open_appraisal(hr, staff), manager=manager, staff=staff)
    url = reverse("appraisal_reopen", args=[appraisal.pk])
    client.force_login(manager)
    assert client.get(url).status_code == 403
    client.force_login(hr)
    response = client.post(url, {"reason": "", "revision": appraisal.revision})
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert reload(appraisal).state == State.COMPLETED
    response = client.post(url, {"reason": "Wrong competency scored", "revision": appraisal.revision})
    assert response.status_code == 302 and response.url == reverse("appraisal", args=[appraisal.pk])
    assert reload(appraisal).state == State.MANAGER_REVIEW
    # The same page again, from the old revision: the record has moved on, and nothing changes.
    response = client.post(url, {"reason": "Again", "revision": appraisal.revision}, follow=True)
    assert "can no longer be done" in response.content.decode()
    assert reload(appraisal).events.filter(action="reopen").count() == 1


def test_hr_changes_the_appraiser_through_the_page(client, hr, manager, staff, other_manager):
    appraisal = open_appraisal(hr, staff)
    url = reverse("appraisal_reassign", args=[appraisal.pk])
    client.force_login(hr)
    response = client.post(url, {"appraiser": manager.staff_member.pk, "reason": "Test"})
    assert response.status_code == 200 and "is already the appraiser." in response.content.decode()
    assert reload(appraisal).appraiser == manager.staff_member
    response = client.post(url, {"appraiser": other_manager.staff_member.pk, "reason": "Manager on leave"}, follow=True)
    assert "is now the appraiser" in response.content.decode()
    assert reload(appraisal).appraiser == other_manager.staff_member


def test_a_record_printed_from_the_browser_leaves_out_its_actions_and_keeps_headings_with_what_follows(
    client, hr, manager, staff
):
    """The print stylesheet's rules for a record (e2e/test_journeys.py prints one in Chromium and reads the PDF)."""
    from pathlib import Path

    from django.contrib.staticfiles import finders

    appraisal = open_appraisal(hr, staff)
    client.force_login(manager)
    page = client.get(reverse("appraisal", args=[appraisal.pk])).content.decode()
    assert '<section id="actions"' in page and "What you can do" in page
    css = Path(finders.find("css/app.css")).read_text(encoding="utf-8")
    start = css.index("@media print {")
    printed = re.sub(r"/\*.*?\*/", "", css[start + len("@media print {") : css.index("\n}\n", start)], flags=re.S)
    rules = {selectors.strip(): body.strip() for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", printed)}
    assert "display: none" in rules["#actions, .sticky-actions"]
    assert "break-after: avoid" in rules["h1, h2, h3, h4, h5, h6, caption"]
    assert "break-inside: avoid" in rules["tr, dl, .alert, .card"]
    assert "table-header-group" in rules["thead"]
