"""The derived facts of an appraisal, each computed in one function and tested alone.

**The achieved level** of a competency (`derive_level`). Walk up the role's window from Entry:

- a level of indicators is *met* when every one of its indicators is rated "consistently
  demonstrated";
- a sustained-level rule (e.g. "Competency at Level 4 maintained for at least 1 year as recorded
  in annual appraisal") is *met* when the levels below it in this appraisal reach its level and the
  person's history shows that level held for the rule's months (`sustained_rule_met`);
- the achieved level is the highest level whose own indicators, and those of every level below it
  in the window, are met. If Entry is not met, it is "below entry", written `entry - 1`.

The walk stops at the first level that is not met. If that level has an indicator rated "not yet"
or "partly", the result is the level below it; if it only has indicators still unrated, the
ratings do not decide the level yet and the result is None ("not yet scored").

**The final level** (`final_level`). The appraiser may give another level than the one derived, with
a reason; the level that counts (on the record, in reports, in the history, for sustained-level
rules) is that override when there is one, else the derived level. The database computes the same
in `ScoredCompetencyQuerySet.with_standing`.

**Standing** (`standing`): where a final level stands against a window (below entry, Entry,
Desired, Exceptional, above the window).

**A level held continuously for a year** (`held_since`, `sustained_rule_met`). Each completed
annual appraisal records a level at its cycle's period end. A level is held continuously from an
earlier record to this appraisal when each completed appraisal in between, taken in order of
period end, shows the competency at that level or above, and no two consecutive records (this
appraisal included) are more than `MAX_GAP_MONTHS` apart: a missed year, or a record that does
not include the competency, breaks the run. "A year" is twelve calendar months: a level held
since the period end D meets a 12-month rule when D plus 12 months is on or before this
appraisal's period end (31 March 2025 to 31 March 2026 is exactly a year, and enough). Levels are
absolute, so a change of role between the records does not break the run.
"""

import calendar
import datetime
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from competencies.windows import WINDOW_NAMES, WINDOW_SIZE

NOT_YET = "not_yet"
PARTLY = "partly"
CONSISTENTLY = "consistently"

# An annual cycle may slip by up to a quarter; a longer interval between two records is a gap.
MAX_GAP_MONTHS = 15


@dataclass(frozen=True)
class WindowLevel:
    """One level of a role's window as an appraisal scores it."""

    number: int
    indicator_ids: tuple[int, ...] = field(default_factory=tuple)
    sustained_level: int | None = None
    sustained_months: int | None = None

    @property
    def is_rule(self) -> bool:
        return self.sustained_level is not None

    @property
    def rule(self) -> tuple[int, int]:
        """A sustained-level rule's level and months (a rule has both: competencies.models.Level)."""
        if self.sustained_level is None or self.sustained_months is None:
            raise ValueError(f"Level {self.number} is not a sustained-level rule.")
        return self.sustained_level, self.sustained_months

    @classmethod
    def from_snapshot(cls, level: Mapping[str, Any]) -> "WindowLevel":
        """From one entry of `ScoredCompetency.levels`."""
        return cls(
            number=level["number"],
            indicator_ids=tuple(level.get("indicators") or ()),
            sustained_level=level.get("sustained_level"),
            sustained_months=level.get("sustained_months"),
        )


@dataclass(frozen=True)
class Record:
    """A completed appraisal's level for one competency (None: the record does not include it)."""

    period_end: datetime.date
    level: int | None


def add_months(day: datetime.date, months: int) -> datetime.date:
    """`day` plus calendar months; the 31st becomes the month's last day where the month is shorter."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def held_since(level: int, period_end: datetime.date, history: Iterable[Record]) -> datetime.date:
    """The earliest period end from which `level` or above has been held continuously up to `period_end`.

    `history` holds the person's completed appraisals before this one (any order); this appraisal
    is taken to show the level, so with no qualifying history the answer is `period_end` itself.
    """
    since = period_end
    # Newest first; of two records on one date, the higher level (so the order given does not matter).
    ordered = sorted(
        history, key=lambda record: (record.period_end, -1 if record.level is None else record.level), reverse=True
    )
    for record in ordered:
        if record.period_end >= since:
            continue  # not before the run being extended
        if record.level is None or record.level < level:
            break
        if add_months(record.period_end, MAX_GAP_MONTHS) < since:
            break
        since = record.period_end
    return since


def sustained_rule_met(level: int, months: int, period_end: datetime.date, history: Iterable[Record]) -> bool:
    """Whether `level` has been held for at least `months` by `period_end` (this appraisal shows it)."""
    return add_months(held_since(level, period_end, history), months) <= period_end


def derive_level(
    levels: Sequence[WindowLevel],
    ratings: Mapping[int, str],
    *,
    period_end: datetime.date,
    history: Iterable[Record] = (),
) -> int | None:
    """The achieved level of one competency, by the rule in this module's docstring.

    `levels` is the window from Entry up; `ratings` maps an indicator id to its rating ("" or
    missing when unrated); `history` is the person's earlier completed records of this competency.
    """
    if not levels:
        return None
    history = list(history)
    achieved = levels[0].number - 1
    for level in levels:
        if level.is_rule:
            sustained_level, months = level.rule
            if achieved >= sustained_level and sustained_rule_met(sustained_level, months, period_end, history):
                achieved = level.number
                continue
            break
        marks = [ratings.get(indicator_id) or "" for indicator_id in level.indicator_ids]
        if marks and all(mark == CONSISTENTLY for mark in marks):
            achieved = level.number
            continue
        if not marks or any(mark in (NOT_YET, PARTLY) for mark in marks):
            break
        return None
    return achieved


def final_level(override: int | None, derived: int | None) -> int | None:
    """A competency's final level: the appraiser's override when there is one, else the derived level."""
    return override if override is not None else derived


class Standing(str, enum.Enum):
    """Where an achieved level stands against a role's window (Entry, Desired, Exceptional).

    Levels are absolute, so a level can also sit above the window (after a move to a role with a
    lower window), and "below entry" is any level under Entry.
    """

    NOT_SCORED = "not_scored"
    BELOW_ENTRY = "below_entry"
    ENTRY = "entry"
    DESIRED = "desired"
    EXCEPTIONAL = "exceptional"
    ABOVE = "above"

    @property
    def label(self) -> str:
        return STANDING_LABELS[self]


# The standings within the window, from Entry up.
WINDOW_STANDINGS = (Standing.ENTRY, Standing.DESIRED, Standing.EXCEPTIONAL)
STANDING_LABELS = {
    Standing.NOT_SCORED: "Not yet scored",
    Standing.BELOW_ENTRY: "Below entry",
    **dict(zip(WINDOW_STANDINGS, WINDOW_NAMES, strict=True)),
    Standing.ABOVE: "Above the window",
}
# Worst to best, for tables and legends.
STANDINGS_IN_ORDER = (Standing.BELOW_ENTRY, Standing.ENTRY, Standing.DESIRED, Standing.EXCEPTIONAL, Standing.ABOVE)


def standing(level: int | None, entry_level: int) -> Standing:
    """Where `level` stands against the window that starts at `entry_level`."""
    if level is None:
        return Standing.NOT_SCORED
    offset = level - entry_level
    if offset < 0:
        return Standing.BELOW_ENTRY
    return WINDOW_STANDINGS[offset] if offset < WINDOW_SIZE else Standing.ABOVE
