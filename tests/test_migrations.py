"""Models moved between apps keep their tables and their data: a database migrated from the schema
of before the move ends up the same as one created since, on this run's database engine.

Staff records moved from `roles` to `staff`, and the audit trail from `appraisal` to `audit`; their
migrations change only Django's record of which app a model belongs to. Each database here is made
by `manage.py migrate` in a process of its own, so the suite's own database is not touched.
"""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
# Django's own apps as they are, and the last migration of each of ours before the move.
BEFORE_THE_MOVE = [
    ("auth", None),
    ("contenttypes", None),
    ("sessions", None),
    ("competencies", "0002"),
    ("roles", "0002"),
    ("appraisal", "0004"),
]
# Tables of before the move that later migrations changed (appraisal 0008: the appraisals an opening
# prepares; audit 0003: an index of one record's entries).
CHANGED_SINCE = {"appraisal_appraisal", "appraisal_auditentry", "roles_roleprofileversion", "roles_staffmember"}

SCHEMA = """
import json
from django.db import connection
from django.contrib.contenttypes.models import ContentType
out = {}
with connection.cursor() as cursor:
    for table in connection.introspection.table_names(cursor):
        description = connection.introspection.get_table_description(cursor, table)
        columns = [(c.name, c.type_code, c.null_ok) for c in description]
        kept = ("columns", "primary_key", "unique", "foreign_key", "check", "index")
        constraints = {
            name: {key: value for key, value in c.items() if key in kept}
            for name, c in connection.introspection.get_constraints(cursor, table).items()
        }
        out[table] = {"columns": sorted(columns), "constraints": constraints}
out["content types"] = sorted(ContentType.objects.values_list("app_label", "model"))
print(json.dumps(out, sort_keys=True, default=str))
"""

# Records written while the tables still belonged to the old apps (the models' code is the same
# table either way), and what must be found in them after the move.
RECORDS = """
import datetime
from django.contrib.auth import get_user_model
from audit.models import AuditEntry
from staff.models import FailedLogin, LineManagerAssignment, RoleAssignment, Service, StaffMember
from django.db import connection
from roles.models import RoleProfile

def staff_member(**values):
    # Written as the table was then: the model has columns added since (read back with `only`).
    values = {"job_title": "", **values}
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO roles_staffmember ({', '.join(values)}) VALUES ({', '.join(['%s'] * len(values))})",
            list(values.values()),
        )
    return StaffMember.objects.only("pk").get(user_id=values["user_id"])

user = get_user_model().objects.create_user("kept", first_name="Kept", last_name="Person")
boss = staff_member(user_id=get_user_model().objects.create_user("boss").pk)
role = RoleProfile.objects.create(slug="a-role")
member = staff_member(
    user_id=user.pk, service_id=Service.objects.create(name="A service").pk, role_profile_id=role.pk,
    role_profile_since=datetime.date(2024, 1, 1), line_manager_id=boss.pk, line_manager_since=datetime.date(2024, 1, 1),
)
RoleAssignment.objects.create(staff_member=member, role_profile=role, since=datetime.date(2024, 1, 1))
LineManagerAssignment.objects.create(staff_member=member, line_manager=boss, since=datetime.date(2024, 1, 1))
FailedLogin.objects.create(username="kept")
AuditEntry.objects.create(action="create", object_type="staff member", object_repr="Kept Person", person=member)
"""

READ_BACK = """
import json
from audit.models import AuditEntry
from staff.models import FailedLogin, LineManagerAssignment, RoleAssignment, Service, StaffMember
member = StaffMember.objects.select_related("user", "service", "line_manager__user", "role_profile").get(
    user__username="kept"
)
print(json.dumps({
    "person": [member.name, member.service.name, member.line_manager.user.username, member.role_profile.slug],
    "history": [
        RoleAssignment.objects.filter(staff_member=member).count(),
        LineManagerAssignment.objects.filter(staff_member=member).count(),
    ],
    "failed logins": FailedLogin.objects.filter(username="kept").count(),
    "audit": list(AuditEntry.objects.filter(person=member).values_list("object_repr", flat=True)),
}))
"""


@pytest.fixture
def database_urls(django_db_blocker):
    """Two new, empty databases of the suite's engine, as DATABASE_URLs; dropped afterwards."""
    names = [f"appraisals_migrations_{uuid.uuid4().hex[:8]}_{which}" for which in ("before", "new")]
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        folder = Path(settings["TEST"]["NAME"]).parent
        yield [f"sqlite:///{folder / name}.sqlite3" for name in names]
        for name in names:
            for suffix in ("", "-wal", "-shm"):
                (folder / f"{name}.sqlite3{suffix}").unlink(missing_ok=True)
        return
    import psycopg2

    def admin():
        conn = psycopg2.connect(
            dbname="postgres",
            user=settings["USER"],
            password=settings["PASSWORD"],
            host=settings["HOST"],
            port=settings["PORT"],
        )
        conn.autocommit = True
        return conn

    with django_db_blocker.unblock():
        base = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}"
        conn = admin()
        for name in names:
            conn.cursor().execute(f'CREATE DATABASE "{name}"')
        conn.close()
        yield [f"{base}/{name}" for name in names]
        conn = admin()
        for name in names:
            conn.cursor().execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.close()


def manage(url: str, *args: str) -> str:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "migrations-test",
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, f"manage.py {' '.join(args[:2])} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def shell(url: str, code: str):
    return json.loads(manage(url, "shell", "-c", code).strip().splitlines()[-1])


def test_a_database_from_before_the_move_migrates_to_the_same_schema_as_a_new_one_and_keeps_its_records(database_urls):
    before, new = database_urls
    for app, migration in BEFORE_THE_MOVE:
        manage(before, "migrate", app, *filter(None, [migration]), "--no-input", "-v", "0")
    old_schema = shell(before, SCHEMA)
    assert ["roles", "staffmember"] in old_schema["content types"] and ["appraisal", "auditentry"] in old_schema[
        "content types"
    ]
    manage(before, "shell", "-c", RECORDS)

    manage(before, "migrate", "--no-input", "-v", "0")
    manage(new, "migrate", "--no-input", "-v", "0")
    migrated, created = shell(before, SCHEMA), shell(new, SCHEMA)

    assert migrated.keys() == created.keys()
    for table in created:
        assert migrated[table] == created[table], f"{table} differs between the migrated and the new database"
    assert ["staff", "staffmember"] in created["content types"] and ["audit", "auditentry"] in created["content types"]
    # Every table there was before the move is as it was (apps added since bring tables of their own),
    # but for those a later migration changed (the two comparisons above cover them).
    kept = [key for key in old_schema if key != "content types" and key not in CHANGED_SINCE]
    assert {key: old_schema[key] for key in kept} == {key: created[key] for key in kept}, "the move changed a table"
    assert shell(before, READ_BACK) == {
        "person": ["Kept Person", "A service", "boss", "a-role"],
        "history": [1, 1],
        "failed logins": 1,
        "audit": ["Kept Person"],
    }
