"""Line management as a tree: who is above and below a person, and one change to it at a time.

The chain is read in one recursive query, however deep. Each step of the query adds only ids it has
not yet produced (UNION, one column), so it ends even if the data held a loop.
"""

from django.db import connection

from staff.models import StaffMember

# The key of the lock that makes changes to line management happen one after another (PostgreSQL).
HIERARCHY_LOCK = 0x4C494E45  # "LINE"


def managers_above(staff_member_id: int) -> set[int]:
    """Ids of everyone above a person in the current line-management chain (one query)."""
    return _chain(staff_member_id, up=True)


def reports_in_line(staff_member_id: int) -> set[int]:
    """Ids of everyone below a person in the current line-management chain, however deep (one query)."""
    return _chain(staff_member_id, up=False)


def _chain(staff_member_id: int, *, up: bool) -> set[int]:
    table = connection.ops.quote_name(StaffMember._meta.db_table)
    if up:
        start = f"SELECT line_manager_id FROM {table} WHERE id = %s AND line_manager_id IS NOT NULL"
        step = (
            f"SELECT s.line_manager_id FROM {table} s JOIN chain ON s.id = chain.id WHERE s.line_manager_id IS NOT NULL"
        )
    else:
        start = f"SELECT id FROM {table} WHERE line_manager_id = %s"
        step = f"SELECT s.id FROM {table} s JOIN chain ON s.line_manager_id = chain.id"
    with connection.cursor() as cursor:
        cursor.execute(f"WITH RECURSIVE chain(id) AS ({start} UNION {step}) SELECT id FROM chain", [staff_member_id])
        return {row[0] for row in cursor.fetchall()}


def edges_above(staff_member_ids) -> dict[int, int | None]:
    """{id: line manager id} for the given people and everyone above them (one query)."""
    ids = list(staff_member_ids)
    if not ids:
        return {}
    table = connection.ops.quote_name(StaffMember._meta.db_table)
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE chain(id, manager) AS (
                SELECT id, line_manager_id FROM {table} WHERE id IN ({placeholders})
                UNION
                SELECT s.id, s.line_manager_id FROM {table} s JOIN chain ON s.id = chain.manager
            )
            SELECT id, manager FROM chain
            """,
            ids,
        )
        return dict(cursor.fetchall())


def loops_made(changes: dict[int, int]) -> list[int]:
    """Of the people in `changes` ({person id: new line manager id}), those the changes, made
    together, would put above themselves. The rest of the tree is read as it is now."""
    edges = {**edges_above(changes.values()), **changes}
    looped = []
    for person in changes:
        seen = set()
        current: int | None = changes[person]
        while current is not None and current not in seen:
            if current == person:
                looped.append(person)
                break
            seen.add(current)
            current = edges.get(current)
    return looped


def lock_hierarchy() -> None:
    """Inside a transaction that changes who manages whom: wait for any other such change to finish.

    Checking that a change makes no loop reads the chain above the new manager; two changes checked
    at once could each pass and together close a loop, or lock each other's rows in opposite order.
    On PostgreSQL a transaction-wide advisory lock puts them one after the other; SQLite's
    transactions take the database's write lock when they begin, which does the same.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [HIERARCHY_LOCK])
