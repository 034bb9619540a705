"""What an HR admin does with the outbox: send an email again. One transaction each, audited."""

from email import message_from_string

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail.message import make_msgid
from django.db import transaction
from django.utils import timezone

from audit import trail
from audit.trail import Actor
from core.tasks import enqueue_on_commit
from outbox.models import Email, give_up_time


@transaction.atomic
def resend(*, by: Actor, email: Email) -> Email:
    """A failed email is tried again for another day; a sent one is sent again as a new message (a new Message-ID,
    so that the person's mail program shows it rather than taking it for the copy it already has)."""
    email = Email.objects.select_for_update().get(pk=email.pk)
    if email.status == Email.Status.PENDING:
        raise ValidationError("This email is still being delivered: there is nothing to send again yet.")
    if email.status == Email.Status.FAILED:
        email.status = Email.Status.PENDING
        email.next_attempt_at = timezone.now()
        email.give_up_at = give_up_time()
        email.claimed_until = None
        email.save(update_fields=["status", "next_attempt_at", "give_up_at", "claimed_until"])
        outgoing = email
    else:
        message = message_from_string(email.raw)
        message_id = make_msgid(domain=settings.OUTBOX_MESSAGE_ID_DOMAIN)
        message.replace_header("Message-ID", message_id)
        outgoing = Email.objects.create(
            message_id=message_id,
            from_email=email.from_email,
            recipients=email.recipients,
            subject=email.subject,
            raw=message.as_string(),
            user=email.user,
            resent_from=email,
        )
    trail.record(
        actor=by,
        action="resend",
        obj=outgoing,
        object_type="email",
        object_repr=f"{email.subject} to {email.recipient_list_display}",
        changes={"was": email.get_status_display(), "message": outgoing.message_id},
    )
    enqueue_on_commit("deliver email", "outbox.delivery.deliver", outgoing.pk)
    return outgoing
