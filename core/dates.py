"""The dates that make sense for each kind of date the app records.

A date picker lets anyone type 0001-01-01 or 9999-12-31. A start date of 9999-12-31 would leave a
person who can never be given a new role or a leaving date (each must come after it), so every date
is kept to a range that fits what it records, and refused with a message that gives the range.
"""

import datetime

from django.utils import timezone

# Nobody employed today started before this; dates of employment run to a year ahead (a new
# starter, a notice period).
EMPLOYMENT_EARLIEST = datetime.date(1950, 1, 1)
# Role profile documents, and appraisal cycles, are not older than this.
DOCUMENT_EARLIEST = datetime.date(1990, 1, 1)
CYCLE_EARLIEST = datetime.date(2000, 1, 1)
AHEAD = datetime.timedelta(days=366)
# A cycle reviews at most two years, and is due at most a year after its period ends.
LONGEST_PERIOD = datetime.timedelta(days=2 * 366)
LATEST_DUE_AFTER_PERIOD = datetime.timedelta(days=366)


def long_date(day: datetime.date) -> str:
    return f"{day.day} {day:%B %Y}"


def range_problem(day: datetime.date | None, earliest: datetime.date, latest: datetime.date) -> str | None:
    """The message for a date outside [earliest, latest], or None (also for no date)."""
    if day is None or earliest <= day <= latest:
        return None
    return f"Give a date between {long_date(earliest)} and {long_date(latest)}."


def employment_date_problem(day: datetime.date | None) -> str | None:
    """A date of someone's employment: starting in a role or under a line manager, leaving, joining."""
    return range_problem(day, EMPLOYMENT_EARLIEST, timezone.localdate() + AHEAD)


def document_date_problem(day: datetime.date | None) -> str | None:
    """The date a role profile document carries."""
    return range_problem(day, DOCUMENT_EARLIEST, timezone.localdate() + AHEAD)


def meeting_date_problem(day: datetime.date | None, *, period_start: datetime.date) -> str | None:
    """An appraisal meeting: not before the period it reviews starts, and not more than a year ahead."""
    return range_problem(day, period_start, max(period_start, timezone.localdate()) + AHEAD)


def cycle_date_problems(period_start, period_end, due_on) -> dict[str, str]:
    """{field: message} for a cycle's dates that make no sense (each may be None: not given)."""
    latest = timezone.localdate() + 3 * AHEAD
    dates = {"period_start": period_start, "period_end": period_end, "due_on": due_on}
    problems = {name: message for name, day in dates.items() if (message := range_problem(day, CYCLE_EARLIEST, latest))}
    if problems:
        return problems
    if period_start and period_end and period_end > period_start + LONGEST_PERIOD:
        problems["period_end"] = (
            f"A cycle reviews at most two years: end the period by {long_date(period_start + LONGEST_PERIOD)}."
        )
    if period_end and due_on and due_on > period_end + LATEST_DUE_AFTER_PERIOD:
        latest_due = long_date(period_end + LATEST_DUE_AFTER_PERIOD)
        problems["due_on"] = f"The due date can be at most a year after the period ends: {latest_due} at the latest."
    return problems
