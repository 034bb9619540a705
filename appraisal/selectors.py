"""Reads for the appraisal pages and services: everything a record needs, in a fixed number of queries.

Selectors only read. The services (`appraisal.services`) may call them; they never call a service.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypedDict

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from appraisal.models import (
    RATING_LABELS,
    Appraisal,
    AppraisalCycle,
    IndicatorRating,
    MeasureReview,
    ScoredCompetency,
    keep_ratings,
    loaded_ratings,
)
from appraisal.rules import Record, WindowLevel, add_months, final_level, held_since
from competencies.models import Indicator
from competencies.windows import WINDOW_NAMES
from roles.models import PerformanceMeasure, RoleProfileVersion
from staff.models import NO_ACCESS, StaffMember, can_sign_in_q

# --- the person's earlier records -----------------------------------------------------------------

# The person's completed appraisals before this one, oldest first, as (appraisal id, period end), and
# each competency's final level in them, {competency id: {appraisal id: level}}.
EarlierLevels = tuple[list[tuple[int, datetime.date]], dict[int, dict[int, int | None]]]


def earlier_levels(appraisal: Appraisal) -> EarlierLevels:
    """The person's completed appraisals before this one's cycle, oldest first, as (id, period end),
    and each competency's final level in them, {competency id: {appraisal id: level}}: two queries
    (one when there is none)."""
    earlier = list(
        Appraisal.objects.completed()
        .filter(staff_member_id=appraisal.staff_member_id, cycle__period_end__lt=appraisal.cycle.period_end)
        .exclude(pk=appraisal.pk)
        .order_by("cycle__period_end", "pk")
        .values_list("pk", "cycle__period_end")
    )
    levels: defaultdict[int, dict[int, int | None]] = defaultdict(dict)
    if earlier:
        for appraisal_id, competency_id, derived, override in (
            ScoredCompetency.objects.filter(appraisal_id__in=[pk for pk, _ in earlier])
            .order_by()
            .values_list("appraisal_id", "competency_id", "derived_level", "override_level")
        ):
            levels[competency_id][appraisal_id] = final_level(override, derived)
    return earlier, levels


def earlier_records(appraisal: Appraisal) -> dict[int, list[Record]]:
    """{competency id: [Record, ...]} from the person's completed appraisals before this one's cycle."""
    return records_from(*earlier_levels(appraisal))


def records_from(
    earlier: Sequence[tuple[int, datetime.date]], levels: dict[int, dict[int, int | None]]
) -> dict[int, list[Record]]:
    """{competency id: [Record, ...]} from what `earlier_levels` reads.

    Every earlier completed appraisal appears for every competency: with None where the record
    does not include the competency, which breaks a sustained run (see appraisal.rules).
    """
    return {
        competency_id: [Record(period_end, by_appraisal.get(pk)) for pk, period_end in earlier]
        for competency_id, by_appraisal in levels.items()
    }


# --- who a cycle can appraise ---------------------------------------------------------------------


@dataclass
class NotAppraised:
    """An active member of staff whom opening the cycle could not give an appraisal, and why."""

    staff_member: StaffMember
    reason: str


@dataclass
class Candidate:
    """An active member of staff whom opening the cycle gives an appraisal: their line manager
    appraises them, against the current version of the role profile they hold."""

    staff_member: StaffMember
    appraiser: StaffMember
    role_version: RoleProfileVersion


def current_versions(role_profile_ids: Iterable[int]) -> dict[int, RoleProfileVersion]:
    """{role profile id: its newest published version}."""
    versions = {}
    for version in RoleProfileVersion.objects.filter(
        role_profile_id__in=role_profile_ids, status=RoleProfileVersion.Status.PUBLISHED
    ).order_by("role_profile_id", "number"):
        versions[version.role_profile_id] = version
    return versions


def appraisal_candidates(cycle: AppraisalCycle) -> tuple[list[Candidate], list[NotAppraised]]:
    """Active staff without an appraisal in `cycle`: those who can have one, and those who cannot and why."""
    # `appraisals__` reaches every appraisal, those an opening is preparing too: they are not missing.
    return assess(StaffMember.objects.active().exclude(appraisals__cycle=cycle))


def assess(people_query: QuerySet[StaffMember]) -> tuple[list[Candidate], list[NotAppraised]]:
    """Of the active staff in `people_query`: those who can have an appraisal, and those who cannot and why."""
    people = list(people_query.select_related("user", "role_profile", "line_manager__user"))
    versions = current_versions({person.role_profile_id for person in people if person.role_profile_id})
    candidates, problems = [], []
    for person in people:
        if person.role_profile_id is None:
            reason = "holds no role profile"
        elif person.role_profile_id not in versions:
            reason = "holds a role profile with no published version"
        elif person.line_manager is None:
            reason = "has no line manager"
        elif not person.line_manager.is_active:
            reason = f"has a line manager who has left ({person.line_manager})"
        else:
            candidates.append(Candidate(person, person.line_manager, versions[person.role_profile_id]))
            continue
        problems.append(NotAppraised(person, reason))
    return candidates, problems


def not_appraised(cycle: AppraisalCycle) -> list[NotAppraised]:
    """Active staff without an appraisal in `cycle` whose record must be fixed before they can have one."""
    return appraisal_candidates(cycle)[1]


@dataclass
class OpeningPreview:
    """What opening `cycle` (again) would do, counted rather than loaded: for its confirmation page.
    The lists name at most `listed` people each; the counts are of everyone."""

    cycle: AppraisalCycle
    appraisals: int  # appraisals it would create
    emailed: int  # people it would email: each person (self-assessment first), else each appraiser
    not_emailed: int  # of those, people without an email address or who cannot sign in
    not_emailed_names: list[str]  # "Name (why)"
    skipped: int  # active staff without an appraisal in the cycle who cannot be given one
    skipped_listed: list[NotAppraised]


def opening_preview(cycle: AppraisalCycle, *, listed: int = 20) -> OpeningPreview:
    """The people opening `cycle` now would give an appraisal and email, by the rules of `assess`
    written as queries (a fixed number of them, whatever the size of the organisation)."""
    today = timezone.localdate()  # as `StaffMember.is_active` reads it
    published = Exists(
        RoleProfileVersion.objects.filter(
            role_profile_id=OuterRef("role_profile_id"), status=RoleProfileVersion.Status.PUBLISHED
        )
    )
    missing = StaffMember.objects.active().exclude(appraisals__cycle=cycle).annotate(published=published)
    candidates = missing.filter(
        Q(line_manager__left_on__isnull=True) | Q(line_manager__left_on__gt=today),
        published=True,
        line_manager__isnull=False,
    )
    # Self-assessment first: each person is emailed; else each appraiser, once for all their appraisals.
    recipients = (
        candidates if cycle.self_assessment else StaffMember.objects.filter(pk__in=candidates.values("line_manager"))
    )
    unreachable = Q(user__email="") | ~can_sign_in_q()
    counts = recipients.aggregate(everyone=Count("pk"), without=Count("pk", filter=unreachable))
    not_emailed = [
        f"{person.name} ({'no email address' if not person.user.email else NO_ACCESS})"
        for person in recipients.filter(unreachable)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "pk")[:listed]
    ]
    skipped = missing.exclude(pk__in=candidates.values("pk"))
    skipped_listed = []
    for person in skipped.select_related("user", "line_manager__user").order_by(
        "user__last_name", "user__first_name", "pk"
    )[:listed]:
        if person.role_profile_id is None:
            reason = "holds no role profile"
        elif not person.published:
            reason = "holds a role profile with no published version"
        elif person.line_manager is None:
            reason = "has no line manager"
        else:
            reason = f"has a line manager who has left ({person.line_manager})"
        skipped_listed.append(NotAppraised(person, reason))
    return OpeningPreview(
        cycle=cycle,
        appraisals=candidates.count(),
        emailed=counts["everyone"],
        not_emailed=counts["without"],
        not_emailed_names=not_emailed,
        skipped=skipped.count(),
        skipped_listed=skipped_listed,
    )


# --- the record and the long forms ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndicatorRef:
    """An indicator known only by its id: what an autosave needs (it checks and saves, and shows no text)."""

    pk: int
    text: str = ""
    replaces_id: int | None = None


@dataclass
class IndicatorRow:
    indicator: Indicator | IndicatorRef
    rating: str = ""
    evidence: str = ""
    self_rating: str = ""
    self_evidence: str = ""
    last_rating: str = ""

    @property
    def rating_label(self) -> str:
        return RATING_LABELS.get(self.rating, "")

    @property
    def self_rating_label(self) -> str:
        return RATING_LABELS.get(self.self_rating, "")

    @property
    def last_rating_label(self) -> str:
        return RATING_LABELS.get(self.last_rating, "")


@dataclass
class LevelRow:
    number: int
    label: str
    lead: str = ""
    rule_text: str = ""
    is_rule: bool = False
    rule_status: str = ""
    indicators: list[IndicatorRow] = field(default_factory=list)


@dataclass
class CompetencyRow:
    scored: ScoredCompetency
    levels: list[LevelRow]
    last_level: int | None = None

    @property
    def derived_label(self) -> str:
        return self.scored.level_label(self.scored.derived_level)

    @property
    def final_label(self) -> str:
        return self.scored.level_label(self.scored.achieved_level)

    @property
    def self_label(self) -> str:
        return self.scored.level_label(self.scored.self_level) if self.scored.self_level is not None else ""

    @property
    def last_label(self) -> str:
        return self.scored.level_label(self.last_level)

    @property
    def indicator_count(self) -> int:
        return sum(len(level.indicators) for level in self.levels)


class MeasureItem(TypedDict):
    """A performance measure of the role profile version with the appraiser's comment on it."""

    measure: PerformanceMeasure
    comment: str
    review: MeasureReview | None  # the saved comment's row, if any (a save updates it)


@dataclass
class Sheet:
    competencies: list[CompetencyRow]
    measures: list[MeasureItem]

    @property
    def indicator_ids(self) -> list[int]:
        return [
            row.indicator.pk
            for competency in self.competencies
            for level in competency.levels
            for row in level.indicators
        ]


def appraisal_sheet(appraisal: Appraisal, *, references: bool = True) -> Sheet:
    """The appraisal's competencies, levels and indicators with their ratings, the person's previous
    completed appraisal's ratings for reference, and the performance measures with their reviews.

    Without `references` (an autosave, which only checks and saves the form): no earlier records,
    so no "last year" and no sustained-level rule's status, and no indicator texts."""
    # Ordered here, not by the models' orderings, which would join the appraisal and its cycle to each query.
    scored = list(ScoredCompetency.objects.filter(appraisal=appraisal).order_by("position"))
    # Each competency's rating rows, read in one query and kept on it for a save (see `loaded_ratings`);
    # Django's prefetching would do the same at several times the cost in Python.
    by_competency: defaultdict[int, list[IndicatorRating]] = defaultdict(list)
    for rating_row in IndicatorRating.objects.filter(scored_competency__in=scored).order_by():
        by_competency[rating_row.scored_competency_id].append(rating_row)
    for competency in scored:
        keep_ratings(competency, by_competency[competency.pk])
    indicator_ids = [i for competency in scored for level in competency.levels for i in level.get("indicators") or ()]
    indicators: dict[int, Indicator] | dict[int, IndicatorRef]
    if references:
        indicators = Indicator.objects.only("pk", "text", "replaces_id").order_by().in_bulk(indicator_ids)
    else:
        indicators = {pk: IndicatorRef(pk) for pk in indicator_ids}
    # The person's earlier completed records (for the sustained-level rules), the latest of which
    # gives "last year" beside each indicator and competency. Always read for the page, whatever the
    # role: the page's queries do not depend on it.
    earlier, earlier_achieved = earlier_levels(appraisal) if references else ([], {})
    history = records_from(earlier, earlier_achieved)
    previous_id = earlier[-1][0] if earlier else None
    last_ratings, last_levels = {}, {}
    if previous_id is not None:
        last_ratings = dict(
            IndicatorRating.objects.filter(scored_competency__appraisal_id=previous_id)
            .exclude(rating="")
            .order_by()
            .values_list("indicator_id", "rating")
        )
        last_levels = {
            competency_id: by[previous_id] for competency_id, by in earlier_achieved.items() if previous_id in by
        }
    rows = []
    for competency in scored:
        ratings = {rating.indicator_id: rating for rating in loaded_ratings(competency) or ()}
        levels = []
        for label, level in zip(WINDOW_NAMES, competency.levels, strict=False):  # a window may lack a retired level
            row = LevelRow(
                number=level["number"], label=label, lead=level.get("lead", ""), rule_text=level.get("rule_text", "")
            )
            window_level = WindowLevel.from_snapshot(level)
            if window_level.is_rule:
                row.is_rule = True
                if references:
                    row.rule_status = _rule_status(window_level, appraisal, history.get(competency.competency_id, []))
            for indicator_id in window_level.indicator_ids:
                indicator = indicators[indicator_id]
                rating = ratings.get(indicator_id)
                replaced = indicator.replaces_id  # None for an indicator that replaces none
                last = last_ratings.get(indicator_id) or (
                    last_ratings.get(replaced, "") if replaced is not None else ""
                )
                row.indicators.append(
                    IndicatorRow(
                        indicator=indicator,
                        rating=rating.rating if rating else "",
                        evidence=rating.evidence if rating else "",
                        self_rating=rating.self_rating if rating else "",
                        self_evidence=rating.self_evidence if rating else "",
                        last_rating=last,
                    )
                )
            levels.append(row)
        rows.append(
            CompetencyRow(scored=competency, levels=levels, last_level=last_levels.get(competency.competency_id))
        )
    reviews = {review.measure_id: review for review in MeasureReview.objects.filter(appraisal=appraisal).order_by()}
    measures: list[MeasureItem] = []
    for measure in PerformanceMeasure.objects.filter(version_id=appraisal.role_version_id).order_by("position"):
        review = reviews.get(measure.pk)
        measures.append({"measure": measure, "comment": review.comment if review else "", "review": review})
    return Sheet(competencies=rows, measures=measures)


def _rule_status(level: WindowLevel, appraisal: Appraisal, history: Iterable[Record]) -> str:
    """How the sustained-level rule stands, in words, from the person's completed appraisals."""
    period_end = appraisal.cycle.period_end
    sustained_level, months = level.rule
    since = held_since(sustained_level, period_end, history)
    if since == period_end:
        return (
            f"No earlier completed appraisal shows level {sustained_level} or above continuously up to this one, so "
            f"level {level.number} is reached when level {sustained_level} has been held for "
            f"{months} months."
        )
    reached = add_months(since, months) <= period_end
    return f"Completed appraisals show level {sustained_level} or above continuously since {since:%-d %B %Y}. " + (
        f"With level {sustained_level} in this appraisal, that is {months} months or more."
        if reached
        else f"Level {level.number} needs {months} months."
    )


# --- the home page ---------------------------------------------------------------------------------


def waiting_for(person: StaffMember | None) -> list[Appraisal]:
    """The appraisals on which `person` (a StaffMember or None) must act next, oldest cycle first."""
    if person is None:
        return []
    acts = Appraisal.ACTED_ON_BY
    rows = Appraisal.objects.filter(
        Q(staff_member=person, state__in=[state for state, who in acts.items() if who == "staff_member"])
        | Q(appraiser=person, state__in=[state for state, who in acts.items() if who == "appraiser"])
        | Q(referred_to=person, state=Appraisal.State.REFERRED)  # a disagreement referred to them to decide
    )
    return list(rows.select_related("cycle", "staff_member__user").order_by("cycle__due_on", "pk"))
