"""The organisation report's tallies: counts the report reads instead of every record.

`ProgressTally` counts a cycle's appraisals by state, person's service, role profile and appraiser;
`StandingTally` the competencies of its completed appraisals by standing against the window, service
(and every service together), role profile and competency; `DevelopmentNeed` lists those below Entry
and `ListedDisagreement` the records whose person disagreed. The report (`reports.selectors`) sums a
few hundred rows of them, so it costs the same whatever the number of records. Its long lists are by
name: the progress tallies, the development needs and the disagreements keep the name's order
(`staff.models.name_order`) in their rows, and follow a change of name (`on_user_saved`), so that a page
of them is read in that order through an index.

They are kept in the transaction of every change that moves them:
- a change of state or of appraiser (`appraisal.services.revisions.advance`: every workflow step,
  reopening, reassignment, a leaver's handover) through `tracking`;
- appraisals that appear (an opening published, `appraisal.services.cycles`) through `add`;
- a change of the person's service (`staff.signals.service_changed`) through `move_person`.
Each reads what the appraisals concerned count for before and after the change, and adds the
difference. `rebuild` counts everything again from the records: after data is loaded in bulk
(`seed_demo`, `seed_scale`), by `manage.py rebuild_report_tallies`, and nightly, where it logs any
difference it mends (none is expected: tests compare the two after every kind of change).
"""

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from django.db import connection, transaction
from django.db.models import Count, QuerySet

from appraisal.models import (
    EVERY_SERVICE,
    Appraisal,
    DevelopmentNeed,
    ListedDisagreement,
    ProgressTally,
    ScoredCompetency,
    StandingTally,
    with_standing,
)
from appraisal.rules import Standing
from staff.models import name_order

log = logging.getLogger(__name__)

State = Appraisal.State

# (cycle id, service key, role profile id, appraiser id, state); the service key is 0 for no service
ProgressKey = tuple[int, int, int, int, str]
# (cycle id, service key, role profile id, competency id, standing)
StandingKey = tuple[int, int, int, int, str]


class Need(NamedTuple):
    """A development need's row (`DevelopmentNeed`), less its scored competency."""

    cycle_id: int
    appraisal_id: int
    position: int
    person_order: str


class Listed(NamedTuple):
    """A disagreement's row (`ListedDisagreement`), less its appraisal."""

    cycle_id: int
    stage: int
    person_order: str


@dataclass
class Contribution:
    """What some appraisals count for in the tallies."""

    progress: Counter[ProgressKey] = field(default_factory=Counter)
    standing: Counter[StandingKey] = field(default_factory=Counter)
    needs: dict[int, Need] = field(default_factory=dict)  # scored competency id: its row
    disagreements: dict[int, Listed] = field(default_factory=dict)  # appraisal id: its row
    appraisers: dict[int, str] = field(default_factory=dict)  # appraiser id: their `name_order`


def stage(state: str) -> int:
    """A disagreement's place in HR's lists by its record's state: a referral, then a countersignature, the rest."""
    if state == State.REFERRED:
        return ListedDisagreement.Stage.REFERRED
    if state == State.AWAITING_COUNTERSIGN:
        return ListedDisagreement.Stage.AWAITING_COUNTERSIGN
    return ListedDisagreement.Stage.OTHER


# Past this many completed records, `contribution` finds their competencies by a subquery rather than by
# a list of ids (a list is planned better; a long one is slow to send, and SQLite limits its parameters).
LISTED = 1000


def contribution(appraisals: QuerySet[Appraisal], *, standing: bool = True, needs: bool = True) -> Contribution:
    """What `appraisals` count for now: one query for the progress counts, one for their completed
    records' standings (`standing`) and one for their development needs (`needs`, with `standing`)."""
    result = Contribution()
    completed: dict[int, str] = {}  # appraisal id: the person's name_order
    for (
        pk,
        cycle_id,
        service_id,
        role_profile_id,
        appraiser_id,
        state,
        agrees,
        *names,
    ) in (
        appraisals.order_by()
        .values_list(
            "pk",
            "cycle_id",
            "staff_member__service_id",
            "role_version__role_profile_id",
            "appraiser_id",
            "state",
            "staff_agrees",
            "staff_member__user__first_name",
            "staff_member__user__last_name",
            "staff_member__user__username",
            "appraiser__user__first_name",
            "appraiser__user__last_name",
            "appraiser__user__username",
        )
        .iterator(chunk_size=5000)
    ):
        result.progress[cycle_id, service_id or 0, role_profile_id, appraiser_id, state] += 1
        result.appraisers[appraiser_id] = name_order(*names[3:])
        if agrees is False:
            result.disagreements[pk] = Listed(cycle_id, stage(state), name_order(*names[:3]))
        if state == State.COMPLETED:
            completed[pk] = name_order(*names[:3])
    if not standing or not completed:
        return result
    which: dict[str, object] = (
        {"appraisal_id__in": list(completed)}
        if len(completed) <= LISTED
        else {"appraisal__in": appraisals.filter(state=State.COMPLETED).values("pk")}
    )
    scored = with_standing(ScoredCompetency.objects.filter(**which)).order_by()
    for row in scored.values(
        "appraisal__cycle_id",
        "appraisal__staff_member__service_id",
        "appraisal__role_version__role_profile_id",
        "competency_id",
        "standing",
    ).annotate(competencies=Count("pk")):
        if row["standing"] == Standing.NOT_SCORED.value:
            continue  # cannot happen in a completed record; says nothing about standing
        key = (
            row["appraisal__cycle_id"],
            row["appraisal__staff_member__service_id"] or 0,
            row["appraisal__role_version__role_profile_id"],
            row["competency_id"],
            row["standing"],
        )
        result.standing[key] += row["competencies"]
        result.standing[(key[0], EVERY_SERVICE, *key[2:])] += row["competencies"]
    if needs:
        result.needs = {
            pk: Need(cycle_id, appraisal_id, position, completed[appraisal_id])
            for pk, cycle_id, appraisal_id, position in scored.filter(standing=Standing.BELOW_ENTRY.value)
            .values_list("pk", "appraisal__cycle_id", "appraisal_id", "position")
            .iterator()
            if appraisal_id in completed  # not one completed since the first query read it
        }
    return result


@contextmanager
def tracking(appraisals: QuerySet[Appraisal], *, standing: bool = True) -> Iterator[None]:
    """Around a change of `appraisals` (inside its transaction): the tallies follow it."""
    before = contribution(appraisals, standing=standing)
    yield
    apply(before, contribution(appraisals, standing=standing))


def add(appraisals: QuerySet[Appraisal]) -> None:
    """Count `appraisals`, which the tallies do not count yet (just published by an opening)."""
    apply(Contribution(), contribution(appraisals))


def move_person(staff_member_id: int, previous_service_id: int | None) -> None:
    """The person's appraisals now count under their new service, saved already (was `previous_service_id`)."""
    now = contribution(Appraisal.objects.filter(staff_member_id=staff_member_id))
    was = previous_service_id or 0
    before = Contribution(
        progress=Counter({(c, was, r, a, state): n for (c, _s, r, a, state), n in now.progress.items()}),
        standing=Counter(
            {
                (c, s if s == EVERY_SERVICE else was, r, k, standing): n
                for (c, s, r, k, standing), n in now.standing.items()
            }
        ),
        needs=now.needs,
        disagreements=now.disagreements,
        appraisers=now.appraisers,
    )
    apply(before, now)


def on_service_changed(sender, *, member, previous_service_id: int | None, **kwargs) -> None:
    """`staff.signals.service_changed`'s receiver."""
    move_person(member.pk, previous_service_id)


def apply(before: Contribution, after: Contribution) -> None:
    """Add `after` less `before` to the tallies (in keys' order, so that two changes never wait on each other)."""
    _add_counts(
        ProgressTally,
        ("cycle_id", "service_key", "role_profile_id", "appraiser_id", "state"),
        before.progress,
        after.progress,
        also=("appraiser_order", lambda key: after.appraisers.get(key[3], before.appraisers.get(key[3], ""))),
    )
    # An appraiser counted before under another order of their name: only when a recount mends it (`rebuild`).
    renamed = {
        appraiser: order
        for appraiser, order in after.appraisers.items()
        if before.appraisers.get(appraiser, order) != order
    }
    for appraiser, order in sorted(renamed.items()):
        ProgressTally.objects.filter(appraiser_id=appraiser).exclude(appraiser_order=order).update(
            appraiser_order=order
        )
    _add_counts(
        StandingTally,
        ("cycle_id", "service_key", "role_profile_id", "competency_id", "standing"),
        before.standing,
        after.standing,
    )
    _write_rows(DevelopmentNeed, "scored_competency", before.needs, after.needs)
    _write_rows(ListedDisagreement, "appraisal", before.disagreements, after.disagreements)


Listing = TypeVar("Listing", DevelopmentNeed, ListedDisagreement)


def _write_rows(model: type[Listing], key: str, before: dict[int, Any], after: dict[int, Any]) -> None:
    """`model`'s rows (one per `key`; their other values a `Need` or a `Listed`) from `before` to `after`:
    those gone deleted, the new and the changed written."""
    if gone := [pk for pk in before if pk not in after]:
        model.objects.filter(**{f"{key}_id__in": gone}).delete()
    if changed := [(pk, row) for pk, row in sorted(after.items()) if before.get(pk) != row]:
        model.objects.bulk_create(
            [model(**{f"{key}_id": pk}, **row._asdict()) for pk, row in changed],
            update_conflicts=True,
            unique_fields=[key],
            update_fields=[name.removesuffix("_id") for name in changed[0][1]._fields],
        )


def _add_counts(
    model: type[ProgressTally] | type[StandingTally],
    columns: tuple[str, ...],
    before: Counter,
    after: Counter,
    *,
    also: tuple[str, Callable[[tuple], object]] | None = None,
) -> None:
    """Add the differences of the counts by key; `also`: a column written with a new row, and its value for a key."""
    changes = sorted(
        (key, after[key] - before[key]) for key in before.keys() | after.keys() if after[key] != before[key]
    )
    if not changes:
        return
    extra = (also[0],) if also else ()
    table = model._meta.db_table
    quoted = ", ".join(connection.ops.quote_name(column) for column in (*columns, *extra, "count"))
    conflict = ", ".join(connection.ops.quote_name(column) for column in columns)
    count = connection.ops.quote_name("count")
    with connection.cursor() as cursor:
        for batch in _batches(changes, 500):
            rows = ", ".join(["(" + ", ".join(["%s"] * (len(columns) + len(extra) + 1)) + ")"] * len(batch))
            # Names from the model, every value a parameter.
            sql = (
                f"INSERT INTO {connection.ops.quote_name(table)} AS tally ({quoted}) VALUES {rows} "  # noqa: S608
                f"ON CONFLICT ({conflict}) DO UPDATE SET {count} = tally.{count} + excluded.{count}"
            )
            cursor.execute(
                sql,
                [value for key, change in batch for value in (*key, *((also[1](key),) if also else ()), change)],
            )
    # Nothing left of a key: no row (a group the report lists must have something in it).
    model.objects.filter(cycle_id__in={key[0] for key, _ in changes}, count=0).delete()


def on_user_saved(sender, *, instance, created: bool, update_fields=None, **kwargs) -> None:
    """`post_save` of a login: a change of name moves the person in the report's lists (three updates; none
    for a new login, which has no records yet, or a save of other fields, such as the time of a login)."""
    if created or (update_fields is not None and not {"first_name", "last_name", "username"} & set(update_fields)):
        return
    order = name_order(instance.first_name, instance.last_name, instance.username)
    ProgressTally.objects.filter(appraiser__user_id=instance.pk).exclude(appraiser_order=order).update(
        appraiser_order=order
    )
    for model in (DevelopmentNeed, ListedDisagreement):
        model.objects.filter(appraisal__staff_member__user_id=instance.pk).exclude(person_order=order).update(
            person_order=order
        )


def _batches(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def stored() -> Contribution:
    """What the tallies hold now (an appraiser whose rows hold different orders of their name: none)."""
    progress: Counter[ProgressKey] = Counter()
    appraisers: dict[int, str] = {}
    for cycle_id, service_key, role_profile_id, appraiser_id, state, order, count in ProgressTally.objects.values_list(
        "cycle_id", "service_key", "role_profile_id", "appraiser_id", "state", "appraiser_order", "count"
    ).iterator():
        progress[cycle_id, service_key, role_profile_id, appraiser_id, state] = count
        if appraisers.setdefault(appraiser_id, order) != order:
            appraisers[appraiser_id] = "\x00"  # never a name's order: `differences` counts it, `apply` mends it
    return Contribution(
        progress=progress,
        appraisers=appraisers,
        standing=Counter(
            {
                (row[0], row[1], row[2], row[3], row[4]): row[5]
                for row in StandingTally.objects.values_list(
                    "cycle_id", "service_key", "role_profile_id", "competency_id", "standing", "count"
                ).iterator()
            }
        ),
        needs={
            pk: Need(cycle_id, appraisal_id, position, order)
            for pk, cycle_id, appraisal_id, position, order in DevelopmentNeed.objects.values_list(
                "scored_competency_id", "cycle_id", "appraisal_id", "position", "person_order"
            ).iterator()
        },
        disagreements={
            pk: Listed(cycle_id, stage, order)
            for pk, cycle_id, stage, order in ListedDisagreement.objects.values_list(
                "appraisal_id", "cycle_id", "stage", "person_order"
            ).iterator()
        },
    )


def differences(held: Contribution, counted: Contribution) -> int:
    """How many keys, development needs, disagreements and appraisers' orders differ between two contributions."""
    return (
        sum(1 for key in held.progress.keys() | counted.progress.keys() if held.progress[key] != counted.progress[key])
        + sum(
            1 for key in held.standing.keys() | counted.standing.keys() if held.standing[key] != counted.standing[key]
        )
        + sum(1 for pk in held.needs.keys() | counted.needs.keys() if held.needs.get(pk) != counted.needs.get(pk))
        + sum(
            1
            for pk in held.disagreements.keys() | counted.disagreements.keys()
            if held.disagreements.get(pk) != counted.disagreements.get(pk)
        )
        + sum(1 for pk, order in counted.appraisers.items() if held.appraisers.get(pk, order) != order)
    )


def rebuild() -> int:
    """Count every tally again from the records and mend what differs (in one transaction); returns how
    many keys differed."""
    with transaction.atomic():
        held, counted = stored(), contribution(Appraisal.objects.all())
        differing = differences(held, counted)
        if differing:
            apply(held, counted)
    return differing


def check_and_mend() -> int:
    """The nightly check: `rebuild`, logging a difference (a change that did not go through this module)."""
    differing = rebuild()
    if differing:
        log.warning("The report's tallies differed from the records in %s places; mended.", differing)
    return differing
