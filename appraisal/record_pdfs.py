"""A completed record's PDF, made once and kept: a completed record never changes, so neither does its PDF.

When a record completes, a task (`make`) renders it as an archival, tagged PDF (PDF/A-2a) and keeps
it in Django's default storage (settings.STORAGES: a folder, MEDIA_ROOT, by default; an object
store when several machines serve) as a `RecordPDF` of the record's revision. The download view
serves the kept file; before the task has run, it renders the PDF then and keeps it. Reopening
gives the record a new revision: the kept file no longer matches and is removed (`forget`), and
completing it again makes a new one. Files are only ever served through the access-checked view.

`make_missing` (`manage.py make_record_pdfs`) makes the PDFs of completed records that have none,
in the background, a batch at a time: run it again, or let a worker die, and it carries on where
it stopped.
"""

import logging

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, OuterRef

from appraisal.models import Appraisal, RecordPDF
from appraisal.pdf import render_appraisal_pdf
from core.tasks import enqueue

logger = logging.getLogger(__name__)

State = Appraisal.State
BATCH = 50


def kept(appraisal: Appraisal) -> bytes | None:
    """The kept PDF of a completed record at its current revision, or None."""
    if appraisal.state != State.COMPLETED:
        return None
    row = RecordPDF.objects.filter(appraisal=appraisal, revision=appraisal.revision).first()
    if row is None:
        return None
    try:
        with row.file.open("rb") as file:
            return file.read()
    except FileNotFoundError:
        logger.warning("record pdf missing appraisal=%s", appraisal.pk)
        return None


def keep(appraisal: Appraisal, pdf: bytes) -> bool:
    """Keep `pdf` as the record's PDF, if the record is still completed at that revision; say whether it was."""
    name = default_storage.save(f"records/appraisal-{appraisal.pk}-r{appraisal.revision}.pdf", ContentFile(pdf))
    with transaction.atomic():
        current = (
            Appraisal.objects.select_for_update()
            .filter(pk=appraisal.pk, state=State.COMPLETED, revision=appraisal.revision)
            .exists()
        )
        old = RecordPDF.objects.filter(appraisal_id=appraisal.pk).first()
        if not current or (old is not None and old.revision == appraisal.revision):
            transaction.on_commit(lambda: default_storage.delete(name))  # reopened meanwhile, or made twice
            return False
        if old is not None:
            stale = old.file.name
            transaction.on_commit(lambda: default_storage.delete(stale))
            old.delete()
        RecordPDF.objects.create(appraisal_id=appraisal.pk, revision=appraisal.revision, file=name)
    return True


def make(appraisal_id: int) -> str:
    """The task queued when a record completes: render and keep its PDF, unless already there."""
    appraisal = Appraisal.objects.filter(pk=appraisal_id, state=State.COMPLETED).first()
    if appraisal is None:
        return "not completed"
    if RecordPDF.objects.filter(appraisal=appraisal, revision=appraisal.revision).exists():
        return "already made"
    pdf = render_appraisal_pdf(appraisal, time_limit=settings.PDF_TASK_TIME_LIMIT)
    return "made" if keep(appraisal, pdf) else "changed meanwhile"


def forget(appraisal: Appraisal) -> None:
    """The record was reopened: its kept PDF goes (the file once the change has committed)."""
    for row in RecordPDF.objects.filter(appraisal=appraisal):
        row.delete()
        transaction.on_commit(_deleting(row.file.name))


def _deleting(name: str):
    return lambda: default_storage.delete(name)


def make_missing(after: int = 0) -> int:
    """The task of `make_record_pdfs`: make the missing PDFs of the next batch of records (by id, after
    `after`), then queue itself for the batch after that; return how many it made."""
    batch = list(missing_ids().filter(pk__gt=after)[:BATCH])
    made = 0
    for appraisal_id in batch:
        try:
            made += make(appraisal_id) == "made"
        except Exception:  # one record that cannot be made must not stop the others (logged with its error)
            logger.exception("record pdf not made appraisal=%s", appraisal_id)
    if len(batch) == BATCH:
        enqueue("make missing record pdfs", "appraisal.record_pdfs.make_missing", batch[-1])
    return made


def missing_ids():
    """The ids of completed records without a kept PDF of their current revision, in order."""
    kept_pdf = RecordPDF.objects.filter(appraisal=OuterRef("pk"), revision=OuterRef("revision"))
    return (
        Appraisal.objects.filter(state=State.COMPLETED)
        .exclude(Exists(kept_pdf))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
