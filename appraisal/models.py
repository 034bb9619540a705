from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    """One change to a record: who made it, when, and what changed (before → after).

    Written in the same transaction as the change it describes; the application offers no way to
    edit or delete entries.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=40, help_text="create, edit, publish, import, retire, …")
    object_type = models.CharField(max_length=60, db_index=True, help_text="e.g. role profile, competency, staff member")
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=300)
    # The person the record is about, when it is about one (staff records, later appraisals).
    person = models.ForeignKey("roles.StaffMember", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    changes = models.JSONField(default=dict, blank=True, help_text="{field: [before, after]} or a summary.")

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.object_type} {self.object_repr}"

    def change_rows(self) -> list[dict]:
        """The changes for display: {"name", "before", "after"} for a [before, after] pair, else {"name", "value"}."""
        rows = []
        for name, value in self.changes.items():
            if isinstance(value, list) and len(value) == 2 and not any(isinstance(v, (list, dict)) for v in value):
                rows.append({"name": name, "before": value[0], "after": value[1], "pair": True})
            else:
                rows.append({"name": name, "value": value, "pair": False})
        return rows
