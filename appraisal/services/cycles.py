"""Creating and opening appraisal cycles: an appraisal for every active member of staff, each with
its own copy of the role's window as the framework stands the day the cycle opens (HR admins)."""

import datetime
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from appraisal import notifications, tallies
from appraisal.models import Appraisal, AppraisalCycle, AppraisalEvent, ScoredCompetency
from appraisal.permissions import NotAllowed
from appraisal.selectors import Candidate, NotAppraised, appraisal_candidates, assess
from audit import trail
from audit.models import AuditEntry
from competencies.models import Level
from competencies.selectors import framework_competencies
from core import jobs
from core.access import Person, is_hr_admin
from core.models import Job
from core.text import normalise_text
from roles.models import RoleProfileVersion, RoleRequirement
from staff.models import StaffMember

logger = logging.getLogger(__name__)

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
    """Create an appraisal for every active member of staff who has none in this cycle yet, in one transaction.

    Each gets the current published version of the role profile they hold and their line manager
    as appraiser. Opening again (after HR has fixed someone's record) adds only the missing ones.
    People with no role profile, no published version of it, or no line manager are returned in
    `not_appraised`, and shown on the cycle's page until fixed.

    HR's page opens a cycle with `start_opening` (a job, in batches, for any size of organisation);
    this does the same work at once, for the demo and the tests.
    """
    _require_hr(by)
    now = timezone.now()
    with transaction.atomic():
        cycle = AppraisalCycle.objects.select_for_update().get(pk=cycle.pk)
        candidates, problems = appraisal_candidates(cycle)
        appraisals = create_appraisals(cycle=cycle, by=by, at=now, candidates=candidates)
        _opened(cycle, by=by, at=now, appraisals=appraisals, problems=problems)
    return OpeningResult(created=appraisals, not_appraised=problems)


def start_opening(*, by: User, cycle: AppraisalCycle) -> Job:
    """Queue the job that opens (or opens again) `cycle`; jobs.AlreadyRunning if it is being opened now."""
    _require_hr(by)
    return jobs.start(
        kind="open cycle",
        key=f"cycle {cycle.pk}",
        func="appraisal.services.cycles.run_opening",
        title=f"{'Opening again' if cycle.is_open else 'Opening'}: {cycle.name}",
        url=reverse("cycle_detail", args=[cycle.pk]),
        back="Back to the cycle",
        by=by,
        params={"cycle": cycle.pk},
    )


def discard_staged(job: Job) -> None:
    """A failed opening's clean-up: the appraisals it prepared go (with their windows and events)."""
    Appraisal.with_staged.filter(staged_for=job).delete()


@jobs.cleans_up(discard_staged)
def run_opening(job: Job, progress: jobs.Progress) -> Any:
    """The opening job: prepare the missing appraisals in batches, each its own short transaction,
    invisible to everyone; then, in one transaction, check them against the records as they are
    now, make them all visible, audit and notify. Killed part way, it carries on from the batches
    it has done (or, if it is given up, they are removed): nobody ever sees half an opening."""
    cycle = AppraisalCycle.objects.get(pk=job.params["cycle"])
    by = job.created_by
    if not is_hr_admin(by):
        raise jobs.JobFailed("Only HR admins can open a cycle, and you are no longer one. Nothing was changed.")
    at = job.started_at or timezone.now()
    # Left by an earlier opening whose clean-up could not run: only one opening of a cycle runs at a time.
    Appraisal.with_staged.filter(cycle=cycle, staged_for__isnull=False).exclude(staged_for=job).delete()
    staged = Appraisal.with_staged.filter(staged_for=job).count()
    candidates, _ = appraisal_candidates(cycle)
    progress(staged, total=staged + len(candidates), step="Preparing the appraisals")
    size = settings.CYCLE_OPENING_BATCH
    for start in range(0, len(candidates), size):
        batch = candidates[start : start + size]
        with transaction.atomic():
            create_appraisals(cycle=cycle, by=by, at=at, candidates=batch, staged_for=job)
        staged += len(batch)
        progress(staged)
        if progress.time_is_up() and start + size < len(candidates):
            return jobs.AGAIN
    progress(step="Making them visible to everyone, and emailing")
    return _publish(job, cycle, by=by, at=at)


PROBLEMS_LISTED = 50  # people a job's page names (the cycle's page lists them all)


def _publish(job: Job, cycle: AppraisalCycle, *, by: User, at: datetime.datetime) -> dict[str, Any]:
    """The opening's one transaction at the end: the prepared appraisals that still match the records
    (the person still working here, with the same line manager and role profile version) become
    visible; the others go, and whoever is still missing an appraisal gets one now.

    The slow part of what it writes, each appraisal's audit entry and email, is made beforehand, so
    that the transaction only checks and writes; made again inside it only if the check changed
    anything (rare: someone left, moved or joined during the opening)."""
    prepared = list(
        Appraisal.with_staged.filter(staged_for=job)
        .select_related("staff_member__user", "appraiser__user", "role_version")
        .order_by("pk")
    )
    entries = _audit_entries(prepared, by=by, cycle=cycle)
    emails = notifications.prepare(notifications.cycle_opened_messages(cycle, prepared))
    started = time.monotonic()
    with transaction.atomic():
        cycle = AppraisalCycle.objects.select_for_update().get(pk=cycle.pk)
        staged = Appraisal.with_staged.filter(staged_for=job)
        current, _ = assess(StaffMember.objects.active().filter(appraisals__staged_for=job))
        wanted = {(c.staff_member.pk, c.appraiser.pk, c.role_version.pk) for c in current}
        changed = [
            appraisal.pk
            for appraisal in prepared
            if (appraisal.staff_member_id, appraisal.appraiser_id, appraisal.role_version_id) not in wanted
        ]
        if changed:
            Appraisal.with_staged.filter(pk__in=changed).delete()
        candidates, problems = appraisal_candidates(cycle)  # usually nobody: those added since, or changed
        added = create_appraisals(cycle=cycle, by=by, at=at, candidates=candidates, staged_for=job)
        tallies.add(staged)  # the organisation report counts them from now
        staged.update(staged_for=None)
        created = prepared
        if changed or added:
            created = list(
                cycle.appraisals.filter(created_at=at)  # the job's start: every appraisal it made, none before
                .select_related("staff_member__user", "appraiser__user", "role_version")
                .order_by("pk")
            )
            entries = _audit_entries(created, by=by, cycle=cycle)
            emails = notifications.prepare(notifications.cycle_opened_messages(cycle, created))
        _opened(cycle, by=by, at=at, appraisals=created, problems=problems, entries=entries, emails=emails)
        result = _opening_result(created, problems)
        jobs.finish(job, result)
    seconds = time.monotonic() - started
    logger.info(
        "opening visible job=%s cycle=%s appraisals=%d in a transaction of %.2f s",
        job.pk,
        cycle.pk,
        len(created),
        seconds,
        extra={"transaction_seconds": seconds},
    )
    return result


def _opening_result(created: list[Appraisal], problems: list[NotAppraised]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "summary": [f"{len(created):,} appraisal{'s' if len(created) != 1 else ''} created."],
    }
    if problems:
        result["problems_heading"] = (
            f"{len(problems):,} member{'s' if len(problems) != 1 else ''} of staff could not be given an appraisal:"
            " fix their record, then open the cycle again"
        )
        result["problems"] = [f"{entry.staff_member}: {entry.reason}" for entry in problems[:PROBLEMS_LISTED]]
        if len(problems) > PROBLEMS_LISTED:
            result["problems"].append(f"… and {len(problems) - PROBLEMS_LISTED:,} more, listed on the cycle's page.")
    return result


def _opened(
    cycle: AppraisalCycle,
    *,
    by: User,
    at: datetime.datetime,
    appraisals: list[Appraisal],
    problems: list[NotAppraised],
    entries: list[AuditEntry] | None = None,
    emails: notifications.Prepared | None = None,
) -> None:
    """What opening a cycle records once its appraisals exist: the cycle opened, the audit trail, the
    emails (`entries` and `emails`: made beforehand, for `appraisals`)."""
    first_opening = cycle.opened_at is None
    if first_opening:
        cycle.opened_at, cycle.opened_by = at, by
        cycle.save(update_fields=["opened_at", "opened_by"])
    trail.record(
        actor=by,
        action="open" if first_opening else "open again",
        obj=cycle,
        object_type="appraisal cycle",
        changes={
            "appraisals created": len(appraisals),
            "not appraised": [f"{entry.staff_member}: {entry.reason}" for entry in problems],
        },
    )
    trail.record_all(entries if entries is not None else _audit_entries(appraisals, by=by, cycle=cycle))
    if emails is None:  # `appraisals` come with their people's logins: no need to read them again
        emails = notifications.prepare(notifications.cycle_opened_messages(cycle, appraisals))
    notifications.send_prepared(emails)


def create_appraisals(
    *,
    cycle: AppraisalCycle,
    by: User,
    at: datetime.datetime,
    candidates: list[Candidate],
    staged_for: Job | None = None,
) -> list[Appraisal]:
    """Create one appraisal in `cycle` per candidate (their line manager appraising them against the
    current version of their role profile), each with its window copied from the version as the
    framework stands now, and an "open" event; prepared for `staged_for`'s opening, if given.

    Call inside a transaction. The first state is self-assessment when the cycle asks for it.
    """
    assignments = [(c.staff_member, c.appraiser, c.role_version) for c in candidates]
    if not assignments:
        return []
    snapshots = window_snapshots({version.pk: version for _, _, version in assignments}.values())
    state = State.SELF_ASSESSMENT if cycle.self_assessment else State.MANAGER_REVIEW
    appraisals = Appraisal.objects.bulk_create(
        [
            Appraisal(
                cycle=cycle,
                staff_member=person,
                appraiser=appraiser,
                role_version=version,
                state=state,
                created_at=at,
                updated_at=at,
                updated_by=by,
                staged_for=staged_for,
            )
            for person, appraiser, version in assignments
        ]
    )
    if appraisals[0].pk is None:  # backends that do not return ids from bulk_create
        by_person = dict(Appraisal.with_staged.filter(cycle=cycle).values_list("staff_member_id", "pk"))
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
    if staged_for is None:  # visible at once: the organisation report counts them (a staged opening's when published)
        tallies.add(Appraisal.objects.filter(cycle=cycle, created_at=at))
    AppraisalEvent.objects.bulk_create(
        [
            AppraisalEvent(appraisal_id=appraisal.pk, at=at, by=by, action="open", to_state=state)
            for appraisal in appraisals
        ],
        batch_size=2000,
    )
    return appraisals


def _audit_entries(appraisals: list[Appraisal], *, by: User, cycle: AppraisalCycle) -> list[AuditEntry]:
    """One "open" entry per appraisal created, about its person (unsaved: `trail.record_all` writes them)."""
    entries = []
    for appraisal in appraisals:
        person = appraisal.staff_member
        changes = {
            "state": [None, State(appraisal.state).label],
            "appraiser": [None, str(appraisal.appraiser)],
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
    return entries


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
