import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from roles.access import is_hr_admin, is_line_manager
from roles.models import Service, StaffMember

pytestmark = pytest.mark.django_db


def seed():
    call_command("seed_demo", stdout=io.StringIO())


def test_seed_demo_creates_a_small_organisation_and_is_idempotent():
    seed()
    counts = StaffMember.objects.count(), Service.objects.count()
    seed()
    assert (StaffMember.objects.count(), Service.objects.count()) == counts
    assert 20 <= StaffMember.objects.active().filter(role_profile__isnull=False).count() <= 25
    assert set(StaffMember.objects.values_list("role_profile__slug", flat=True)) >= {
        "support-worker-supported-housing",
        "housing-worker",
        "night-senior-support-worker",
        "senior-service-coordinator-afeo",
        "recovery-coach-somerset",
    }


def test_the_demo_logins_work_with_password_demo():
    seed()
    hr, manager, staff = (authenticate(username=name, password="demo") for name in ("hr", "manager", "staff"))
    assert hr and manager and staff
    assert is_hr_admin(hr) and not is_hr_admin(manager)
    assert is_line_manager(manager) and not is_line_manager(staff)
    assert staff.staff_member.line_manager.user == manager


def test_the_demo_line_management_tree_has_more_than_one_level():
    seed()
    deep = StaffMember.objects.filter(line_manager__line_manager__line_manager__isnull=False)
    assert deep.exists()
