# The report's long lists keep their names' order in their rows (`staff.models.name_order`): the progress
# tallies their appraiser's, the development needs their person's (and their record and place in it), and a
# new list of the records whose person disagreed. The development needs are emptied here; 0013 fills all
# three from the records (in a transaction of its own, after this one's constraints and indexes are made);
# afterwards `appraisal.tallies` keeps them.

import django.db.models.deletion
from django.db import migrations, models


def forget_needs(apps, schema_editor):
    apps.get_model("appraisal", "DevelopmentNeed").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("appraisal", "0011_disagreements_index"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("roles", "0004_roleprofileversion_change_note"),
        ("staff", "0004_single_sign_on"),
    ]

    operations = [
        migrations.RunPython(forget_needs, migrations.RunPython.noop),
        migrations.CreateModel(
            name="ListedDisagreement",
            fields=[
                (
                    "appraisal",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="appraisal.appraisal",
                    ),
                ),
                (
                    "stage",
                    models.PositiveSmallIntegerField(
                        choices=[(0, "Referred"), (1, "Awaiting Countersign"), (2, "Other")]
                    ),
                ),
                ("person_order", models.TextField()),
                (
                    "cycle",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="appraisal.appraisalcycle"
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["cycle", "stage", "person_order", "appraisal"], name="listed_disagreement_order"
                    )
                ],
            },
        ),
        migrations.AddField(
            model_name="developmentneed",
            name="appraisal",
            field=models.ForeignKey(
                default=0, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="appraisal.appraisal"
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="developmentneed",
            name="person_order",
            field=models.TextField(default=""),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="developmentneed",
            name="position",
            field=models.PositiveSmallIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="progresstally",
            name="appraiser_order",
            field=models.TextField(default=""),
        ),
        migrations.AddIndex(
            model_name="developmentneed",
            index=models.Index(
                fields=["cycle", "person_order", "appraisal", "position"], name="development_need_order"
            ),
        ),
        migrations.AddIndex(
            model_name="progresstally",
            index=models.Index(fields=["cycle", "appraiser_order", "appraiser"], name="progress_tally_by_name"),
        ),
    ]
