"""The demo's calendar: every date of the demo is written for one reference day and moved to the day it is built for.

The demo is written as if built on REFERENCE_DAY (20 May 2026): the current cycle's period ended on
31 March 2026 and is due on 30 June 2026, three annual cycles before it ended on 31 March 2023, 2024
and 2025, and people joined, moved and left on the dates in `seed_demo.PEOPLE`. Built for another
day, every one of those dates moves by the same whole number of months, so that the current period
ends at the end of the month two months before the day's month: built on 29 November 2026, the
period is 1 October 2025 to 30 September 2026 and it is due on 30 December 2026. The appraisal round
is then four to nine weeks old, no appraisal is overdue yet, and the due date is a few weeks ahead.

A written date on the last day of its month stays on the last day of the moved month (31 March to
30 September); another day is kept, or clamped to the moved month's length (31 May to 30 November).
The role profiles' own document dates ("March 2023") are what their documents print and do not move.
"""

import calendar
import datetime
from dataclasses import dataclass

from django.utils import timezone

REFERENCE_DAY = datetime.date(2026, 5, 20)
# The current period ends at the end of the month this many months before the day's month.
MONTHS_BEFORE = 2


def add_months(day: datetime.date, months: int) -> datetime.date:
    """`day` moved by whole months: the last day of a month stays the last day; other days are clamped."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    length = calendar.monthrange(year, month)[1]
    if day.day == calendar.monthrange(day.year, day.month)[1]:
        return datetime.date(year, month, length)
    return datetime.date(year, month, min(day.day, length))


def _month_index(day: datetime.date) -> int:
    return day.year * 12 + day.month - 1


@dataclass(frozen=True)
class DemoCalendar:
    """The demo's dates for the day `today` it is built for."""

    today: datetime.date

    @property
    def months(self) -> int:
        """How many months the written dates move: 0 for REFERENCE_DAY's month."""
        return _month_index(self.today) - _month_index(REFERENCE_DAY)

    def date(self, written: datetime.date | str) -> datetime.date:
        """A date as the demo writes it, moved to this calendar."""
        if isinstance(written, str):
            written = datetime.date.fromisoformat(written)
        return add_months(written, self.months)

    def written_year(self, day: datetime.date) -> int:
        """The year the demo's data is written for, of a date in this calendar (the cycle of 2025, say)."""
        return add_months(day, -self.months).year

    def latest_moment(self) -> datetime.datetime:
        """Nothing in the demo is dated later than this: a few minutes ago, or the afternoon of another demo day."""
        now = timezone.now()
        if self.today == timezone.localdate(now):
            return now - datetime.timedelta(minutes=5)
        return timezone.make_aware(datetime.datetime.combine(self.today, datetime.time(17, 0)))
