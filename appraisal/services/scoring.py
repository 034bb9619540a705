"""Saving the self-assessment and the appraiser's review: ratings and evidence per indicator,
overrides per competency, comments per performance measure and the record's other fields; each save
re-derives every competency's level (`appraisal.rules.derive_level`). Drafts: the state does not change.
"""

import datetime
from collections import defaultdict
from typing import TypeVar

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from appraisal.models import (
    RATING_LABELS,
    Appraisal,
    IndicatorRating,
    MeasureReview,
    ScoredCompetency,
    loaded_ratings,
)
from appraisal.permissions import STEPS, Action, Permissions, permissions_of
from appraisal.rules import WindowLevel, derive_level
from appraisal.selectors import earlier_records
from appraisal.services.revisions import Changes, advance, audit, scored_competencies
from audit import trail
from competencies.models import Indicator
from core.dates import meeting_date_problem
from core.text import normalise_text

State = Appraisal.State

Row = TypeVar("Row", IndicatorRating, ScoredCompetency)

# {performance measure id: (its text, the appraisal's saved comment row or None)}
MeasureRows = dict[int, tuple[str, MeasureReview | None]]


def save_self_assessment(
    *,
    by: User,
    appraisal: Appraisal,
    revision: int,
    ratings: dict[int, tuple[str, str]],
    comments: str,
    permissions: Permissions | None = None,
    autosave: bool = False,
    scored: list[ScoredCompetency] | None = None,
) -> Appraisal:
    """Save the staff member's own ratings ({indicator id: (rating, evidence)}) and comments (`autosave`:
    saved by the page as they type, audited once a sitting)."""
    permissions_of(by, appraisal, given=permissions).require_party(Action.SELF_ASSESS)
    with transaction.atomic():
        previous = advance(
            appraisal,
            by=by,
            expect=STEPS[Action.SELF_ASSESS].states,
            revision=revision,
            values={"self_assessment_comments": normalise_text(comments)},
        )
        scored = scored if scored is not None else scored_competencies(appraisal)
        changes, rows = _save_ratings(scored, ratings, rating_field="self_rating", evidence_field="self_evidence")
        if previous["self_assessment_comments"] != appraisal.self_assessment_comments:
            changes["Comments on the year"] = [previous["self_assessment_comments"], appraisal.self_assessment_comments]
        changes.update(rederive(appraisal, scored, rows=rows))
        audit(appraisal, by, "save self-assessment", changes, autosave=autosave)
    return appraisal


def save_review(
    *,
    by: User,
    appraisal: Appraisal,
    revision: int,
    ratings: dict[int, tuple[str, str]],
    overrides: dict[int, tuple[int | None, str]],
    measures: dict[int, str],
    meeting_date: datetime.date | None,
    objectives: str,
    development_plan: str,
    manager_comments: str,
    permissions: Permissions | None = None,
    autosave: bool = False,
    scored: list[ScoredCompetency] | None = None,
    measure_rows: MeasureRows | None = None,
) -> Appraisal:
    """Save the appraiser's draft: ratings and evidence per indicator ({indicator id: (rating, evidence)}),
    overrides per competency ({competency id: (level or None, reason)}), a comment per performance
    measure ({measure id: comment}) and the record's other fields (`autosave`: saved by the page as
    they type, audited once a sitting). `scored` and `measure_rows` are the rows the caller's form was
    checked against (else read); the revision check makes sure they were current."""
    permissions_of(by, appraisal, given=permissions).require_party(Action.SCORE)
    if (problem := meeting_date_problem(meeting_date, period_start=appraisal.cycle.period_start)) is not None:
        raise ValidationError({"meeting_date": problem})
    values = {
        "meeting_date": meeting_date,
        "objectives": normalise_text(objectives),
        "development_plan": normalise_text(development_plan),
        "manager_comments": normalise_text(manager_comments),
    }
    with transaction.atomic():
        previous = advance(appraisal, by=by, expect=STEPS[Action.SCORE].states, revision=revision, values=values)
        changes = trail.field_changes(previous, values)
        scored = scored if scored is not None else scored_competencies(appraisal)
        saved, rows = _save_ratings(scored, ratings, rating_field="rating", evidence_field="evidence")
        changes.update(saved)
        changes.update(_save_overrides(scored, overrides))
        changes.update(_save_measure_reviews(appraisal, measures, rows=measure_rows))
        changes.update(rederive(appraisal, scored, rows=rows))
        audit(appraisal, by, "save review", changes, autosave=autosave)
    return appraisal


def _save_ratings(
    scored: list[ScoredCompetency], ratings: dict[int, tuple[str, str]], *, rating_field: str, evidence_field: str
) -> tuple[Changes, list[IndicatorRating]]:
    """Write the given indicators' ratings and evidence; indicators outside the appraisal are refused.
    Returns the changes, and every rating row of the appraisal as it now is."""
    owner = {}
    for competency in scored:
        for level in competency.levels:
            for indicator_id in level.get("indicators") or ():
                owner[indicator_id] = (competency, level["number"])
    unknown = set(ratings) - set(owner)
    if unknown:
        raise ValidationError(f"These indicators are not part of this appraisal: {sorted(unknown)}.")
    for rating, _evidence in ratings.values():
        if rating and rating not in RATING_LABELS:
            raise ValidationError(f"“{rating}” is not a rating.")
    existing = {row.indicator_id: row for row in _rating_rows(scored)}
    prefix = "self-" if rating_field == "self_rating" else ""  # how the audit trail names the field
    changed, to_create, to_update = [], [], []
    for indicator_id, (rating, evidence) in ratings.items():
        evidence = normalise_text(evidence)
        row = existing.get(indicator_id)
        before = (getattr(row, rating_field), getattr(row, evidence_field)) if row else ("", "")
        if before == (rating, evidence):
            continue
        changed.append((indicator_id, before, rating, evidence))
        if row is None:
            row = IndicatorRating(scored_competency=owner[indicator_id][0], indicator_id=indicator_id)
            to_create.append(row)
        else:
            to_update.append(row)
        setattr(row, rating_field, rating)
        setattr(row, evidence_field, evidence)
    IndicatorRating.objects.bulk_create(to_create)
    _update(IndicatorRating, to_update, [rating_field, evidence_field])
    for row in to_create:
        if (kept := loaded_ratings(row.scored_competency)) is not None:
            kept.append(row)  # the competency's rows as they now are
    # One audit entry for the whole save: each changed indicator, named by competency, level and words.
    texts = (
        dict(Indicator.objects.filter(pk__in=[item[0] for item in changed]).order_by().values_list("pk", "text"))
        if changed
        else {}
    )
    changes = {}
    for indicator_id, before, rating, evidence in changed:
        competency, number = owner[indicator_id]
        words = texts.get(indicator_id, "")
        quoted = words[:60] + ("…" if len(words) > 60 else "")
        key = f"{competency.name}, level {number}, indicator {indicator_id} ({quoted})"
        if before[0] != rating:
            changes[f"{key}: {prefix}rating"] = [
                RATING_LABELS.get(before[0], "Not rated"),
                RATING_LABELS.get(rating, "Not rated"),
            ]
        if before[1] != evidence:
            changes[f"{key}: {prefix}evidence"] = [before[1], evidence]
    return changes, [*existing.values(), *to_create]


def _update(model: type[Row], rows: list[Row], fields: list[str]) -> None:
    """Write `fields` of `rows`: `bulk_update`, or for one row (an autosave after one click, the usual
    case) a plain UPDATE, which Django builds at a fraction of the cost."""
    if len(rows) == 1:
        model.objects.filter(pk=rows[0].pk).update(**{name: getattr(rows[0], name) for name in fields})
    elif rows:
        model.objects.bulk_update(rows, fields)


def _rating_rows(scored: list[ScoredCompetency]) -> list[IndicatorRating]:
    """The rating rows of these competencies: those the caller loaded with them (`keep_ratings`), else read."""
    loaded = [loaded_ratings(row) for row in scored]
    if scored and all(rows is not None for rows in loaded):
        return [rating for rows in loaded for rating in rows or ()]
    return list(IndicatorRating.objects.filter(scored_competency__in=scored).order_by())


def _save_overrides(scored: list[ScoredCompetency], overrides: dict[int, tuple[int | None, str]]) -> Changes:
    changes = {}
    rows = {row.competency_id: row for row in scored}
    errors = {}
    for competency_id, (level, reason) in overrides.items():
        row = rows.get(competency_id)
        if row is None:
            raise ValidationError(f"Competency {competency_id} is not part of this appraisal.")
        reason = normalise_text(reason)
        if level is not None and not row.entry_level - 1 <= level <= row.exceptional_level:
            errors[f"override-{competency_id}"] = f"Choose a level from below entry to {row.exceptional_level}."
        elif level is not None and not reason:
            errors[f"reason-{competency_id}"] = "Give the reason for overriding the derived level."
        if level is None:
            reason = ""  # no override, so no reason to keep
        if (row.override_level, row.override_reason) != (level, reason):
            changes[f"{row.name}: override level"] = [
                _override_label(row, row.override_level),
                _override_label(row, level),
            ]
            if row.override_reason != reason:
                changes[f"{row.name}: override reason"] = [row.override_reason, reason]
            row.override_level, row.override_reason = level, reason
            row.save(update_fields=["override_level", "override_reason"])
    if errors:
        raise ValidationError(errors)
    return changes


def _override_label(row: ScoredCompetency, level: int | None) -> str:
    return "No override (the derived level)" if level is None else row.level_label(level)


def _save_measure_reviews(appraisal: Appraisal, measures: dict[int, str], *, rows: MeasureRows | None) -> Changes:
    if rows is None:
        reviews = {review.measure_id: review for review in MeasureReview.objects.filter(appraisal=appraisal)}
        rows = {
            pk: (text, reviews.get(pk))
            for pk, text in appraisal.role_version.performance_measures.values_list("pk", "text")
        }
    valid = {pk: text for pk, (text, _review) in rows.items()}
    unknown = set(measures) - set(valid)
    if unknown:
        raise ValidationError(
            f"These performance measures are not part of this role profile version: {sorted(unknown)}."
        )
    existing = {pk: review for pk, (_text, review) in rows.items() if review is not None}
    changes, to_create, to_update = {}, [], []
    for measure_id, comment in measures.items():
        comment = normalise_text(comment)
        review = existing.get(measure_id)
        before = review.comment if review else ""
        if before == comment:
            continue
        changes[f"Performance measure: {valid[measure_id][:60]}"] = [before, comment]
        if review is None:
            to_create.append(MeasureReview(appraisal=appraisal, measure_id=measure_id, comment=comment))
        else:
            review.comment = comment
            to_update.append(review)
    MeasureReview.objects.bulk_create(to_create)
    MeasureReview.objects.bulk_update(to_update, ["comment"])
    return changes


def rederive(
    appraisal: Appraisal, scored: list[ScoredCompetency], *, rows: list[IndicatorRating] | None = None
) -> Changes:
    """Recompute each competency's derived level (manager's and self-assessed) from the saved ratings
    (`rows`: every rating row of the appraisal as just saved; else read)."""
    saved = defaultdict(list)
    for row in IndicatorRating.objects.filter(scored_competency__in=scored).order_by() if rows is None else rows:
        saved[row.scored_competency_id].append(row)
    windows = {row.pk: [WindowLevel.from_snapshot(level) for level in row.levels] for row in scored}
    # The person's earlier records matter only to a sustained-level rule (two queries saved without one).
    has_rule = any(level.is_rule for levels in windows.values() for level in levels)
    history = earlier_records(appraisal) if has_rule else {}
    period_end = appraisal.cycle.period_end
    changes, changed = {}, []
    for competency in scored:
        levels = windows[competency.pk]
        ratings = {row.indicator_id: row.rating for row in saved[competency.pk]}
        self_ratings = {row.indicator_id: row.self_rating for row in saved[competency.pk]}
        records = history.get(competency.competency_id, [])
        derived = derive_level(levels, ratings, period_end=period_end, history=records)
        self_level = derive_level(levels, self_ratings, period_end=period_end, history=records)
        if (derived, self_level) != (competency.derived_level, competency.self_level):
            if derived != competency.derived_level:
                changes[f"{competency.name}: derived level"] = [
                    competency.level_label(competency.derived_level),
                    competency.level_label(derived),
                ]
            if self_level != competency.self_level:
                changes[f"{competency.name}: self-assessed level"] = [
                    competency.level_label(competency.self_level),
                    competency.level_label(self_level),
                ]
            competency.derived_level, competency.self_level = derived, self_level
            changed.append(competency)
    _update(ScoredCompetency, changed, ["derived_level", "self_level"])
    return changes
