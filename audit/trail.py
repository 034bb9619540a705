"""Record changes in the audit trail. Call inside the transaction that makes the change."""

import datetime
from collections.abc import Iterable
from typing import Any, TypeGuard

from django.db import models
from django.utils import timezone

from audit.models import AuditEntry
from core.access import Person
from core.text import normalise_text

# Who made a change: a login, or no one (a command, the app itself).
Actor = Person | None


def record(
    *,
    actor: Actor,
    action: str,
    obj: models.Model,
    changes: dict[str, Any] | None = None,
    person: models.Model | int | None = None,
    object_type: str | None = None,
    object_repr: str | None = None,
) -> AuditEntry:
    """Write one audit entry for `action` on `obj` by `actor`.

    `changes` maps a field or section name to `[before, after]` (or holds a short summary);
    `object_type` defaults to the model's verbose name; `person` is a StaffMember or its id;
    `object_repr` defaults to `str(obj)`.
    """
    return AuditEntry.objects.create(**_values(actor, action, obj, changes, person, object_type, object_repr))


def build(
    *,
    actor: Actor,
    action: str,
    obj: models.Model,
    changes: dict[str, Any] | None = None,
    person: models.Model | int | None = None,
    object_type: str | None = None,
    object_repr: str | None = None,
) -> AuditEntry:
    """An unsaved entry, as `record` would write it, for `record_all` to write with others in one query."""
    return AuditEntry(**_values(actor, action, obj, changes, person, object_type, object_repr))


def record_all(entries: list[AuditEntry]) -> list[AuditEntry]:
    """Write entries made by `build` (one change that touches many records). Call inside the transaction."""
    return AuditEntry.objects.bulk_create(entries, batch_size=500)


def _values(
    actor: Actor,
    action: str,
    obj: models.Model,
    changes: dict[str, Any] | None,
    person: models.Model | int | None,
    object_type: str | None,
    object_repr: str | None,
) -> dict[str, Any]:
    return {
        "actor": actor if getattr(actor, "is_authenticated", False) else None,
        "action": action,
        "object_type": object_type or str(obj._meta.verbose_name),
        "object_id": str(obj.pk or ""),
        "object_repr": (str(obj) if object_repr is None else object_repr)[:300],
        "person_id": getattr(person, "pk", person),
        "changes": _jsonable(changes or {}),
    }


def update_fields(
    *,
    by: Actor,
    obj: models.Model,
    values: dict[str, Any],
    clean_exclude: Iterable[str] = (),
    object_type: str | None = None,
    person: models.Model | int | None = None,
) -> dict[str, list[Any]]:
    """Set `values` on `obj`, validate and save just those fields, and record an "edit" entry.

    Call inside the caller's transaction. Text is stored with one kind of line ending, so a
    browser's CRLF is not a change. Returns `{field: [before, after]}` for what changed.
    """
    values = {name: normalise_text(value) for name, value in values.items()}
    # From the database: a ModelForm bound to `obj` may already have changed the instance.
    before = type(obj)._default_manager.filter(pk=obj.pk).values(*values).get()
    for name, value in values.items():
        setattr(obj, name, value)
    obj.full_clean(exclude=list(clean_exclude))
    obj.save(update_fields=list(values))
    changes = field_changes(before, values)
    if changes:
        record(actor=by, action="edit", obj=obj, changes=changes, object_type=object_type, person=person)
    return changes


def join(entry: AuditEntry, changes: dict[str, Any]) -> None:
    """Add `changes` to an entry already written (the autosaves of one sitting): each field keeps its
    first value before and takes its last after; a field back where it started is left out."""
    merged = dict(entry.changes)
    for key, value in _jsonable(changes).items():
        earlier = merged.get(key)
        if _is_change(earlier) and _is_change(value):
            value = [earlier[0], value[1]]
        merged[key] = value
    entry.changes = {key: value for key, value in merged.items() if not (_is_change(value) and value[0] == value[1])}
    entry.at = timezone.now()
    AuditEntry.objects.filter(pk=entry.pk).update(changes=entry.changes, at=entry.at)


def _is_change(value: Any) -> TypeGuard[list]:
    return isinstance(value, list) and len(value) == 2


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """`{field: [old, new]}` for the fields whose value differs."""
    return {key: [before.get(key), after.get(key)] for key in after if before.get(key) != after.get(key)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, datetime.datetime):
        return (
            timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
            if timezone.is_aware(value)
            else value.strftime("%Y-%m-%d %H:%M")
        )
    if hasattr(value, "get_full_name"):  # a login: the person's name
        return value.get_full_name() or value.get_username()
    return str(value)
