"""Invalid windows, duplicate competencies and impossible staff records are refused with clear messages."""

import datetime
import json

import pytest
from django.core.exceptions import ValidationError

from competencies.loading import FixtureError
from competencies.models import Competency
from roles.loading import load_role_profile
from roles.models import RoleProfile, RoleRequirement

pytestmark = pytest.mark.django_db


@pytest.fixture
def version():
    return RoleProfile.objects.get(slug="support-worker-supported-housing").current_version


def requirement(version, slug, entry_level):
    return RoleRequirement(
        version=version, competency=Competency.objects.get(slug=slug), position=99, entry_level=entry_level
    )


def test_a_window_must_cover_levels_the_competency_defines(version):
    # Achieving Results defines levels 2–4 only: 3–5 would need a level 5.
    with pytest.raises(ValidationError) as error:
        requirement(version, "achieving-results", 3).full_clean(exclude=["version"])
    message = error.value.message_dict["entry_level"][0]
    assert "Achieving Results does not define level 5" in message
    assert "2–4" in message


def test_a_window_below_the_ladder_is_refused(version):
    with pytest.raises(ValidationError) as error:
        requirement(version, "releasing-potential", 2).clean()
    assert "does not define level 4" in error.value.message_dict["entry_level"][0]


def test_a_window_must_be_three_levels_within_1_to_5(version):
    with pytest.raises(ValidationError) as error:
        requirement(version, "working-with-change", 4).full_clean(exclude=["version"])
    assert "The entry level must be 1, 2 or 3 (windows 1–3, 2–4 or 3–5)." in error.value.messages


def test_valid_windows_are_accepted(version):
    for slug, entry in [("working-with-change", 3), ("customer-care", 1), ("releasing-potential", 1)]:
        requirement(version, slug, entry).clean()


def test_a_competency_cannot_appear_twice_in_a_role_profile(version):
    duplicate = requirement(version, "customer-care", 2)
    with pytest.raises(ValidationError) as error:
        duplicate.full_clean()
    assert "This role profile already requires that competency." in error.value.messages


def test_valid_entry_levels_follow_the_levels_defined():
    assert Competency.objects.get(slug="customer-care").valid_entry_levels() == [1, 2]
    assert Competency.objects.get(slug="working-with-change").valid_entry_levels() == [2, 3]
    assert Competency.objects.get(slug="releasing-potential").valid_entry_levels() == [1]


def test_a_fixture_with_an_invalid_window_is_refused_and_nothing_is_saved(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            {
                "slug": "bad-role",
                "title": "Bad role",
                "requirements": [
                    {"competency": "customer-care", "entry_level": 2},
                    {"competency": "achieving-results", "entry_level": 1},
                ],
            }
        )
    )
    with pytest.raises(FixtureError, match="Achieving Results does not define level 1"):
        load_role_profile(path)
    assert not RoleProfile.objects.filter(slug="bad-role").exists()


def test_staff_records_need_their_dates_and_no_management_loops(manager, staff):
    member = staff.staff_member
    member.role_profile_since = None
    member.line_manager_since = None
    with pytest.raises(ValidationError) as error:
        member.full_clean()
    assert set(error.value.message_dict) == {"role_profile_since", "line_manager_since"}

    boss = manager.staff_member
    boss.line_manager, boss.line_manager_since = member, datetime.date(2024, 1, 1)
    with pytest.raises(ValidationError) as error:
        boss.full_clean()
    assert "cannot be their own line manager" in error.value.message_dict["line_manager"][0]


def test_leavers_are_not_active(staff):
    member = staff.staff_member
    member.left_on = datetime.date(2025, 8, 29)
    assert not member.is_active_on(datetime.date(2025, 9, 1))
    assert member.is_active_on(datetime.date(2025, 8, 28))
