"""The history page's body, rendered once and kept in Django's cache until a change could alter it.

A person's history is read far more often than it changes: it changes when one of their records
moves on, their staff record is edited, or the framework, a role profile, a service or a cycle is.
Every change the application makes writes an audit entry in the same transaction
(`audit.trail`), about the person it concerns or, for shared records, about no one, and
entries are never edited or deleted. So the newest id and the number of the entries about the
person, and of those about no one, change with every committed change the page could show. The
cache key holds them (one indexed query), so a page is never served from the cache after such a
change. The number covers a transaction that took an earlier id but committed after a later one.

What the key cannot see, and `TTL` bounds: a change made outside the application (a database
shell), and another person's name changed on their own record (an appraiser's, the line manager's).
"""

from collections.abc import Callable

from django.core.cache import cache
from django.db import connection
from django.template.loader import render_to_string
from django.utils import timezone

from appraisal.history import person_history
from audit.models import AuditEntry
from staff.models import StaffMember

TTL = 10 * 60  # seconds


def version(person_id: int) -> str:
    """What the person's history was built from, as far as the audit trail tells: one query, through
    the index on the person (a few dozen entries each). Written as SQL: it runs on every view of the
    page, and building it through the ORM took longer than running it."""
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    with connection.cursor() as cursor:
        # Only the quoted table name is put into the text; the values are parameters.
        cursor.execute(
            "SELECT MAX(CASE WHEN person_id = %s THEN id END), SUM(CASE WHEN person_id = %s THEN 1 ELSE 0 END),"
            " MAX(CASE WHEN person_id IS NULL THEN id END), SUM(CASE WHEN person_id IS NULL THEN 1 ELSE 0 END)"
            f" FROM {table} WHERE person_id = %s OR person_id IS NULL",
            [person_id, person_id, person_id],
        )
        return ".".join(str(value) for value in cursor.fetchone())


def history_body(person_id: int, *, own: bool, load_person: Callable[[], StaffMember]) -> str:
    """The history page below its heading for the person `person_id`, from the cache when nothing it
    shows has changed; the same HTML either way. `load_person()` gives their record as
    `get_person_for` does, and is called only when the body has to be rendered."""
    key = f"history-body:{person_id}:{int(own)}:{timezone.localdate().isoformat()}:{version(person_id)}"
    body = cache.get(key)
    if body is None:
        person = load_person()
        body = render_to_string(
            "appraisal/_history_body.html", {"history": person_history(person), "person": person, "own": own}
        )
        cache.set(key, body, TTL)
    return body
