"""Record changes in the audit trail. Call inside the transaction that makes the change."""

import datetime

from django.db import models
from django.utils import timezone

from audit.models import AuditEntry
from core.text import normalise_text


def record(
    *,
    actor,
    action: str,
    obj: models.Model,
    changes: dict | None = None,
    person=None,
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
    actor,
    action: str,
    obj: models.Model,
    changes: dict | None = None,
    person=None,
    object_type: str | None = None,
    object_repr: str | None = None,
) -> AuditEntry:
    """An unsaved entry, as `record` would write it, for `record_all` to write with others in one query."""
    return AuditEntry(**_values(actor, action, obj, changes, person, object_type, object_repr))


def record_all(entries: list[AuditEntry]) -> list[AuditEntry]:
    """Write entries made by `build` (one change that touches many records). Call inside the transaction."""
    return AuditEntry.objects.bulk_create(entries, batch_size=500)


def _values(actor, action, obj, changes, person, object_type, object_repr) -> dict:
    return {
        "actor": actor if getattr(actor, "is_authenticated", False) else None,
        "action": action,
        "object_type": object_type or str(obj._meta.verbose_name),
        "object_id": str(obj.pk or ""),
        "object_repr": (str(obj) if object_repr is None else object_repr)[:300],
        "person_id": getattr(person, "pk", person),
        "changes": _jsonable(changes or {}),
    }


def update_fields(*, by, obj: models.Model, values: dict, clean_exclude=(), object_type: str | None = None, person=None) -> dict:
    """Set `values` on `obj`, validate and save just those fields, and record an "edit" entry.

    Call inside the caller's transaction. Text is stored with one kind of line ending, so a
    browser's CRLF is not a change. Returns `{field: [before, after]}` for what changed.
    """
    values = {name: normalise_text(value) for name, value in values.items()}
    # From the database: a ModelForm bound to `obj` may already have changed the instance.
    before = type(obj).objects.filter(pk=obj.pk).values(*values).get()
    for name, value in values.items():
        setattr(obj, name, value)
    obj.full_clean(exclude=list(clean_exclude))
    obj.save(update_fields=list(values))
    changes = field_changes(before, values)
    if changes:
        record(actor=by, action="edit", obj=obj, changes=changes, object_type=object_type, person=person)
    return changes


def field_changes(before: dict, after: dict) -> dict:
    """`{field: [old, new]}` for the fields whose value differs."""
    return {key: [before.get(key), after.get(key)] for key in after if before.get(key) != after.get(key)}


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if timezone.is_aware(value) else value.strftime("%Y-%m-%d %H:%M")
    if hasattr(value, "get_full_name"):  # a login: the person's name
        return value.get_full_name() or value.get_username()
    return str(value)
