"""All completed records of a cycle as one ZIP of their PDFs, for the HR admin who asks (a job).

The job first makes the kept PDF (appraisal/record_pdfs.py) of every completed record that has none
yet, in slices (core/jobs.py: a worker that dies loses at most the record it was rendering, and the
next carries on), then writes the ZIP of the kept files to a temporary file and stores it only once
it is whole. The ZIP is the HR admin's own: it leaves out their own record and those of the people
above them (as the cycle's page does), only they can download it, and it is removed after a day.
"""

import logging
import secrets
import tempfile
import zipfile

from django.core.files import File
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils.text import slugify

from appraisal import record_pdfs
from appraisal.models import Appraisal, AppraisalCycle
from core import jobs
from core.access import is_hr_admin
from core.models import Job
from staff.access import hr_conflicts

logger = logging.getLogger(__name__)


def key(cycle: AppraisalCycle, by) -> str:
    return f"cycle {cycle.pk} zip for {by.pk}"


def start(*, by, cycle: AppraisalCycle) -> Job:
    """Queue the job that makes the ZIP; jobs.AlreadyRunning if this HR admin's ZIP of the cycle is being made."""
    return jobs.start(
        kind="cycle zip",
        key=key(cycle, by),
        func="appraisal.cycle_zip.run",
        title=f"All completed records of {cycle.name}, as one ZIP",
        url=reverse("cycle_detail", args=[cycle.pk]),
        back="Back to the cycle",
        by=by,
        # Where the ZIP will be kept: a name nobody can guess or reuse (ids start again on a new database).
        params={"cycle": cycle.pk, "name": f"jobs/cycle-{cycle.pk}-records-{secrets.token_hex(8)}.zip"},
    )


def latest(by, cycle: AppraisalCycle) -> Job | None:
    """The newest ZIP job of `cycle` started by `by`."""
    return Job.objects.filter(key=key(cycle, by), created_by=by).first()


def _name(job: Job) -> str:
    return job.params["name"]


def forget(job: Job) -> None:
    """A ZIP job that failed: nothing of it is kept."""
    default_storage.delete(_name(job))


@jobs.cleans_up(forget)
def run(job: Job, progress: jobs.Progress):
    by = job.created_by
    if not is_hr_admin(by):
        raise jobs.JobFailed("Only HR admins can download a cycle's records, and you are no longer one.")
    cycle = AppraisalCycle.objects.get(pk=job.params["cycle"])
    records = list(
        Appraisal.objects.completed()
        .filter(cycle=cycle)
        .exclude(staff_member_id__in=hr_conflicts(by))
        .select_related("staff_member__user")
        .order_by("staff_member__user__last_name", "staff_member__user__first_name", "pk")
    )
    if not records:
        raise jobs.JobFailed(f"No record of {cycle.name} is completed yet: there is nothing to put in a ZIP.")
    missing = set(record_pdfs.missing_ids().filter(cycle=cycle))
    failed = set(job.params.get("failed", []))  # records tried in an earlier slice whose PDF could not be made
    to_make = [record for record in records if record.pk in missing and record.pk not in failed]
    made = len(records) - len(to_make)
    progress(made, total=len(records), step="Making the records' PDFs")
    for record in to_make:
        try:
            record_pdfs.make(record.pk)
        except Exception:  # one record that cannot be made is listed; the others still go in
            logger.exception("record pdf not made for zip appraisal=%s job=%s", record.pk, job.pk)
            failed.add(record.pk)
            Job.objects.filter(pk=job.pk).update(params={**job.params, "failed": sorted(failed)})
        made += 1
        progress(made)
        if progress.time_is_up() and made < len(records):
            return jobs.AGAIN

    progress(0, step="Putting them in one ZIP")
    left_out = []
    with tempfile.TemporaryFile() as spool:
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as archive:  # PDFs are compressed already
            for number, record in enumerate(records, start=1):
                pdf = None if record.pk in failed else record_pdfs.kept(record)
                if pdf is None:
                    left_out.append(f"{record.staff_member}: its PDF could not be made; download it from the record.")
                else:
                    person = record.staff_member.user
                    archive.writestr(f"{slugify(f'{person.last_name} {person.first_name}')}-{record.pk}.pdf", pdf)
                if number % 50 == 0:
                    progress(number)
        size = spool.tell()
        spool.seek(0)
        default_storage.delete(_name(job))  # a copy left by a worker that died before it finished
        name = default_storage.save(_name(job), File(spool))
    count = len(records) - len(left_out)
    result = {
        "file": name,
        "filename": f"{slugify(cycle.name)}-completed-records.zip",
        "summary": [f"{count:,} completed record{'s' if count != 1 else ''} in one ZIP ({size / 1_000_000:.1f} MB)."],
    }
    if left_out:
        result["problems_heading"] = "Not in the ZIP"
        result["problems"] = left_out
    return result
