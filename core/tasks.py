"""Background work: tasks run by Django Q2's workers, and the schedule of periodic work.

The engine is Django Q2 (docs/background-work.md says why) with its ORM broker: tasks are rows in
the database the application already uses, so SQLite needs no service, and any number of worker
processes (`manage.py qcluster`) on any number of machines share them. A task taken by a worker
that dies is given to another once `Q_CLUSTER["retry"]` seconds have passed without it being
acknowledged; the cluster stops a task that runs longer than `Q_CLUSTER["timeout"]`.

This module adds three small things around it:

- `enqueue(kind, func, *ids)`: every task runs through `run`, which logs its start, end, failure
  and retry with its kind and the ids of the records it concerns (never anything else), and which
  retries a failed task with back-off (RETRY_DELAYS) before giving up.
- The schedule (`settings.SCHEDULE`), written into Django Q2's schedules by `sync_schedule` after
  every `migrate`. Missed runs (no worker that day) run once at the next opportunity
  (`Q_CLUSTER["catch_up"]` is off).
- `run_due()` (`manage.py run_due`): does everything due now (scheduled work, then every queued
  task) in the calling process, and returns: for tests, and for installations that prefer cron.
"""

import datetime
import logging
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger("core.tasks")

# After a failure, the task is tried again after each of these delays (seconds), then given up.
RETRY_DELAYS = (60, 300, 1800, 7200)


def enqueue(kind: str, func: str, *ids: int | str, attempt: int = 1, after: datetime.datetime | None = None) -> None:
    """Queue `func` (a dotted path) to run in a worker with `ids` (the records it concerns), as `kind`.

    `after`: not before this moment (a one-off schedule). Call it after the change it follows has
    committed (`enqueue_on_commit`), or a worker may run before the change is visible.
    """
    from django_q.models import Schedule
    from django_q.tasks import async_task

    if after is None:
        async_task("core.tasks.run", kind, func, list(ids), attempt, task_name=f"{kind} {_ids(ids)}".strip())
        return
    Schedule.objects.create(
        name=None,
        func="core.tasks.run",
        args=repr((kind, func, list(ids), attempt)),
        schedule_type=Schedule.ONCE,
        repeats=-1,
        next_run=after,
    )


def enqueue_on_commit(kind: str, func: str, *ids: int | str) -> None:
    """`enqueue`, once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: enqueue(kind, func, *ids))


def run(kind: str, func: str, ids: list[int | str], attempt: int = 1) -> Any:
    """Run one task in a worker: log it, and retry it later with back-off if it fails."""
    started = time.monotonic()
    logger.info("task start kind=%s ids=%s attempt=%d", kind, _ids(ids), attempt)
    try:
        result = import_string(func)(*ids)
    except Exception as error:
        elapsed = (time.monotonic() - started) * 1000
        if attempt <= len(RETRY_DELAYS):
            delay = RETRY_DELAYS[attempt - 1]
            logger.warning(
                "task retry kind=%s ids=%s attempt=%d error=%s in %.0f ms; next try in %d s",
                kind,
                _ids(ids),
                attempt,
                type(error).__name__,
                elapsed,
                delay,
            )
            enqueue(kind, func, *ids, attempt=attempt + 1, after=timezone.now() + datetime.timedelta(seconds=delay))
            return None
        logger.error(
            "task failed kind=%s ids=%s attempt=%d error=%s in %.0f ms; given up",
            kind,
            _ids(ids),
            attempt,
            type(error).__name__,
            elapsed,
        )
        raise
    logger.info("task end kind=%s ids=%s in %.0f ms", kind, _ids(ids), (time.monotonic() - started) * 1000)
    return result


def _ids(ids) -> str:
    return ",".join(str(value) for value in ids) or "-"


# --- the schedule ---------------------------------------------------------------------------------------


def sync_schedule(**kwargs) -> None:
    """Write settings.SCHEDULE into Django Q2's schedules: added, changed or removed by name (after migrate)."""
    from django.db import connection
    from django_q.models import Schedule

    if Schedule._meta.db_table not in connection.introspection.table_names():
        return  # a migrate of some apps only, before the engine's tables exist
    wanted = settings.SCHEDULE
    existing = {schedule.name: schedule for schedule in Schedule.objects.filter(name__startswith=SCHEDULE_PREFIX)}
    for name, entry in wanted.items():
        full_name = SCHEDULE_PREFIX + name
        args = repr((entry["kind"], entry["func"], [], 1))
        schedule = existing.pop(full_name, None)
        if schedule is None:
            Schedule.objects.create(
                name=full_name,
                func="core.tasks.run",
                args=args,
                schedule_type=Schedule.CRON,
                cron=entry["cron"],
                repeats=-1,
                next_run=_next_cron(entry["cron"]),
            )
        elif (schedule.cron, schedule.args, schedule.func) != (entry["cron"], args, "core.tasks.run"):
            schedule.cron, schedule.args, schedule.func = entry["cron"], args, "core.tasks.run"
            schedule.schedule_type = Schedule.CRON
            schedule.next_run = _next_cron(entry["cron"])
            schedule.save()
    for schedule in existing.values():
        schedule.delete()


SCHEDULE_PREFIX = "appraisals: "


def _next_cron(cron: str) -> datetime.datetime:
    from croniter import croniter

    now = timezone.localtime()
    return croniter(cron, now).get_next(datetime.datetime)


# --- running what is due, without a worker -----------------------------------------------------------------


def run_due(*, max_tasks: int = 10_000) -> int:
    """Run everything due now in this process: scheduled work first, then every queued task; return how many ran.

    The tasks go through Django Q2's own worker and monitor code (results saved, queue rows
    acknowledged), as in a cluster, but one at a time and without the cluster's time limit.
    """
    from django_q.brokers import get_broker
    from django_q.scheduler import scheduler
    from django_q.signing import SignedPackage
    from django_q.tasks import _sync  # the cluster's own path for one task (its "sync" mode), in this process

    broker = get_broker()
    scheduler(broker=broker)
    ran = 0
    while ran < max_tasks and broker.queue_size():
        for ack_id, package in broker.dequeue() or []:
            task = SignedPackage.loads(package)
            task["ack_id"] = ack_id
            _sync(SignedPackage.dumps(task))
            ran += 1
    return ran
