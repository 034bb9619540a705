"""The email backend of the application (settings.EMAIL_BACKEND): it writes to the outbox and sends nothing itself.

Each message becomes an `Email` row in the caller's transaction, so a change that rolls back sends
nothing and a change that commits has its emails kept; once the transaction commits, a task is
queued to deliver each (outbox.delivery), through the backend in settings.OUTBOX_DELIVERY_BACKEND.
A request therefore never waits on a mail server. Django's own emails (password resets, errors to
ADMINS, `sendtestemail`) take the same way.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import make_msgid
from django.db import DatabaseError, transaction
from django.db.models.functions import Lower

from core.tasks import enqueue_on_commit
from outbox.models import Email

logger = logging.getLogger("outbox")

SUBJECT_LIMIT = 255


class OutboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages: list[EmailMessage]) -> int:  # type: ignore[override]
        try:
            return self.keep(self.prepare(email_messages))
        except DatabaseError:
            if not self.fail_silently:
                raise
            # e.g. errors mailed while the database is down
            logger.exception("outbox could not keep %d email(s)", len(email_messages))
            return 0

    def prepare(self, email_messages: list[EmailMessage]) -> list[Email]:
        """The outbox rows of the messages that have recipients, made but not saved: the slow part, which
        a change that sends thousands (a cycle's opening) does before the transaction that keeps them."""
        messages = [message for message in email_messages if message.recipients()]
        if not messages:
            return []
        for message in messages:
            if "Message-ID" not in message.extra_headers:
                message.extra_headers["Message-ID"] = make_msgid(domain=settings.OUTBOX_MESSAGE_ID_DOMAIN)
        firsts = {message.recipients()[0].lower() for message in messages}
        users = {}
        for user in (
            get_user_model()
            .objects.annotate(address=Lower("email"))
            .filter(address__in=firsts)
            .order_by("-pk")  # the oldest account wins where two share an address
        ):
            users[user.address] = user
        return [
            Email(
                message_id=message.extra_headers["Message-ID"],
                from_email=message.from_email or settings.DEFAULT_FROM_EMAIL,
                recipients="\n".join(message.recipients()),
                subject=str(message.subject)[:SUBJECT_LIMIT],
                raw=message.message().as_string(),
                user=users.get(message.recipients()[0].lower()),
            )
            for message in messages
        ]

    def keep(self, emails: list[Email]) -> int:
        """Write prepared rows in the caller's transaction (a savepoint of it, one query), and queue their
        delivery once it commits."""
        if not emails:
            return 0
        with transaction.atomic():
            Email.objects.bulk_create(emails)
        if len(emails) == 1:
            enqueue_on_commit("deliver email", "outbox.delivery.deliver", emails[0].pk)
        else:  # many at once (a cycle opening): one task sends them all, rather than one task each
            enqueue_on_commit("deliver due emails", "outbox.delivery.deliver_due")
        return len(emails)
