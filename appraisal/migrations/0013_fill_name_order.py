# Fills what 0012 added: each progress tally's appraiser's name order, the development needs (with their
# person's name order, record and place in it) and the list of the records whose person disagreed; and
# adds the standing tallies of every service together (`appraisal.models.EVERY_SERVICE`).

from django.db import migrations
from django.db.models import Sum

from appraisal.models import with_standing

EVERY_SERVICE = 2_147_483_647  # `appraisal.models.EVERY_SERVICE`

STAGES = {"referred": 0, "awaiting_countersign": 1}


def name_order(first_name, last_name, username):
    # `staff.models.name_order` as it is written today: a migration does not change with the code.
    return f"{(last_name or username).casefold()}\x1f{first_name.casefold()}"


def fill(apps, schema_editor):
    User = apps.get_model("auth", "User")
    StaffMember = apps.get_model("staff", "StaffMember")
    Appraisal = apps.get_model("appraisal", "Appraisal")
    ScoredCompetency = apps.get_model("appraisal", "ScoredCompetency")
    ProgressTally = apps.get_model("appraisal", "ProgressTally")
    DevelopmentNeed = apps.get_model("appraisal", "DevelopmentNeed")
    ListedDisagreement = apps.get_model("appraisal", "ListedDisagreement")
    names = {
        pk: name_order(*name) for pk, *name in User.objects.values_list("pk", "first_name", "last_name", "username")
    }
    orders = {pk: names[user_id] for pk, user_id in StaffMember.objects.values_list("pk", "user_id")}
    for appraiser in ProgressTally.objects.values_list("appraiser_id", flat=True).distinct().order_by():
        ProgressTally.objects.filter(appraiser_id=appraiser).update(appraiser_order=orders[appraiser])
    visible = Appraisal.objects.filter(staged_for__isnull=True)
    ListedDisagreement.objects.bulk_create(
        [
            ListedDisagreement(
                appraisal_id=pk, cycle_id=cycle_id, stage=STAGES.get(state, 2), person_order=orders[person_id]
            )
            for pk, cycle_id, state, person_id in visible.filter(staff_agrees=False)
            .order_by()
            .values_list("pk", "cycle_id", "state", "staff_member_id")
        ],
        batch_size=2000,
    )
    # The competencies of completed records achieved below the window's Entry level, as 0009 found them.
    completed = visible.filter(state="completed").values("pk")
    scored = with_standing(ScoredCompetency.objects.filter(appraisal__in=completed))
    DevelopmentNeed.objects.bulk_create(
        [
            DevelopmentNeed(
                scored_competency_id=pk,
                cycle_id=cycle_id,
                appraisal_id=appraisal_id,
                position=position,
                person_order=orders[person_id],
            )
            for pk, cycle_id, appraisal_id, position, person_id in scored.filter(standing="below_entry")
            .order_by()
            .values_list("pk", "appraisal__cycle_id", "appraisal_id", "position", "appraisal__staff_member_id")
        ],
        batch_size=2000,
    )


def count_every_service(apps, schema_editor):
    """The standing tallies of every service together, from each service's."""
    StandingTally = apps.get_model("appraisal", "StandingTally")
    StandingTally.objects.bulk_create(
        [
            StandingTally(service_key=EVERY_SERVICE, **row)
            for row in StandingTally.objects.exclude(service_key=EVERY_SERVICE)
            .order_by()
            .values("cycle_id", "role_profile_id", "competency_id", "standing")
            .annotate(count=Sum("count"))
        ],
        batch_size=2000,
    )


def forget_every_service(apps, schema_editor):
    apps.get_model("appraisal", "StandingTally").objects.filter(service_key=EVERY_SERVICE).delete()


class Migration(migrations.Migration):
    dependencies = [("appraisal", "0012_name_order")]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.RunPython(count_every_service, forget_every_service),
    ]
