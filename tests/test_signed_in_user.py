"""Who the signed-in user is to the organisation is read once per request, with the user: their staff
record (the navigation's role profile, their leaving date), whether they are an HR admin and whether
they manage anyone (`staff.auth.StaffBackend.get_user`). Each answer is still the current one."""

import datetime

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.access import HR_ADMIN_GROUP, make_hr_admin
from staff.models import StaffMember

pytestmark = pytest.mark.django_db

TEAM_LINK = f'href="{reverse("team")}">My team</a>'
REPORTS_LINK = f'href="{reverse("reports")}">Reports</a>'


def page(client) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("my_history"))
    assert response.status_code == 200
    return response.content.decode(), [query["sql"] for query in captured.captured_queries]


def test_the_user_is_read_with_their_staff_record_and_rights_in_one_query(client, manager, staff):
    client.force_login(manager)
    content, queries = page(client)
    assert TEAM_LINK in content and REPORTS_LINK not in content
    assert "My role profile" in content
    reads_of_users = [sql for sql in queries if sql.startswith('SELECT "auth_user"."id"')]
    assert len(reads_of_users) == 1 and '"roles_staffmember"' in reads_of_users[0]
    # Nothing asks again: not the staff record by its user, not the HR admin group.
    assert not [sql for sql in queries if 'WHERE "roles_staffmember"."user_id" =' in sql]
    assert not [sql for sql in queries if 'FROM "auth_group"' in sql]


def test_each_answer_is_the_current_one_on_the_next_request(client, manager, staff):
    client.force_login(manager)
    assert TEAM_LINK in page(client)[0]
    StaffMember.objects.filter(user=staff).update(left_on=datetime.date.today() - datetime.timedelta(days=1))
    assert TEAM_LINK not in page(client)[0]  # no active report left
    make_hr_admin(manager)
    assert REPORTS_LINK in page(client)[0]
    manager.groups.remove(Group.objects.get(name=HR_ADMIN_GROUP))
    assert REPORTS_LINK not in page(client)[0]


def test_an_hr_admin_account_without_a_staff_record_works(client, db):
    user = User.objects.create_user("hr-only", password="x")
    make_hr_admin(user)
    client.force_login(user)
    response = client.get(reverse("reports"))
    assert response.status_code == 200
    content = response.content.decode()
    assert f'href="{reverse("staff_list")}">Staff</a>' in content  # the HR admin's navigation
    assert "My history" not in content  # no staff record, so no history of their own


def test_a_leaver_is_signed_out_by_the_same_read(client, staff):
    client.force_login(staff)
    assert client.get(reverse("my_history")).status_code == 200
    StaffMember.objects.filter(user=staff).update(left_on=datetime.date.today() - datetime.timedelta(days=1))
    response = client.get(reverse("my_history"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
