"""The background work at scale (`python manage.py bench_background`, on a database seeded by seed_scale;
`make bench` runs it at BENCH_BACKGROUND_STAFF, 20,000 by default):

- opening a cycle for everyone from HR's page: the request (it only queues the job; median of five),
  then the job itself, run here as a worker runs it (prepare in batches, then one transaction);
- the outbox delivering the opening's emails to a local SMTP sink through `manage.py qcluster` with
  two workers, as production runs it: emails a second over the first BACKGROUND_EMAIL_SECONDS;
- the daily reminder run (`appraisal.reminders.send_due`) on the day reminders fall due for everyone.

Writes bench/background.json and prints a table with each target.
"""

import datetime
import json
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone

from appraisal import reminders
from appraisal.models import Appraisal, AppraisalCycle
from appraisal.services import cycles
from bench.measure import _client
from core import jobs
from core.models import Job
from outbox.models import Email
from staff.models import StaffMember

REQUEST = "open a cycle: the request"
JOB = "open a cycle: the job"
EMAILS = "outbox to SMTP, two workers"
REMINDERS = "daily reminder run"
TARGETS = {
    REQUEST: ("≤ 300 ms", 300),
    JOB: ("≤ 60 s", 60_000),
    EMAILS: ("≥ 50 emails/s", 50),
    REMINDERS: ("≤ 30 s", 30_000),
}
EMAIL_SECONDS = float(os.environ.get("BACKGROUND_EMAIL_SECONDS", "30"))


class Sink:
    """A local SMTP server that accepts every message and counts them (aiosmtpd)."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.count = 0
        self.lock = threading.Lock()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's name for the hook
        with self.lock:
            self.count += 1
        return "250 OK"


def run(*, out=print) -> list[dict]:
    hr = get_user_model().objects.get(username="hr")
    staff = StaffMember.objects.active().count()
    if not AppraisalCycle.objects.exists():
        raise RuntimeError("No cycle: run seed_scale on this database first.")
    today = timezone.localdate()
    cycle = cycles.create_cycle(
        by=hr,
        name="Benchmark opening",
        period_start=today - datetime.timedelta(days=365),
        period_end=today - datetime.timedelta(days=1),
        due_on=today + datetime.timedelta(days=settings.REMINDER_DAYS_BEFORE),  # reminders fall due today
        self_assessment=True,  # one email and one reminder per person: the most there can be
    )
    results = []

    # The request: it writes the job and queues it (the queue row is removed again each time).
    client = _client("hr")
    times = []
    for _ in range(5):
        started = time.perf_counter()
        response = client.post(reverse("cycle_open", args=[cycle.pk]), {"confirmed": "1"})
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 302:
            raise RuntimeError(f"opening answered {response.status_code}")
        Job.objects.filter(key=f"cycle {cycle.pk}").delete()
        _clear_queue()
    results.append(_result(REQUEST, staff, statistics.median(times), "ms"))
    out(f"  {REQUEST}: {statistics.median(times):.0f} ms (median of 5)")

    # The job, as a worker runs it.
    job = cycles.start_opening(by=hr, cycle=cycle)
    last = _TransactionTime()
    log = logging.getLogger(cycles.__name__)
    level = log.level
    log.setLevel(logging.INFO)
    log.addHandler(last)
    started = time.perf_counter()
    try:
        outcome = jobs.run(job.pk)
    finally:
        log.removeHandler(last)
        log.setLevel(level)
    elapsed = (time.perf_counter() - started) * 1000
    created = Appraisal.objects.filter(cycle=cycle).count()
    if outcome != "done" or not created:
        raise RuntimeError(f"the opening job ended {outcome!r} with {created} appraisals")
    note = f"{created:,} appraisals and emails; the last transaction {last.seconds:.1f} s"
    results.append(_result(JOB, staff, elapsed, "ms", note=note))
    out(f"  {JOB}: {elapsed / 1000:.1f} s for {created:,} appraisals (the last transaction: {last.seconds:.1f} s)")

    # The outbox, delivered by the engine's workers to a local SMTP server.
    rate, sent = _deliver(out)
    results.append(_result(EMAILS, staff, rate, "emails/s", note=f"{sent:,} sent in the first {EMAIL_SECONDS:.0f} s"))

    # The daily reminder run, on the day everyone's reminder falls due (the emails it writes are not sent).
    started = time.perf_counter()
    with override_settings(EMAIL_BACKEND="outbox.backends.OutboxBackend"):
        summary = reminders.send_due(today=today)
    elapsed = (time.perf_counter() - started) * 1000
    results.append(_result(REMINDERS, staff, elapsed, "ms", note=str(summary)))
    out(f"  {REMINDERS}: {elapsed / 1000:.1f} s ({summary})")
    return results


def _deliver(out) -> tuple[float, int]:
    sink = Sink()
    sink.controller.start()
    env = {
        **os.environ,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(sink.port),
        "EMAIL_USE_TLS": "0",
        "TASK_WORKERS": "2",
        "DEBUG": "0",
    }
    pending = Email.objects.filter(status=Email.Status.PENDING).count()
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the cluster and the workers it starts are stopped together
    )
    try:
        deadline = time.monotonic() + 60
        while sink.count == 0 and time.monotonic() < deadline:  # the workers start, and take the first task
            time.sleep(0.05)
        first, started = sink.count, time.monotonic()
        while time.monotonic() - started < EMAIL_SECONDS and sink.count < pending:
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        sent = sink.count - first
    finally:
        # The cluster would finish the delivery it is doing (minutes) before stopping: it is stopped now.
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        sink.controller.stop()
    rate = sent / elapsed if elapsed else 0.0
    out(f"  {EMAILS}: {rate:.0f} emails/s ({sent:,} in {elapsed:.0f} s; {pending:,} were waiting)")
    return rate, sent


class _TransactionTime(logging.Handler):
    """How long the opening's last transaction took (appraisal.services.cycles logs it)."""

    seconds = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        self.seconds = getattr(record, "transaction_seconds", self.seconds)


def _clear_queue() -> None:
    from django_q.models import OrmQ

    OrmQ.objects.all().delete()


def _result(name: str, size: int, value: float, unit: str, note: str = "") -> dict:
    return {"name": name, "size": size, "value": round(value, 1), "unit": unit, "note": note}


def met(row: dict) -> bool:
    _, limit = TARGETS[row["name"]]
    return row["value"] >= limit if row["unit"] == "emails/s" else row["value"] <= limit


def table(rows: list[dict]) -> str:
    lines = ["| measurement | staff | result | target | met |", "|---|---|---|---|---|"]
    for row in rows:
        value = f"{row['value']:,.0f} {row['unit']}" if row["unit"] != "ms" or row["value"] < 1000 else None
        if value is None:
            value = f"{row['value'] / 1000:.1f} s"
        lines.append(
            f"| {row['name']} | {row['size']:,} | {value} | {TARGETS[row['name']][0]} | {'yes' if met(row) else 'NO'} |"
        )
    return "\n".join(lines)


def save(rows: list[dict], path: Path) -> None:
    path.write_text(json.dumps(rows, indent=1) + "\n")
