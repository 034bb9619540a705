"""Records whose person disagreed with them, for HR's cycle page and report: waiting on the appraiser,
referred (to whom, since when), or completed (noted in the countersignature, or decided on referral)."""

from dataclasses import dataclass

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from appraisal.models import Appraisal

State = Appraisal.State
# Waiting first: a referral, then a countersignature; completed ones last.
_ORDER = Case(
    When(state=State.REFERRED, then=Value(0)),
    When(state=State.AWAITING_COUNTERSIGN, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def disagreements(appraisals: QuerySet[Appraisal]) -> QuerySet[Appraisal]:
    """Of `appraisals`, those whose person recorded disagreement at sign-off, waiting ones first."""
    return (
        appraisals.filter(Q(staff_agrees=False))
        .select_related("staff_member__user", "appraiser__user", "referred_to__user", "referral_decided_by")
        .order_by(_ORDER, "staff_member__user__last_name", "staff_member__user__first_name", "pk")
    )


def where_it_stands(appraisal: Appraisal) -> str:
    """The disagreement's stage, in words."""
    if appraisal.state == State.REFERRED:
        return f"Referred to {appraisal.referred_to or 'HR'} on {appraisal.referred_at:%-d %B %Y}: awaiting a decision"
    if appraisal.state == State.AWAITING_COUNTERSIGN:
        return f"Awaiting {appraisal.appraiser}: countersign noting it, take it back, or refer it"
    if appraisal.state == State.COMPLETED and appraisal.referral_decided_at:
        decided_by = appraisal.referral_decided_by
        name = decided_by.get_full_name() or decided_by.username if decided_by else "the referee"
        return f"Completed: decided on referral by {name}"
    if appraisal.state == State.COMPLETED:
        return "Completed: countersigned, noting the disagreement"
    return appraisal.get_state_display()


@dataclass(frozen=True)
class Disagreement:
    appraisal: Appraisal
    stands: str  # `where_it_stands`


def listed(appraisals) -> list[Disagreement]:
    """`disagreements` (or a slice of them) as rows for `_disagreements.html`."""
    return [Disagreement(appraisal, where_it_stands(appraisal)) for appraisal in appraisals]
