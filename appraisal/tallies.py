"""The organisation report's tallies: counts the report reads instead of every record.

`ProgressTally` counts a cycle's appraisals by state, person's service, role profile and appraiser;
`StandingTally` the competencies of its completed appraisals by standing against the window, service,
role profile and competency; `DevelopmentNeed` lists those below Entry. The report (`reports.selectors`)
sums a few hundred rows of them, so it costs the same whatever the number of records.

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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count, QuerySet

from appraisal.models import (
    Appraisal,
    DevelopmentNeed,
    ProgressTally,
    ScoredCompetency,
    StandingTally,
    with_standing,
)
from appraisal.rules import Standing

log = logging.getLogger(__name__)

State = Appraisal.State

# (cycle id, service key, role profile id, appraiser id, state); the service key is 0 for no service
ProgressKey = tuple[int, int, int, int, str]
# (cycle id, service key, role profile id, competency id, standing)
StandingKey = tuple[int, int, int, int, str]


@dataclass
class Contribution:
    """What some appraisals count for in the tallies."""

    progress: Counter[ProgressKey] = field(default_factory=Counter)
    standing: Counter[StandingKey] = field(default_factory=Counter)
    needs: dict[int, int] = field(default_factory=dict)  # scored competency id: cycle id


# Past this many completed records, `contribution` finds their competencies by a subquery rather than by
# a list of ids (a list is planned better; a long one is slow to send, and SQLite limits its parameters).
LISTED = 1000


def contribution(appraisals: QuerySet[Appraisal], *, standing: bool = True, needs: bool = True) -> Contribution:
    """What `appraisals` count for now: one query for the progress counts, one for their completed
    records' standings (`standing`) and one for their development needs (`needs`, with `standing`)."""
    result = Contribution()
    completed = []
    for pk, cycle_id, service_id, role_profile_id, appraiser_id, state in (
        appraisals.order_by()
        .values_list(
            "pk", "cycle_id", "staff_member__service_id", "role_version__role_profile_id", "appraiser_id", "state"
        )
        .iterator(chunk_size=5000)
    ):
        result.progress[cycle_id, service_id or 0, role_profile_id, appraiser_id, state] += 1
        if state == State.COMPLETED:
            completed.append(pk)
    if not standing or not completed:
        return result
    which: dict[str, object] = (
        {"appraisal_id__in": completed}
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
    if needs:
        result.needs = dict(
            scored.filter(standing=Standing.BELOW_ENTRY.value).values_list("pk", "appraisal__cycle_id").iterator()
        )
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
        standing=Counter({(c, was, r, k, standing): n for (c, _s, r, k, standing), n in now.standing.items()}),
        needs=now.needs,
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
    )
    _add_counts(
        StandingTally,
        ("cycle_id", "service_key", "role_profile_id", "competency_id", "standing"),
        before.standing,
        after.standing,
    )
    gone = [pk for pk in before.needs if pk not in after.needs]
    if gone:
        DevelopmentNeed.objects.filter(scored_competency_id__in=gone).delete()
    new = [
        DevelopmentNeed(scored_competency_id=pk, cycle_id=cycle)
        for pk, cycle in after.needs.items()
        if pk not in before.needs
    ]
    DevelopmentNeed.objects.bulk_create(new, ignore_conflicts=True)


def _add_counts(
    model: type[ProgressTally] | type[StandingTally], columns: tuple[str, ...], before: Counter, after: Counter
) -> None:
    changes = sorted(
        (key, after[key] - before[key]) for key in before.keys() | after.keys() if after[key] != before[key]
    )
    if not changes:
        return
    table = model._meta.db_table
    quoted = ", ".join(connection.ops.quote_name(column) for column in (*columns, "count"))
    conflict = ", ".join(connection.ops.quote_name(column) for column in columns)
    count = connection.ops.quote_name("count")
    with connection.cursor() as cursor:
        for batch in _batches(changes, 500):
            rows = ", ".join(["(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"] * len(batch))
            # Names from the model, every value a parameter.
            sql = (
                f"INSERT INTO {connection.ops.quote_name(table)} AS tally ({quoted}) VALUES {rows} "  # noqa: S608
                f"ON CONFLICT ({conflict}) DO UPDATE SET {count} = tally.{count} + excluded.{count}"
            )
            cursor.execute(sql, [value for key, change in batch for value in (*key, change)])
    # Nothing left of a key: no row (a group the report lists must have something in it).
    model.objects.filter(cycle_id__in={key[0] for key, _ in changes}, count=0).delete()


def _batches(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def stored() -> Contribution:
    """What the tallies hold now."""
    return Contribution(
        progress=Counter(
            {
                (row[0], row[1], row[2], row[3], row[4]): row[5]
                for row in ProgressTally.objects.values_list(
                    "cycle_id", "service_key", "role_profile_id", "appraiser_id", "state", "count"
                ).iterator()
            }
        ),
        standing=Counter(
            {
                (row[0], row[1], row[2], row[3], row[4]): row[5]
                for row in StandingTally.objects.values_list(
                    "cycle_id", "service_key", "role_profile_id", "competency_id", "standing", "count"
                ).iterator()
            }
        ),
        needs=dict(DevelopmentNeed.objects.values_list("scored_competency_id", "cycle_id").iterator()),
    )


def differences(held: Contribution, counted: Contribution) -> int:
    """How many keys (and development needs) differ between two contributions."""
    return (
        sum(1 for key in held.progress.keys() | counted.progress.keys() if held.progress[key] != counted.progress[key])
        + sum(
            1 for key in held.standing.keys() | counted.standing.keys() if held.standing[key] != counted.standing[key]
        )
        + len(held.needs.keys() ^ counted.needs.keys())
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
