"""Each role profile in fixtures/ holds its source document's sections and the windows of framework-ladder.md."""

import io

import pytest

from roles.models import RoleProfile, RoleProfileVersion
from tests.ladder import INFERRED, WINDOWS

pytestmark = pytest.mark.django_db


def current(slug) -> RoleProfileVersion:
    return RoleProfile.objects.get(slug=slug).current_version


@pytest.mark.parametrize("slug", WINDOWS)
def test_each_role_requires_the_windows_of_the_ladder_table(slug):
    version = current(slug)
    windows = {r.competency.slug: r.entry_level for r in version.requirements.select_related("competency")}
    assert windows == WINDOWS[slug]


@pytest.mark.parametrize("slug", WINDOWS)
def test_windows_are_marked_inferred_where_the_document_prints_no_level_numbers(slug):
    printed = set(current(slug).requirements.values_list("printed", flat=True))
    assert printed == ({False} if slug in INFERRED else {True})


@pytest.mark.parametrize("slug", WINDOWS)
def test_every_section_of_the_document_is_there(slug):
    version = current(slug)
    assert version.status == RoleProfileVersion.Status.PUBLISHED
    assert version.purpose and version.context and version.supervisor and version.direct_reports
    assert version.accountabilities.count() >= 9
    assert version.performance_measures.count() >= 5
    rows = version.person_specification_rows()
    assert {"Knowledge", "Experience", "Values"} <= {row["category"] for row in rows}
    assert all(row["essential"] or row["desirable"] for row in rows)
    assert version.discrepancies.exists(), "every document has discrepancies HR should see"


def test_the_untitled_night_document_gets_a_sensible_title_and_says_why():
    version = current("night-senior-support-worker")
    assert version.title == "Night Senior Support Worker"
    assert version.document_date is None and version.date_label == "Undated"
    assert version.direct_reports == "Night Assistant Staff Team"
    notes = " ".join(version.discrepancies.values_list("text", flat=True))
    assert "no role title" in notes.lower()


def test_the_housing_worker_mislabelled_table_is_recorded_for_hr():
    version = current("housing-worker")
    notes = " ".join(version.discrepancies.values_list("text", flat=True))
    assert "Organisation and Sector Awareness" in notes and "confirmed by HR" in notes
    assert not version.requirements.filter(competency__slug="policy-procedure-and-practice").exists()


def test_dates_are_the_documents_months():
    labels = {slug: current(slug).date_label for slug in WINDOWS}
    assert labels == {
        "support-worker-supported-housing": "March 2023",
        "housing-worker": "September 2024",
        "night-senior-support-worker": "Undated",
        "senior-service-coordinator-afeo": "April 2025",
        "recovery-coach-somerset": "March 2019",
    }


def test_loading_the_fixtures_again_changes_nothing():
    from django.core.management import call_command

    before = RoleProfileVersion.objects.count(), RoleProfile.objects.count()
    call_command("load_framework", stdout=io.StringIO())
    assert (RoleProfileVersion.objects.count(), RoleProfile.objects.count()) == before


def test_further_organisation_sections_are_kept():
    housing = current("housing-worker").organisation_sections.get()
    assert (housing.heading, housing.item_list()) == (
        "Team Structure",
        ["Housing Workers", "Senior Housing Worker", "Housing Team Manager"],
    )
    values = current("senior-service-coordinator-afeo").organisation_sections.get()
    assert values.heading == "Values" and len(values.item_list()) == 5
    assert values.text == "All staff must continuously demonstrate these values in their professional practice."
