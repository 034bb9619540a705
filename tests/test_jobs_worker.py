"""A real worker (`manage.py qcluster`, as `make run` and production start it) killed with SIGKILL in the
middle of a cycle's opening: nobody sees any of the opening, and the engine gives the job's task to
the next worker once its lock has run out, which finishes the opening, each appraisal and email once.

Transactional: the worker is another process, which must see what the test commits, and the other
way round.
"""

import datetime
import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from appraisal.models import Appraisal, AppraisalCycle
from appraisal.services import cycles
from audit.models import AuditEntry
from core import tasks
from core.models import Job
from outbox.models import Email
from tests.appraisals import fresh, make_cycle
from tests.conftest import make_person
from tests.test_outbox import database_url

pytestmark = pytest.mark.django_db(transaction=True)
ENQUEUE = tasks.enqueue  # as the application has it (tests/conftest.py runs jobs at once elsewhere)
PEOPLE = 120


def test_a_worker_killed_during_an_opening_shows_nothing_and_the_next_worker_finishes_it(
    framework_loaded, hr, manager, monkeypatch
):
    monkeypatch.setattr(tasks, "enqueue", ENQUEUE)
    Schedule.objects.update(next_run=timezone.now() + datetime.timedelta(days=1))  # only the job runs
    for number in range(PEOPLE):
        user = make_person(f"report_{number}", manager=manager)
        user.email = f"report_{number}@example.org"
        user.save()
    cycle = make_cycle(hr, self_assessment=True)
    job = cycles.start_opening(by=fresh(hr), cycle=cycle)  # committed, and its task queued for the engine
    assert OrmQ.objects.count() == 1

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "SECRET_KEY": "tests-only-not-a-secret",
        "TASK_WORKERS": "1",
        "CYCLE_OPENING_BATCH": "1",  # one person a transaction: slow enough to be killed part way
    }
    env.pop("DEBUG", None)
    worker = subprocess.Popen(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the cluster and the processes it starts, killed together
    )
    try:
        deadline = time.monotonic() + 60
        while Job.objects.get(pk=job.pk).done < 10:
            assert worker.poll() is None and time.monotonic() < deadline, "the worker never got going"
            time.sleep(0.01)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.communicate(timeout=30)

    # Part of the opening was prepared; none of it can be seen, nobody was emailed, nothing was audited.
    prepared = Appraisal.with_staged.filter(cycle=cycle).count()
    assert 10 <= prepared < PEOPLE
    assert Appraisal.objects.filter(cycle=cycle).count() == 0
    assert AppraisalCycle.objects.get(pk=cycle.pk).opened_at is None
    assert not Email.objects.exists() and not AuditEntry.objects.filter(action="open").exists()
    assert Job.objects.get(pk=job.pk).state == Job.State.RUNNING
    assert OrmQ.objects.count() == 1  # taken, never acknowledged

    # Once the lock of the dead worker's task runs out (Q_CLUSTER["retry"] seconds; here, at once), the
    # next worker takes it, and carries on from what was prepared.
    expired = timezone.now() - datetime.timedelta(seconds=settings.Q_CLUSTER["retry"] + 1)
    OrmQ.objects.update(lock=expired)
    assert tasks.run_due() >= 1
    job.refresh_from_db()
    assert (job.state, job.attempts, job.done, job.total) == (Job.State.DONE, 2, PEOPLE, PEOPLE)
    appraisals = Appraisal.objects.filter(cycle=cycle)
    assert appraisals.count() == PEOPLE and appraisals.values("staff_member").distinct().count() == PEOPLE
    assert Email.objects.count() == PEOPLE  # one each, asking for their self-assessment
    assert AuditEntry.objects.filter(action="open", object_type="appraisal").count() == PEOPLE
    assert not Appraisal.with_staged.filter(staged_for__isnull=False).exists()
