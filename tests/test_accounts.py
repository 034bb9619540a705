"""Passwords: HR sets a member of staff's, anyone changes their own; both validated and audited."""

import io
import os

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from audit.models import AuditEntry
from core.access import is_hr_admin
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-and-unusual-phrase"


def test_hr_sets_a_password_for_someone_who_has_none(client, hr, staff):
    member = staff.staff_member
    staff.set_unusable_password()
    staff.save()
    client.force_login(hr)
    detail = client.get(reverse("staff_detail", args=[member.pk])).content.decode()
    assert "No password yet" in detail and reverse("staff_set_password", args=[member.pk]) in detail
    url = reverse("staff_set_password", args=[member.pk])
    response = client.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302 and response.url == reverse("staff_detail", args=[member.pk])
    assert Client().login(username="staff", password=NEW_PASSWORD)
    entry = AuditEntry.objects.get(action="set password")
    assert (entry.actor, entry.person, entry.changes) == (hr, member, {"password": ["none", "set"]})
    assert NEW_PASSWORD not in str(AuditEntry.objects.values_list("changes", flat=True))


@pytest.mark.parametrize(
    "password, message",
    [
        ("short1", "This password is too short"),
        ("password123", "This password is too common"),
        ("73920461859", "This password is entirely numeric"),
        ("staff-example", "too similar to the"),
    ],
)
def test_a_weak_password_is_refused_next_to_the_field_and_nothing_changes(client, hr, staff, password, message):
    client.force_login(hr)
    response = client.post(
        reverse("staff_set_password", args=[staff.staff_member.pk]),
        {"new_password1": password, "new_password2": password},
    )
    assert response.status_code == 200
    assert message in str(response.context["form"].errors["new_password2"])
    staff.refresh_from_db()
    assert staff.check_password(PASSWORD)
    assert not AuditEntry.objects.filter(action="set password").exists()


def test_only_hr_admins_set_passwords(client, manager, staff):
    client.force_login(manager)
    url = reverse("staff_set_password", args=[staff.staff_member.pk])
    assert client.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}).status_code == 403
    staff.refresh_from_db()
    assert staff.check_password(PASSWORD)


def test_anyone_changes_their_own_password_and_stays_logged_in(staff):
    browser = Client()
    browser.login(username="staff", password=PASSWORD)
    other_device = Client()
    other_device.login(username="staff", password=PASSWORD)
    url = reverse("change_password")
    wrong = browser.post(url, {"old_password": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert wrong.status_code == 200 and "Your old password was entered incorrectly" in wrong.content.decode()
    response = browser.post(
        url, {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert browser.get(reverse("home")).status_code == 200  # still logged in here
    assert other_device.get(reverse("home")).status_code == 302  # logged out elsewhere
    staff.refresh_from_db()
    assert staff.check_password(NEW_PASSWORD)
    entry = AuditEntry.objects.get(action="change password")
    assert (entry.actor, entry.person) == (staff, staff.staff_member)


def test_the_first_hr_admin_is_created_from_the_command_line(monkeypatch):
    monkeypatch.setitem(os.environ, "HR_ADMIN_PASSWORD", "weak")
    with pytest.raises(CommandError, match="too short"):
        call_command("create_hr_admin", "helen", stdout=io.StringIO())
    assert not get_user_model().objects.filter(username="helen").exists()
    monkeypatch.setitem(os.environ, "HR_ADMIN_PASSWORD", NEW_PASSWORD)
    call_command("create_hr_admin", "helen", "--email", "helen@example.org", stdout=io.StringIO())
    helen = get_user_model().objects.get(username="helen")
    assert is_hr_admin(helen) and helen.check_password(NEW_PASSWORD)
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_hr_admin", "helen", stdout=io.StringIO())
