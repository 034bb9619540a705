"""Nothing is ever half-saved: a fault at any write of a user's action leaves the database as it was.

Each action is run once to count its writes (INSERT, UPDATE, DELETE) and undone; then again with a
fault injected at its first write, at a middle one and at its last, as a lost connection or a full
disk would. Every time, every table of the app must be exactly as before.
"""

import datetime
import re

import pytest
from django.core import mail
from django.db import OperationalError, connection, transaction

from appraisal.models import Appraisal
from appraisal.selectors import appraisal_sheet
from appraisal.services import cycles, scoring, workflow
from competencies import services as framework
from competencies.models import Level
from roles import services as role_profiles
from roles.models import RoleProfile, RoleProfileVersion
from staff import imports as staff_imports
from tests.appraisals import fresh, make_cycle, open_appraisal, rate, reload
from tests.conftest import make_person
from tests.snapshots import snapshot
from tests.test_appraisal_pages import form_data, review_url

pytestmark = pytest.mark.django_db

WRITE_STATEMENTS = ("INSERT", "UPDATE", "DELETE")


class InjectedFault(OperationalError):
    """The database failing mid-action, as a dropped connection or a full disk would."""


class WriteFault:
    """A `connection.execute_wrapper` that lets the first `allowed` writes through and fails the next.

    With `allowed=None` it only records the writes.
    """

    def __init__(self, allowed: int | None = None):
        self.allowed = allowed
        self.writes: list[str] = []
        self.tripped = False

    def __call__(self, execute, sql, params, many, context):
        if sql.lstrip().split(None, 1)[0].upper() in WRITE_STATEMENTS:
            if self.allowed is not None and len(self.writes) >= self.allowed:
                self.tripped = True
                raise InjectedFault(f"Injected fault at write {len(self.writes) + 1}: {sql[:100]}")
            self.writes.append(sql)
        return execute(sql, params, many, context)


class _Undo(Exception):
    pass


def count_writes(action) -> list[str]:
    """Run `action` unfaulted, check that it changes the database, undo it; return its writes."""
    before = snapshot()
    counter = WriteFault()
    try:
        with transaction.atomic():
            with connection.execute_wrapper(counter):
                action()
            assert snapshot() != before, "the action changed nothing, so it cannot show anything half-saved"
            raise _Undo
    except _Undo:
        pass
    assert snapshot() == before
    return counter.writes


def fault_points(writes: list[str]) -> list[int]:
    """How many writes to let through: none (fail the first), half of them, all but the last."""
    assert len(writes) >= 2, writes
    return sorted({0, len(writes) // 2, len(writes) - 1})


def assert_all_or_nothing(action) -> list[str]:
    """`action` (which reloads whatever it acts on) fails as a whole at its first, a middle and its last write."""
    writes = count_writes(action)
    before = snapshot()
    for allowed in fault_points(writes):
        fault = WriteFault(allowed)
        with connection.execute_wrapper(fault), pytest.raises(InjectedFault):
            action()
        assert fault.tripped
        # Outside a transaction of its own, the writes before the fault would stay; here, inside the
        # test's transaction, Django marks that transaction as broken instead.
        assert not connection.needs_rollback, (
            f"a fault at write {allowed + 1} of {len(writes)} found no transaction to undo the action"
        )
        after = snapshot()
        changed = [label for label in before if before[label] != after[label]]
        assert changed == [], f"a fault at write {allowed + 1} of {len(writes)} left changes in {changed}"
    return writes


# --- appraisals -----------------------------------------------------------------------------------


def review_with_everything(appraisal, *, rating: str, text: str) -> dict:
    """Every indicator rated, two competencies overridden, every performance measure commented on."""
    sheet = appraisal_sheet(appraisal)
    overridden = sheet.competencies[:2]
    return {
        "ratings": {indicator_id: (rating, f"{text} evidence") for indicator_id in sheet.indicator_ids},
        "overrides": {row.scored.competency_id: (row.scored.entry_level, f"{text} reason") for row in overridden},
        "measures": {item["measure"].pk: f"{text} measure" for item in sheet.measures},
        "meeting_date": datetime.date(2026, 4, 15),
        "objectives": f"{text} objectives",
        "development_plan": f"{text} plan",
        "manager_comments": f"{text} comments",
    }


def save_review_action(appraisal, manager, *, rating: str, text: str):
    def action():
        record = reload(appraisal)
        scoring.save_review(
            by=fresh(manager),
            appraisal=record,
            revision=record.revision,
            **review_with_everything(record, rating=rating, text=text),
        )

    return action


def test_a_first_review_with_every_indicator_rated_is_saved_whole_or_not_at_all(hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    assert len(appraisal_sheet(reload(appraisal)).indicator_ids) > 10
    writes = assert_all_or_nothing(save_review_action(appraisal, manager, rating="consistently", text="First"))
    assert any(sql.lstrip().upper().startswith("INSERT") for sql in writes)
    assert reload(appraisal).revision == 1


def test_changing_every_rating_of_a_saved_review_is_saved_whole_or_not_at_all(hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    rate(appraisal, manager, rating="partly", evidence="Earlier")
    saved = reload(appraisal)
    writes = assert_all_or_nothing(save_review_action(appraisal, manager, rating="consistently", text="Changed"))
    assert sum(sql.lstrip().upper().startswith("UPDATE") for sql in writes) >= 3
    assert reload(appraisal).revision == saved.revision


def test_sharing_a_record_is_done_whole_or_not_at_all(hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    rate(appraisal, manager)
    assert_all_or_nothing(lambda: workflow.share(by=fresh(manager), appraisal=reload(appraisal)))
    assert reload(appraisal).state == Appraisal.State.MANAGER_REVIEW


def test_opening_a_cycle_for_several_staff_is_done_whole_or_not_at_all(
    hr, manager, staff, other_manager, other_staff, django_capture_on_commit_callbacks
):
    make_person("third_staff", role="housing-worker", manager=manager)
    for appraiser in (manager, other_manager):
        appraiser.email = f"{appraiser.username}@example.org"
        appraiser.save()
    cycle = make_cycle(hr)

    def action():
        result = cycles.open_cycle(by=fresh(hr), cycle=cycle)
        assert len(result.created) >= 3

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert_all_or_nothing(action)
    assert not Appraisal.objects.filter(cycle=cycle).exists()
    assert callbacks == [] and mail.outbox == []  # nobody is told of appraisals that do not exist
    with django_capture_on_commit_callbacks(execute=True):
        action()  # and the same opening, unfaulted, does tell them
    assert Appraisal.objects.filter(cycle=cycle).count() >= 3
    assert sorted(message.to[0] for message in mail.outbox) == ["manager@example.org", "other_manager@example.org"]


# --- staff, role profiles and the framework -------------------------------------------------------


def test_a_staff_import_creates_everyone_or_nobody(hr, manager):
    manager.email = "morgan.ellis@example.org"
    manager.save()
    csv_text = (
        "name,email,role_profile,line_manager,start_date\n"
        "Kofi Mensah,kofi.mensah@example.org,housing-worker,alex.de.souza@example.org,2025-09-01\n"
        "Alex de Souza,alex.de.souza@example.org,night senior support worker,morgan.ellis@example.org,2024-04-01\n"
        "Jess Hill,jess.hill@example.org,recovery-coach-somerset,,2025-10-13\n"
    )
    assert staff_imports.preview_import(csv_text).is_valid
    writes = assert_all_or_nothing(lambda: staff_imports.import_staff(by=fresh(hr), csv_text=csv_text))
    # Each table is written once for all three: logins, staff records, both histories, audit entries.
    tables = {re.match(r'(?:INSERT INTO|UPDATE) "(\w+)"', sql.lstrip()).group(1) for sql in writes}
    assert tables == {
        "auth_user",
        "roles_staffmember",
        "roles_roleassignment",
        "roles_linemanagerassignment",
        "appraisal_auditentry",
    }
    assert not type(manager).objects.filter(email="kofi.mensah@example.org").exists()


def test_starting_and_publishing_a_role_profile_draft_is_done_whole_or_not_at_all(hr):
    profile = RoleProfile.objects.get(slug="housing-worker")
    current = profile.current_version
    assert_all_or_nothing(
        lambda: role_profiles.start_draft(by=fresh(hr), role_profile=RoleProfile.objects.get(pk=profile.pk))
    )
    draft = role_profiles.start_draft(by=fresh(hr), role_profile=profile)
    role_profiles.update_details(by=fresh(hr), version=draft, purpose="A reworded purpose.")

    def publish():
        version = RoleProfileVersion.objects.get(pk=draft.pk)
        role_profiles.publish(
            by=fresh(hr), version=version, note="A window moved.", document_date=datetime.date(2026, 1, 5)
        )

    assert_all_or_nothing(publish)
    assert RoleProfile.objects.get(pk=profile.pk).current_version == current
    assert RoleProfileVersion.objects.get(pk=draft.pk).status == RoleProfileVersion.Status.DRAFT


def test_rewording_a_level_s_indicators_is_done_whole_or_not_at_all(hr):
    level = next(
        level
        for level in Level.objects.order_by("pk")
        if not level.is_sustained_rule and level.indicators.current().count() >= 3
    )
    current = list(level.indicators.current().order_by("position"))
    items = [{"id": current[0].pk, "text": current[0].text + " (reworded)", "retire": False}]
    items += [{"id": indicator.pk, "text": indicator.text, "retire": False} for indicator in current[1:-1]]
    items += [
        {"id": current[-1].pk, "text": current[-1].text, "retire": True},
        {"id": None, "text": "A new indicator.", "retire": False},
    ]
    writes = assert_all_or_nothing(
        lambda: framework.update_indicators(by=fresh(hr), level=Level.objects.get(pk=level.pk), items=items)
    )
    assert len(writes) >= 5


# --- through the web ------------------------------------------------------------------------------


def test_a_review_form_save_that_fails_midway_shows_an_error_and_saves_nothing(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    client.force_login(manager)
    client.raise_request_exception = False
    data = form_data(
        appraisal, rating="partly", evidence="Typed evidence", objectives="Typed objectives", manager_comments="Typed"
    )
    url = review_url(appraisal)

    def post():
        response = client.post(url, data)
        assert response.status_code == 302  # saved

    writes = count_writes(post)
    before = snapshot()
    for allowed in fault_points(writes):
        fault = WriteFault(allowed)
        with connection.execute_wrapper(fault):
            response = client.post(url, data)
        assert fault.tripped
        assert response.status_code == 500
        assert not connection.needs_rollback
        assert snapshot() == before, f"a fault at write {allowed + 1} of {len(writes)} left changes"
    # The same form, with the database working again, saves.
    assert client.post(url, data).status_code == 302
    assert reload(appraisal).objectives == "Typed objectives"
