"""The email outbox: every email the application sends, written in the transaction of the change that causes it.

A row is the whole message as it will go out (`raw`, with its Message-ID), who it is for, and how
its delivery stands. Delivery (outbox.delivery) claims a row for a while (`claimed_until`), sends
it, and records the outcome; a failure waits for `next_attempt_at` and is tried again, until a
day has passed since the email was written (or resent), when it is marked failed.
"""

import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

# A failing email is tried again, with back-off, for this long; then it is marked failed.
KEEP_TRYING = datetime.timedelta(days=1)


def give_up_time() -> datetime.datetime:
    return timezone.now() + KEEP_TRYING


class Email(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    message_id = models.CharField(
        max_length=255, unique=True, help_text="The Message-ID header, the same on every try."
    )
    from_email = models.CharField(max_length=254)
    recipients = models.TextField(help_text="The addresses it is delivered to, one per line.")
    subject = models.CharField(max_length=255)
    raw = models.TextField(help_text="The message as sent, headers and body.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The person whose address it is sent to, when there is one.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    give_up_at = models.DateTimeField(default=give_up_time, help_text="Failing after this, it is marked failed.")
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    resent_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due"),
            models.Index(fields=["user", "-created_at"], name="outbox_by_person"),
        ]

    def __str__(self):
        return f"{self.subject} to {self.recipient_list_display}"

    @property
    def recipient_list(self) -> list[str]:
        return [line for line in self.recipients.splitlines() if line]

    @property
    def recipient_list_display(self) -> str:
        return ", ".join(self.recipient_list)
