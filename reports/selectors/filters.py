"""The reports' filters (one opened cycle, optionally a service and a role profile) and what every
section shares."""

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Generic, TypeVar, overload
from urllib.parse import urlencode

from django.db.models import Q, QuerySet

from appraisal import tallies
from appraisal.models import EVERY_SERVICE, Appraisal, AppraisalCycle
from roles.models import RoleProfile
from roles.selectors import current_title
from staff.models import Service

State = Appraisal.State
STATES_IN_ORDER = tuple(State)  # the workflow order: self-assessment first, completed last
NO_SERVICE = "No service"


def percent(part: int, whole: int) -> int | None:
    """`part` of `whole` as a whole percentage, rounded half up; None when `whole` is 0.

    Never 100 unless all, never 0 unless none: 199 of 200 reads 99%, not 100%.
    """
    if not whole:
        return None
    value = (200 * part + whole) // (2 * whole)
    if part < whole:
        value = min(value, 99)
    if part > 0:
        value = max(value, 1)
    return value


def opened_cycles() -> QuerySet[AppraisalCycle]:
    """Cycles that have been opened, the latest period first (the first is the report's default)."""
    return AppraisalCycle.objects.filter(opened_at__isnull=False).order_by("-period_end", "name")


def reportable_role_profiles() -> QuerySet[RoleProfile]:
    """Role profiles with a published version, annotated `current_title` and ordered by it (one query)."""
    return (
        RoleProfile.objects.annotate(current_title=current_title())
        .filter(current_title__isnull=False)
        .order_by("current_title", "slug")
    )


@dataclass(frozen=True)
class ReportFilters:
    cycle: AppraisalCycle
    service: Service | None = None
    role_profile: RoleProfile | None = None
    # People whose records the viewer may not oversee: an HR admin's own and those above them
    # (`staff.access.hr_conflicts`). Left out of every section; not part of the query string.
    excluded_people: frozenset[int] = frozenset()

    def appraisal_q(self, prefix: str = "", *, cycle: bool = True) -> Q:
        """The filters as a Q on Appraisal, or on a model reaching it through `prefix` ("appraisal__"); without
        the cycle (`cycle=False`) for a model that holds it (said twice, the planner takes the two conditions
        for independent, expects a few rows where there are hundreds, and sorts them all for a page)."""
        q = Q(**{f"{prefix}cycle": self.cycle}) if cycle else Q()
        if self.service is not None:
            q &= Q(**{f"{prefix}staff_member__service": self.service})
        if self.role_profile is not None:
            q &= Q(**{f"{prefix}role_version__role_profile": self.role_profile})
        if self.excluded_people:
            q &= ~Q(**{f"{prefix}staff_member_id__in": self.excluded_people})
        return q

    def tally_q(self) -> Q:
        """The filters as a Q on the report's tallies (`appraisal.tallies`), which hold everyone's records:
        subtract `excluded` from what they give."""
        q = Q(cycle=self.cycle)
        if self.service is not None:
            q &= Q(service_key=self.service.pk)
        if self.role_profile is not None:
            q &= Q(role_profile=self.role_profile)
        return q

    def standing_q(self) -> Q:
        """The filters as a Q on the standing tallies: a service's rows, or those of every service together."""
        return self.tally_q() if self.service is not None else Q(self.tally_q(), service_key=EVERY_SERVICE)

    def matches_standing(self, key: tuple) -> bool:
        """Whether a standing tally's key is among those `standing_q` reads."""
        return self.matches(key) and (self.service is not None or key[1] == EVERY_SERVICE)

    def matches(self, key: tuple) -> bool:
        """Whether a tally's key (cycle, service key, role profile, ...) is within the filters."""
        cycle_id, service_key, role_profile_id = key[:3]
        return (
            cycle_id == self.cycle.pk
            and (self.service is None or service_key == self.service.pk)
            and (self.role_profile is None or role_profile_id == self.role_profile.pk)
        )

    @cached_property
    def excluded(self) -> tallies.Contribution:
        """What the excluded people's records of the cycle count for in the tallies (a few people's:
        read once per request, when there are any)."""
        if not self.excluded_people:
            return tallies.Contribution()
        return tallies.contribution(
            Appraisal.objects.filter(cycle=self.cycle, staff_member_id__in=self.excluded_people), needs=False
        )

    @property
    def query_string(self) -> str:
        """The filters as the page's query string (for links to the CSV downloads)."""
        params = {"cycle": self.cycle.pk}
        if self.service is not None:
            params["service"] = self.service.pk
        if self.role_profile is not None:
            params["role"] = self.role_profile.pk
        return urlencode(params)


def blank_if_none(value: int | None) -> int | str:
    return "" if value is None else value


Row = TypeVar("Row")


class Paged(Generic[Row]):
    """A section's rows, read from the database a page at a time: `Paginator` asks `count()`, then a slice
    (`rows(page)`, one query); iterating reads them all (a download)."""

    def count(self) -> int:
        raise NotImplementedError

    def rows(self, page: slice) -> list[Row]:
        raise NotImplementedError

    def __len__(self) -> int:
        return self.count()

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...

    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice):
            if index.step is not None:
                raise TypeError("a page is a slice without a step")
            return self.rows(index)
        found = self.rows(slice(index, index + 1))
        if not found:
            raise IndexError(index)
        return found[0]

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows(slice(None)))
