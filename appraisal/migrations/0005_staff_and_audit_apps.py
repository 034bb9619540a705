"""Appraisals point to staff records in their new app; the audit trail leaves for its own.

The tables are not touched: the models keep the tables they have (Meta.db_table), so this changes
only Django's record of which app each model belongs to (SeparateDatabaseAndState). A database
migrated from before the move and one created since end up the same.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("appraisal", "0004_appraiser_handover"),
        ("staff", "0001_initial"),
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="auditentry",
                    name="actor",
                ),
                migrations.RemoveField(
                    model_name="auditentry",
                    name="person",
                ),
                migrations.AlterField(
                    model_name="appraisal",
                    name="appraiser",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="appraisals_to_conduct",
                        to="staff.staffmember",
                    ),
                ),
                migrations.AlterField(
                    model_name="appraisal",
                    name="staff_member",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="appraisals", to="staff.staffmember"
                    ),
                ),
                migrations.AlterField(
                    model_name="appraiserhandover",
                    name="leaver",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="staff.staffmember"
                    ),
                ),
                migrations.AlterField(
                    model_name="appraiserhandover",
                    name="successor",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="staff.staffmember"
                    ),
                ),
                migrations.DeleteModel(
                    name="AuditEntry",
                ),
            ],
            database_operations=[],
        ),
    ]
