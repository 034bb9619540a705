"""Long jobs: work started from a page that takes longer than a request (opening a cycle, a staff
import, a ZIP of a cycle's records), run by a worker while the person who started it watches its
progress on the job's page (/jobs/<id>/), which refreshes itself until the job ends.

- `start(...)` writes the job and queues it once the request's change commits; the request
  returns at once. Only one unfinished job at a time may have a given `key` ("cycle 12"): the
  database refuses a second, and `start` raises `AlreadyRunning` with the one that runs.
- The worker calls the job's function, `function(job, progress)`. It reports how far it has got
  with `progress(done, total=..., step=...)` between its transactions (a report inside one is seen
  only when it commits), and returns what it did: {"summary": [lines], "problems": [lines]}, and
  "file"/"filename" for a file kept in Django's storage for JOB_FILE_HOURS (then removed). It
  raises `JobFailed("why")` to fail with a message for the person; any other error fails the job
  with a general message (the details go to the log). Either way it must leave nothing half-done:
  its changes become visible in one transaction at the end (in which it also calls `finish`, so
  that the work and its being done commit together), or are undone by its `on_failure` (see
  `cleans_up`). It may return `AGAIN` to be queued again and carry on where it stopped
  (a long job does its work in slices of about JOB_SLICE_SECONDS, under the engine's time limit).
- A worker that dies leaves the job "running"; the engine gives its task to another worker
  (core/tasks.py), which runs the function again: every job's function can start over or carry
  on from what it left. After MAX_ATTEMPTS deaths the job fails.
"""

import datetime
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from core.models import Job
from core.tasks import enqueue_on_commit

logger = logging.getLogger("core.jobs")

State = Job.State
MAX_ATTEMPTS = 3  # runs a job may start (each worker that died during it is one) before it is given up
AGAIN = "again"  # returned by a job's function: queue me again, to carry on
UNEXPECTED = (
    "Something unexpected stopped it. Nothing it had done was kept. Try again; if it fails again, "
    "the server's log has the details for whoever runs the system."
)


class AlreadyRunning(Exception):
    def __init__(self, job: Job | None):
        super().__init__(f"already running: {job}")
        self.job = job


class JobFailed(Exception):
    """A job cannot be done, for a reason the person who started it can act on (the message)."""


def start(
    *,
    kind: str,
    key: str,
    func: str,
    title: str,
    by,
    url: str = "",
    back: str = "Back",
    params: dict | None = None,
    total: int | None = None,
) -> Job:
    """Write a job and queue it once the current transaction commits; AlreadyRunning if one with `key` is unfinished.

    `url` and `back`: the page to go back to, and the link's words ("Back to the cycle")."""
    try:
        with transaction.atomic():
            job = Job.objects.create(
                kind=kind,
                key=key,
                func=func,
                title=title,
                url=url,
                params=params or {},
                result={"back": back},
                total=total,
                created_by=by,
            )
    except IntegrityError:
        raise AlreadyRunning(unfinished(key)) from None
    enqueue_on_commit(kind, "core.jobs.run", job.pk)
    logger.info("job queued kind=%s job=%s", kind, job.pk)
    return job


def unfinished(key: str) -> Job | None:
    """The job with `key` that is waiting or running, if there is one."""
    return Job.objects.filter(key=key, state__in=Job.UNFINISHED).first()


JobFunction = TypeVar("JobFunction", bound=Callable[..., Any])


def cleans_up(on_failure: Callable[[Job], Any]) -> Callable[[JobFunction], JobFunction]:
    """Mark a job's function with what undoes its partial work when the job fails or is given up."""

    def mark(function: JobFunction) -> JobFunction:
        function.on_failure = on_failure  # type: ignore[attr-defined]  # read back by `_failed`
        return function

    return mark


class Progress:
    """How far a job has got, written to its row for its page to show."""

    def __init__(self, job: Job):
        self.job = job
        self.slice_started = time.monotonic()

    def __call__(self, done: int | None = None, *, total: int | None = None, step: str | None = None) -> None:
        fields: dict[str, Any] = {"updated_at": timezone.now()}
        if done is not None:
            fields["done"] = self.job.done = done
        if total is not None:
            fields["total"] = self.job.total = total
        if step is not None:
            fields["step"] = self.job.step = step
        Job.objects.filter(pk=self.job.pk).update(**fields)

    def time_is_up(self) -> bool:
        """Whether this slice of the job has run long enough: finish the batch, then return AGAIN."""
        return time.monotonic() - self.slice_started > settings.JOB_SLICE_SECONDS


def run(job_id: int) -> str:
    """The task: run (or carry on with) one job, and record how it ended."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_finished:
            return "nothing to do"
        job.attempts += 1
        job.state = State.RUNNING
        job.started_at = job.started_at or timezone.now()
        job.updated_at = timezone.now()
        job.save(update_fields=["attempts", "state", "started_at", "updated_at"])
    function = import_string(job.func)
    if job.attempts > MAX_ATTEMPTS:
        logger.error("job given up kind=%s job=%s after %d runs", job.kind, job.pk, job.attempts - 1)
        _failed(job, function, "It was stopped before it could finish, several times. Nothing it had done was kept.")
        return "given up"
    try:
        result = function(job, Progress(job))
    except JobFailed as error:
        logger.info("job failed kind=%s job=%s", job.kind, job.pk)
        _failed(job, function, str(error))
        return "failed"
    except Exception:
        logger.exception("job failed kind=%s job=%s", job.kind, job.pk)
        _failed(job, function, UNEXPECTED)
        return "failed"
    if result == AGAIN:
        # Not a worker's death: the next slice starts with its own allowance of attempts.
        Job.objects.filter(pk=job.pk).update(attempts=0, updated_at=timezone.now())
        enqueue_on_commit(job.kind, "core.jobs.run", job.pk)
        return "again"
    finish(job, result or {})
    logger.info("job done kind=%s job=%s", job.kind, job.pk)
    return "done"


def finish(job: Job, result: dict) -> None:
    """Record the job as done with `result`. A job whose work ends in one transaction calls this in
    it too, so that a worker that dies just after that commits leaves the job done, not to be redone."""
    result = dict(result)
    now = timezone.now()
    fields: dict[str, Any] = {
        "state": State.DONE,
        "step": "",
        "params": {},  # the input (an import's file) is not kept once the work is done
        "finished_at": now,
        "updated_at": now,
    }
    if "file" in result:
        fields["file"] = result.pop("file")
        fields["expires_at"] = now + datetime.timedelta(hours=settings.JOB_FILE_HOURS)
    if job.total is not None:
        fields["done"] = job.total
    fields["result"] = {"back": job.result.get("back", "Back"), **result}
    Job.objects.filter(pk=job.pk).update(**fields)


def _failed(job: Job, function, message: str) -> None:
    on_failure = getattr(function, "on_failure", None)
    if on_failure is not None:
        try:
            on_failure(job)
        except Exception:
            logger.exception("job clean-up failed kind=%s job=%s", job.kind, job.pk)
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        state=State.FAILED, step="", error=message, params={}, finished_at=now, updated_at=now
    )


def clear_expired() -> dict[str, int]:
    """The schedule's task: remove jobs' files past their time, and finished jobs older than JOB_KEEP_DAYS."""
    now = timezone.now()
    files = 0
    for job in Job.objects.filter(expires_at__lt=now).exclude(file=""):
        default_storage.delete(job.file.name)
        Job.objects.filter(pk=job.pk).update(file="")
        files += 1
    old = now - datetime.timedelta(days=settings.JOB_KEEP_DAYS)
    removed = 0
    for job in Job.objects.filter(finished_at__lt=old):
        if job.file:
            default_storage.delete(job.file.name)
        job.delete()
        removed += 1
    return {"files": files, "jobs": removed}


def file_is_kept(job: Job) -> bool:
    return bool(job.file) and job.state == State.DONE and job.expires_at is not None and job.expires_at > timezone.now()
