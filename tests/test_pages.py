"""The pages any logged-in user reads: role profiles, the framework, the matrix; and who sees what."""

import csv
import io

import pytest
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import escape

from roles.models import RoleRequirement
from tests.ladder import LEVELS_DEFINED, WINDOWS

pytestmark = pytest.mark.django_db

PAGES = ["home", "role_profile_list", "framework", "framework_matrix", "team"]


@pytest.mark.parametrize("name", PAGES + ["framework_matrix_csv"])
def test_anonymous_visitors_are_sent_to_log_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_anonymous_visitors_cannot_read_a_role_profile(client):
    response = client.get(reverse("role_profile_detail", args=["housing-worker"]))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_it_logs_in_and_out(client, staff):
    response = client.post(reverse("login"), {"username": "staff", "password": "correct-horse-battery"})
    assert response.status_code == 302 and response.url == reverse("home")
    assert client.get(reverse("home")).status_code == 200
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_a_wrong_password_is_refused_with_a_message(client, staff):
    response = client.post(reverse("login"), {"username": "staff", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_the_role_profile_list_shows_all_five_current_profiles(client, staff, django_assert_max_num_queries):
    client.force_login(staff)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("role_profile_list"))
    page = response.content.decode()
    for slug in WINDOWS:
        assert reverse("role_profile_detail", args=[slug]) in page
    assert "Night Senior Support Worker" in page and "Undated" in page


@pytest.mark.parametrize("slug", WINDOWS)
def test_a_role_profile_page_reads_like_the_document(client, staff, slug, django_assert_max_num_queries):
    client.force_login(staff)
    with django_assert_max_num_queries(15):
        response = client.get(reverse("role_profile_detail", args=[slug]))
    assert response.status_code == 200
    page = response.content.decode()
    version = response.context["version"]
    for heading in [
        "1. Job description",
        "1.1 Job purpose",
        "1.2 Organisation",
        "1.3 Job accountabilities",
        "2.1 Person specification",
        "3. Competencies",
    ]:
        assert heading in page
    assert escape(version.accountabilities.first().text) in page
    for requirement in RoleRequirement.objects.filter(version=version).select_related("competency"):
        entry = requirement.entry_level
        assert f"Entry Level ({entry})" in page
        assert f"Desired Level ({entry + 1})" in page
        assert f"Exceptional Level ({entry + 2})" in page
        assert requirement.competency.name in page


def test_the_competency_table_shows_the_framework_sentences_of_the_window(client, staff):
    client.force_login(staff)
    page = client.get(reverse("role_profile_detail", args=["senior-service-coordinator-afeo"])).content.decode()
    # Recovery Orientated Practice 3–5: level 5 exists only in the 2025 document.
    assert "Maintains up to date comprehensive knowledge of user-led initiatives" in page
    # Policy, Procedure and Practice level 5 is the sustained-level rule.
    assert "Competency at Level 4 maintained for at least 1 year as recorded in annual appraisal" in page


def test_discrepancies_are_shown_to_hr_admins_only(client, hr, staff):
    url = reverse("role_profile_detail", args=["housing-worker"])
    client.force_login(staff)
    assert "Notes for HR" not in client.get(url).content.decode()
    client.force_login(hr)
    page = client.get(url).content.decode()
    assert "Notes for HR" in page and "confirmed by HR" in page


def test_an_unknown_role_profile_is_not_found(client, staff):
    client.force_login(staff)
    assert client.get(reverse("role_profile_detail", args=["chief-executive"])).status_code == 404


def test_the_framework_page_shows_every_competencys_whole_ladder(client, staff, django_assert_max_num_queries):
    client.force_login(staff)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("framework"))
    page = response.content.decode()
    ladders = response.context["ladders"]
    assert len(ladders) == 11 and all(len(ladder["rungs"]) == 5 for ladder in ladders)
    undefined = sum(5 - len(levels) for levels in LEVELS_DEFINED.values())
    assert page.count("Not defined in the framework.") == undefined
    assert "Met from appraisal history: level 4 held for 12 months." in page


def test_the_matrix_shows_each_window(client, staff, django_assert_max_num_queries):
    client.force_login(staff)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("framework_matrix"))
    rows = {row["version"].role_profile.slug: row for row in response.context["rows"]}
    competencies = [c.slug for c in response.context["competencies"]]
    for slug, windows in WINDOWS.items():
        labels = [cell.window_label if cell else None for cell in rows[slug]["cells"]]
        expected = [f"{windows[c]}–{windows[c] + 2}" if c in windows else None for c in competencies]
        assert labels == expected
    assert "Download as CSV" not in response.content.decode()


def test_hr_admins_download_the_matrix_as_csv(client, hr):
    client.force_login(hr)
    response = client.get(reverse("framework_matrix_csv"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert list(rows[0]) == ["role_profile", "competency", "entry_level", "desired_level", "exceptional_level"]
    assert len(rows) == sum(len(windows) for windows in WINDOWS.values())
    row = next(
        r
        for r in rows
        if r["role_profile"] == "Night Senior Support Worker" and r["competency"] == "Releasing Potential"
    )
    assert (row["entry_level"], row["desired_level"], row["exceptional_level"]) == ("1", "2", "3")
    assert all(int(r["desired_level"]) == int(r["entry_level"]) + 1 == int(r["exceptional_level"]) - 1 for r in rows)


@pytest.mark.parametrize("who", ["staff", "manager"])
def test_the_matrix_csv_is_refused_to_non_hr_users(client, request, who):
    client.force_login(request.getfixturevalue(who))
    response = client.get(reverse("framework_matrix_csv"))
    assert response.status_code == 403
    assert "role_profile" not in response.content.decode()


def test_the_team_page_lists_only_the_managers_own_reports(client, manager, staff, other_staff):
    client.force_login(manager)
    page = client.get(reverse("team")).content.decode()
    assert staff.get_full_name() in page
    assert other_staff.get_full_name() not in page


def test_navigation_fits_who_is_logged_in(client, hr, manager, staff):
    client.force_login(staff)
    page = client.get(reverse("home")).content.decode()
    assert "My role profile" in page and "My team" not in page and "Audit" not in page
    client.force_login(manager)
    page = client.get(reverse("home")).content.decode()
    assert "My team" in page and "Audit" not in page and 'href="/emails/"' not in page
    client.force_login(hr)
    page = client.get(reverse("home")).content.decode()
    assert "Audit" in page and "HR admin" in page and 'href="/emails/">Emails</a>' in page


def test_there_is_no_back_office_that_bypasses_the_services(client, hr):
    """Every change goes through a service that validates and audits it: no generic admin site."""
    client.force_login(hr)
    assert client.get("/admin/").status_code == 404
    assert client.get("/admin/roles/staffmember/").status_code == 404


def test_static_assets_are_served_locally(client, staff):
    client.force_login(staff)
    page = client.get(reverse("home")).content.decode()
    assert f'href="{static("vendor/bootstrap/bootstrap.min.css")}"' in page
    assert "https://" not in page and "http://" not in page


def test_the_role_profile_list_and_page_link_to_the_pdfs(client, staff):
    client.force_login(staff)
    page = client.get(reverse("role_profile_list")).content.decode()
    for slug in WINDOWS:
        assert f'href="/roles/{slug}.pdf"' in page
    page = client.get(reverse("role_profile_detail", args=["housing-worker"])).content.decode()
    assert 'href="/roles/housing-worker.pdf"' in page
