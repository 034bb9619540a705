"""Staff records leave `roles` for their own app, `staff` (see staff/migrations/0001_initial.py).

The tables are not touched: the models keep the tables they have (Meta.db_table), so this changes
only Django's record of which app each model belongs to (SeparateDatabaseAndState). A database
migrated from before the move and one created since end up the same.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("roles", "0002_failedlogin"),
        ("staff", "0001_initial"),
        ("appraisal", "0005_staff_and_audit_apps"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name="FailedLogin",
                ),
                migrations.RemoveField(
                    model_name="roleassignment",
                    name="recorded_by",
                ),
                migrations.RemoveField(
                    model_name="roleassignment",
                    name="role_profile",
                ),
                migrations.RemoveField(
                    model_name="roleassignment",
                    name="staff_member",
                ),
                migrations.RemoveField(
                    model_name="staffmember",
                    name="service",
                ),
                migrations.RemoveField(
                    model_name="staffmember",
                    name="line_manager",
                ),
                migrations.RemoveField(
                    model_name="staffmember",
                    name="role_profile",
                ),
                migrations.RemoveField(
                    model_name="staffmember",
                    name="user",
                ),
                migrations.DeleteModel(
                    name="LineManagerAssignment",
                ),
                migrations.DeleteModel(
                    name="RoleAssignment",
                ),
                migrations.DeleteModel(
                    name="Service",
                ),
                migrations.DeleteModel(
                    name="StaffMember",
                ),
            ],
            database_operations=[],
        ),
    ]
