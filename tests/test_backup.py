"""A backup made as docs/operations.md says restores every appraisal record, and every PDF, unchanged.

The data is committed (a transactional test), backed up with the documented command for the
database in use while the application's own connection is open, restored into a new, empty
database, and read back through the application.
"""

import datetime
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from appraisal.access import get_appraisal_for
from appraisal.models import Appraisal, AppraisalEvent, IndicatorRating, MeasureReview, ScoredCompetency
from appraisal.pdf import render_appraisal_pdf
from appraisal.services import scoring, workflow
from audit.models import AuditEntry
from roles.pdf import render_role_profile_pdf
from roles.selectors import version_for_page
from tests.appraisals import PROMOTED_TO, SUSTAINED, complete, fresh, make_cycle, promoted_history, reload
from tests.conftest import make_person

OPERATIONS = Path(__file__).resolve().parent.parent / "docs" / "operations.md"

# The commands of docs/operations.md (checked to be there, word for word).
PG_DUMP = "pg_dump --format=custom --no-owner --file="
CREATEDB = "createdb --maintenance-db="
PG_RESTORE = "pg_restore --no-owner --exit-on-error --dbname="
SQLITE_BACKUP = '".timeout 20000" ".backup '
PYTHON_BACKUP = (
    "import sqlite3, sys; source = sqlite3.connect(sys.argv[1], timeout=20); target = sqlite3.connect(sys.argv[2]); "
    "source.backup(target); target.close(); source.close()"
)

RECORD_MODELS = (Appraisal, ScoredCompetency, IndicatorRating, MeasureReview, AppraisalEvent, AuditEntry)
FREE_TEXT = "Kofi’s “care plan” work — naïve café talk\nsecond line, <b>not bold</b> & 100% kept"


def get_user(pk: int):
    """A user loaded afresh, as each request loads it."""
    return get_user_model().objects.get(pk=pk)


def records() -> dict:
    """The appraisal records row by row, then every other table of the app, in primary-key order."""
    rows = {model._meta.label: list(model.objects.order_by("pk").values()) for model in RECORD_MODELS}
    for label in ("audit", "competencies", "roles", "staff", "appraisal", "auth"):
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            rows.setdefault(model._meta.label, list(model._default_manager.order_by("pk").values()))
    return rows


def pdfs(hr_pk: int, appraisal_ids: list[int], slugs: list[str]) -> dict:
    """Each appraisal's PDF as its page serves it to an HR admin, and each role profile's."""
    rendered = {f"appraisal {pk}": render_appraisal_pdf(get_appraisal_for(get_user(hr_pk), pk)) for pk in appraisal_ids}
    rendered.update({f"role profile {slug}": render_role_profile_pdf(version_for_page(slug)) for slug in slugs})
    return rendered


def run(command: list[str], **kwargs) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, **kwargs)
    assert result.returncode == 0, f"{command[0]} failed: {result.stderr or result.stdout}"


# --- PostgreSQL -----------------------------------------------------------------------------------


def postgres_url(settings: dict, name: str) -> str:
    """The DATABASE_URL of database `name` on the server of `settings`."""
    credentials = quote(settings["USER"] or "", safe="")
    if settings["PASSWORD"]:
        credentials += ":" + quote(settings["PASSWORD"], safe="")
    host = settings["HOST"] or ""
    if settings["PORT"]:
        host += f":{settings['PORT']}"
    # quote, not urlencode's default quote_plus: libpq reads "+" in a URL as a plus, not a space.
    query = urlencode(
        {key: value for key, value in settings["OPTIONS"].items() if isinstance(value, str)}, quote_via=quote
    )
    return f"postgresql://{credentials}{'@' if credentials else ''}{host}/{quote(name, safe='')}" + (
        f"?{query}" if query else ""
    )


def postgres_tool(name: str) -> str:
    """The client tool of the server's major version (Debian keeps one per version), else the one on PATH."""
    major = connection.pg_version // 10000  # type: ignore[attr-defined]  # PostgreSQL's connection
    for candidate in (Path(f"/usr/lib/postgresql/{major}/bin/{name}"), shutil.which(name)):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise AssertionError(f"{name} is needed to back up PostgreSQL: install postgresql-client-{major}.")


def backup_and_restore_postgresql(folder: Path) -> tuple[str, Callable[[], None]]:
    """pg_dump the test database, createdb a new one, pg_restore into it; return its name and how to drop it."""
    settings = connection.settings_dict
    live_url = postgres_url(settings, settings["NAME"])
    dump = folder / f"appraisals-{datetime.date.today():%Y-%m-%d}.dump"
    run([postgres_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={dump}", live_url])
    assert dump.stat().st_size > 0
    restored = f"{settings['NAME']}_restored_{os.getpid()}"[:63]
    run([postgres_tool("dropdb"), f"--maintenance-db={live_url}", "--if-exists", "--force", restored])
    run([postgres_tool("createdb"), f"--maintenance-db={live_url}", restored])

    def drop():
        run([postgres_tool("dropdb"), f"--maintenance-db={live_url}", "--if-exists", "--force", restored])

    try:
        run(
            [
                postgres_tool("pg_restore"),
                "--no-owner",
                "--exit-on-error",
                f"--dbname={postgres_url(settings, restored)}",
                str(dump),
            ]
        )
    except BaseException:
        drop()
        raise
    return restored, drop


# --- SQLite ---------------------------------------------------------------------------------------


def backup_sqlite(folder: Path) -> list[Path]:
    """Back the live database up with each documented command available: the sqlite3 tool and Python."""
    live = connection.settings_dict["NAME"]
    day = f"{datetime.date.today():%Y-%m-%d}"
    backups = []
    if shutil.which("sqlite3"):
        backups.append(folder / f"appraisals-{day}.sqlite3")
        run(["sqlite3", str(live), ".timeout 20000", f".backup '{backups[-1]}'"])
    backups.append(folder / f"appraisals-{day}-python.sqlite3")
    run([sys.executable, "-c", PYTHON_BACKUP, str(live), str(backups[-1])])
    return backups


def restore_sqlite(backup: Path, folder: Path) -> Path:
    """Copy a backup into place as a new database file, with no -wal or -shm file beside it."""
    restored = folder / f"restored-{backup.stem}.sqlite3"
    assert not restored.exists()
    shutil.copyfile(backup, restored)
    for suffix in ("-wal", "-shm"):
        Path(f"{restored}{suffix}").unlink(missing_ok=True)
    return restored


# --- the test -------------------------------------------------------------------------------------


def read_back(name, *, hr_pk, appraisal_ids, slugs) -> tuple[dict, dict]:
    """The records and PDFs of database `name`, through the application's default connection."""
    original = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = name
    try:
        call_command("migrate", "--check", verbosity=0)  # the schema is complete: no migration left to apply
        found = records(), pdfs(hr_pk, appraisal_ids, slugs)
        # The restored database takes new records (its id sequences came back too).
        cycle = make_cycle(get_user(hr_pk), year=2027)
        assert cycle.pk > max(row["id"] for row in found[0]["appraisal.AppraisalCycle"])
        return found
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original


def test_the_documented_commands_are_in_the_operations_guide():
    guide = OPERATIONS.read_text(encoding="utf-8")
    for command in (PG_DUMP, CREATEDB, PG_RESTORE, SQLITE_BACKUP, PYTHON_BACKUP, "rm -f db.sqlite3-wal db.sqlite3-shm"):
        assert command in guide, command


@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_every_appraisal_record_and_pdf_unchanged(framework_loaded, tmp_path):
    hr = make_person("hr", role=None, hr=True)
    manager = make_person("manager", role="senior-service-coordinator-afeo")
    staff = make_person("staff", manager=manager)
    colleague = make_person("colleague", role="housing-worker", manager=manager)
    history = promoted_history(hr, manager, staff)  # three completed, the last by the sustained-level rule
    # HR reopens the last one; it is completed again with free text everywhere, and a disagreement.
    workflow.reopen(by=fresh(hr), appraisal=reload(history[-1]), reason="Add the evidence discussed at the meeting")
    record = complete(
        history[-1],
        manager=manager,
        staff=staff,
        agrees=False,
        comments=FREE_TEXT,
        evidence=FREE_TEXT,
        objectives=FREE_TEXT,
    )
    assert next(c for c in record.competencies.all() if c.name == SUSTAINED).achieved_level == 5
    complete(
        Appraisal.objects.get(cycle=history[1].cycle, staff_member__user=colleague),
        manager=manager,
        staff=colleague,
        evidence=FREE_TEXT,
    )
    in_progress = Appraisal.objects.get(cycle=history[0].cycle, staff_member__user=colleague)
    scoring.save_review(
        by=fresh(manager),
        appraisal=reload(in_progress),
        revision=reload(in_progress).revision,
        ratings={},
        overrides={},
        measures={},
        meeting_date=None,
        objectives="Draft, not finished",
        development_plan="",
        manager_comments="",
    )
    # The PDFs of that record and of a role profile (each takes a second or so to render).
    appraisal_ids, slugs = [record.pk], [PROMOTED_TO]

    before_records = records()
    before_pdfs = pdfs(hr.pk, appraisal_ids, slugs)
    assert len(before_records["appraisal.Appraisal"]) == 6 and before_records["audit.AuditEntry"]

    if connection.vendor == "postgresql":
        restored, drop = backup_and_restore_postgresql(tmp_path)
        try:
            found = read_back(restored, hr_pk=hr.pk, appraisal_ids=appraisal_ids, slugs=slugs)
        finally:
            drop()
        restored_copies = {"pg_dump": found}
    else:
        assert connection.vendor == "sqlite"
        restored_copies = {}
        for number, backup in enumerate(backup_sqlite(tmp_path)):
            # Every copy's records; the PDFs of the first (the same file format either way).
            restored_copies[backup.name] = read_back(
                restore_sqlite(backup, tmp_path),
                hr_pk=hr.pk,
                appraisal_ids=appraisal_ids if number == 0 else [],
                slugs=slugs if number == 0 else [],
            )

    assert restored_copies
    for how, (after_records, after_pdfs) in restored_copies.items():
        for label in before_records:
            assert after_records[label] == before_records[label], f"{label} differs after restoring {how}"
        for name in after_pdfs:
            assert after_pdfs[name] == before_pdfs[name], f"the PDF of {name} differs after restoring {how}"
    first_pdfs = next(iter(restored_copies.values()))[1]
    assert set(first_pdfs) == set(before_pdfs) and len(before_pdfs) == 2
    # And the live database was left alone.
    assert records() == before_records
