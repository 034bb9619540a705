"""seed_scale: a realistic organisation at any size, quickly; and the benchmark's measurements on it."""

import io
import json
import time

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from appraisal.models import Appraisal, AppraisalCycle, AppraisalEvent, IndicatorRating, ScoredCompetency
from appraisal.rules import Standing
from bench import measure as benchmark
from roles.models import RoleProfileVersion
from staff.models import LineManagerAssignment, RoleAssignment, StaffMember
from tests.conftest import make_person

State = Appraisal.State


@pytest.fixture
def seeded(db):
    out = io.StringIO()
    started = time.monotonic()
    call_command("seed_scale", "--staff", "30", "--years", "2", stdout=out)
    return out.getvalue(), time.monotonic() - started


def test_it_creates_the_organisation_with_two_completed_cycles_and_an_open_one(seeded):
    output, seconds = seeded
    assert seconds < 30
    assert "30 staff" in output and "Logins: hr, head, manager, staff" in output
    assert StaffMember.objects.active().count() == 30
    assert StaffMember.objects.filter(left_on__isnull=False).exists()  # leavers keep their records
    cycles = list(AppraisalCycle.objects.order_by("period_end"))
    assert len(cycles) == 3 and all(cycle.is_open for cycle in cycles)
    for cycle in cycles[:2]:
        states = set(cycle.appraisals.values_list("state", flat=True))
        assert states == {State.COMPLETED}
    completed = Appraisal.objects.filter(cycle__in=cycles[:2])
    assert (
        not completed.filter(countersigned_at__isnull=True).exists()
        and not completed.filter(signed_off_by__isnull=True).exists()
    )
    # Every indicator of every completed window is rated; levels are derived; events are written.
    for appraisal in completed[:5]:
        window = {i for c in appraisal.competencies.all() for level in c.levels for i in level["indicators"]}
        rated = set(
            IndicatorRating.objects.filter(scored_competency__appraisal=appraisal)
            .exclude(rating="")
            .values_list("indicator_id", flat=True)
        )
        assert window and rated == window
        assert not appraisal.competencies.filter(derived_level__isnull=True).exists()
        assert list(appraisal.events.values_list("action", flat=True)) == [
            "open",
            "submit self-assessment",
            "share",
            "sign off",
            "countersign",
        ]
    standings = {row.standing for row in ScoredCompetency.objects.with_standing().filter(appraisal__in=completed)}
    assert {Standing.ENTRY.value, Standing.DESIRED.value} <= standings
    # The open cycle is spread over the workflow; `staff` waits for `manager`'s review.
    assert cycles[2].appraisals.filter(state=State.SELF_ASSESSMENT).exists()
    assert cycles[2].appraisals.exclude(state=State.SELF_ASSESSMENT).exists()
    mine = cycles[2].appraisals.get(staff_member__user__username="staff")
    assert mine.state == State.MANAGER_REVIEW and mine.appraiser.user.username == "manager"
    assert AppraisalEvent.objects.filter(appraisal=mine, action="submit self-assessment").exists()
    # Variants: two role profiles have a second published version, used by the later records.
    assert RoleProfileVersion.objects.filter(status="published", number=2).count() == 2
    assert Appraisal.objects.filter(role_version__number=2).exists()
    assert RoleAssignment.objects.count() >= StaffMember.objects.exclude(role_profile=None).count()
    assert LineManagerAssignment.objects.count() >= StaffMember.objects.exclude(line_manager=None).count()


def test_the_seeded_pages_render_for_a_manager_and_the_benchmark_measures_them(seeded, tmp_path):
    client = Client()
    client.force_login(StaffMember.objects.get(user__username="manager").user)
    for url in (reverse("team"), reverse("team") + "?scope=line", reverse("my_history"), reverse("appraisal_list")):
        assert client.get(url).status_code == 200, url
    staff = StaffMember.objects.get(user__username="staff")
    assert client.get(reverse("person_history", args=[staff.pk])).status_code == 200
    page_names = {
        "scoring page",
        "appraisal record",
        "my history",
        "team page",
        "organisation reports",
        "role profile page",
    }
    with benchmark_settings():
        results = benchmark.run(
            size=30,
            repeat=2,
            pdf_repeat=1,
            only=page_names | {benchmark.OPEN_CYCLE, benchmark.AUTOSAVE, benchmark.OUTCOMES_CSV},
            out=lambda text: None,
        )
    rows = benchmark.save(results, tmp_path / "results.json")
    assert rows == json.loads((tmp_path / "results.json").read_text())
    assert {row["name"] for row in rows} == page_names | {
        benchmark.FLOOR,
        benchmark.PDF_FLOOR,
        benchmark.OPEN_CYCLE,
        benchmark.AUTOSAVE,
        benchmark.OUTCOMES_CSV,
    }
    for row in rows:
        assert (
            set(row) == {"name", "size", "queries", "median_ms", "ratio", "peak_mb", "rows"}
            and row["size"] == 30
            and row["median_ms"] > 0
        )
        if row["name"] == benchmark.OUTCOMES_CSV:
            # Every outcome of every record streamed: one row per appraisal and competency, in a few MB.
            assert row["rows"] == ScoredCompetency.objects.count() and 0 < row["peak_mb"] < benchmark.MAX_EXPORT_MB
        if row["name"] in page_names:
            assert 0 < row["queries"] <= benchmark.MAX_QUERIES, row
            assert row["ratio"] > 1
    # Opening was measured and rolled back.
    assert AppraisalCycle.objects.count() == 3
    assert "| scoring page |" in benchmark.table(rows)
    assert "| scoring page autosave |" in benchmark.table(rows)


def benchmark_settings():
    from django.test.utils import override_settings

    return override_settings(ALLOWED_HOSTS=["127.0.0.1", "testserver"])


def test_it_refuses_a_database_that_already_holds_staff(db):
    make_person("someone")
    with pytest.raises(CommandError, match="already holds staff records"):
        call_command("seed_scale", "--staff", "30", "--years", "1", stdout=io.StringIO())
    assert AppraisalCycle.objects.count() == 0
