"""A completed record's PDF is made once, kept, and served only through the access-checked view."""

import datetime
import io

import pikepdf
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from appraisal import record_pdfs
from appraisal.models import Appraisal, RecordPDF
from appraisal.services import workflow
from core import tasks
from tests.appraisals import complete, fresh, open_appraisal, reload

State = Appraisal.State


@pytest.fixture
def completed(hr, manager, staff):
    """A completed record whose PDF a worker has made (the task its completion queued: run here directly; the
    queueing, through the engine, is in the last test)."""
    appraisal = complete(open_appraisal(hr, staff), manager=manager, staff=staff)
    assert record_pdfs.make(appraisal.pk) == "made"
    return appraisal


def download(client, user, appraisal):
    client.force_login(user)
    response = client.get(reverse("appraisal_pdf", args=[appraisal.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    return response.content


def test_completing_a_record_makes_its_pdf_once_and_keeps_it(completed, client, staff, monkeypatch):
    kept = RecordPDF.objects.get(appraisal=completed)
    assert kept.revision == reload(completed).revision
    assert default_storage.exists(kept.file.name)
    with kept.file.open("rb") as file:
        stored = file.read()

    def no_rendering(*args, **kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr("appraisal.views.records.render_appraisal_pdf", no_rendering)
    assert download(client, staff, completed) == stored  # served as kept, not made again


def test_the_kept_pdf_is_archival_and_tagged(completed):
    with RecordPDF.objects.get(appraisal=completed).file.open("rb") as file:
        document = pikepdf.open(io.BytesIO(file.read()))
    with document.open_metadata() as metadata:
        assert metadata.get("pdfaid:part") == "2" and metadata.get("pdfaid:conformance") == "A"
        assert "Appraisal record" in (metadata.get("dc:title") or "")
    assert document.Root.MarkInfo.Marked  # tagged: a structure tree a screen reader can follow
    assert "/StructTreeRoot" in document.Root
    assert str(document.Root.Lang) == "en-GB"


def test_before_its_task_has_run_a_download_makes_the_pdf_and_keeps_it(hr, manager, staff, client):
    appraisal = complete(open_appraisal(hr, staff), manager=manager, staff=staff)  # its task not run yet
    assert not RecordPDF.objects.exists()
    first = download(client, staff, appraisal)
    kept = RecordPDF.objects.get(appraisal=appraisal)
    with kept.file.open("rb") as file:
        assert file.read() == first
    assert download(client, staff, appraisal) == first


def test_reopening_removes_the_kept_pdf_and_completing_again_makes_a_new_one(
    completed, hr, manager, staff, client, django_capture_on_commit_callbacks
):
    old = RecordPDF.objects.get(appraisal=completed)
    old_name = old.file.name
    with django_capture_on_commit_callbacks(execute=True):
        reopened = workflow.reopen(by=fresh(hr), appraisal=reload(completed), reason="The objectives were wrong.")
    assert not RecordPDF.objects.exists() and not default_storage.exists(old_name)
    draft = download(client, manager, reopened)  # a record being changed: made each time, not kept
    assert not RecordPDF.objects.exists()
    again = complete(reopened, manager=manager, staff=staff)
    assert record_pdfs.make(again.pk) == "made" and record_pdfs.make(again.pk) == "already made"
    new = RecordPDF.objects.get(appraisal=again)
    assert new.revision == reload(again).revision > old.revision and new.file.name != old_name
    assert download(client, staff, again) != draft


def test_a_record_reopened_while_its_pdf_was_being_made_keeps_nothing(completed, hr):
    appraisal = reload(completed)
    RecordPDF.objects.all().delete()
    workflow.reopen(by=fresh(hr), appraisal=appraisal, reason="A late correction.")
    assert record_pdfs.keep(appraisal, b"%PDF- made for the revision before") is False
    assert not RecordPDF.objects.exists()


def test_the_kept_files_are_not_served_as_files(completed, client, staff):
    name = RecordPDF.objects.get(appraisal=completed).file.name
    client.force_login(staff)
    for url in (f"/media/{name}", f"/{name}", f"/static/{name}"):
        assert client.get(url).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_make_record_pdfs_makes_the_missing_ones_in_batches_and_carries_on_after_a_failure(
    framework_loaded, hr, manager, staff, monkeypatch
):
    # The periodic work waits: the test counts the tasks it runs.
    Schedule.objects.update(next_run=timezone.now() + datetime.timedelta(days=1))
    records = [
        complete(open_appraisal(hr, staff, year=year), manager=manager, staff=staff)
        for year in (2023, 2024, 2025, 2026)
    ]
    tasks.run_due()  # their tasks, queued as each completed
    assert RecordPDF.objects.count() == 4
    RecordPDF.objects.all().delete()  # records completed before PDFs were kept
    monkeypatch.setattr(record_pdfs, "BATCH", 2)
    broken = records[1].pk
    render = record_pdfs.render_appraisal_pdf

    def fails_once_for_one(appraisal, **kwargs):
        if appraisal.pk == broken and not getattr(fails_once_for_one, "failed", False):
            fails_once_for_one.failed = True
            raise RuntimeError("this one could not be made")
        return render(appraisal, **kwargs)

    monkeypatch.setattr(record_pdfs, "render_appraisal_pdf", fails_once_for_one)
    out = io.StringIO()
    call_command("make_record_pdfs", stdout=out)
    assert "4 completed records without a kept PDF" in out.getvalue()
    assert tasks.run_due() == 3  # two batches of two, each queueing the next, then one that finds none left
    assert set(RecordPDF.objects.values_list("appraisal_id", flat=True)) == {r.pk for r in records} - {broken}
    call_command("make_record_pdfs", stdout=io.StringIO())  # run again: it carries on with what is missing
    tasks.run_due()
    assert RecordPDF.objects.count() == 4
