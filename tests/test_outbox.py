"""The email outbox and the task engine, against a real SMTP server the tests start (aiosmtpd), a socket that
accepts connections and never answers, and a port where nothing listens.

The engine runs here as a worker runs it: queued tasks are rows of Django Q2's ORM broker, taken with
`run_due` (the broker's dequeue, the cluster's worker and monitor code), and acknowledged. A worker
dying at a given moment is a `Killed` exception raised there: it is a BaseException, so nothing in the
application catches it, and the transaction it interrupts is rolled back, as the database does when a
process's connection drops.
"""

import datetime
import logging
import socket
import time
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import OrmQ, Schedule, Task as EngineTask

from appraisal.models import Appraisal
from appraisal.services import workflow
from audit.models import AuditEntry
from core import tasks
from outbox import delivery
from outbox.models import Email
from tests.appraisals import fresh, open_appraisal, rate, reload

State = Appraisal.State
ENQUEUE = tasks.enqueue  # as the application has it (tests/conftest.py runs emails at once elsewhere)
# Committed for real, as in production: a change's emails are queued when its transaction commits.
pytestmark = pytest.mark.django_db(transaction=True)


class Killed(BaseException):
    """The worker process dies here."""


# --- servers -------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Received:
    """An SMTP handler that keeps every message it accepts, and refuses the addresses in `unknown`."""

    def __init__(self):
        self.messages = []
        self.unknown = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # aiosmtpd's name
        if address in self.unknown:
            return "550 5.1.1 User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls the hook by this name
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        return [message["Message-ID"] for message in self.messages]


class MailServer:
    """One port, which can be down (nothing listens), hung (accepts, never answers) or up (aiosmtpd)."""

    def __init__(self):
        self.port = free_port()
        self.received = Received()
        self._controller = None
        self._hung = None

    def up(self):
        self.stop()
        self._controller = Controller(self.received, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def hang(self):
        self.stop()
        self._hung = socket.socket()
        self._hung.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._hung.bind(("127.0.0.1", self.port))
        self._hung.listen(50)  # the kernel completes each connection; nobody ever says hello

    def stop(self):
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._hung is not None:
            self._hung.close()
            self._hung = None


@pytest.fixture(autouse=True)
def quiet_schedule(framework_loaded):
    """The periodic work waits a day, unless a test makes it due: each test says what runs."""
    Schedule.objects.update(next_run=timezone.now() + datetime.timedelta(days=1))


@pytest.fixture(autouse=True)
def task_logs(monkeypatch):
    """The loggers of background work write to their own handler only; here they reach caplog too."""
    for name in ("core.tasks", "outbox"):
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)


@pytest.fixture
def server(settings, monkeypatch):
    """The outbox delivering by SMTP to a server that starts down; every task queued for the engine."""
    monkeypatch.setattr(tasks, "enqueue", ENQUEUE)
    mail_server = MailServer()
    settings.OUTBOX_DELIVERY_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = mail_server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 1
    yield mail_server
    mail_server.stop()


def write_email(to="sam@example.org", subject="Your appraisal", body="A link.") -> Email:
    """An email sent in a transaction of its own: written to the outbox, its delivery queued on commit."""
    with transaction.atomic():
        mail.send_mail(subject, body, None, [to])
    return Email.objects.latest("pk")


def time_passes(minutes=60):
    """Everything waiting (a next try, a claim, the minutely delivery) becomes due, as if `minutes` had passed."""
    earlier = timezone.now() - datetime.timedelta(minutes=minutes)
    Email.objects.filter(status=Email.Status.PENDING).update(next_attempt_at=earlier)
    Email.objects.exclude(claimed_until=None).update(claimed_until=earlier)
    Schedule.objects.filter(name=tasks.SCHEDULE_PREFIX + "deliver due emails").update(next_run=earlier)


# --- requests never wait on the mail server ---------------------------------------------------------------------


def shared_appraisal(hr, manager, staff):
    staff.email, manager.email = "sam@example.org", "morgan@example.org"
    staff.save()
    manager.save()
    appraisal = open_appraisal(hr, staff)
    return rate(appraisal, manager)


@pytest.mark.parametrize("state", ["up", "hung", "down"])
def test_workflow_steps_answer_at_once_whatever_the_mail_server_does(
    state, server, settings, client, hr, manager, staff
):
    settings.EMAIL_TIMEOUT = 3
    getattr(server, {"up": "up", "hung": "hang", "down": "stop"}[state])()
    appraisal = shared_appraisal(hr, manager, staff)
    steps = [
        (manager, "appraisal_share", {}),
        (staff, "appraisal_sign_off", {"agrees": "yes", "comments": "Fair."}),
        (manager, "appraisal_countersign", {"comments": ""}),
    ]
    before = set(Email.objects.values_list("pk", flat=True))
    queued = OrmQ.objects.count()
    timings = []
    for user, name, data in steps:
        client.force_login(user)
        revision = reload(appraisal).revision
        started = time.monotonic()
        response = client.post(reverse(name, args=[appraisal.pk]), {**data, "revision": revision, "confirmed": "1"})
        timings.append(time.monotonic() - started)
        assert response.status_code == 302, name
    assert reload(appraisal).state == State.COMPLETED
    # Each step wrote its email and queued its delivery; none of them spoke to the mail server.
    emails = Email.objects.exclude(pk__in=before)
    assert emails.count() == 3 and set(emails.values_list("status", "attempts")) == {("pending", 0)}
    assert OrmQ.objects.count() == queued + 4  # the three deliveries, and the completed record's PDF to make
    assert server.received.messages == []
    assert max(timings) < 2, timings  # less than one EMAIL_TIMEOUT (3 s): no request waited on the server


def test_queued_emails_are_delivered_once_the_server_answers(server, hr, manager, staff):
    server.hang()
    appraisal = shared_appraisal(hr, manager, staff)
    with transaction.atomic():
        workflow.share(by=fresh(manager), appraisal=reload(appraisal))
    write_email(to="morgan@example.org", subject="Another")
    count = Email.objects.count()  # the opening's email to the manager, the share's to Sam, this one
    assert tasks.run_due() == count  # each delivery waits EMAIL_TIMEOUT, then is put off
    pending = Email.objects.filter(status=Email.Status.PENDING)
    assert pending.count() == count
    assert all(email.attempts >= 1 and "timed out" in email.last_error.lower() for email in pending)
    assert all(email.next_attempt_at > timezone.now() for email in pending)

    server.stop()  # down: refused at once
    time_passes()
    tasks.run_due()
    assert Email.objects.filter(status=Email.Status.PENDING).count() == count
    # The oldest is tried; refused, the rest wait for the next run rather than each trying a server that is down.
    errors = list(Email.objects.order_by("next_attempt_at").values_list("last_error", flat=True))
    assert "refused" in errors[-1].lower() and all("timed out" in error.lower() for error in errors[:-1])

    server.up()
    tasks.run_due()
    assert server.received.messages == []  # not before the next try is due
    time_passes()
    tasks.run_due()
    assert sorted(server.received.message_ids()) == sorted(Email.objects.values_list("message_id", flat=True))
    assert set(Email.objects.values_list("status", flat=True)) == {"sent"}
    time_passes()
    tasks.run_due()
    assert len(server.received.messages) == count  # each once


def test_a_failing_email_is_tried_with_back_off_for_a_day_then_marked_failed(server):
    email = write_email()
    waits = []
    for _ in range(4):
        before = timezone.now()
        assert delivery.deliver(email.pk) in ("retry", "not due")
        email.refresh_from_db()
        waits.append(round((email.next_attempt_at - before).total_seconds() / 60))
        time_passes()
    assert waits == [1, 2, 5, 15]
    Email.objects.filter(pk=email.pk).update(give_up_at=timezone.now() - datetime.timedelta(seconds=1))  # a day on
    assert delivery.deliver(email.pk) == "failed"
    email.refresh_from_db()
    assert email.status == Email.Status.FAILED and email.attempts == 5 and "refused" in email.last_error.lower()
    time_passes()
    assert delivery.deliver_due() == 0 and Email.objects.get(pk=email.pk).attempts == 5  # not tried again


def test_an_address_the_server_refuses_for_good_fails_at_once(server):
    server.up()
    server.received.unknown.add("nobody@example.org")
    email = write_email(to="nobody@example.org")
    assert delivery.deliver(email.pk) == "failed"
    email.refresh_from_db()
    assert email.status == Email.Status.FAILED and email.attempts == 1 and "User unknown" in email.last_error
    assert server.received.messages == []


def test_an_email_keeps_trying_for_a_day_by_default():
    email = write_email()
    assert (
        datetime.timedelta(hours=23, minutes=59)
        < email.give_up_at - email.created_at
        < datetime.timedelta(days=1, seconds=1)
    )


# --- a rolled-back change sends nothing ---------------------------------------------------------------------------


def test_a_change_that_rolls_back_sends_nothing(server, hr, manager, staff):
    server.up()
    appraisal = shared_appraisal(hr, manager, staff)
    tasks.run_due()  # the opening's email to the manager
    emails, queued = Email.objects.count(), OrmQ.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        workflow.share(by=fresh(manager), appraisal=reload(appraisal))
        assert Email.objects.count() == emails + 1  # written with the change...
        raise RuntimeError("the request fails after the step")
    assert Email.objects.count() == emails and OrmQ.objects.count() == queued == 0  # ...and gone with it
    time_passes()
    tasks.run_due()
    assert [message["To"] for message in server.received.messages] == ["morgan@example.org"]
    assert reload(appraisal).state == State.MANAGER_REVIEW


def test_a_committed_change_keeps_its_email_even_if_queueing_it_is_lost(server, hr, manager, staff):
    """The process dies between the commit and queueing the delivery: the minutely schedule sends it."""
    server.up()
    appraisal = shared_appraisal(hr, manager, staff)
    with transaction.atomic():
        workflow.share(by=fresh(manager), appraisal=reload(appraisal))
    assert OrmQ.objects.exists()
    OrmQ.objects.all().delete()  # the process died between the commit and queueing the deliveries
    Schedule.objects.filter(name=tasks.SCHEDULE_PREFIX + "deliver due emails").update(
        next_run=timezone.now() - datetime.timedelta(minutes=1)
    )
    tasks.run_due()
    assert len(server.received.messages) == Email.objects.count() == 2  # the opening's and the share's
    assert set(Email.objects.values_list("status", flat=True)) == {Email.Status.SENT}


# --- a worker killed at each moment -----------------------------------------------------------------------------------


def test_a_worker_killed_before_it_connects_leaves_the_email_to_be_sent_once(server, monkeypatch):
    server.up()
    email = write_email()

    def dies(*args, **kwargs):
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(delivery, "get_connection", dies)
        with pytest.raises(Killed):
            delivery.deliver(email.pk)
    email.refresh_from_db()
    assert email.status == Email.Status.PENDING and email.claimed_until > timezone.now()
    assert delivery.deliver_due() == 0  # claimed: no other worker takes it while the claim lasts
    time_passes(minutes=6)  # the claim runs out
    assert delivery.deliver_due() == 1
    assert server.received.message_ids() == [email.message_id]
    time_passes()
    tasks.run_due()
    assert len(server.received.messages) == 1


def test_a_worker_killed_after_the_server_took_it_sends_it_again_with_the_same_message_id(server, monkeypatch):
    from django.core.mail.backends.smtp import EmailBackend

    server.up()
    email = write_email()
    send_messages = EmailBackend.send_messages

    def sends_then_dies(self, messages):
        send_messages(self, messages)
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(EmailBackend, "send_messages", sends_then_dies)
        with pytest.raises(Killed):
            delivery.deliver(email.pk)
    assert Email.objects.get(pk=email.pk).status == Email.Status.PENDING  # the outcome was never recorded
    time_passes(minutes=6)
    tasks.run_due()
    assert server.received.message_ids() == [email.message_id, email.message_id]  # a recognisable copy
    assert Email.objects.get(pk=email.pk).status == Email.Status.SENT
    time_passes()
    tasks.run_due()
    assert len(server.received.messages) == 2


def test_a_worker_killed_after_recording_the_delivery_sends_nothing_more(server, monkeypatch):
    server.up()
    email = write_email()

    def dies(*args, **kwargs):
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(delivery.logger, "info", dies)  # right after the outcome is recorded
        with pytest.raises(Killed):
            delivery.deliver(email.pk)
    assert Email.objects.get(pk=email.pk).status == Email.Status.SENT
    time_passes(minutes=6)
    tasks.run_due()
    assert server.received.message_ids() == [email.message_id]


def test_a_task_held_by_a_worker_that_died_goes_to_another(server):
    """The engine's own recovery: a task taken from the queue and never acknowledged is taken again."""
    server.up()
    email = write_email()  # its delivery queued when it committed
    broker = get_broker()
    taken = broker.dequeue()  # a worker takes it ... and dies
    assert len(taken) == 1
    assert tasks.run_due() == 0  # held: invisible to other workers until Q_CLUSTER["retry"] has passed
    OrmQ.objects.update(lock=timezone.now() - datetime.timedelta(seconds=1))
    assert tasks.run_due() == 1
    assert server.received.message_ids() == [email.message_id]
    assert OrmQ.objects.count() == 0  # acknowledged


# --- sendtestemail, run_due ---------------------------------------------------------------------------------------


def test_sendtestemail_returns_at_once_with_the_server_hung_and_run_due_delivers_it_later(server):
    server.hang()
    started = time.monotonic()
    call_command("sendtestemail", "someone@example.org")
    assert time.monotonic() - started < 0.5
    email = Email.objects.get()
    assert email.status == Email.Status.PENDING and email.attempts == 0
    call_command("run_due")  # the server does not answer: put off
    assert Email.objects.get().attempts == 1
    server.up()
    time_passes()
    call_command("run_due")
    assert server.received.message_ids() == [email.message_id]
    assert server.received.messages[0]["To"] == "someone@example.org"


# --- the engine: retries of failed tasks, the schedule, logs --------------------------------------------------------


def always_fails(record_id):
    raise ValueError(f"private detail of record {record_id}")


def test_a_failed_task_is_retried_with_back_off_then_given_up(server, caplog):
    caplog.set_level(logging.INFO, logger="core.tasks")
    tasks.enqueue("example", "tests.test_outbox.always_fails", 7)
    delays = []
    for attempt in range(1, len(tasks.RETRY_DELAYS) + 2):
        Schedule.objects.filter(name=None).update(next_run=timezone.now() - datetime.timedelta(seconds=1))
        before = timezone.now()
        assert tasks.run_due() == 1, attempt
        retry = Schedule.objects.filter(name=None).first()
        if retry is not None:
            delays.append(round((retry.next_run - before).total_seconds()))
    assert delays == list(tasks.RETRY_DELAYS)
    assert not Schedule.objects.filter(name=None).exists()  # given up
    assert EngineTask.objects.filter(success=False).count() == 1  # the engine records the last failure
    lines = [record.getMessage() for record in caplog.records if record.name == "core.tasks"]
    assert sum("task start kind=example ids=7" in line for line in lines) == 5
    assert sum("task retry kind=example ids=7" in line for line in lines) == 4
    assert sum("task failed kind=example ids=7" in line for line in lines) == 1
    assert not any("private detail" in line for line in lines)  # the kind and the record, never the content


def test_the_schedule_is_written_after_migrate_and_a_missed_run_runs_once(server, django_user_model):
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session

    names = set(Schedule.objects.filter(name__startswith=tasks.SCHEDULE_PREFIX).values_list("name", flat=True))
    from django.conf import settings

    assert names == {tasks.SCHEDULE_PREFIX + name for name in settings.SCHEDULE}
    assert {"deliver due emails", "clear expired", "apply handovers", "clear old emails"} <= set(settings.SCHEDULE)
    session = SessionStore()
    session.set_expiry(-60)
    session.save()
    schedule = Schedule.objects.get(name=tasks.SCHEDULE_PREFIX + "clear expired")
    Schedule.objects.filter(pk=schedule.pk).update(next_run=timezone.now() - datetime.timedelta(days=3))  # no worker
    tasks.run_due()
    assert not Session.objects.filter(session_key=session.session_key).exists()
    schedule.refresh_from_db()
    assert schedule.next_run > timezone.now()  # once, then the next slot: not three times for three missed days
    assert EngineTask.objects.filter(group=schedule.name).count() == 1


def test_sync_schedule_follows_the_settings(settings):
    settings.SCHEDULE = {
        "clear expired": {"kind": "clear expired", "func": "appraisal.jobs.clear_expired", "cron": "0 4 * * *"}
    }
    tasks.sync_schedule()
    schedules = Schedule.objects.filter(name__startswith=tasks.SCHEDULE_PREFIX)
    assert list(schedules.values_list("name", "cron")) == [(tasks.SCHEDULE_PREFIX + "clear expired", "0 4 * * *")]
    assert timezone.localtime(schedules.get().next_run).hour == 4


def test_emails_are_kept_a_year_once_delivered_or_given_up(server):
    sent, failed, pending = write_email(), write_email(), write_email()
    Email.objects.filter(pk=sent.pk).update(status=Email.Status.SENT)
    Email.objects.filter(pk=failed.pk).update(status=Email.Status.FAILED)
    assert delivery.clear_old() == 0
    Email.objects.update(created_at=timezone.now() - datetime.timedelta(days=366))
    assert delivery.clear_old() == 2
    assert list(Email.objects.values_list("pk", flat=True)) == [pending.pk]  # still to be delivered: kept


def test_delivery_is_logged_without_the_content(server, caplog):
    server.up()
    caplog.set_level(logging.INFO)
    email = write_email(subject="Secret subject", body="Secret body")
    tasks.run_due()
    ours = ("core.tasks", "outbox", "django-q")  # (the test's SMTP server logs what it receives)
    text = "\n".join(record.getMessage() for record in caplog.records if record.name in ours)
    assert f"task start kind=deliver email ids={email.pk}" in text and f"email sent id={email.pk}" in text
    assert f"task end kind=deliver email ids={email.pk}" in text
    assert "Secret" not in text and "sam@example.org" not in text


# --- HR's delivery log ------------------------------------------------------------------------------------------------


def test_hr_sees_the_delivery_log_filters_it_and_sends_again(server, client, hr, staff, manager):
    server.up()
    staff.email = "sam@example.org"
    staff.save()
    sent = write_email(to="sam@example.org", subject="Sent one")
    delivery.deliver(sent.pk)
    failed = write_email(to="morgan.other@example.org", subject="Failed one")
    Email.objects.filter(pk=failed.pk).update(
        status=Email.Status.FAILED, attempts=9, last_error="SMTPServerDisconnected"
    )
    pending = write_email(to="sam@example.org", subject="Pending one")

    client.force_login(hr)
    page = client.get(reverse("email_log")).content.decode()
    for text in ("Sent one", "Failed one", "Pending one", "SMTPServerDisconnected", "after 9 tries"):
        assert text in page
    by_person = client.get(reverse("email_log"), {"person": staff.staff_member.pk}).content.decode()
    assert "Sent one" in by_person and "Pending one" in by_person and "Failed one" not in by_person
    by_status = client.get(reverse("email_log"), {"status": "failed"}).content.decode()
    assert "Failed one" in by_status and "Sent one" not in by_status
    bad = client.get(reverse("email_log"), {"status": "lost"}).content.decode()
    assert "Choose a status from the list." in bad

    # A failed email is tried again for another day, as it was (same Message-ID).
    response = client.post(reverse("email_resend", args=[failed.pk]))
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == Email.Status.PENDING and failed.give_up_at > timezone.now() + datetime.timedelta(hours=23)
    # A sent one goes again as a new message.
    client.post(reverse("email_resend", args=[sent.pk]))
    copy = Email.objects.get(resent_from=sent)
    assert copy.message_id != sent.message_id and copy.subject == "Sent one" and copy.status == Email.Status.PENDING
    assert copy.message_id in copy.raw and sent.message_id not in copy.raw
    assert AuditEntry.objects.filter(action="resend", object_type="email").count() == 2
    # A pending one is still on its way.
    response = client.post(reverse("email_resend", args=[pending.pk]), follow=True)
    assert "still being delivered" in response.content.decode()
    assert Email.objects.count() == 4


def test_the_delivery_log_answers_in_a_bounded_number_of_queries(client, hr, django_assert_max_num_queries):
    for number in range(60):
        write_email(to=f"person{number}@example.org", subject=f"Email {number}")
    client.force_login(hr)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("email_log"))
    assert response.status_code == 200 and "Page 1 of 2" in response.content.decode()


# --- a real worker ----------------------------------------------------------------------------------------------------


def database_url() -> str:
    """The test database, as a worker process started by a test reaches it."""
    from django.db import connection

    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{database['NAME']}"
    password = f":{database['PASSWORD']}" if database["PASSWORD"] else ""
    return f"postgres://{database['USER']}{password}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


def test_a_worker_started_as_make_run_starts_it_delivers_the_outbox(server):
    """`manage.py qcluster`, as `make run` and production start it, takes the queued email and delivers it."""
    import os
    import subprocess
    import sys

    from django.conf import settings

    server.up()
    email = write_email()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "SECRET_KEY": "tests-only-not-a-secret",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(server.port),
        "EMAIL_USE_TLS": "0",
        "TASK_WORKERS": "1",
    }
    env.pop("DEBUG", None)
    worker = subprocess.Popen(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while not server.received.messages and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.2)
        deadline = time.monotonic() + 10
        while Email.objects.get(pk=email.pk).status != Email.Status.SENT and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode()
    assert server.received.message_ids() == [email.message_id], output
    assert Email.objects.get(pk=email.pk).status == Email.Status.SENT
    assert f"task end kind=deliver email ids={email.pk}" in output


def test_many_emails_at_once_are_one_task_that_sends_them_all(server, hr, manager):
    from appraisal.services import cycles
    from tests.appraisals import make_cycle
    from tests.conftest import make_person

    server.up()
    people = [make_person(f"person{number}", manager=manager) for number in range(4)]
    for person in people:
        person.email = f"{person.username}@example.org"
        person.save()
    cycle = make_cycle(hr, self_assessment=True)
    queued = OrmQ.objects.count()
    cycles.open_cycle(by=fresh(hr), cycle=cycle)  # one email each, asking for their self-assessment
    assert OrmQ.objects.count() == queued + 1
    assert {email.user.username for email in Email.objects.select_related("user")} == {p.username for p in people}
    tasks.run_due()
    assert sorted(message["To"] for message in server.received.messages) == sorted(p.email for p in people)
