"""The "Person" filter that HR's logs share (the audit trail, the emails): the people to choose from and
the choice applied, with the message for a value that names nobody."""

from django.db.models import QuerySet

from core.params import parse_id
from staff.models import StaffMember

NO_SUCH_PERSON = "There is no such person: choose one from the list."


def people_to_choose(hidden) -> QuerySet[StaffMember]:
    """Everyone but `hidden` (the HR admin's own record and those above them), by name."""
    return (
        StaffMember.objects.exclude(pk__in=hidden)
        .select_related("user")
        .order_by("user__last_name", "user__first_name")
    )


def by_person(rows: QuerySet, value: str, lookup: str) -> tuple[QuerySet, str | None]:
    """`rows` of the person whose staff record id is `value` (through `lookup`), or none and a message; all if empty."""
    if not value:
        return rows, None
    person_id = parse_id(value)
    if person_id is None:
        return rows.none(), NO_SUCH_PERSON
    return rows.filter(**{lookup: person_id}), None
