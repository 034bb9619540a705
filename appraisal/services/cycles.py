"""Creating and opening appraisal cycles: an appraisal for every active member of staff, each with
its own copy of the role's window as the framework stands the day the cycle opens (HR admins)."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from appraisal import notifications
from appraisal.models import Appraisal, AppraisalCycle, AppraisalEvent, ScoredCompetency
from appraisal.permissions import NotAllowed
from appraisal.selectors import Candidate, NotAppraised, appraisal_candidates
from audit import trail
from competencies.models import Level
from competencies.selectors import framework_competencies
from core.access import Person, is_hr_admin
from core.text import normalise_text
from roles.models import RoleProfileVersion, RoleRequirement

State = Appraisal.State
# The field values of one ScoredCompetency: a competency of the role's window as the record keeps it.
Snapshot = dict[str, Any]


def create_cycle(
    *,
    by: User,
    name: str,
    period_start: datetime.date,
    period_end: datetime.date,
    due_on: datetime.date,
    self_assessment: bool,
) -> AppraisalCycle:
    _require_hr(by)
    cycle = AppraisalCycle(
        name=normalise_text(name),
        period_start=period_start,
        period_end=period_end,
        due_on=due_on,
        self_assessment=self_assessment,
        created_by=by,
    )
    cycle.full_clean()
    with transaction.atomic():
        cycle.save()
        trail.record(
            actor=by,
            action="create",
            obj=cycle,
            object_type="appraisal cycle",
            changes={"period": cycle.period_label, "due": str(due_on), "self-assessment": self_assessment},
        )
    return cycle


@dataclass
class OpeningResult:
    created: list[Appraisal] = field(default_factory=list)
    not_appraised: list[NotAppraised] = field(default_factory=list)


def open_cycle(*, by: User, cycle: AppraisalCycle) -> OpeningResult:
    """Create an appraisal for every active member of staff who has none in this cycle yet.

    Each gets the current published version of the role profile they hold and their line manager
    as appraiser. Opening again (after HR has fixed someone's record) adds only the missing ones.
    People with no role profile, no published version of it, or no line manager are returned in
    `not_appraised`, and shown on the cycle's page until fixed.
    """
    _require_hr(by)
    now = timezone.now()
    with transaction.atomic():
        cycle = AppraisalCycle.objects.select_for_update().get(pk=cycle.pk)
        candidates, problems = appraisal_candidates(cycle)
        result = OpeningResult(not_appraised=problems)
        appraisals = create_appraisals(
            cycle=cycle,
            by=by,
            at=now,
            assignments=[
                (candidate.staff_member.pk, candidate.appraiser.pk, candidate.role_version) for candidate in candidates
            ],
        )
        first_opening = cycle.opened_at is None
        if first_opening:
            cycle.opened_at, cycle.opened_by = now, by
            cycle.save(update_fields=["opened_at", "opened_by"])
        trail.record(
            actor=by,
            action="open" if first_opening else "open again",
            obj=cycle,
            object_type="appraisal cycle",
            changes={
                "appraisals created": len(appraisals),
                "not appraised": [f"{entry.staff_member}: {entry.reason}" for entry in result.not_appraised],
            },
        )
        _audit_opened(
            appraisals,
            by=by,
            cycle=cycle,
            candidates={candidate.staff_member.pk: candidate for candidate in candidates},
        )
        result.created = appraisals
        notifications.cycle_opened(cycle, appraisals)
    return result


def create_appraisals(
    *, cycle: AppraisalCycle, by: User, at: datetime.datetime, assignments: list[tuple[int, int, RoleProfileVersion]]
) -> list[Appraisal]:
    """Create one appraisal in `cycle` per (staff member id, appraiser id, role profile version), each
    with its window copied from the version as the framework stands now, and an "open" event.

    Call inside a transaction. The first state is self-assessment when the cycle asks for it.
    """
    snapshots = window_snapshots({version.pk: version for _, _, version in assignments}.values())
    state = State.SELF_ASSESSMENT if cycle.self_assessment else State.MANAGER_REVIEW
    appraisals = Appraisal.objects.bulk_create(
        [
            Appraisal(
                cycle=cycle,
                staff_member_id=person_id,
                appraiser_id=appraiser_id,
                role_version=version,
                state=state,
                created_at=at,
                updated_at=at,
                updated_by=by,
            )
            for person_id, appraiser_id, version in assignments
        ]
    )
    if appraisals and appraisals[0].pk is None:  # backends that do not return ids from bulk_create
        by_person = dict(Appraisal.objects.filter(cycle=cycle).values_list("staff_member_id", "pk"))
        for appraisal in appraisals:
            appraisal.pk = by_person[appraisal.staff_member_id]
    ScoredCompetency.objects.bulk_create(
        [
            ScoredCompetency(appraisal_id=appraisal.pk, **row)
            for appraisal in appraisals
            for row in snapshots[appraisal.role_version_id]
        ],
        batch_size=2000,
    )
    AppraisalEvent.objects.bulk_create(
        [
            AppraisalEvent(appraisal_id=appraisal.pk, at=at, by=by, action="open", to_state=state)
            for appraisal in appraisals
        ],
        batch_size=2000,
    )
    return appraisals


def _audit_opened(
    appraisals: list[Appraisal], *, by: User, cycle: AppraisalCycle, candidates: dict[int, Candidate]
) -> None:
    """One "open" entry per appraisal created, about its person, written in one query."""
    entries = []
    for appraisal in appraisals:
        candidate = candidates[appraisal.staff_member_id]
        person = candidate.staff_member
        changes = {
            "state": [None, State(appraisal.state).label],
            "appraiser": [None, str(candidate.appraiser)],
            "role profile version": [None, str(appraisal.role_version)],
        }
        entries.append(
            trail.build(
                actor=by,
                action="open",
                obj=appraisal,
                object_type="appraisal",
                person=person.pk,
                object_repr=f"{person} – {cycle}",
                changes=changes,
            )
        )
    trail.record_all(entries)


def window_snapshots(versions: Iterable[RoleProfileVersion]) -> dict[int, list[Snapshot]]:
    """{version id: [ScoredCompetency field values, ...]}: each required competency's window as it stands now."""
    versions = list(versions)
    requirements = list(RoleRequirement.objects.filter(version__in=versions).order_by("version_id", "position"))
    competencies = {
        competency.pk: competency
        for competency in framework_competencies().filter(pk__in={r.competency_id for r in requirements})
    }
    snapshots: dict[int, list[Snapshot]] = {version.pk: [] for version in versions}
    for requirement in requirements:
        competency = competencies[requirement.competency_id]
        levels = {level.number: level for level in competency.levels.all() if level.retired_at is None}
        snapshots[requirement.version_id].append(
            {
                "competency_id": competency.pk,
                "position": requirement.position,
                "name": competency.name,
                "entry_level": requirement.entry_level,
                "levels": [level_snapshot(levels[number]) for number in requirement.window if number in levels],
            }
        )
    return snapshots


def level_snapshot(level: Level) -> dict[str, Any]:
    """One level of the framework as an appraisal keeps it; `level` comes from `framework_competencies()`,
    so `level.indicators.all()` holds its current indicators in order."""
    return {
        "number": level.number,
        "lead": level.lead,
        "rule_text": level.rule_text,
        "sustained_level": level.sustained_level,
        "sustained_months": level.sustained_months,
        "indicators": [indicator.pk for indicator in level.indicators.all()],
    }


def _require_hr(user: Person) -> None:
    if not is_hr_admin(user):
        raise NotAllowed("Only HR admins can do this.")
