"""The store that keeps typed input across an expired session or a stale page, under abuse.

It keeps input only for someone entitled to the form (the person the page was shown to), only when
the form was sent from this site's own pages, within bounds (per request, per person, in time), and
a command clears what has expired. Oversized bodies are refused on every POST.
"""

import datetime
import io

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from appraisal.models import IndicatorRating
from staff.models import StaffMember
from tests.appraisals import open_appraisal, reload
from tests.conftest import PASSWORD
from tests.snapshots import snapshot
from tests.test_appraisal_pages import SITE, form_data, page_field, review_url

pytestmark = pytest.mark.django_db

EVIL = "https://evil.example"
KEPT_NOTE = "not yet saved"


def stored_bytes() -> int:
    """How much the sessions table holds, and anything else kept for unsaved input."""
    total = sum(len(data) for data in Session.objects.values_list("session_data", flat=True))
    from django.apps import apps

    for model in apps.get_app_config("appraisal").get_models():
        if model.__name__ == "KeptInput":
            total += sum(len(str(data)) for data in model._default_manager.values_list("data", flat=True))
    return total


def test_anonymous_posts_keep_nothing_and_create_no_sessions(hr, manager, staff):
    appraisal = open_appraisal(hr, staff, self_assessment=True)
    big = {f"evidence-{number}": "x" * 20_000 for number in range(10)}  # about 200 kB a request
    anonymous = Client()
    before_sessions, before_bytes = Session.objects.count(), stored_bytes()
    for url in (
        reverse("appraisal_self_assessment", args=[99999]),
        reverse("appraisal_self_assessment", args=[appraisal.pk]),
        review_url(appraisal),
    ):
        for _ in range(5):
            response = anonymous.post(url, big, HTTP_ORIGIN=SITE)
            assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert Session.objects.count() == before_sessions
    assert stored_bytes() == before_bytes


def test_oversized_bodies_are_refused_on_every_post(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    client.force_login(manager)
    hr_client = Client()
    hr_client.force_login(hr)
    before = snapshot()
    too_big = {"objectives": "x" * 3_000_000}
    for url in (
        review_url(appraisal),
        reverse("login"),
        reverse("staff_import"),
        reverse("appraisal_share", args=[appraisal.pk]),
    ):
        response = client.post(url, too_big, HTTP_ORIGIN=SITE)
        assert response.status_code == 413, url
        assert "too large" in response.content.decode()
    upload = io.BytesIO(b"name,email,role_profile,line_manager,start_date\n" + b"x" * 3_000_000)
    upload.name = "staff.csv"
    assert hr_client.post(reverse("staff_import"), {"file": upload}).status_code == 413
    assert snapshot() == before


def test_a_cross_site_post_cannot_prefill_a_managers_scoring_form(hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    attacker = Client()  # the victim's browser, posting from another site without its cookies
    ratings = form_data(
        appraisal, rating="not_yet", evidence="Planted by another site", objectives="Planted objectives"
    )
    response = attacker.post(review_url(appraisal), ratings, HTTP_ORIGIN=EVIL)
    assert response.status_code in (302, 403)
    manager_browser = attacker  # the same browser: the manager now logs in
    response = manager_browser.post(
        reverse("login") + f"?next={review_url(appraisal)}", {"username": "manager", "password": PASSWORD}, follow=True
    )
    page = response.content.decode()
    assert "Planted" not in page and KEPT_NOTE not in page
    assert not IndicatorRating.objects.filter(scored_competency__appraisal=appraisal).exists()


def test_a_cross_site_post_that_fails_the_csrf_check_keeps_nothing(hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    browser = Client(enforce_csrf_checks=True)
    browser.login(username="manager", password=PASSWORD)
    token = page_field(browser, review_url(appraisal), "kept_for")
    data = form_data(appraisal, evidence="Planted by another site", kept_for=token)
    response = browser.post(review_url(appraisal), data, HTTP_ORIGIN=EVIL)  # no CSRF token: refused
    assert response.status_code == 403
    page = browser.get(review_url(appraisal)).content.decode()
    assert "Planted" not in page and KEPT_NOTE not in page


def test_a_member_of_staff_cannot_plant_input_in_the_scoring_form_of_their_own_appraisal(hr, manager, staff):
    appraisal = open_appraisal(hr, staff, self_assessment=True)
    own = Client()
    own.login(username="staff", password=PASSWORD)
    their_token = page_field(own, reverse("appraisal_self_assessment", args=[appraisal.pk]), "kept_for")
    # Sent from this site but with the staff member's own token, to the manager's page, as if expired.
    victim = Client()
    victim.post(
        review_url(appraisal),
        form_data(appraisal, evidence="Planted by the person", kept_for=their_token),
        HTTP_ORIGIN=SITE,
    )
    response = victim.post(
        reverse("login") + f"?next={review_url(appraisal)}", {"username": "manager", "password": PASSWORD}, follow=True
    )
    assert "Planted by the person" not in response.content.decode()


def test_input_is_kept_for_the_person_the_form_was_shown_to_and_only_once(hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    browser = Client()
    browser.login(username="manager", password=PASSWORD)
    token = page_field(browser, review_url(appraisal), "kept_for")
    Session.objects.all().delete()  # the session expires on the server
    data = form_data(appraisal, evidence="Typed before the session expired", kept_for=token)
    response = browser.post(review_url(appraisal), data, HTTP_ORIGIN=SITE)
    assert response.status_code == 302
    # Someone else who logs in on this computer does not get it.
    other = browser.post(
        reverse("login") + f"?next={review_url(appraisal)}", {"username": "staff", "password": PASSWORD}, follow=True
    )
    assert "Typed before the session expired" not in other.content.decode()
    browser.logout()
    response = browser.post(
        reverse("login") + f"?next={review_url(appraisal)}", {"username": "manager", "password": PASSWORD}, follow=True
    )
    assert "Typed before the session expired" in response.content.decode()
    assert "Typed before the session expired" not in browser.get(review_url(appraisal)).content.decode()


def test_kept_input_is_bounded_in_size_and_in_time(hr, manager, staff, settings):
    appraisal = open_appraisal(hr, staff)
    browser = Client()
    browser.login(username="manager", password=PASSWORD)
    token = page_field(browser, review_url(appraisal), "kept_for")
    Session.objects.all().delete()
    browser.post(review_url(appraisal), form_data(appraisal, evidence="x" * 9_000, kept_for=token), HTTP_ORIGIN=SITE)
    assert stored_bytes() <= 600_000  # at most the per-request bound, whatever was sent
    # Kept input expires.
    from appraisal.models import KeptInput

    KeptInput.objects.update(kept_at=timezone.now() - datetime.timedelta(days=30))
    response = browser.post(
        reverse("login") + f"?next={review_url(appraisal)}", {"username": "manager", "password": PASSWORD}, follow=True
    )
    assert KEPT_NOTE not in response.content.decode()


def test_the_clearing_command_removes_expired_sessions_and_kept_input(hr, manager, staff):
    from appraisal.models import KeptInput

    appraisal = open_appraisal(hr, staff)
    browser = Client()
    browser.login(username="manager", password=PASSWORD)
    token = page_field(browser, review_url(appraisal), "kept_for")
    Session.objects.all().delete()
    browser.post(review_url(appraisal), form_data(appraisal, evidence="Kept", kept_for=token), HTTP_ORIGIN=SITE)
    assert KeptInput.objects.count() == 1
    fresh_session = Client()
    fresh_session.login(username="staff", password=PASSWORD)
    Session.objects.update(expire_date=timezone.now() - datetime.timedelta(minutes=1))
    KeptInput.objects.update(kept_at=timezone.now() - datetime.timedelta(days=30))
    out = io.StringIO()
    call_command("clear_expired", stdout=out)
    assert Session.objects.count() == 0 and KeptInput.objects.count() == 0
    assert "1 expired session" in out.getvalue() and "1 kept form" in out.getvalue()


def test_a_scoring_page_without_kept_input_reads_nothing_more(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    client.force_login(manager)
    client.get(review_url(appraisal))
    with CaptureQueriesContext(connection) as queries:
        client.get(review_url(appraisal))
    assert not any("keptinput" in query["sql"].lower() for query in queries.captured_queries)
    assert reload(appraisal).revision == 1


def test_input_holding_a_nul_is_kept_without_it_on_every_database(hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    browser = Client()
    browser.login(username="manager", password=PASSWORD)
    token = page_field(browser, review_url(appraisal), "kept_for")
    Session.objects.all().delete()
    response = browser.post(
        review_url(appraisal), form_data(appraisal, objectives="Lead\x00 the team", kept_for=token), HTTP_ORIGIN=SITE
    )
    assert response.status_code == 302
    response = browser.post(
        reverse("login") + f"?next={review_url(appraisal)}", {"username": "manager", "password": PASSWORD}, follow=True
    )
    assert "Lead the team" in response.content.decode()


def test_nothing_is_kept_for_someone_who_has_left(hr, manager, staff):
    from appraisal.models import KeptInput

    appraisal = open_appraisal(hr, staff)
    browser = Client()
    browser.login(username="manager", password=PASSWORD)
    token = page_field(browser, review_url(appraisal), "kept_for")
    StaffMember.objects.filter(user=manager).update(left_on=timezone.localdate() - datetime.timedelta(days=1))
    browser.post(
        review_url(appraisal), form_data(appraisal, objectives="After she left", kept_for=token), HTTP_ORIGIN=SITE
    )
    assert not KeptInput.objects.exists()
