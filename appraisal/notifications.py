"""Emails to whoever must act next on an appraisal.

They go into the outbox (outbox/backends.py) inside the transaction of the change that causes
them: a change that rolls back sends nothing, and one that commits has its emails delivered by a
worker (the console in development, SMTP in production; see README). Only people who can sign in
are emailed (a link is no use to anyone else): people without an email address, without a password
yet, or who have left are skipped; the pages show HR who they are, with a way to invite them.
"""

from collections import defaultdict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.urls import reverse

from appraisal.models import Appraisal, AppraisalCycle
from core.access import HR_ADMIN_GROUP
from outbox.backends import OutboxBackend
from outbox.models import Email
from staff.access import is_hr_admin_over
from staff.models import user_can_sign_in


def _link(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _record_link(appraisal: Appraisal) -> str:
    return _link(reverse("appraisal", args=[appraisal.pk]))


def _send(messages: list[EmailMessage]) -> None:
    messages = [message for message in messages if message.to]
    if messages:
        get_connection().send_messages(messages)


def _message(user, subject: str, body: str) -> EmailMessage:
    """An email to `user`, with no recipient (so not sent) unless they have an address and can sign in."""
    greeting = f"Dear {user.first_name or user.username},\n\n"
    to = [user.email] if user.email and user_can_sign_in(user) else []
    return EmailMessage(subject, greeting + body + "\n", to=to)


def _person(appraisal: Appraisal):
    return appraisal.staff_member.user


def _appraiser(appraisal: Appraisal):
    return appraisal.appraiser.user


def cycle_opened_messages(cycle: AppraisalCycle, appraisals: list[Appraisal]) -> list[EmailMessage]:
    """Tell each person their self-assessment is open, or each appraiser how many reviews are due: the
    emails, for appraisals loaded with their person's and appraiser's logins (`prepare`, then
    `send_prepared` in the opening's transaction)."""
    due = f"{cycle.due_on:%-d %B %Y}"
    messages = []
    if cycle.self_assessment:
        for appraisal in appraisals:
            messages.append(
                _message(
                    _person(appraisal),
                    f"{cycle.name}: your self-assessment",
                    f"{cycle.name} has opened. Please rate yourself against your role's behavioural indicators "
                    f"before your appraisal meeting:\n{_record_link(appraisal)}\n\nAppraisals are due by {due}.",
                )
            )
    else:
        by_appraiser = defaultdict(list)
        for appraisal in appraisals:
            by_appraiser[appraisal.appraiser_id].append(appraisal)
        for group in by_appraiser.values():
            names = "\n".join(f"- {appraisal.staff_member}: {_record_link(appraisal)}" for appraisal in group)
            messages.append(
                _message(
                    _appraiser(group[0]),
                    f"{cycle.name}: {len(group)} appraisal(s) to carry out",
                    f"Due by {due}:\n{names}",
                )
            )
    return messages


# What `prepare` returns: outbox rows, or the messages themselves for another email backend.
Prepared = list[Email] | list[EmailMessage]


def prepare(messages: list[EmailMessage]) -> Prepared:
    """Many emails made ready before the transaction that sends them (with the outbox, its rows
    rendered), so that the transaction only writes them: `send_prepared` inside it."""
    messages = [message for message in messages if message.to]
    connection = get_connection()
    return connection.prepare(messages) if isinstance(connection, OutboxBackend) else messages


def send_prepared(prepared: Prepared) -> None:
    """Send what `prepare` made ready, in the caller's transaction."""
    emails = [item for item in prepared if isinstance(item, Email)]
    if emails:
        OutboxBackend().keep(emails)
    else:
        _send([item for item in prepared if isinstance(item, EmailMessage)])


def appraiser_assigned(appraisal: Appraisal) -> None:
    _send(
        [
            _message(
                _appraiser(appraisal),
                f"You are now {appraisal.staff_member}'s appraiser",
                f"HR has asked you to carry out {appraisal.staff_member}'s appraisal in "
                f"{appraisal.cycle}:\n{_record_link(appraisal)}",
            )
        ]
    )


def review_due(appraisal: Appraisal) -> None:
    _send(
        [
            _message(
                _appraiser(appraisal),
                f"{appraisal.staff_member} has completed their self-assessment",
                f"You can now score {appraisal.staff_member}'s appraisal in "
                f"{appraisal.cycle}:\n{_record_link(appraisal)}",
            )
        ]
    )


def review_begun(appraisal: Appraisal) -> None:
    _send(
        [
            _message(
                _person(appraisal),
                "Your manager has started your appraisal",
                f"{appraisal.appraiser} has started scoring your {appraisal.cycle} appraisal without waiting for your "
                f"self-assessment; what you had saved of it is kept beside their ratings:\n{_record_link(appraisal)}",
            )
        ]
    )


def sign_off_due(appraisal: Appraisal) -> None:
    _send(
        [
            _message(
                _person(appraisal),
                "Your appraisal is ready for you to read and sign",
                f"{appraisal.appraiser} has shared your {appraisal.cycle} appraisal with you. Please read it, add your "
                f"comments and sign it off (you can record that you disagree):\n{_record_link(appraisal)}",
            )
        ]
    )


def withdrawn(appraisal: Appraisal) -> None:
    _send(
        [
            _message(
                _person(appraisal),
                "Your appraisal has been taken back for changes",
                f"{appraisal.appraiser} is changing your {appraisal.cycle} appraisal; you will be asked to sign "
                "it when it is "
                f"shared again:\n{_record_link(appraisal)}",
            )
        ]
    )


def countersign_due(appraisal: Appraisal) -> None:
    agreement = "agreeing with it" if appraisal.staff_agrees else "recording that they disagree"
    _send(
        [
            _message(
                _appraiser(appraisal),
                f"{appraisal.staff_member} has signed their appraisal",
                f"{appraisal.staff_member} has signed off their {appraisal.cycle} appraisal, {agreement}. Please "
                "read their "
                f"comments and countersign:\n{_record_link(appraisal)}",
            )
        ]
    )


def completed(appraisal: Appraisal) -> None:
    _send(
        [
            _message(
                _person(appraisal),
                "Your appraisal is complete",
                f"{appraisal.appraiser} has countersigned your {appraisal.cycle} appraisal. You can read it and "
                "download it "
                f"as a PDF:\n{_record_link(appraisal)}",
            )
        ]
    )


def reopened(appraisal: Appraisal) -> None:
    _send(
        [
            _message(
                _appraiser(appraisal),
                f"{appraisal.staff_member}'s appraisal has been reopened",
                f"HR has reopened {appraisal.staff_member}'s {appraisal.cycle} appraisal so that it can be "
                "changed; it will "
                f"need to be shared and signed again:\n{_record_link(appraisal)}",
            )
        ]
    )


def taken_back(appraisal: Appraisal) -> None:
    _send(
        [
            _message(
                _person(appraisal),
                "Your manager would like to discuss your appraisal",
                f"{appraisal.appraiser} has read your comments on your {appraisal.cycle} appraisal and taken the "
                "record back to discuss them with you, rather than countersigning it. It will be shared with you "
                f"to sign again:\n{_record_link(appraisal)}",
            )
        ]
    )


def _hr_admins_over(appraisal: Appraisal) -> list:
    """The HR admins with rights over the person (a few), who decide a disagreement referred to HR."""
    admins = (
        get_user_model()
        .objects.filter(groups__name=HR_ADMIN_GROUP, is_active=True)
        .exclude(pk=appraisal.staff_member.user_id)
    )
    return [user for user in admins if is_hr_admin_over(user, appraisal.staff_member_id)]


def referred(appraisal: Appraisal) -> None:
    """The referee (the manager named, or every HR admin over the person) and the person are told."""
    referees = [appraisal.referred_to.user] if appraisal.referred_to else _hr_admins_over(appraisal)
    body = (
        f"{appraisal.staff_member} disagrees with their {appraisal.cycle} appraisal, and {appraisal.appraiser} has "
        f"referred it to you to decide, rather than countersigning it:\n\n{appraisal.referral_note}\n\n"
        f"Read the record and the comments, then complete it or return it for changes:\n{_record_link(appraisal)}"
    )
    who = appraisal.referred_to or "HR"
    _send(
        [_message(user, f"A disagreement to decide: {appraisal.staff_member}'s appraisal", body) for user in referees]
        + [
            _message(
                _person(appraisal),
                "Your disagreement has been referred",
                f"{appraisal.appraiser} has referred your {appraisal.cycle} appraisal to {who}, who will decide on "
                f"your disagreement; you will be told what they decide:\n{_record_link(appraisal)}",
            )
        ]
    )


def _decided(appraisal: Appraisal, subject: str, what: str, decision: str) -> None:
    body = f"{what}\n\nThe decision:\n{decision}\n\n{_record_link(appraisal)}"
    _send([_message(user, subject, body) for user in (_person(appraisal), _appraiser(appraisal))])


def referral_completed(appraisal: Appraisal) -> None:
    _decided(
        appraisal,
        f"Decided: {appraisal.staff_member}'s appraisal is complete",
        f"The disagreement over {appraisal.staff_member}'s {appraisal.cycle} appraisal has been decided: the record "
        "is completed as it stands, with the disagreement and this decision kept in it.",
        appraisal.referral_decision,
    )


def referral_returned(appraisal: Appraisal, decision: str) -> None:
    _decided(
        appraisal,
        f"Decided: {appraisal.staff_member}'s appraisal goes back for changes",
        f"The disagreement over {appraisal.staff_member}'s {appraisal.cycle} appraisal has been decided: the record "
        f"goes back to {appraisal.appraiser} to change, then to be shared and signed again. The decision is in the "
        "record's history.",
        decision,
    )
