"""Staff records move from `roles` into their own app, `staff`.

The tables are not touched: the models keep the tables they have (Meta.db_table), so this changes
only Django's record of which app each model belongs to (SeparateDatabaseAndState). A database
migrated from before the move and one created since end up the same.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

MODELS = ("service", "staffmember", "roleassignment", "linemanagerassignment", "failedlogin")


def move_content_types(apps, schema_editor):
    """The content types follow the models (on a new database there are none yet)."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="roles", model__in=MODELS).update(app_label="staff")


def move_content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="staff", model__in=MODELS).update(app_label="roles")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("roles", "0002_failedlogin"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Service",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=200, unique=True)),
                    ],
                    options={
                        "db_table": "roles_service",
                        "ordering": ["name"],
                    },
                ),
                migrations.CreateModel(
                    name="FailedLogin",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("username", models.CharField(max_length=150)),
                        ("ip_address", models.GenericIPAddressField(blank=True, null=True)),
                        ("at", models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={
                        "db_table": "roles_failedlogin",
                        "indexes": [
                            models.Index(fields=["username", "at"], name="roles_faile_usernam_b99fec_idx"),
                            models.Index(fields=["ip_address", "at"], name="roles_faile_ip_addr_a02711_idx"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="StaffMember",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "job_title",
                            models.CharField(
                                blank=True,
                                help_text="For people whose job has no role profile here (e.g. Team Manager).",
                                max_length=200,
                            ),
                        ),
                        ("role_profile_since", models.DateField(blank=True, null=True)),
                        ("line_manager_since", models.DateField(blank=True, null=True)),
                        (
                            "left_on",
                            models.DateField(
                                blank=True,
                                help_text="Last day of employment; empty while the person works here.",
                                null=True,
                            ),
                        ),
                        (
                            "line_manager",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="reports",
                                to="staff.staffmember",
                            ),
                        ),
                        (
                            "role_profile",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="holders",
                                to="roles.roleprofile",
                            ),
                        ),
                        (
                            "service",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="staff",
                                to="staff.service",
                            ),
                        ),
                        (
                            "user",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="staff_member",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "roles_staffmember",
                        "ordering": ["user__last_name", "user__first_name"],
                    },
                ),
                migrations.CreateModel(
                    name="RoleAssignment",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("since", models.DateField()),
                        ("recorded_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "recorded_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "role_profile",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="roles.roleprofile"
                            ),
                        ),
                        (
                            "staff_member",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="role_history",
                                to="staff.staffmember",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "roles_roleassignment",
                        "ordering": ["staff_member", "since", "pk"],
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="LineManagerAssignment",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("since", models.DateField()),
                        ("recorded_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "recorded_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "line_manager",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="staff.staffmember",
                            ),
                        ),
                        (
                            "staff_member",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="manager_history",
                                to="staff.staffmember",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "roles_linemanagerassignment",
                        "ordering": ["staff_member", "since", "pk"],
                        "abstract": False,
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
