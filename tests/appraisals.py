"""Helpers for tests that need appraisals: open a cycle, rate, and walk a record to completion."""

import datetime

from django.contrib.auth import get_user_model

from appraisal import services
from appraisal.models import Appraisal, AppraisalCycle
from appraisal.selectors import appraisal_sheet

CONSISTENTLY = "consistently"


def fresh(user):
    """The user again, without the per-request caches `roles.access` keeps on the object."""
    return get_user_model().objects.get(pk=user.pk)


def make_cycle(hr, *, year=2026, self_assessment=False, name=None) -> AppraisalCycle:
    return services.create_cycle(
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
    services.open_cycle(by=fresh(hr), cycle=cycle)
    return Appraisal.objects.get(cycle=cycle, staff_member__user=person_user)


def reload(appraisal) -> Appraisal:
    return Appraisal.objects.select_related("cycle", "role_version", "staff_member__user", "appraiser__user").get(pk=appraisal.pk)


def rate(appraisal, by, *, rating=CONSISTENTLY, evidence="", per_competency=None, meeting_date=datetime.date(2026, 4, 15), **fields):
    """Save a review rating every indicator `rating` (or, per competency name, a rating function of the level number)."""
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
    return services.save_review(
        by=fresh(by), appraisal=appraisal, revision=appraisal.revision, ratings=ratings, overrides={}, measures={},
        meeting_date=meeting_date, **values,
    )


def complete(appraisal, *, manager, staff, agrees=True, comments="Thank you.", **rate_kwargs) -> Appraisal:
    """Rate, share, sign off and countersign: the appraisal ends completed."""
    appraisal = rate(appraisal, manager, **rate_kwargs)
    appraisal = services.share(by=fresh(manager), appraisal=reload(appraisal))
    appraisal = services.sign_off(by=fresh(staff), appraisal=reload(appraisal), agrees=agrees, comments=comments)
    return services.countersign(by=fresh(manager), appraisal=reload(appraisal))
