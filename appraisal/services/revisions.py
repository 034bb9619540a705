"""What every change to an appraisal goes through.

`advance` applies a change only if the record is still in an expected state and, for a save, still
at the revision the form was loaded at, bumping the revision in the same conditional UPDATE: of two
changes made from the same revision only the first applies, on SQLite and PostgreSQL alike, and the
second is told who came first (`StaleRecord`). Each change is written as an `AppraisalEvent`
(`record_event`) and to the audit trail (`audit`) in the same transaction.
"""

import datetime
from collections.abc import Collection
from contextlib import nullcontext
from typing import Any

from django.contrib.auth.models import User
from django.db.models import F
from django.utils import timezone

from appraisal import tallies
from appraisal.models import Appraisal, AppraisalEvent, ScoredCompetency
from audit import trail
from audit.models import AuditEntry
from core.text import normalise_text

State = Appraisal.State
# {label: [before, after]} (or a short summary), as the audit trail keeps a change.
Changes = dict[str, Any]


class StaleRecord(Exception):
    """The appraisal changed since the form was loaded (another save, or a change of state)."""

    def __init__(self, appraisal: Appraisal, message: str):
        super().__init__(message)
        self.appraisal = appraisal
        self.message = message


def advance(
    appraisal: Appraisal,
    *,
    by: User | None,
    expect: Collection[str],
    revision: int | None,
    values: dict[str, Any],
    to_state: str | None = None,
) -> dict[str, Any]:
    """Apply `values` (and a new state) to the appraisal if it is still in an `expect`ed state and,
    when `revision` is given, still at that revision; bump the revision. Call inside a transaction.

    Sets the new values on `appraisal` and returns what the changed fields (and the state and
    revision) were before. Raises StaleRecord, naming who changed it, when another change came first.
    """
    names = list(values) + (["state"] if to_state else [])
    previous = Appraisal.objects.filter(pk=appraisal.pk).order_by().values(*names, "state", "revision").first()
    now = timezone.now()
    update = {**values, "revision": F("revision") + 1, "updated_at": now, "updated_by": by}
    if to_state:
        update["state"] = to_state
    rows = Appraisal.objects.filter(pk=appraisal.pk, state__in=list(expect))
    if revision is not None:
        rows = rows.filter(revision=revision)
    # A new state or appraiser moves the record in the organisation report's tallies (a draft's save does not).
    moves = to_state is not None or "appraiser" in values
    completing = State.COMPLETED in (to_state, previous and previous["state"])
    with tallies.tracking(Appraisal.objects.filter(pk=appraisal.pk), standing=completing) if moves else nullcontext():
        saved = previous is not None and rows.update(**update)
    if not saved:
        current = Appraisal.objects.select_related("updated_by").get(pk=appraisal.pk)
        raise StaleRecord(current, _stale_message(current, expect))
    for name, value in values.items():
        setattr(appraisal, name, value)
    appraisal.state = to_state or previous["state"]
    appraisal.revision = previous["revision"] + 1
    appraisal.updated_at, appraisal.updated_by = now, by
    return dict(previous)


def _stale_message(current: Appraisal, expect: Collection[str]) -> str:
    who = current.updated_by.get_full_name() or current.updated_by.username if current.updated_by else "someone"
    when = timezone.localtime(current.updated_at).strftime("%-d %B %Y at %H:%M")
    if current.state not in list(expect):
        return f"This appraisal is now “{current.get_state_display()}” ({who}, {when}), so this can no longer be done."
    return f"{who} saved this appraisal on {when}, after you opened it. Nothing of yours was saved."


def record_event(
    appraisal: Appraisal,
    *,
    by: User | None,
    action: str,
    from_state: str,
    to_state: str | None = None,
    comment: str = "",
) -> AppraisalEvent:
    return AppraisalEvent.objects.create(
        appraisal=appraisal,
        by=by,
        action=action,
        from_state=from_state,
        to_state=to_state or from_state,
        comment=normalise_text(comment),
    )


# Autosaves by one person on one record within this long of each other are one sitting: one audit entry.
SITTING = datetime.timedelta(minutes=30)


def audit(appraisal: Appraisal, by: User | None, action: str, changes: Changes, *, autosave: bool = False) -> None:
    """Write the change to the audit trail. An autosave (`autosave`) joins the entry of the same
    person's sitting on this record, if that entry is still the record's latest: the first value
    before and the last after, each field once, rather than an entry for every pause in typing.
    A save that changed nothing (`changes` empty) writes no entry."""
    if not changes:
        return  # the page saved what was saved already
    if autosave:
        action = f"{action} (autosaved)"
        latest = (
            AuditEntry.objects.filter(object_type="appraisal", object_id=str(appraisal.pk))
            .order_by("-at", "-pk")
            .first()
        )
        if (
            latest is not None
            and latest.action == action
            and latest.actor_id == getattr(by, "pk", None)
            and timezone.now() - latest.at < SITTING
        ):
            trail.join(latest, changes)
            return
    trail.record(
        actor=by,
        action=action,
        obj=appraisal,
        object_type="appraisal",
        person=appraisal.staff_member_id,
        changes=changes,
    )


def scored_competencies(appraisal: Appraisal) -> list[ScoredCompetency]:
    return list(ScoredCompetency.objects.filter(appraisal=appraisal).order_by("position"))  # not joined to the cycle
