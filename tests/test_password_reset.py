""" "Forgot password?": the same page and the same work whether or not the account exists, throttled
by what was typed and by address, a link that works once and not for long, and a new password that
ends the person's other sessions."""

import datetime
import re
from email import message_from_string

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMessage
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from outbox.models import Email
from staff import password_reset
from staff.models import PasswordResetRequest
from tests.conftest import PASSWORD, make_person
from tests.snapshots import snapshot

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-and-unusual-phrase"
ADDRESS = "staff@example.org"
REQUEST_URL = reverse("password_reset")
DONE_URL = reverse("password_reset_done")
QUERY_SHAPE = re.compile(r'^(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT|\w+)(.*?\b(FROM|INTO|UPDATE)\s+"?\w+)?')


def shapes(queries) -> list[str]:
    """What each query does and to which table. Rolling back to a savepoint (then releasing it, as
    keeping it does) is left out: it is the one statement that differs."""
    found = [QUERY_SHAPE.match(query["sql"]) for query in queries if not query["sql"].startswith("ROLLBACK TO")]
    return [match.group(0) if match else "" for match in found]


LINK = re.compile(r"https?://\S+?(/accounts/password/reset/[^/\s]+/[^/\s]+/)")


@pytest.fixture
def person(staff):
    staff.email = ADDRESS
    staff.save(update_fields=["email"])
    return staff


def ask(client, login, address="192.0.2.1"):
    return client.post(REQUEST_URL, {"login": login}, REMOTE_ADDR=address)


def emails_to(address):
    return list(Email.objects.filter(recipients=address))


def body_of(email) -> str:
    payload = message_from_string(email.raw).get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def link_in(email) -> str:
    """The path of the link in an email of the outbox."""
    body = body_of(email)
    match = LINK.search(body)
    assert match, body
    return match.group(1)


def requested_link(client, login=ADDRESS) -> str:
    assert ask(client, login).url == DONE_URL
    return link_in(Email.objects.latest("pk"))


def set_new_password(client, link, password=NEW_PASSWORD):
    """Follow the link (to the page that holds its token in the session) and set a password there."""
    page = client.get(link)
    assert page.status_code == 302, page
    return client.post(page.url, {"new_password1": password, "new_password2": password})


# --- asking for a link ------------------------------------------------------------------------------


def test_the_login_page_offers_a_way_to_set_a_new_password(client):
    page = client.get(reverse("login")).content.decode()
    assert f'href="{REQUEST_URL}">Forgot password?</a>' in page
    form = client.get(REQUEST_URL).content.decode()
    assert "<h1" in form and "Forgot your password?" in form
    assert 'for="id_login"' in form and "Username or email address" in form


@pytest.mark.parametrize("login", ["staff", "STAFF", ADDRESS, "Staff@Example.org", f"  {ADDRESS} "])
def test_a_person_asks_by_username_or_email_address_and_is_emailed_a_link(client, person, login, settings):
    settings.SITE_URL = "https://appraisals.example.org"
    response = ask(client, login)
    assert response.status_code == 302 and response.url == DONE_URL
    [email] = emails_to(ADDRESS)
    assert email.user == person and email.subject == "Set a new password for your appraisals login"
    body = body_of(email)
    assert "https://appraisals.example.org/accounts/password/reset/" in body
    assert "works once, for 60 minutes" in body
    entry = AuditEntry.objects.get(action="password reset requested")
    assert (entry.actor, entry.person, entry.object_id, entry.changes) == (
        None,
        person.staff_member,
        str(person.pk),
        {"emailed": True},
    )
    token = link_in(email).rstrip("/").rsplit("/", 1)[-1]
    assert token not in str(list(AuditEntry.objects.values()))


def test_the_check_your_email_page_says_the_same_whatever_was_typed(client, person):
    known, unknown = ask(client, "staff"), ask(client, "nobody-at-all")
    assert known.url == unknown.url == DONE_URL
    page = client.get(DONE_URL).content.decode()
    assert "Check your email" in page and "works once, for 60 minutes" in page
    assert "nobody-at-all" not in page and "staff@" not in page


def test_an_unknown_account_is_sent_nothing_and_nothing_is_kept_but_the_count(client, person):
    before = Email.objects.count(), AuditEntry.objects.count()
    assert ask(client, "nobody@example.org").url == DONE_URL
    assert (Email.objects.count(), AuditEntry.objects.count()) == before
    assert PasswordResetRequest.objects.filter(identifier="nobody@example.org").count() == 1


class Calls:
    """Counts the calls of a function, and calls it."""

    def __init__(self, function):
        self.function, self.count = function, 0

    def __call__(self, *args, **kwargs):
        self.count += 1
        return self.function(*args, **kwargs)


def test_every_request_does_the_same_work(client, person, monkeypatch, django_capture_on_commit_callbacks):
    """A link is made, its email written (to the outbox) and audited, once, whatever was typed: an unknown
    name, or someone who may not have a link, differs only in that the work is rolled back."""
    leaver = make_person("leaver")
    leaver.email = "leaver@example.org"
    leaver.save()
    leaver.staff_member.left_on = timezone.localdate() - datetime.timedelta(days=1)
    leaver.staff_member.save()
    make_person("no_email")
    tokens, sends = Calls(default_token_generator.make_token), Calls(EmailMessage.send)
    monkeypatch.setattr(default_token_generator, "make_token", tokens)
    monkeypatch.setattr(EmailMessage, "send", lambda self, *a, **k: sends(self, *a, **k))
    work = {}
    for login in ("staff", "nobody-at-all", "leaver", "no_email"):
        tokens.count = sends.count = 0
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks() as queued:
            assert ask(client, login).url == DONE_URL
        # What each query does, and to which table: the same, one for one, on every path; and one task
        # queued for when it commits (the email's delivery, or the outbox's regular one).
        work[login] = (tokens.count, sends.count, len(queued), shapes(queries.captured_queries))
    assert work["staff"][:3] == (1, 1, 1)
    assert work["nobody-at-all"] == work["leaver"] == work["no_email"] == work["staff"]
    assert len(emails_to(ADDRESS)) == 1


@pytest.mark.parametrize(
    "who, why",
    [
        ("leaver", "left"),
        ("inactive", "inactive"),
        ("no_email", "no email address"),
        ("no_password", "no password"),
    ],
)
def test_someone_who_cannot_sign_in_or_has_no_email_address_is_sent_nothing(client, who, why):
    user = make_person(who)
    if who != "no_email":
        user.email = f"{who}@example.org"
    if who == "inactive":
        user.is_active = False
    if who == "no_password":
        user.set_unusable_password()
    user.save()
    if who == "leaver":
        user.staff_member.left_on = timezone.localdate() - datetime.timedelta(days=1)
        user.staff_member.save()
    response = ask(client, who)
    assert response.url == DONE_URL
    assert not Email.objects.exists()
    entry = AuditEntry.objects.get(action="password reset requested")
    assert (entry.object_id, entry.changes) == (str(user.pk), {"emailed": False, "why": why})


def test_someone_whose_last_day_is_today_is_still_sent_a_link(client, person):
    person.staff_member.left_on = timezone.localdate()
    person.staff_member.save()
    ask(client, "staff")
    assert len(emails_to(ADDRESS)) == 1


def test_people_sharing_an_address_are_each_sent_their_own_link(client, person):
    other = make_person("night_shift")
    other.email = ADDRESS.upper()
    other.save()
    ask(client, ADDRESS)
    emails = emails_to(ADDRESS) + emails_to(ADDRESS.upper())
    bodies = [body_of(email) for email in emails]
    assert sorted('login "staff"' in body for body in bodies) == [False, True]
    assert sorted('login "night_shift"' in body for body in bodies) == [False, True]
    assert len({link_in(email) for email in emails}) == 2


# --- throttling ------------------------------------------------------------------------------------


def test_requests_for_one_name_are_throttled_with_the_same_message_whether_or_not_it_exists(client, person, settings):
    settings.PASSWORD_RESET_THROTTLE_PER_ACCOUNT = 3
    pages = {}
    for login in ("staff", "nobody-at-all"):
        for turn in range(3):
            assert ask(client, login, address=f"192.0.2.{turn}").url == DONE_URL
        refused = ask(client, login, address="198.51.100.9")
        assert refused.status_code == 200
        page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", refused.content.decode())
        pages[login] = page.replace(login, "")
    assert pages["staff"] == pages["nobody-at-all"]
    assert "Too many requests for a password reset link. Try again in 60 minutes." in pages["staff"]
    assert 'aria-describedby="reset-error"' in pages["staff"]  # the field points to the message
    assert len(emails_to(ADDRESS)) == 3
    # A refused request is not counted, and sends nothing.
    assert PasswordResetRequest.objects.filter(identifier="staff").count() == 3
    assert AuditEntry.objects.filter(action="password reset requested").count() == 3


def test_requests_from_one_address_are_throttled(client, person, settings):
    settings.PASSWORD_RESET_THROTTLE_PER_ADDRESS = 2
    assert ask(client, "someone", address="192.0.2.7").url == DONE_URL
    assert ask(client, "someone-else", address="192.0.2.7").url == DONE_URL
    refused = ask(client, "staff", address="192.0.2.7")
    assert refused.status_code == 200 and "Too many requests" in refused.content.decode()
    assert not emails_to(ADDRESS)
    assert ask(client, "staff", address="192.0.2.8").url == DONE_URL  # another address is not held up
    assert len(emails_to(ADDRESS)) == 1


def test_the_throttle_passes_with_its_window(client, person, settings):
    settings.PASSWORD_RESET_THROTTLE_PER_ACCOUNT = 1
    ask(client, "staff")
    assert ask(client, "staff").status_code == 200
    an_hour_ago = timezone.now() - datetime.timedelta(hours=1, seconds=1)
    PasswordResetRequest.objects.update(at=an_hour_ago)
    AuditEntry.objects.update(at=an_hour_ago)  # the link sent then
    assert ask(client, "staff").url == DONE_URL
    assert PasswordResetRequest.objects.count() == 1  # the old one removed
    assert len(emails_to(ADDRESS)) == 2


def test_an_account_is_sent_no_more_links_than_its_limit_however_it_is_asked_for(client, person, settings):
    """The throttle counts what was typed; asking by username and by address in turn still sends no
    more than the limit, with the same page as ever."""
    settings.PASSWORD_RESET_THROTTLE_PER_ACCOUNT = 2
    for login in ("staff", ADDRESS, "staff", ADDRESS):
        assert ask(client, login).url == DONE_URL
    assert len(emails_to(ADDRESS)) == 2
    last = AuditEntry.objects.filter(action="password reset requested").first()
    assert last.changes == {"emailed": False, "why": "too many requests"}


# --- the link --------------------------------------------------------------------------------------


def test_a_person_sets_a_new_password_from_the_link_and_logs_in_with_it(client, person):
    link = requested_link(client)
    page = client.get(link)
    assert page.url.endswith("/set-password/")  # the token leaves the address bar
    form = client.get(page.url).content.decode()
    assert "Set a new password" in form and 'for="id_new_password1"' in form
    response = client.post(page.url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302 and response.url == reverse("login")
    assert "Your password was changed" in client.get(response.url).content.decode()
    assert Client().login(username="staff", password=NEW_PASSWORD)
    entry = AuditEntry.objects.get(action="password reset")
    assert (entry.actor, entry.person, entry.changes) == (person, person.staff_member, {})
    assert NEW_PASSWORD not in str(list(AuditEntry.objects.values()))


def test_setting_the_new_password_ends_the_persons_other_sessions(client, person):
    elsewhere = Client()
    elsewhere.login(username="staff", password=PASSWORD)
    assert elsewhere.get(reverse("home")).status_code == 200
    set_new_password(client, requested_link(client))
    response = elsewhere.get(reverse("home"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def bad_link_page(client, link) -> str:
    response = client.get(link, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "This link cannot be used" in page and "Your password has not been changed" in page
    assert f'href="{REQUEST_URL}"' in page  # a way to ask again
    assert "new_password1" not in page
    return page


def test_a_used_link_does_not_work_again(client, person):
    link = requested_link(client)
    set_new_password(client, link)
    before = snapshot()
    bad_link_page(Client(), link)
    assert snapshot() == before
    person.refresh_from_db()
    assert person.check_password(NEW_PASSWORD)


def test_an_expired_link_does_not_work(client, person, monkeypatch, settings):
    link = requested_link(client)
    later = datetime.datetime.now() + datetime.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 2)
    monkeypatch.setattr(default_token_generator, "_now", lambda: later)
    before = snapshot()
    bad_link_page(client, link)
    assert snapshot() == before


def test_a_link_still_in_time_works(client, person, monkeypatch, settings):
    link = requested_link(client)
    later = datetime.datetime.now() + datetime.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT - 60)
    monkeypatch.setattr(default_token_generator, "_now", lambda: later)
    assert set_new_password(client, link).url == reverse("login")


@pytest.mark.parametrize("forgery", ["token", "person", "nonsense"])
def test_a_forged_link_does_not_work_and_changes_nothing(client, person, manager, forgery):
    link = requested_link(client)
    _, uid, token = link.rstrip("/").rsplit("/", 2)
    if forgery == "token":
        link = link.replace(token, token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb"))
    elif forgery == "person":  # someone else's account with this person's token
        from django.utils.http import urlsafe_base64_encode

        link = link.replace(uid, urlsafe_base64_encode(str(manager.pk).encode()))
    else:
        link = reverse("password_reset_confirm", kwargs={"uidb64": "zz", "token": "set-password"})
    before = snapshot()
    bad_link_page(client, link)
    response = client.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True)
    assert "This link cannot be used" in response.content.decode()
    assert snapshot() == before


def test_a_link_stops_working_when_the_person_logs_in(client, person):
    link = requested_link(client)
    assert Client().login(username="staff", password=PASSWORD)
    bad_link_page(client, link)


def test_a_link_stops_working_when_the_person_leaves(client, person):
    link = requested_link(client)
    person.staff_member.left_on = timezone.localdate() - datetime.timedelta(days=1)
    person.staff_member.save()
    before = snapshot()
    bad_link_page(client, link)
    assert snapshot() == before


@pytest.mark.parametrize(
    "password, message",
    [("short1", "This password is too short"), ("password123", "This password is too common")],
)
def test_the_new_password_must_pass_the_validators(client, person, password, message):
    response = set_new_password(client, requested_link(client), password)
    assert response.status_code == 200 and message in response.content.decode()
    person.refresh_from_db()
    assert person.check_password(PASSWORD)
    assert not AuditEntry.objects.filter(action="password reset").exists()


def test_old_requests_are_cleared_by_the_daily_clearing(person):
    from appraisal import jobs

    PasswordResetRequest.objects.create(identifier="old", at=timezone.now() - datetime.timedelta(days=1))
    PasswordResetRequest.objects.create(identifier="new")
    assert jobs.clear_expired()["password reset requests"] == 1
    assert list(PasswordResetRequest.objects.values_list("identifier", flat=True)) == ["new"]


def test_the_throttle_message_counts_minutes():
    assert password_reset.throttled_message(datetime.timedelta(seconds=30)) == (
        "Too many requests for a password reset link. Try again in 1 minute."
    )
