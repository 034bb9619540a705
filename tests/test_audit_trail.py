"""The audit trail is complete: every kind of change is recorded with who, what and before → after,
in the same transaction as the change, and nothing in the application edits or deletes an entry."""

import datetime
import inspect
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter
from django.utils import timezone

from appraisal.models import Appraisal, AppraisalCycle, IndicatorRating, ScoredCompetency
from appraisal.services import cycles, scoring, workflow
from audit.models import AuditEntry
from competencies import services as framework
from competencies.models import Competency, Indicator, Level
from roles import services as role_profiles
from roles.framework import retire_competency, retire_level
from roles.models import RoleProfile, RoleProfileVersion
from roles.versioning import snapshot
from staff import imports as staff_imports, leaving as staff_leaving, records as staff_records
from staff.models import LineManagerAssignment, RoleAssignment, StaffMember
from tests.appraisals import fresh, make_cycle, open_appraisal, rate, reload

pytestmark = pytest.mark.django_db

State = Appraisal.State


def last(**filters) -> AuditEntry | None:
    return AuditEntry.objects.filter(**filters).order_by("-pk").first()


def new_entries(since: int) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(pk__gt=since).order_by("pk"))


def high_water() -> int:
    return AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def shown(moment) -> str:
    """A time as the audit trail keeps it."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def assert_about(entry, *, actor, action, obj, object_type, person=None):
    assert entry is not None
    assert (entry.actor, entry.action, entry.object_type, entry.object_id) == (actor, action, object_type, str(obj.pk))
    assert entry.person_id == (person.pk if person is not None else None)
    assert entry.at is not None


def assert_appraisal_entry(entry, *, actor, action, appraisal):
    assert_about(
        entry, actor=actor, action=action, obj=appraisal, object_type="appraisal", person=appraisal.staff_member
    )
    assert entry.object_repr == str(reload(appraisal))


def indicators_of(appraisal) -> list[tuple[ScoredCompetency, int, int]]:
    """(scored competency, level number, indicator id) for every indicator of the appraisal, in order."""
    return [
        (scored, level["number"], indicator_id)
        for scored in ScoredCompetency.objects.filter(appraisal=appraisal).order_by("position")
        for level in scored.levels
        for indicator_id in level.get("indicators") or ()
    ]


def rating_key(scored, number, indicator_id) -> str:
    words = Indicator.objects.get(pk=indicator_id).text
    return f"{scored.name}, level {number}, indicator {indicator_id} ({words[:60]}{'…' if len(words) > 60 else ''})"


def save_review(
    appraisal, by, *, ratings, overrides=None, measures=None, meeting_date=datetime.date(2026, 4, 15), **fields
):
    appraisal = reload(appraisal)
    values = {"objectives": "", "development_plan": "", "manager_comments": "", **fields}
    return scoring.save_review(
        by=fresh(by),
        appraisal=appraisal,
        revision=appraisal.revision,
        ratings=ratings,
        overrides=overrides or {},
        measures=measures or {},
        meeting_date=meeting_date,
        **values,
    )


# --- cycles and the appraisal workflow ------------------------------------------------------------


def test_creating_and_opening_a_cycle_records_the_cycle_and_each_new_appraisal(hr, manager, staff):
    cycle = make_cycle(hr)
    entry = last(object_type="appraisal cycle", action="create")
    assert_about(entry, actor=hr, action="create", obj=cycle, object_type="appraisal cycle")
    assert entry.changes == {"period": "1 April 2025 to 31 March 2026", "due": "2026-06-30", "self-assessment": False}

    mark = high_water()
    cycles.open_cycle(by=fresh(hr), cycle=cycle)
    appraisal = Appraisal.objects.get(cycle=cycle, staff_member__user=staff)
    opened = last(object_type="appraisal cycle", action="open")
    assert_about(opened, actor=hr, action="open", obj=cycle, object_type="appraisal cycle")
    assert opened.changes["appraisals created"] == 1
    assert sorted(opened.changes["not appraised"]) == [
        "Hr Example: holds no role profile",
        "Manager Example: has no line manager",
    ]
    # Each appraisal's own story starts with its opening, about its person.
    record_entry = last(object_type="appraisal", object_id=str(appraisal.pk))
    assert_appraisal_entry(record_entry, actor=hr, action="open", appraisal=appraisal)
    assert record_entry.changes == {
        "state": [None, "Manager review"],
        "appraiser": [None, "Manager Example"],
        "role profile version": [None, "Support Worker (Supported Housing) (version 1)"],
    }
    assert len(new_entries(mark)) == 2  # the cycle's and the one appraisal's


def test_opening_again_records_only_the_appraisals_added(hr, manager, staff, other_staff):
    cycle = make_cycle(hr)
    cycles.open_cycle(by=fresh(hr), cycle=cycle)
    mark = high_water()
    cycles.open_cycle(by=fresh(hr), cycle=cycle)
    entries = new_entries(mark)
    assert [(e.action, e.object_type) for e in entries] == [("open again", "appraisal cycle")]
    assert entries[0].changes["appraisals created"] == 0


def test_saving_and_submitting_the_self_assessment(hr, manager, staff):
    appraisal = open_appraisal(hr, staff, self_assessment=True)
    scored, number, indicator_id = indicators_of(appraisal)[0]
    key = rating_key(scored, number, indicator_id)

    scoring.save_self_assessment(
        by=fresh(staff),
        appraisal=reload(appraisal),
        revision=reload(appraisal).revision,
        ratings={indicator_id: ("partly", "I led the rota")},
        comments="A good year.",
    )
    entry = last(object_type="appraisal", action="save self-assessment")
    assert_appraisal_entry(entry, actor=staff, action="save self-assessment", appraisal=appraisal)
    own = {k: v for k, v in entry.changes.items() if not k.endswith("self-assessed level")}
    assert own == {
        f"{key}: self-rating": ["Not rated", "Partly"],
        f"{key}: self-evidence": ["", "I led the rota"],
        "Comments on the year": ["", "A good year."],
    }

    # Only what changed: the evidence and comments stay as they were.
    scoring.save_self_assessment(
        by=fresh(staff),
        appraisal=reload(appraisal),
        revision=reload(appraisal).revision,
        ratings={indicator_id: ("consistently", "I led the rota")},
        comments="A good year.",
    )
    entry = last(object_type="appraisal", action="save self-assessment")
    assert {k: v for k, v in entry.changes.items() if not k.endswith("self-assessed level")} == {
        f"{key}: self-rating": ["Partly", "Consistently demonstrated"]
    }

    workflow.submit_self_assessment(by=fresh(staff), appraisal=reload(appraisal))
    entry = last(object_type="appraisal", action="submit self-assessment")
    assert_appraisal_entry(entry, actor=staff, action="submit self-assessment", appraisal=appraisal)
    assert entry.changes == {"state": ["Self-assessment", "Manager review"]}


def test_beginning_the_review_without_the_self_assessment(hr, manager, staff):
    appraisal = open_appraisal(hr, staff, self_assessment=True)
    workflow.begin_review(by=fresh(manager), appraisal=reload(appraisal))
    entry = last(object_type="appraisal")
    assert_appraisal_entry(entry, actor=manager, action="begin review without self-assessment", appraisal=appraisal)
    assert entry.changes == {"state": ["Self-assessment", "Manager review"]}


def test_saving_a_review_writes_one_entry_with_only_the_changed_scores(hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    indicators = indicators_of(appraisal)
    assert len(indicators) > 20
    everything = {indicator_id: ("partly", "") for _, _, indicator_id in indicators}
    mark = high_water()
    save_review(appraisal, manager, ratings=everything)
    [first] = new_entries(mark)
    assert sum(1 for key in first.changes if key.endswith(": rating")) == len(indicators)

    (scored_a, number_a, first_id), (scored_b, number_b, second_id) = indicators[0], indicators[-1]
    competency = ScoredCompetency.objects.filter(appraisal=appraisal).order_by("position").first()
    measure = appraisal.role_version.performance_measures.order_by("position").first()
    changed = {**everything, first_id: ("consistently", ""), second_id: ("partly", "Ran the residents' meeting")}
    mark = high_water()
    save_review(
        appraisal,
        manager,
        ratings=changed,
        overrides={competency.competency_id: (competency.exceptional_level, "Outstanding year")},
        measures={measure.pk: "Met every month."},
        meeting_date=datetime.date(2026, 4, 20),
        objectives="Lead the rota.",
    )
    [entry] = new_entries(mark)  # one entry for the whole page, however many indicators it has
    assert_appraisal_entry(entry, actor=manager, action="save review", appraisal=appraisal)
    first_key, second_key = rating_key(scored_a, number_a, first_id), rating_key(scored_b, number_b, second_id)
    expected = {
        "meeting_date": ["2026-04-15", "2026-04-20"],
        "objectives": ["", "Lead the rota."],
        f"{first_key}: rating": ["Partly", "Consistently demonstrated"],
        f"{second_key}: evidence": ["", "Ran the residents' meeting"],
        f"{competency.name}: override level": [
            "No override (the derived level)",
            competency.level_label(competency.exceptional_level),
        ],
        f"{competency.name}: override reason": ["", "Outstanding year"],
        f"Performance measure: {measure.text[:60]}": ["", "Met every month."],
    }
    assert {k: v for k, v in entry.changes.items() if not k.endswith("derived level")} == expected
    assert (
        IndicatorRating.objects.get(scored_competency__appraisal=appraisal, indicator_id=first_id).rating
        == "consistently"
    )


def test_a_save_that_changes_nothing_writes_no_entry(client, hr, manager, staff):
    review = open_appraisal(hr, staff)
    ratings = {indicator_id: ("partly", "") for _, _, indicator_id in indicators_of(review)}
    save_review(review, manager, ratings=ratings, objectives="Lead the rota.")
    mark = high_water()
    save_review(review, manager, ratings=ratings, objectives="Lead the rota.")  # the same again
    assert new_entries(mark) == []

    own = open_appraisal(hr, staff, year=2027, self_assessment=True)
    ratings = {indicator_id: ("partly", "") for _, _, indicator_id in indicators_of(own)}
    mark = high_water()
    for _ in range(2):
        scoring.save_self_assessment(
            by=fresh(staff),
            appraisal=reload(own),
            revision=reload(own).revision,
            ratings=ratings,
            comments="A good year.",
        )
    assert [e.action for e in new_entries(mark)] == ["save self-assessment"]  # the first save only


def test_the_scoring_page_s_save_with_nothing_changed_says_so_and_writes_no_entry(client, hr, manager, staff):
    from tests.test_appraisal_pages import form_data

    appraisal = open_appraisal(hr, staff)
    client.force_login(manager)
    url = reverse("appraisal_review", args=[appraisal.pk])
    response = client.post(url, form_data(appraisal, objectives="Lead the rota."), follow=True)
    assert "Draft saved." in response.content.decode()
    mark = high_water()
    response = client.post(url, form_data(appraisal, objectives="Lead the rota."), follow=True)
    assert "No changes to save" in response.content.decode() and "Draft saved." not in response.content.decode()
    assert new_entries(mark) == []


def test_other_saves_that_change_nothing_write_no_entry(hr, staff):
    member = staff.staff_member
    details = {
        "first_name": staff.first_name,
        "last_name": staff.last_name,
        "email": "staff@example.org",
        "service": member.service,
        "job_title": "Support Worker",
    }
    staff_records.update_staff_details(by=fresh(hr), member=member, **details)
    competency = Competency.objects.current().order_by("position").first()
    level = competency.levels.order_by("number").first()
    indicators = [{"id": i.pk, "text": i.text, "retire": False} for i in level.indicators.current()]
    mark = high_water()
    staff_records.update_staff_details(by=fresh(hr), member=member, **details)
    framework.update_competency(
        by=fresh(hr),
        competency=competency,
        name=competency.name,
        relevance_to_recovery=competency.relevance_to_recovery,
        note=competency.note,
    )
    framework.update_indicators(by=fresh(hr), level=level, items=indicators)
    assert new_entries(mark) == []


def test_saving_a_review_takes_a_bounded_number_of_queries(hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    indicators = [indicator_id for _, _, indicator_id in indicators_of(appraisal)]
    counts = []
    for rating in ("partly", "consistently"):
        for subset in (indicators[:2], indicators):
            appraisal = reload(appraisal)
            with CaptureQueriesContext(connection) as queries:
                save_review(appraisal, manager, ratings={i: (rating, "") for i in subset})
            counts.append(len(queries))
    assert max(counts) <= 30
    assert counts[1] <= counts[0] + 2 and counts[3] <= counts[2] + 2  # two indicators or all of them: about the same


@pytest.fixture
def shared(hr, manager, staff):
    appraisal = rate(open_appraisal(hr, staff), manager)
    return workflow.share(by=fresh(manager), appraisal=reload(appraisal))


def test_sharing(manager, staff, shared):
    entry = last(object_type="appraisal", action="share")
    assert_appraisal_entry(entry, actor=manager, action="share", appraisal=shared)
    assert entry.changes == {"state": ["Manager review", "Shared, awaiting sign-off"]}


def test_withdrawing_keeps_when_it_was_shared_and_why_it_was_taken_back(manager, staff, shared):
    shared_at = reload(shared).shared_at
    workflow.withdraw(by=fresh(manager), appraisal=reload(shared), reason="Objectives missing")
    entry = last(object_type="appraisal", action="withdraw")
    assert_appraisal_entry(entry, actor=manager, action="withdraw", appraisal=shared)
    assert entry.changes == {
        "state": ["Shared, awaiting sign-off", "Manager review"],
        "shared": [shown(shared_at), None],
        "reason": "Objectives missing",
    }


def test_signing_off_with_disagreement_then_countersigning(manager, staff, shared):
    workflow.sign_off(by=fresh(staff), appraisal=reload(shared), agrees=False, comments="Customer Care is higher.")
    entry = last(object_type="appraisal", action="sign off, disagreeing")
    assert_appraisal_entry(entry, actor=staff, action="sign off, disagreeing", appraisal=shared)
    assert entry.changes == {
        "state": ["Shared, awaiting sign-off", "Awaiting countersignature"],
        "agrees": [None, False],
        "staff comments": ["", "Customer Care is higher."],
    }

    workflow.countersign(by=fresh(manager), appraisal=reload(shared), comments="Discussed; kept as it is.")
    entry = last(object_type="appraisal", action="countersign, noting disagreement")
    assert_appraisal_entry(entry, actor=manager, action="countersign, noting disagreement", appraisal=shared)
    assert entry.changes == {
        "state": ["Awaiting countersignature", "Completed"],
        "countersignature comments": ["", "Discussed; kept as it is."],
    }


def test_signing_off_in_agreement(manager, staff, shared):
    workflow.sign_off(by=fresh(staff), appraisal=reload(shared), agrees=True, comments="")
    entry = last(object_type="appraisal", action="sign off")
    assert entry.changes == {
        "state": ["Shared, awaiting sign-off", "Awaiting countersignature"],
        "agrees": [None, True],
    }


def test_reopening_keeps_the_sign_offs_it_clears_and_the_reason(hr, manager, staff, shared):
    workflow.sign_off(by=fresh(staff), appraisal=reload(shared), agrees=False, comments="Too low.")
    workflow.countersign(by=fresh(manager), appraisal=reload(shared), comments="Noted.")
    done = reload(shared)
    workflow.reopen(by=fresh(hr), appraisal=done, reason="Level entered for the wrong competency")
    entry = last(object_type="appraisal", action="reopen")
    assert_appraisal_entry(entry, actor=hr, action="reopen", appraisal=shared)
    assert entry.changes == {
        "state": ["Completed", "Manager review"],
        "shared": [shown(done.shared_at), None],
        "agrees": [False, None],
        "staff comments": ["Too low.", ""],
        "signed off": [shown(done.signed_off_at), None],
        "signed off by": ["Staff Example", None],
        "countersignature comments": ["Noted.", ""],
        "countersigned": [shown(done.countersigned_at), None],
        "countersigned by": ["Manager Example", None],
        "completed": [shown(done.completed_at), None],
        "reason": "Level entered for the wrong competency",
    }


def test_reassigning_the_appraiser(hr, manager, staff, other_manager):
    appraisal = open_appraisal(hr, staff)
    workflow.reassign_appraiser(
        by=fresh(hr), appraisal=reload(appraisal), appraiser=other_manager.staff_member, reason="Long leave"
    )
    entry = last(object_type="appraisal", action="reassign")
    assert_appraisal_entry(entry, actor=hr, action="reassign", appraisal=appraisal)
    assert entry.changes == {"appraiser": ["Manager Example", "Other Manager Example"], "reason": "Long leave"}


def test_the_record_filter_tells_an_appraisal_s_whole_story_about_its_person(client, hr, manager, staff, shared):
    workflow.sign_off(by=fresh(staff), appraisal=reload(shared), agrees=True, comments="")
    workflow.countersign(by=fresh(manager), appraisal=reload(shared))
    workflow.reopen(by=fresh(hr), appraisal=reload(shared), reason="Typo in the objectives")
    client.force_login(hr)
    response = client.get(reverse("audit_log"), {"object_type": "appraisal", "object_id": str(shared.pk)})
    entries = list(response.context["page"])
    assert [e.action for e in reversed(entries)] == [
        "open",
        "save review",
        "share",
        "sign off",
        "countersign",
        "reopen",
    ]
    assert {e.person_id for e in entries} == {staff.staff_member.pk}
    # Filtering by the person finds the same entries (and nothing about anyone else).
    by_person = client.get(reverse("audit_log"), {"person": str(staff.staff_member.pk)}).context["page"]
    assert {e.pk for e in entries} <= {e.pk for e in by_person}
    assert all(e.person_id == staff.staff_member.pk for e in by_person)


def test_hr_admins_see_links_to_the_record_s_and_the_person_s_trail(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    record_link = f"{reverse('audit_log')}?object_type=appraisal&amp;object_id={appraisal.pk}"
    person_link = f"{reverse('audit_log')}?person={staff.staff_member.pk}"
    client.force_login(hr)
    assert record_link in client.get(reverse("appraisal", args=[appraisal.pk])).content.decode()
    assert (
        "Audit trail for this person"
        in client.get(reverse("staff_detail", args=[staff.staff_member.pk])).content.decode()
    )
    assert person_link in client.get(reverse("staff_detail", args=[staff.staff_member.pk])).content.decode()
    for user in (manager, staff):
        client.force_login(user)
        page = client.get(reverse("appraisal", args=[appraisal.pk])).content.decode()
        assert "Audit trail for this record" not in page and reverse("audit_log") not in page


def test_the_trail_shows_the_new_kinds_of_change_readably_in_few_queries(
    client, hr, manager, staff, shared, django_assert_max_num_queries
):
    workflow.withdraw(by=fresh(manager), appraisal=reload(shared), reason="Objectives missing")
    level = Level.objects.get(competency__slug="achieving-results", number=3)
    items = [{"id": i.pk, "text": i.text, "retire": False} for i in level.indicators.current()]
    items[0]["retire"] = True
    items.append({"id": None, "text": "Delivers on commitments.", "retire": False})
    framework.update_indicators(by=fresh(hr), level=level, items=items)
    client.force_login(hr)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("audit_log")).content.decode()
    assert (
        '<del class="diff-removed">Shared, awaiting sign-off</del> → <ins class="diff-added">Manager review</ins>'
        in page
    )
    assert '<ins class="diff-added">+ Delivers on commitments.</ins>' in page
    assert "[[" not in page and "{&#x27;" not in page  # no raw data structures


# --- role profiles --------------------------------------------------------------------------------


def test_creating_a_role_profile(hr):
    version = role_profiles.create_role_profile(by=fresh(hr), title="Peer Mentor")
    entry = last(object_type="role profile")
    assert_about(entry, actor=hr, action="create", obj=version, object_type="role profile")
    assert entry.changes == {"title": [None, "Peer Mentor"], "slug": [None, "peer-mentor"]}


@pytest.fixture
def draft(hr):
    return role_profiles.start_draft(by=fresh(hr), role_profile=RoleProfile.objects.get(slug="housing-worker"))


def test_draft_edits_record_only_what_changed(hr, draft):
    entry = last(object_type="role profile", action="start draft")
    assert_about(entry, actor=hr, action="start draft", obj=draft, object_type="role profile")
    assert entry.changes == {"copied from version": 1}

    old_purpose, location = draft.purpose, draft.location
    role_profiles.update_details(
        by=fresh(hr), version=draft, purpose="To support tenants to keep their homes.", location=location
    )
    entry = last(object_type="role profile", action="edit")
    assert_about(entry, actor=hr, action="edit", obj=draft, object_type="role profile")
    assert entry.changes == {"purpose": [old_purpose, "To support tenants to keep their homes."]}

    texts = list(draft.accountabilities.values_list("text", flat=True))
    role_profiles.replace_text_list(
        by=fresh(hr), version=draft, section="accountabilities", texts=texts[1:] + ["Keeps the rota."]
    )
    entry = last(object_type="role profile", action="edit")
    assert entry.changes == {
        "accountabilities": {"removed": [texts[0]], "added": ["Keeps the rota."], "reordered": False}
    }


def test_window_changes(hr, draft):
    entry_levels = {r.competency_id: r.entry_level for r in draft.requirements.all()}
    customer_care = Competency.objects.get(slug="customer-care")
    assert entry_levels[customer_care.pk] == 1
    entry_levels[customer_care.pk] = 2
    role_profiles.set_windows(by=fresh(hr), version=draft, entry_levels=entry_levels)
    entry = last(object_type="role profile", action="edit windows")
    assert_about(entry, actor=hr, action="edit windows", obj=draft, object_type="role profile")
    assert entry.changes == {"Customer Care": ["1–3", "2–4"]}


def test_publishing_and_discarding(hr, draft):
    version = role_profiles.publish(
        by=fresh(hr), version=draft, note="A window moved.", document_date=datetime.date(2026, 11, 1)
    )
    entry = last(object_type="role profile", action="publish")
    assert_about(entry, actor=hr, action="publish", obj=version, object_type="role profile")
    assert entry.changes == {
        "status": ["Draft", "Published"],
        "version": [1, 2],
        "date": ["September 2024", "November 2026"],  # changed by HR: the draft kept version 1's date
        "note": "A window moved.",
    }

    second = role_profiles.start_draft(by=fresh(hr), role_profile=version.role_profile)
    details = snapshot(second)["details"]
    pk = second.pk
    role_profiles.discard_draft(by=fresh(hr), version=second)
    entry = last(object_type="role profile", action="discard draft")
    assert (entry.actor, entry.object_id) == (hr, str(pk))
    assert entry.changes["title"] == details["title"] == "Housing Worker"
    assert not RoleProfileVersion.objects.filter(pk=pk).exists()


# --- the framework --------------------------------------------------------------------------------


def test_competency_create_edit_move_and_retire(hr):
    competency = framework.create_competency(
        by=fresh(hr), name="Digital Skills", relevance_to_recovery="Online services."
    )
    entry = last(object_type="competency", action="create")
    assert_about(entry, actor=hr, action="create", obj=competency, object_type="competency")
    assert entry.changes == {
        "name": [None, "Digital Skills"],
        "position": [None, 12],
        "relevance_to_recovery": ["", "Online services."],
    }

    framework.update_competency(by=fresh(hr), competency=competency, name="Digital Confidence", note="")
    entry = last(object_type="competency", action="edit")
    assert_about(entry, actor=hr, action="edit", obj=competency, object_type="competency")
    assert entry.changes == {"name": ["Digital Skills", "Digital Confidence"]}

    first = Competency.objects.get(slug="achieving-results")
    framework.move_competency(by=fresh(hr), competency=first, step=1)
    entry = last(object_type="competency", action="reorder")
    assert_about(entry, actor=hr, action="reorder", obj=first, object_type="competency")
    assert entry.changes == {"position": [1, 2], "swapped with": "Customer Care"}

    retire_competency(by=fresh(hr), competency=competency)
    competency.refresh_from_db()
    entry = last(object_type="competency", action="retire")
    assert_about(entry, actor=hr, action="retire", obj=competency, object_type="competency")
    assert entry.changes == {"retired_at": [None, shown(competency.retired_at)]}


def test_level_create_edit_and_retire(hr):
    competency = Competency.objects.get(slug="achieving-results")
    level = framework.add_level(
        by=fresh(hr),
        competency=competency,
        number=5,
        lead="At this level the worker:",
        indicators=["Sets the service's targets.", "Reviews results with the team."],
    )
    entry = last(object_type="level", action="create")
    assert_about(entry, actor=hr, action="create", obj=level, object_type="level")
    assert entry.object_repr == "Achieving Results, level 5"
    assert entry.changes == {
        "number": [None, 5],
        "lead": ["", "At this level the worker:"],
        "indicators": [[], ["Sets the service's targets.", "Reviews results with the team."]],
    }

    framework.update_level(by=fresh(hr), level=level, lead="The worker:")
    entry = last(object_type="level", action="edit")
    assert_about(entry, actor=hr, action="edit", obj=level, object_type="level")
    assert entry.changes == {"lead": ["At this level the worker:", "The worker:"]}

    first, second = level.indicators.current()
    framework.update_indicators(
        by=fresh(hr),
        level=level,
        items=[
            {"id": second.pk, "text": second.text, "retire": False},
            {"id": first.pk, "text": "Sets the targets.", "retire": False},
        ],
    )
    entry = last(object_type="level", action="edit indicators")
    assert entry.changes == {
        "indicators": [
            ["Sets the service's targets.", "Reviews results with the team."],
            ["Reviews results with the team.", "Sets the targets."],
        ]
    }

    retire_level(by=fresh(hr), level=level)
    level.refresh_from_db()
    entry = last(object_type="level", action="retire")
    assert_about(entry, actor=hr, action="retire", obj=level, object_type="level")
    assert entry.changes == {"retired_at": [None, shown(level.retired_at)]}

    # A retired level that comes back shows what it was.
    retired_at = level.retired_at
    framework.add_level(
        by=fresh(hr),
        competency=competency,
        number=5,
        sustained_level=4,
        sustained_months=24,
        rule_text="Level 4 held for two years.",
    )
    entry = last(object_type="level", action="create")
    assert entry.object_id == str(level.pk)
    assert entry.changes == {
        "lead": ["The worker:", ""],
        "rule_text": ["", "Level 4 held for two years."],
        "sustained_level": [None, 4],
        "sustained_months": [None, 24],
        "retired_at": [shown(retired_at), None],
    }


# --- staff records --------------------------------------------------------------------------------


def test_creating_a_staff_record(hr, manager):
    member = staff_records.create_staff_member(
        by=fresh(hr),
        first_name="Ada",
        last_name="Lovelace",
        email="Ada@Example.org",
        job_title="Support Worker",
        role_profile=RoleProfile.objects.get(slug="housing-worker"),
        role_since=datetime.date(2025, 9, 1),
        line_manager=manager.staff_member,
        manager_since=datetime.date(2025, 9, 1),
    )
    entry = last(person=member)
    assert_about(entry, actor=hr, action="create", obj=member, object_type="staff member", person=member)
    assert entry.changes == {
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "username": "ada",
        "service": None,
        "job_title": "Support Worker",
        "role_profile": "Housing Worker",
        "role_profile_since": "2025-09-01",
        "line_manager": "Manager Example",
        "line_manager_since": "2025-09-01",
    }


def test_editing_a_staff_record_records_only_what_changed(hr, staff):
    member = staff.staff_member
    staff_records.update_staff_details(
        by=fresh(hr),
        member=member,
        first_name="Staff",
        last_name="Taylor",
        email="Staff@Example.org",
        service=member.service,
        job_title="Support Worker",
    )
    entry = last(person=member)
    assert_about(entry, actor=hr, action="edit", obj=member, object_type="staff member", person=member)
    assert entry.changes == {
        "last_name": ["Example", "Taylor"],
        "email": ["", "staff@example.org"],
        "job_title": ["", "Support Worker"],
    }


def test_assigning_a_role_and_a_line_manager_and_marking_a_leaver(hr, staff, other_manager):
    member = staff.staff_member
    staff_records.assign_role_profile(
        by=fresh(hr),
        member=member,
        role_profile=RoleProfile.objects.get(slug="housing-worker"),
        since=datetime.date(2025, 5, 1),
    )
    entry = last(person=member)
    assert_about(entry, actor=hr, action="assign role", obj=member, object_type="staff member", person=member)
    assert entry.changes == {
        "role_profile": ["Support Worker (Supported Housing)", "Housing Worker"],
        "role_profile_since": ["2022-04-01", "2025-05-01"],
    }

    staff_records.assign_line_manager(
        by=fresh(hr), member=member, manager=other_manager.staff_member, since=datetime.date(2025, 6, 1)
    )
    entry = last(person=member)
    assert_about(entry, actor=hr, action="assign line manager", obj=member, object_type="staff member", person=member)
    assert entry.changes == {
        "line_manager": ["Manager Example", "Other Manager Example"],
        "line_manager_since": ["2023-01-01", "2025-06-01"],
    }

    staff_leaving.mark_leaver(by=fresh(hr), member=member, left_on=datetime.date(2026, 1, 31))
    entry = last(person=member)
    assert_about(entry, actor=hr, action="mark leaver", obj=member, object_type="staff member", person=member)
    assert entry.changes == {"left_on": [None, "2026-01-31"]}


def test_a_csv_import_records_each_person_and_the_import(hr, manager):
    text = (
        "name,email,role_profile,line_manager,start_date\n"
        "Kofi Mensah,kofi@example.org,housing-worker,,2025-09-01\n"
        "Jess Hill,jess@example.org,housing-worker,kofi@example.org,2025-10-13\n"
    )
    mark = high_water()
    people = staff_imports.import_staff(by=fresh(hr), csv_text=text)
    entries = new_entries(mark)
    creates = [e for e in entries if e.action == "create"]
    assert [(e.actor, e.person_id, e.object_id) for e in creates] == [(hr, p.pk, str(p.pk)) for p in people]
    kofi, jess = people
    assert (
        creates[1].changes["line_manager"] == "Kofi Mensah" and creates[1].changes["role_profile"] == "Housing Worker"
    )
    summary = entries[-1]
    assert (summary.actor, summary.action, summary.object_type, summary.person_id) == (
        hr,
        "import",
        "staff import",
        None,
    )
    assert summary.changes == {"count": 2, "names": ["Kofi Mensah", "Jess Hill"]}


# --- the change and its entry commit or fail together ---------------------------------------------


class AuditDown(Exception):
    pass


@pytest.fixture
def failing_trail(monkeypatch):
    """Writing an audit entry fails (as a full disk or a lost connection would)."""

    def refuse(*args, **kwargs):
        raise AuditDown("the audit trail cannot be written")

    monkeypatch.setattr(AuditEntry.objects, "create", refuse)
    monkeypatch.setattr(AuditEntry.objects, "bulk_create", refuse)


def appraisal_state(appraisal):
    return (
        Appraisal.objects.filter(pk=appraisal.pk).values().get(),
        sorted(
            IndicatorRating.objects.filter(scored_competency__appraisal=appraisal).values_list(
                "indicator_id", "rating", "evidence"
            )
        ),
    )


def test_a_review_is_not_saved_without_its_entry(hr, manager, staff, request):
    appraisal = rate(open_appraisal(hr, staff), manager, rating="partly")
    before = appraisal_state(appraisal)
    request.getfixturevalue("failing_trail")
    with pytest.raises(AuditDown):
        rate(appraisal, manager, rating="consistently", objectives="Lead the rota.")
    assert appraisal_state(appraisal) == before


@pytest.mark.parametrize("step", ["share", "sign off", "reopen", "reassign"])
def test_a_step_of_the_workflow_is_not_taken_without_its_entry(step, hr, manager, staff, other_manager, request):
    appraisal = rate(open_appraisal(hr, staff), manager)
    if step in ("sign off", "reopen"):
        appraisal = workflow.share(by=fresh(manager), appraisal=reload(appraisal))
    if step == "reopen":
        appraisal = workflow.sign_off(by=fresh(staff), appraisal=reload(appraisal), agrees=True, comments="")
        appraisal = workflow.countersign(by=fresh(manager), appraisal=reload(appraisal))
    before, events = appraisal_state(appraisal), appraisal.events.count()
    request.getfixturevalue("failing_trail")
    take = {
        "share": lambda: workflow.share(by=fresh(manager), appraisal=reload(appraisal)),
        "sign off": lambda: workflow.sign_off(
            by=fresh(staff), appraisal=reload(appraisal), agrees=False, comments="No."
        ),
        "reopen": lambda: workflow.reopen(by=fresh(hr), appraisal=reload(appraisal), reason="Wrong level"),
        "reassign": lambda: workflow.reassign_appraiser(
            by=fresh(hr), appraisal=reload(appraisal), appraiser=other_manager.staff_member, reason="Leave"
        ),
    }[step]
    with pytest.raises(AuditDown):
        take()
    assert appraisal_state(appraisal) == before and appraisal.events.count() == events


def test_a_cycle_is_not_opened_without_its_entries(hr, manager, staff, failing_trail):
    cycle = AppraisalCycle.objects.create(
        name="Annual appraisal 2026",
        period_start=datetime.date(2025, 4, 1),
        period_end=datetime.date(2026, 3, 31),
        due_on=datetime.date(2026, 6, 30),
    )
    with pytest.raises(AuditDown):
        cycles.open_cycle(by=fresh(hr), cycle=cycle)
    cycle.refresh_from_db()
    assert cycle.opened_at is None and not Appraisal.objects.filter(cycle=cycle).exists()


def test_a_staff_record_is_not_changed_without_its_entry(hr, staff, request):
    member = staff.staff_member
    history = (RoleAssignment.objects.count(), LineManagerAssignment.objects.count())
    request.getfixturevalue("failing_trail")
    with pytest.raises(AuditDown):
        staff_records.update_staff_details(
            by=fresh(hr),
            member=member,
            first_name="Sam",
            last_name="Taylor",
            email="sam@example.org",
            service=None,
            job_title="Support Worker",
        )
    with pytest.raises(AuditDown):
        staff_records.assign_role_profile(
            by=fresh(hr),
            member=StaffMember.objects.get(pk=member.pk),
            role_profile=RoleProfile.objects.get(slug="housing-worker"),
            since=datetime.date(2025, 5, 1),
        )
    with pytest.raises(AuditDown):
        staff_imports.import_staff(
            by=fresh(hr),
            csv_text="name,email,role_profile,line_manager,start_date\n"
            "Kofi Mensah,kofi@example.org,housing-worker,,2025-09-01\n",
        )
    member = StaffMember.objects.select_related("user", "role_profile").get(pk=member.pk)
    assert (member.user.first_name, member.user.last_name, member.job_title, member.role_profile.slug) == (
        "Staff",
        "Example",
        "",
        "support-worker-supported-housing",
    )
    assert (RoleAssignment.objects.count(), LineManagerAssignment.objects.count()) == history
    assert not StaffMember.objects.filter(user__email="kofi@example.org").exists()


def test_the_framework_and_role_profiles_are_not_changed_without_their_entries(hr, draft, request):
    level = Level.objects.get(competency__slug="achieving-results", number=3)
    indicators = list(level.indicators.current().values_list("pk", "text"))
    competency = Competency.objects.get(slug="customer-care")
    request.getfixturevalue("failing_trail")
    with pytest.raises(AuditDown):
        framework.update_competency(by=fresh(hr), competency=competency, name="Customer Service")
    with pytest.raises(AuditDown):
        framework.update_indicators(
            by=fresh(hr),
            level=level,
            items=[{"id": pk, "text": text + " Always.", "retire": False} for pk, text in indicators],
        )
    with pytest.raises(AuditDown):
        role_profiles.publish(
            by=fresh(hr), version=draft, note="A window moved.", document_date=datetime.date(2026, 11, 1)
        )
    assert Competency.objects.get(pk=competency.pk).name == "Customer Care"
    assert list(level.indicators.current().values_list("pk", "text")) == indicators
    assert RoleProfileVersion.objects.get(pk=draft.pk).status == RoleProfileVersion.Status.DRAFT


# --- nothing edits or deletes an entry ------------------------------------------------------------


def url_patterns(patterns=None, converters=None):
    """Every URL pattern of the site, with the converters of its whole route."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        found = {**(converters or {}), **getattr(pattern.pattern, "converters", {})}
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern.url_patterns, found)
        else:
            assert isinstance(pattern, URLPattern)
            yield pattern, found


def view_function(pattern):
    view = getattr(pattern.callback, "view_class", None) or pattern.callback
    return inspect.unwrap(view)


AUDIT_WRITE = re.compile(
    r"AuditEntry\b[^\n]*\.(save|delete|update|create|bulk_create|bulk_update|get_or_create|update_or_create)\("
)


def test_no_page_edits_or_deletes_entries_and_only_the_log_and_the_staff_record_read_them():
    readers, modules = set(), set()
    for pattern, _ in url_patterns():
        view = view_function(pattern)
        module = inspect.getmodule(view)
        if module.__name__.startswith("django."):
            assert module.__name__.startswith("django.contrib.auth"), module.__name__  # logging in and out
            continue
        modules.add(module)
        if "AuditEntry" in inspect.getsource(view):
            readers.add(pattern.name)
    assert readers == {"audit_log", "staff_detail"}
    for module in modules:
        assert not AUDIT_WRITE.search(inspect.getsource(module)), module.__name__
    # The log's own module is read only, and only the log is served from it.
    assert [p.name for p, _ in url_patterns() if view_function(p).__module__ == "reports.audit_views"] == ["audit_log"]
    assert not [p.name for p, _ in url_patterns() if p.name and "audit" in p.name and p.name != "audit_log"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_audit_log_refuses_anything_but_reading(client, hr, draft, method):
    client.force_login(hr)
    entries = list(AuditEntry.objects.values())
    response = getattr(client, method)(reverse("audit_log"), {"action": "edited"} if method == "post" else "")
    assert response.status_code == 405
    assert list(AuditEntry.objects.values()) == entries


def test_entries_survive_a_post_and_a_delete_to_every_address(hr, manager, staff):
    appraisal = rate(open_appraisal(hr, staff), manager)
    workflow.share(by=fresh(manager), appraisal=reload(appraisal))
    entries = {row["id"]: row for row in AuditEntry.objects.values()}
    assert len(entries) >= 4
    browser = Client(raise_request_exception=False)
    tried = 0
    for entry_id in (min(entries), max(entries)):
        for pattern, converters in url_patterns():
            if not pattern.name:
                continue
            kwargs = {
                name: entry_id if isinstance(c, IntConverter) else str(entry_id) for name, c in converters.items()
            }
            url = reverse(pattern.name, kwargs=kwargs)
            for send in ("post", "delete"):
                browser.force_login(hr)
                getattr(browser, send)(
                    url, {"action": "edited", "changes": "{}", "post": "yes", "delete": "1"} if send == "post" else ""
                )
                tried += 1
    assert tried > 100
    after = {row["id"]: row for row in AuditEntry.objects.filter(pk__in=entries).values()}
    assert after == entries


def test_every_shape_of_change_is_shown_as_text():
    entry = AuditEntry(
        changes={
            "first_name": ["Sam", "Samantha"],
            "staff_agrees": [None, False],
            "indicators": [["Plans work.", "Meets goals."], ["Meets goals.", "Plans own work."]],
            "accountabilities": {"removed": ["Old duty."], "added": [], "reordered": True},
            "names": ["Kofi Mensah", "Jess Hill"],
            "title": "Housing Worker",
            "details": {"service": "Housing", "document_date": None},
        }
    )
    rows = {row["name"]: row for row in entry.change_rows()}
    assert (rows["First name"]["kind"], rows["First name"]["before"], rows["First name"]["after"]) == (
        "pair",
        "Sam",
        "Samantha",
    )
    assert (rows["Staff agrees"]["before"], rows["Staff agrees"]["after"]) == ("(none)", "no")
    assert (rows["Indicators"]["kind"], rows["Indicators"]["removed"], rows["Indicators"]["added"]) == (
        "list",
        ["Plans work."],
        ["Plans own work."],
    )
    assert rows["Indicators"]["reordered"] is False
    assert (
        rows["Accountabilities"]["kind"],
        rows["Accountabilities"]["removed"],
        rows["Accountabilities"]["reordered"],
    ) == ("list", ["Old duty."], True)
    assert (rows["Names"]["kind"], rows["Names"]["items"]) == (
        "items",
        ["Kofi Mensah", "Jess Hill"],
    )  # two names are not a before → after
    assert (rows["Title"]["kind"], rows["Title"]["value"]) == ("value", "Housing Worker")
    assert rows["Details"]["fields"] == [("Service", "Housing"), ("Document date", "(none)")]
