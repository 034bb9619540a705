"""Record ids read from a query string (`?person=12`), where a path converter cannot check them."""

from django.http import Http404

# The largest id a database's bigint column holds: a larger number is no record's id, and asking
# the database about it fails (SQLite cannot even bind it).
MAX_ID = 2**63 - 1


def parse_id(value: str) -> int | None:
    """`value` as a record's id, or None if no record can have it (not a number, or out of range)."""
    if not value.isascii() or not value.isdigit() or not 0 < int(value) <= MAX_ID:
        return None
    return int(value)


def id_param(query, name: str) -> int | None:
    """The id in `query[name]`; None if it is absent or empty; Http404 if it cannot be a record's id."""
    value = query.get(name, "")
    if value == "":
        return None
    if (number := parse_id(value)) is None:
        raise Http404(f"No such {name}.")
    return number
