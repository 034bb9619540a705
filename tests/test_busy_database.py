"""A save that meets a locked or busy database: nothing half-saved, what was typed is kept, and the
page says to try again; never a 500. Two HR admins changing line managers at once: a clear message
for the one who comes second, never a deadlock.

The lock is real: another connection holds SQLite's write lock (or, on PostgreSQL, the row), and the
request's connection is told to wait only a moment for it.
"""

import datetime
import re
import sqlite3
import threading
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from appraisal.models import Appraisal
from appraisal.services import cycles
from staff import records as staff_records
from staff.models import StaffMember
from tests.appraisals import fresh, make_cycle, reload
from tests.conftest import PASSWORD, make_person
from tests.snapshots import snapshot
from tests.test_appraisal_pages import form_data, review_url

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def database_held(table: str, pk: int):
    """Another connection holds the lock a write to `table` row `pk` needs, and this connection waits
    for a lock only 0.2 s (instead of the 20 s a server waits)."""
    if connection.vendor == "sqlite":
        other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # SQLite's write lock is the whole database's
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout = 200")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
            connection.close()  # the next connection gets the normal timeout back
    else:
        import psycopg2

        settings = connection.settings_dict
        other = psycopg2.connect(
            dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"]
        )
        other.cursor().execute(f'SELECT 1 FROM "{table}" WHERE id = %s FOR UPDATE', [pk])  # noqa: S608 - the model's table; the id is a parameter
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        try:
            yield
        finally:
            other.rollback()
            other.close()
            connection.close()


def setup_review():
    hr = make_person("hr", role=None, hr=True)
    manager = make_person("manager", role="senior-service-coordinator-afeo")
    staff = make_person("staff", manager=manager)
    cycle = make_cycle(hr)
    cycles.open_cycle(by=fresh(hr), cycle=cycle)
    return hr, manager, staff, Appraisal.objects.get(cycle=cycle, staff_member__user=staff)


def test_a_review_saved_while_the_database_is_busy_keeps_the_input_and_says_try_again(framework_loaded):
    _, manager, _, appraisal = setup_review()
    browser = Client(raise_request_exception=False)
    browser.force_login(manager)
    data = form_data(appraisal, evidence="Typed while someone imported", objectives="Objectives typed while busy")
    before = snapshot()
    with database_held("appraisal_appraisal", appraisal.pk):
        response = browser.post(review_url(appraisal), data)
    assert response.status_code == 503
    assert snapshot() == before  # nothing half-saved
    page = response.content.decode()
    assert "busy" in page and "try again" in page.lower()
    # What was typed is in the page, ready to be sent again.
    assert "Objectives typed while busy" in page and "Typed while someone imported" in page
    assert response["Retry-After"]
    again = {name: value for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)}
    assert again["objectives"] == "Objectives typed while busy"
    response = browser.post(review_url(appraisal), again)
    assert response.status_code == 302
    assert reload(appraisal).objectives == "Objectives typed while busy"


def test_a_login_while_the_database_is_busy_is_asked_to_try_again_and_never_echoes_the_password(framework_loaded):
    user = make_person("staff")
    browser = Client(raise_request_exception=False)
    with database_held("auth_user", user.pk):
        response = browser.post(reverse("login"), {"username": "staff", "password": PASSWORD})
    assert response.status_code == 503
    page = response.content.decode()
    assert "try again" in page.lower()
    assert PASSWORD not in page


def test_two_hr_admins_changing_line_managers_at_once_give_one_change_and_one_clear_refusal(
    framework_loaded, monkeypatch
):
    """Each moves one person under the other: together they would make a loop. Both start at once,
    each having locked their own person's record before the other finishes."""
    make_person("hr", role=None, hr=True)
    make_person("hr2", role=None, hr=True)
    head = make_person("head", role=None)
    first = make_person("first", role="senior-service-coordinator-afeo", manager=head)
    second = make_person("second", role="senior-service-coordinator-afeo", manager=head)
    barrier = threading.Barrier(2)
    lock = staff_records.lock_member

    def lock_then_wait(member, *others):
        lock(member, *others)
        try:
            barrier.wait(timeout=2)  # both have their record locked before either goes on
        except threading.BrokenBarrierError:
            pass  # the other was made to wait for this one: nothing to meet

    monkeypatch.setattr(staff_records, "lock_member", lock_then_wait)
    results = {}

    def change(hr_name, member, manager):
        browser = Client(raise_request_exception=False)
        browser.login(username=hr_name, password=PASSWORD)
        response = browser.post(
            reverse("staff_assign_manager", args=[member.staff_member.pk]),
            {"manager": manager.staff_member.pk, "since": datetime.date.today().isoformat()},
        )
        results[hr_name] = (response.status_code, response.content.decode())
        connection.close()

    threads = [
        threading.Thread(target=change, args=("hr", first, second)),
        threading.Thread(target=change, args=("hr2", second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    statuses = sorted(status for status, _ in results.values())
    assert statuses == [200, 302], {name: status for name, (status, _) in results.items()}
    refused = next(page for status, page in results.values() if status == 200)
    assert "line manager" in refused and "loop" in refused
    managers = dict(
        StaffMember.objects.filter(pk__in=[first.staff_member.pk, second.staff_member.pk]).values_list(
            "pk", "line_manager"
        )
    )
    one, other, top = first.staff_member.pk, second.staff_member.pk, head.staff_member.pk
    assert managers in ({one: other, other: top}, {one: top, other: one}), "exactly one change, and no loop"


def test_a_request_waits_for_a_lock_a_bounded_time(framework_loaded):
    """A lock held by someone else must not hold a request until the server's worker is killed (30 s):
    after a bounded wait the save fails as busy, and the person gets the page that keeps their input."""
    connection.close()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW lock_timeout")
            assert cursor.fetchone()[0] == "10s"
        else:
            cursor.execute("PRAGMA busy_timeout")
            assert cursor.fetchone()[0] == 20_000
