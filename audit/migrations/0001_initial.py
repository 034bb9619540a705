"""The audit trail moves from `appraisal` into its own app, `audit`.

The tables are not touched: the models keep the tables they have (Meta.db_table), so this changes
only Django's record of which app each model belongs to (SeparateDatabaseAndState). A database
migrated from before the move and one created since end up the same.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def move_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="appraisal", model="auditentry").update(app_label="audit")


def move_content_type_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="audit", model="auditentry").update(app_label="appraisal")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("appraisal", "0004_appraiser_handover"),
        ("staff", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEntry",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        (
                            "action",
                            models.CharField(help_text="create, edit, publish, import, retire, …", max_length=40),
                        ),
                        (
                            "object_type",
                            models.CharField(
                                db_index=True, help_text="e.g. role profile, competency, staff member", max_length=60
                            ),
                        ),
                        ("object_id", models.CharField(blank=True, max_length=64)),
                        ("object_repr", models.CharField(max_length=300)),
                        (
                            "changes",
                            models.JSONField(
                                blank=True, default=dict, help_text="{field: [before, after]} or a summary."
                            ),
                        ),
                        (
                            "actor",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name_plural": "audit entries",
                        "db_table": "appraisal_auditentry",
                        "ordering": ["-at", "-pk"],
                    },
                ),
                migrations.AddField(
                    model_name="auditentry",
                    name="person",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="staff.staffmember",
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
