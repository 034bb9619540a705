"""Many people saving at the same moment: every save lands, and nobody is told "database is locked".

Each thread is one manager with their own connection, saving their own report's appraisal several
times, all started together. On SQLite this needs WAL, a busy timeout and transactions that take the
write lock when they begin (see `config.env`); PostgreSQL must behave the same.
"""

import sqlite3
import threading

import pytest
from django.db import connection

from appraisal.models import Appraisal, IndicatorRating
from appraisal.selectors import appraisal_sheet
from appraisal.services import cycles, scoring
from audit.models import AuditEntry
from tests.appraisals import fresh, make_cycle, reload
from tests.conftest import make_person

MANAGERS = 10
SAVES_EACH = 4


def rating_of(save_number: int) -> str:
    return ("partly", "consistently")[save_number % 2]


def review_inputs(appraisal, save_number: int) -> dict:
    """A full review whose every rating and text differs from the previous save's, so each save writes."""
    sheet = appraisal_sheet(appraisal)
    rating = rating_of(save_number)
    return {
        "ratings": {
            indicator_id: (rating, f"Evidence from save {save_number}") for indicator_id in sheet.indicator_ids
        },
        "overrides": {},
        "measures": {item["measure"].pk: f"Measure comment {save_number}" for item in sheet.measures},
        "meeting_date": None,
        "objectives": f"Objectives, save {save_number}",
        "development_plan": "",
        "manager_comments": "",
    }


@pytest.mark.django_db(transaction=True)
def test_ten_managers_saving_at_once_all_succeed(framework_loaded):
    hr = make_person("hr", role=None, hr=True)
    pairs = []
    for number in range(MANAGERS):
        manager = make_person(f"manager_{number}", role="senior-service-coordinator-afeo")
        pairs.append((manager, make_person(f"staff_{number}", manager=manager)))
    cycle = make_cycle(hr)
    cycles.open_cycle(by=fresh(hr), cycle=cycle)
    appraisals = {staff.pk: Appraisal.objects.get(cycle=cycle, staff_member__user=staff) for _, staff in pairs}
    indicators = {pk: len(appraisal_sheet(reload(appraisal)).indicator_ids) for pk, appraisal in appraisals.items()}
    assert all(indicators.values())

    barrier = threading.Barrier(MANAGERS)
    failures, saves = [], []

    def work(manager, staff):
        try:
            barrier.wait(timeout=20)
            for save_number in range(1, SAVES_EACH + 1):
                appraisal = reload(appraisals[staff.pk])
                scoring.save_review(
                    by=fresh(manager),
                    appraisal=appraisal,
                    revision=appraisal.revision,
                    **review_inputs(appraisal, save_number),
                )
                saves.append(staff.pk)
        except Exception as error:  # noqa: BLE001 - every failure is reported by the assertion below
            failures.append(f"{manager.username}: {error!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []  # in particular no OperationalError "database is locked"
    assert len(saves) == MANAGERS * SAVES_EACH

    # Every write landed: each record is at its last save, with one audit entry per save.
    for staff_pk, appraisal in appraisals.items():
        saved = reload(appraisal)
        assert saved.revision == appraisal.revision + SAVES_EACH
        assert saved.objectives == f"Objectives, save {SAVES_EACH}"
        rows = IndicatorRating.objects.filter(scored_competency__appraisal=saved)
        assert rows.count() == indicators[staff_pk]
        assert set(rows.values_list("rating", "evidence")) == {
            (rating_of(SAVES_EACH), f"Evidence from save {SAVES_EACH}")
        }
        assert AuditEntry.objects.filter(action="save review", object_id=str(saved.pk)).count() == SAVES_EACH

    if connection.vendor == "sqlite":
        # A fresh connection, Django's and a bare one, finds the database in WAL mode.
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"
            cursor.execute("PRAGMA busy_timeout")
            assert cursor.fetchone()[0] == 20_000
        bare = sqlite3.connect(connection.settings_dict["NAME"])
        try:
            assert bare.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            bare.close()
