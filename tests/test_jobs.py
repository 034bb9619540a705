"""Long jobs (core/jobs.py): opening a cycle, a staff import and a cycle's ZIP run in a worker while the
page shows their progress; a second one is refused; a failed or killed job leaves nothing half-done,
and the work completes when a worker runs it again.

A worker dying at a given moment is a `Killed` exception raised there: a BaseException, so nothing in
the job's code catches it, as nothing runs in a process that is killed. Jobs are run here by calling
`jobs.run` (what the engine's task calls) directly.
"""

import datetime
import io
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from appraisal import cycle_zip, record_pdfs
from appraisal.models import Appraisal, AppraisalCycle, RecordPDF
from appraisal.services import cycles
from audit.models import AuditEntry
from core import jobs
from core.access import make_hr_admin
from core.models import Job
from outbox.models import Email
from staff import imports
from staff.leaving import mark_leaver
from staff.models import StaffMember
from tests.appraisals import complete, fresh, make_cycle, open_appraisal
from tests.conftest import make_person

pytestmark = pytest.mark.django_db

HEADER = "name,email,role_profile,line_manager,start_date\n"


class Killed(BaseException):
    """The worker's process ended here."""


def die_on_call(number: int, real):
    """A stand-in for `real` that dies on its `number`th call."""
    calls = {"count": 0}

    def stand_in(*args, **kwargs):
        calls["count"] += 1
        if calls["count"] == number:
            raise Killed
        return real(*args, **kwargs)

    return stand_in


@pytest.fixture
def team(hr, manager, staff):
    """Six people the manager appraises (staff and five more), and one who cannot be appraised."""
    for number in range(5):
        make_person(f"report_{number}", manager=manager)
    make_person("no_manager")
    for user in get_user_model().objects.all():
        user.email = f"{user.username}@example.org"
        user.save()
    return StaffMember.objects.filter(line_manager=manager.staff_member)


@pytest.fixture
def cycle(hr, team):
    return make_cycle(hr, self_assessment=True)


def visible(cycle) -> int:
    return Appraisal.objects.filter(cycle=cycle).count()


def test_opening_from_the_page_returns_at_once_and_the_job_page_follows_it_to_the_end(client, hr, cycle, team):
    client.force_login(hr)
    response = client.post(reverse("cycle_open", args=[cycle.pk]), {"confirmed": "1"})  # from its confirmation
    job = Job.objects.get(kind="open cycle")
    assert response.status_code == 302 and response.url == reverse("job", args=[job.pk])
    assert visible(cycle) == 0 and job.state == Job.State.QUEUED  # the request did none of the work

    page = client.get(response.url).content.decode()
    assert f"Opening: {cycle.name}" in page and "Waiting for a worker" in page
    assert "It starts as soon as a worker is free." in page
    # Follows the job by itself: without JavaScript by refreshing, with it by fetching the page in place.
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page
    assert 'data-refresh="2"' in page and "js/job." in page and "Stop following" in page
    assert '<meta http-equiv="refresh"' not in client.get(response.url + "?still=1").content.decode()

    assert jobs.run(job.pk) == "done"
    job.refresh_from_db()
    assert (job.state, job.done, job.total, job.params) == (Job.State.DONE, 6, 6, {})
    assert visible(cycle) == 6
    page = client.get(response.url).content.decode()
    assert "Done." in page and "6 appraisals created." in page and 'http-equiv="refresh"' not in page
    assert "No Manager Example: has no line manager" in page
    assert reverse("cycle_detail", args=[cycle.pk]) in page
    assert Email.objects.count() == 6  # one email each, asking for their self-assessment
    assert AuditEntry.objects.filter(action="open", object_type="appraisal").count() == 6
    assert AppraisalCycle.objects.get(pk=cycle.pk).opened_at == job.started_at


def test_a_second_open_while_one_is_unfinished_is_refused(client, hr, cycle):
    client.force_login(hr)
    client.post(reverse("cycle_open", args=[cycle.pk]), {"confirmed": "1"})
    response = client.post(reverse("cycle_open", args=[cycle.pk]), {"confirmed": "1"}, follow=True)
    page = response.content.decode()
    assert "already being opened" in page and "nothing more was started" in page
    assert "Being opened" in page and "Open the cycle: create" not in page  # the button is gone meanwhile
    assert Job.objects.filter(kind="open cycle").count() == 1
    with pytest.raises(jobs.AlreadyRunning):  # the database refuses it, whatever the page
        cycles.start_opening(by=fresh(hr), cycle=cycle)
    jobs.run(Job.objects.get().pk)
    cycles.start_opening(by=fresh(hr), cycle=cycle)  # once finished, opening again is allowed


def test_progress_counts_the_prepared_appraisals_which_nobody_sees_until_all_are_ready(
    hr, cycle, monkeypatch, settings
):
    settings.CYCLE_OPENING_BATCH = 2
    job = cycles.start_opening(by=fresh(hr), cycle=cycle)
    seen = []
    real_progress = jobs.Progress.__call__

    def watch(progress, done=None, **kwargs):
        real_progress(progress, done, **kwargs)
        row = Job.objects.get(pk=job.pk)
        seen.append((row.done, row.total, visible(cycle), Appraisal.with_staged.filter(cycle=cycle).count()))

    monkeypatch.setattr(jobs.Progress, "__call__", watch)
    jobs.run(job.pk)
    # n of N after each batch, with every prepared appraisal invisible until the end
    assert seen[:4] == [(0, 6, 0, 0), (2, 6, 0, 2), (4, 6, 0, 4), (6, 6, 0, 6)]
    assert visible(cycle) == 6


def test_a_worker_killed_during_an_opening_leaves_nothing_half_done_and_the_next_one_finishes_it(
    hr, cycle, monkeypatch, settings
):
    settings.CYCLE_OPENING_BATCH = 2
    job = cycles.start_opening(by=fresh(hr), cycle=cycle)
    monkeypatch.setattr(cycles, "create_appraisals", die_on_call(2, cycles.create_appraisals))
    with pytest.raises(Killed):
        jobs.run(job.pk)
    # One batch was prepared; nobody can see it; the cycle is not opened; nobody was emailed or audited.
    assert Appraisal.with_staged.filter(cycle=cycle).count() == 2 and visible(cycle) == 0
    assert AppraisalCycle.objects.get(pk=cycle.pk).opened_at is None
    assert not Email.objects.exists() and not AuditEntry.objects.filter(action="open").exists()
    assert Job.objects.get(pk=job.pk).state == Job.State.RUNNING

    monkeypatch.undo()
    assert jobs.run(job.pk) == "done"  # the engine gives the task to another worker
    assert visible(cycle) == 6 and Appraisal.with_staged.filter(cycle=cycle).count() == 6
    assert sorted(Appraisal.objects.filter(cycle=cycle).values_list("staff_member__user__username", flat=True)) == [
        "report_0",
        "report_1",
        "report_2",
        "report_3",
        "report_4",
        "staff",
    ]
    assert Email.objects.count() == 6 and AuditEntry.objects.filter(action="open", object_type="appraisal").count() == 6
    assert Job.objects.get(pk=job.pk).attempts == 2


def test_a_worker_killed_as_the_opening_commits_leaves_it_done_not_to_be_done_again(hr, cycle, monkeypatch):
    job = cycles.start_opening(by=fresh(hr), cycle=cycle)
    monkeypatch.setattr(jobs, "finish", die_on_call(2, jobs.finish))  # the 1st is in the opening's transaction
    with pytest.raises(Killed):
        jobs.run(job.pk)
    monkeypatch.undo()
    assert Job.objects.get(pk=job.pk).state == Job.State.DONE and visible(cycle) == 6
    assert jobs.run(job.pk) == "nothing to do"
    assert visible(cycle) == 6 and Email.objects.count() == 6


def test_a_failed_opening_removes_what_it_prepared_and_says_why(client, hr, cycle, monkeypatch, settings):
    settings.CYCLE_OPENING_BATCH = 2
    job = cycles.start_opening(by=fresh(hr), cycle=cycle)

    def broken(*args, **kwargs):
        raise RuntimeError("the notifications could not be written")

    monkeypatch.setattr(cycles.notifications, "send_prepared", broken)  # in the last transaction
    assert jobs.run(job.pk) == "failed"
    assert Appraisal.with_staged.filter(cycle=cycle).count() == 0
    assert AppraisalCycle.objects.get(pk=cycle.pk).opened_at is None and not Email.objects.exists()
    client.force_login(hr)
    page = client.get(reverse("job", args=[job.pk])).content.decode()
    assert "It did not finish." in page and "Nothing it had done was kept" in page
    assert "notifications could not be written" not in page  # the details are for the log
    assert 'http-equiv="refresh"' not in page


def test_an_opening_killed_too_often_is_given_up_and_cleaned_up(hr, cycle, monkeypatch, settings):
    settings.CYCLE_OPENING_BATCH = 2
    job = cycles.start_opening(by=fresh(hr), cycle=cycle)
    monkeypatch.setattr(cycles, "create_appraisals", die_on_call(2, cycles.create_appraisals))
    with pytest.raises(Killed):
        jobs.run(job.pk)
    Job.objects.filter(pk=job.pk).update(attempts=jobs.MAX_ATTEMPTS)
    assert jobs.run(job.pk) == "given up"
    job.refresh_from_db()
    assert job.state == Job.State.FAILED and "stopped before it could finish" in job.error
    assert Appraisal.with_staged.filter(cycle=cycle).count() == 0


def test_a_long_opening_works_in_slices_each_queued_after_the_last(hr, cycle, monkeypatch, settings):
    settings.CYCLE_OPENING_BATCH = 2
    settings.JOB_SLICE_SECONDS = 0  # every batch uses up its slice
    job = cycles.start_opening(by=fresh(hr), cycle=cycle)
    assert jobs.run(job.pk) == "again"
    assert Job.objects.get(pk=job.pk).state == Job.State.RUNNING and visible(cycle) == 0
    with TestCase.captureOnCommitCallbacks(execute=True):  # each slice queues the next (run at once here)
        assert jobs.run(job.pk) == "again"
    job.refresh_from_db()
    assert job.state == Job.State.DONE and job.attempts == 1 and visible(cycle) == 6


def test_the_last_transaction_checks_the_prepared_appraisals_against_the_records(
    hr, manager, cycle, monkeypatch, settings
):
    settings.CYCLE_OPENING_BATCH = 3
    job = cycles.start_opening(by=fresh(hr), cycle=cycle)
    monkeypatch.setattr(jobs.Progress, "time_is_up", lambda progress: True)
    assert jobs.run(job.pk) == "again"  # three prepared, three to go
    prepared = Appraisal.with_staged.filter(cycle=cycle).select_related("staff_member__user").first()
    leaver = prepared.staff_member.user.username
    mark_leaver(by=fresh(hr), member=prepared.staff_member, left_on=timezone.localdate() - datetime.timedelta(days=1))
    make_person("joined_meanwhile", manager=manager)
    monkeypatch.undo()
    assert jobs.run(job.pk) == "done"
    people = set(Appraisal.objects.filter(cycle=cycle).values_list("staff_member__user__username", flat=True))
    assert leaver not in people and "joined_meanwhile" in people and len(people) == 6
    # The emails and audit entries made before the last transaction were made again for those who got one.
    assert sorted(Email.objects.values_list("user__username", flat=True)) == sorted(people - {"joined_meanwhile"})
    audited = AuditEntry.objects.filter(action="open", object_type="appraisal")
    assert set(audited.values_list("person__user__username", flat=True)) == people and audited.count() == 6
    assert not Appraisal.with_staged.filter(staged_for__isnull=False).exists()


def test_the_cycle_list_and_page_do_not_count_prepared_appraisals(client, hr, cycle, monkeypatch, settings):
    settings.CYCLE_OPENING_BATCH = 3
    monkeypatch.setattr(jobs.Progress, "time_is_up", lambda progress: True)
    job = cycles.start_opening(by=fresh(hr), cycle=cycle)
    jobs.run(job.pk)
    client.force_login(hr)
    assert client.get(reverse("cycle_list")).context["cycles"].get(pk=cycle.pk).appraisal_count == 0
    page = client.get(reverse("cycle_detail", args=[cycle.pk]))
    assert page.context["appraisals"] == [] and "3 of 6 appraisals prepared" in page.content.decode()
    # Nor does the outcomes export, which reads the records' competencies directly.
    export = b"".join(client.get(reverse("outcomes_csv")).streaming_content).decode()
    assert cycle.name not in export and len(export.splitlines()) == 1  # the header alone


# --- the staff import ---


@pytest.fixture
def import_file(manager):
    manager.email = "morgan.ellis@example.org"
    manager.save()
    return HEADER + "".join(
        f"Person {'ABCD'[number]}ixon,person.{number}@example.org,housing-worker,morgan.ellis@example.org,2025-09-01\n"
        for number in range(4)
    )


def imported() -> int:
    return StaffMember.objects.filter(user__email__startswith="person.").count()


def test_a_worker_killed_during_an_import_leaves_nothing_and_the_next_one_imports_everyone_once(
    hr, import_file, monkeypatch
):
    job = imports.start_import(by=fresh(hr), csv_text=import_file, count=4)
    monkeypatch.setattr(imports, "record_all", die_on_call(1, imports.record_all))  # the last writes of the import
    with pytest.raises(Killed):
        jobs.run(job.pk)
    assert imported() == 0
    monkeypatch.undo()
    assert jobs.run(job.pk) == "done"
    assert imported() == 4 and AuditEntry.objects.filter(action="import").count() == 1
    job.refresh_from_db()
    assert job.params == {} and job.done == job.total == 4  # the file is not kept once imported


def test_an_import_killed_as_it_commits_is_done_and_not_imported_again(hr, import_file, monkeypatch):
    job = imports.start_import(by=fresh(hr), csv_text=import_file, count=4)
    monkeypatch.setattr(jobs, "finish", die_on_call(2, jobs.finish))
    with pytest.raises(Killed):
        jobs.run(job.pk)
    monkeypatch.undo()
    assert jobs.run(job.pk) == "nothing to do" and imported() == 4
    assert Job.objects.get(pk=job.pk).state == Job.State.DONE


def test_a_second_import_while_one_runs_is_refused(client, hr, import_file):
    client.force_login(hr)
    first = client.post(reverse("staff_import"), {"csv_text": import_file})
    job = Job.objects.get(kind="import staff")
    assert first.url == reverse("job", args=[job.pk])
    page = client.get(first.url).content.decode()
    assert "Importing 4 people" in page and "Waiting for a worker" in page
    second = client.post(reverse("staff_import"), {"csv_text": import_file}, follow=True)
    assert "Another import is running" in second.content.decode()
    assert "An import is running (4 people)" in client.get(reverse("staff_import")).content.decode()
    assert Job.objects.filter(kind="import staff").count() == 1 and imported() == 0


# --- a cycle's completed records as one ZIP ---


@pytest.fixture
def completed_cycle(hr, manager, staff, other_staff):
    make_person("second", manager=manager)
    first = complete(open_appraisal(hr, staff), manager=manager, staff=staff)
    second_user = StaffMember.objects.get(user__username="second").user
    complete(
        Appraisal.objects.get(cycle=first.cycle, staff_member__user=second_user), manager=manager, staff=second_user
    )
    return first.cycle


def test_hr_downloads_every_completed_record_of_a_cycle_as_one_zip_kept_for_a_day(client, hr, completed_cycle):
    client.force_login(hr)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(reverse("cycle_zip", args=[completed_cycle.pk]))
    job = Job.objects.get(kind="cycle zip")
    assert response.url == reverse("job", args=[job.pk])
    page = client.get(response.url).content.decode()
    assert "Done." in page and "2 completed records in one ZIP" in page
    assert reverse("job_file", args=[job.pk]) in page
    download = client.get(reverse("job_file", args=[job.pk]))
    assert download.status_code == 200 and download["Cache-Control"] == "private, no-store"
    assert 'filename="annual-appraisal-2026-completed-records.zip"' in download["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    names = archive.namelist()
    assert len(names) == 2 and all(name.endswith(".pdf") for name in names)
    assert {name.split("-")[0] for name in names} == {"example"}
    assert all(archive.read(name).startswith(b"%PDF") for name in names)
    assert RecordPDF.objects.count() == 2  # the PDFs are the records' kept ones, made if missing

    # The cycle's page offers it while kept; a day later it is gone.
    assert (
        reverse("job_file", args=[job.pk])
        in client.get(reverse("cycle_detail", args=[completed_cycle.pk])).content.decode()
    )
    job.refresh_from_db()
    assert job.expires_at - job.finished_at == datetime.timedelta(hours=24)
    Job.objects.filter(pk=job.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    gone = client.get(reverse("job_file", args=[job.pk]))
    assert gone.status_code == 404 and "no longer kept" in gone.content.decode()
    name = job.file.name
    assert jobs.clear_expired()["files"] == 1 and not default_storage.exists(name)


def test_the_zip_is_only_for_the_hr_admin_who_asked(client, hr, manager, completed_cycle):
    job = cycle_zip.start(by=fresh(hr), cycle=completed_cycle)
    jobs.run(job.pk)
    other_hr = make_person("other_hr", role=None, hr=True)
    client.force_login(other_hr)
    assert client.get(reverse("job", args=[job.pk])).status_code == 404
    assert client.get(reverse("job_file", args=[job.pk])).status_code == 404
    client.force_login(manager)
    assert client.get(reverse("job_file", args=[job.pk])).status_code == 403


def test_a_worker_killed_during_a_zip_keeps_the_pdfs_made_and_the_next_one_finishes_it(
    hr, completed_cycle, monkeypatch
):
    job = cycle_zip.start(by=fresh(hr), cycle=completed_cycle)
    monkeypatch.setattr(record_pdfs, "make", die_on_call(2, record_pdfs.make))
    with pytest.raises(Killed):
        jobs.run(job.pk)
    job.refresh_from_db()
    assert RecordPDF.objects.count() == 1 and not job.file and job.state == Job.State.RUNNING
    assert not default_storage.exists(cycle_zip._name(job))  # no half-made ZIP is kept
    monkeypatch.undo()
    made = []
    real_make = record_pdfs.make
    monkeypatch.setattr(record_pdfs, "make", lambda pk: made.append(pk) or real_make(pk))
    assert jobs.run(job.pk) == "done"
    assert len(made) == 1  # only the record whose PDF was not made yet
    job.refresh_from_db()
    assert (
        zipfile.ZipFile(job.file.open("rb")).testzip() is None
        and len(zipfile.ZipFile(job.file.open("rb")).namelist()) == 2
    )


def test_a_zip_of_a_cycle_with_nothing_completed_says_so(hr, cycle):
    cycles.open_cycle(by=fresh(hr), cycle=cycle)
    job = cycle_zip.start(by=fresh(hr), cycle=cycle)
    assert jobs.run(job.pk) == "failed"
    assert "nothing to put in a ZIP" in Job.objects.get(pk=job.pk).error


def test_the_zip_leaves_out_the_hr_admins_own_record(hr, manager, staff, completed_cycle):
    make_hr_admin(staff)
    job = cycle_zip.start(by=fresh(staff), cycle=completed_cycle)
    jobs.run(job.pk)
    job.refresh_from_db()
    names = zipfile.ZipFile(job.file.open("rb")).namelist()
    own = Appraisal.objects.get(cycle=completed_cycle, staff_member__user=staff).pk
    assert len(names) == 1 and not names[0].endswith(f"-{own}.pdf")


def test_old_jobs_are_removed(hr, cycle):
    job = cycles.start_opening(by=fresh(hr), cycle=cycle)
    jobs.run(job.pk)
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now() - datetime.timedelta(days=31))
    assert jobs.clear_expired()["jobs"] == 1 and not Job.objects.exists()
