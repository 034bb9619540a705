"""Delivery of the outbox: tasks that send each email once, and retry those that fail.

`deliver(pk)` is queued for every email when its transaction commits; `deliver_due()` runs every
minute (settings.SCHEDULE) and takes whatever is due: failures whose next try has come, and any
email whose task was lost. Each try claims the row first (`claimed_until`, longer than any send
can take), so two workers never send it at once; then it sends, then records the outcome.

So delivery is at least once: if a worker dies before it connects, the claim runs out and the
email is sent later, once; if it dies after the mail server accepted the message and before the
outcome was recorded, the email is sent again, with the same Message-ID, so the copy can be
recognised; once recorded as sent, it is never sent again.
"""

import datetime
import logging
import smtplib
from email import message_from_string
from email.message import Message

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db.models import F, Q
from django.utils import timezone

from core.logging import one_line, shortened
from outbox.models import Email

logger = logging.getLogger("outbox")

# A claimed email is left to its worker this long; then another may take it (the worker died).
CLAIM = datetime.timedelta(minutes=5)
# After the n-th failed try, the next waits BACKOFF[n - 1] (the last one again after that).
BACKOFF = tuple(datetime.timedelta(minutes=minutes) for minutes in (1, 2, 5, 15, 30, 60))
# How many due emails deliver_due reads at a time.
BATCH = 200
ERROR_LIMIT = 300


def _takeable(now):
    """The emails a worker may take now: pending, their next try come, and nobody else's claim still running."""
    return Email.objects.filter(status=Email.Status.PENDING, next_attempt_at__lte=now).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )


def deliver(pk: int) -> str:
    """Send one email if it is due and nobody else is sending it; say what happened."""
    now = timezone.now()
    claimed = _takeable(now).filter(pk=pk).update(claimed_until=now + CLAIM, attempts=F("attempts") + 1)
    if not claimed:
        return "not due"
    email = Email.objects.get(pk=pk)
    try:
        send(email)
    except Exception as error:  # noqa: BLE001 - whatever stops the mail server taking it, it is tried again
        return _failed(email, error)
    Email.objects.filter(pk=pk).update(
        status=Email.Status.SENT, sent_at=timezone.now(), claimed_until=None, last_error=""
    )
    logger.info("email sent id=%s attempt=%d", pk, email.attempts)
    return "sent"


def deliver_due(*, budget: datetime.timedelta = datetime.timedelta(minutes=4)) -> int:
    """Send the emails that are due, oldest first, for at most `budget` (the rest wait for the next run);
    return how many were sent. After a failure that may pass (a server down or not answering), the rest
    wait for the next run rather than each waiting on the same server."""
    started = timezone.now()
    sent = 0
    while timezone.now() - started < budget:
        now = timezone.now()
        due = list(_takeable(now).order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:BATCH])
        if not due:
            break
        for pk in due:
            outcome = deliver(pk)
            if outcome == "sent":
                sent += 1
            elif outcome == "retry":
                return sent
    return sent


def clear_old() -> int:
    """Remove the emails delivered or given up more than settings.OUTBOX_KEEP_DAYS ago; return how many."""
    before = timezone.now() - datetime.timedelta(days=settings.OUTBOX_KEEP_DAYS)
    old = Email.objects.exclude(status=Email.Status.PENDING).filter(created_at__lt=before)
    count, _ = old.delete()
    return count


def send(email: Email) -> None:
    """Hand the stored message to the delivery backend (SMTP in production), with its timeout."""
    connection = get_connection(settings.OUTBOX_DELIVERY_BACKEND, fail_silently=False)
    connection.send_messages([StoredEmail(email)])


def permanent(error: Exception) -> bool:
    """Whether the mail server refused the message for good (a 5xx answer): trying again cannot help."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return bool(error.recipients) and all(code >= 500 for code, _message in error.recipients.values())
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500


def _failed(email: Email, error: Exception) -> str:
    now = timezone.now()
    problem = shortened(one_line(f"{type(error).__name__}: {error}"), ERROR_LIMIT)
    if now >= email.give_up_at or permanent(error):
        Email.objects.filter(pk=email.pk).update(status=Email.Status.FAILED, claimed_until=None, last_error=problem)
        logger.error("email failed id=%s attempt=%d error=%s; given up", email.pk, email.attempts, type(error).__name__)
        return "failed"
    wait = BACKOFF[min(email.attempts, len(BACKOFF)) - 1]
    Email.objects.filter(pk=email.pk).update(claimed_until=None, next_attempt_at=now + wait, last_error=problem)
    logger.warning(
        "email retry id=%s attempt=%d error=%s; next try in %d s",
        email.pk,
        email.attempts,
        type(error).__name__,
        wait.total_seconds(),
    )
    return "retry"


class _StoredMessage(Message):
    """The stored message, parsed; written out again as it was (with the line ends SMTP wants)."""

    def as_bytes(self, unixfrom: bool = False, linesep: str = "\n") -> bytes:  # type: ignore[override]
        return super().as_bytes(unixfrom, policy=self.policy.clone(linesep=linesep))


class StoredEmail(EmailMessage):
    """An outbox row as Django's email backends take it: its envelope, and the message as stored."""

    def __init__(self, email: Email):
        self.stored = message_from_string(email.raw, _class=_StoredMessage)  # parsed once, sent as it is
        body = self.stored.get_payload(decode=True) if not self.stored.is_multipart() else b""
        super().__init__(
            subject=email.subject,
            body=body.decode(self.stored.get_content_charset() or "utf-8") if isinstance(body, bytes) else "",
            from_email=email.from_email,
            to=email.recipient_list,
            headers={"Message-ID": email.message_id},
        )

    def message(self, *args, **kwargs):
        return self.stored
