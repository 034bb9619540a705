"""The audit trail: one entry per change to a record, who made it, when and what changed.

Every app writes it (`audit.trail.record`, in the transaction that makes the change); the
application offers no way to edit or delete an entry.
"""

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    """One change to a record: who made it, when, and what changed (before → after).

    Written in the same transaction as the change it describes; the application offers no way to
    edit or delete entries.
    """

    # When the change was made: now, unless the writer says when (seeded history carries its own dates).
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=40, help_text="create, edit, publish, import, retire, …")
    object_type = models.CharField(
        max_length=60, db_index=True, help_text="e.g. role profile, competency, staff member"
    )
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=300)
    # The person the record is about, when it is about one (staff records, later appraisals).
    person = models.ForeignKey("staff.StaffMember", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    changes = models.JSONField(default=dict, blank=True, help_text="{field: [before, after]} or a summary.")

    class Meta:
        db_table = "appraisal_auditentry"  # kept from when the audit trail was part of appraisal
        ordering = ["-at", "-pk"]
        verbose_name_plural = "audit entries"
        # One record's entries, newest first: its audit trail, and the autosave that joins its sitting's entry.
        indexes = [models.Index(fields=["object_type", "object_id", "-at"], name="audit_record_newest")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.object_type} {self.object_repr}"

    # Summaries that hold a list of names, not a [before, after] pair, whatever their length.
    SUMMARY_LISTS = {"names", "not appraised"}

    def change_rows(self) -> list[dict[str, Any]]:
        """The changes for display, one row per field or section, each with a `name` and a `kind`:

        - "pair": `before` → `after`, from `[before, after]` of plain values;
        - "list": the `removed` and `added` items and whether the kept ones were `reordered`, from
          `[before list, after list]` or a `{"removed", "added", "reordered"}` summary;
        - "items": a list of values; "fields": a summary `{name: value}` as (name, value) `fields`;
          "value": one value.

        Values are shown as text: None as "(none)", "" as "(empty)", True and False as yes and no.
        """
        rows: list[dict[str, Any]] = []
        changes = self.changes if isinstance(self.changes, dict) else {"": self.changes}
        for name, value in changes.items():
            row: dict[str, Any] = {"name": _label(name)}
            if (
                isinstance(value, list)
                and len(value) == 2
                and name not in self.SUMMARY_LISTS
                and not any(isinstance(v, dict) for v in value)
            ):
                before, after = value
                if isinstance(before, list) or isinstance(after, list):
                    before, after = before or [], after or []
                    kept_before = [item for item in before if item in after]
                    kept_after = [item for item in after if item in before]
                    row.update(
                        kind="list",
                        removed=[_shown(item) for item in before if item not in after],
                        added=[_shown(item) for item in after if item not in before],
                        reordered=kept_before != kept_after,
                    )
                else:
                    row.update(kind="pair", before=_shown(before), after=_shown(after))
            elif isinstance(value, dict) and value and set(value) <= {"removed", "added", "reordered"}:
                row.update(
                    kind="list",
                    removed=[_shown(item) for item in value.get("removed") or []],
                    added=[_shown(item) for item in value.get("added") or []],
                    reordered=bool(value.get("reordered")),
                )
            elif isinstance(value, dict):
                row.update(kind="fields", fields=[(_label(key), _shown(item)) for key, item in value.items()])
            elif isinstance(value, list):
                row.update(kind="items", items=[_shown(item) for item in value])
            else:
                row.update(kind="value", value=_shown(value))
            row["pair"] = row["kind"] == "pair"
            rows.append(row)
        return rows


def _label(name: str) -> str:
    """A change's name as shown: "first_name" reads "First name"."""
    name = str(name).replace("_", " ")
    return name[:1].upper() + name[1:]


def _shown(value) -> str:
    if value is None:
        return "(none)"
    if value == "" or value == [] or value == {}:
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(_shown(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{_label(key)}: {_shown(item)}" for key, item in value.items())
    return str(value)
