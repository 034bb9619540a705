"""Helpers for tests that need appraisals: open a cycle, rate, and walk a record to completion."""

import datetime

from django.contrib.auth import get_user_model

from appraisal.models import Appraisal, AppraisalCycle
from appraisal.selectors import appraisal_sheet
from appraisal.services import cycles, scoring, workflow

CONSISTENTLY = "consistently"


def fresh(user):
    """The user loaded again, as each request loads it."""
    return get_user_model().objects.get(pk=user.pk)


def make_cycle(hr, *, year=2026, self_assessment=False, name=None) -> AppraisalCycle:
    return cycles.create_cycle(
        by=fresh(hr),
        name=name or f"Annual appraisal {year}",
        period_start=datetime.date(year - 1, 4, 1),
        period_end=datetime.date(year, 3, 31),
        due_on=datetime.date(year, 6, 30),
        self_assessment=self_assessment,
    )


def open_appraisal(hr, person_user, *, year=2026, self_assessment=False) -> Appraisal:
    """Create and open a cycle; return `person_user`'s appraisal in it."""
    cycle = make_cycle(hr, year=year, self_assessment=self_assessment)
    cycles.open_cycle(by=fresh(hr), cycle=cycle)
    return Appraisal.objects.get(cycle=cycle, staff_member__user=person_user)


def reload(appraisal) -> Appraisal:
    return Appraisal.objects.select_related("cycle", "role_version", "staff_member__user", "appraiser__user").get(
        pk=appraisal.pk
    )


def rate(
    appraisal,
    by,
    *,
    rating=CONSISTENTLY,
    evidence="",
    per_competency=None,
    meeting_date=datetime.date(2026, 4, 15),
    **fields,
):
    """Save a review rating every indicator `rating` (or, per competency name, a rating function of the level
    number)."""
    appraisal = reload(appraisal)
    sheet = appraisal_sheet(appraisal)
    ratings = {}
    for competency in sheet.competencies:
        for level in competency.levels:
            for row in level.indicators:
                chosen = rating
                if per_competency and competency.scored.name in per_competency:
                    chosen = per_competency[competency.scored.name](level.number)
                ratings[row.indicator.pk] = (chosen, evidence)
    values = {"objectives": "", "development_plan": "", "manager_comments": "", **fields}
    return scoring.save_review(
        by=fresh(by),
        appraisal=appraisal,
        revision=appraisal.revision,
        ratings=ratings,
        overrides={},
        measures={},
        meeting_date=meeting_date,
        **values,
    )


def complete(appraisal, *, manager, staff, agrees=True, comments="Thank you.", **rate_kwargs) -> Appraisal:
    """Rate, share, sign off and countersign: the appraisal ends completed."""
    appraisal = rate(appraisal, manager, **rate_kwargs)
    appraisal = workflow.share(by=fresh(manager), appraisal=reload(appraisal))
    appraisal = workflow.sign_off(by=fresh(staff), appraisal=reload(appraisal), agrees=agrees, comments=comments)
    # A disagreement is noted in the countersignature.
    noted = "" if agrees else "Discussed with them; the record stands."
    return workflow.countersign(by=fresh(manager), appraisal=reload(appraisal), comments=noted)


def self_assess(appraisal, person_user, *, rating=CONSISTENTLY) -> Appraisal:
    """The person rates every indicator `rating` and sends the self-assessment to their manager."""
    appraisal = reload(appraisal)
    ratings = {
        row.indicator.pk: (rating, "")
        for c in appraisal_sheet(appraisal).competencies
        for level in c.levels
        for row in level.indicators
    }
    appraisal = scoring.save_self_assessment(
        by=fresh(person_user), appraisal=appraisal, revision=appraisal.revision, ratings=ratings, comments=""
    )
    return workflow.submit_self_assessment(by=fresh(person_user), appraisal=reload(appraisal))


PROMOTED_ON = datetime.date(2025, 5, 1)
PROMOTED_TO = "senior-service-coordinator-afeo"
SUSTAINED = "Organisation and Sector Awareness"


def promoted_history(hr, manager, staff) -> list[Appraisal]:
    """`staff`'s completed appraisals for 2024, 2025 and 2026 (in that order), a promotion between them.

    2024 and 2025 are against Support Worker, every indicator consistently demonstrated (so each
    competency at the window's Exceptional level; Organisation and Sector Awareness at level 4).
    On PROMOTED_ON `staff` becomes a Senior Service Coordinator; in 2026 (self-assessed "partly"
    throughout, rated consistently by the manager) Organisation and Sector Awareness reaches level 5
    by the sustained-level rule: level 4 held since March 2025.
    """
    from roles.models import RoleProfile
    from staff import records as staff_records

    records = []
    for year in (2024, 2025):
        records.append(complete(open_appraisal(hr, staff, year=year), manager=manager, staff=staff))
    staff_records.assign_role_profile(
        by=fresh(hr),
        member=staff.staff_member,
        role_profile=RoleProfile.objects.get(slug=PROMOTED_TO),
        since=PROMOTED_ON,
    )
    appraisal = open_appraisal(hr, staff, year=2026, self_assessment=True)
    self_assess(appraisal, staff, rating="partly")
    records.append(complete(appraisal, manager=manager, staff=staff))
    return records
