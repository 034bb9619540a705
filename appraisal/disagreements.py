"""Records whose person disagreed with them, for HR's cycle page and report: waiting on the appraiser,
referred (to whom, since when), or completed (noted in the countersignature, or decided on referral)."""

from dataclasses import dataclass

from django.db.models import Case, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When

from appraisal.models import Appraisal
from staff.models import StaffMember

State = Appraisal.State
# Waiting first: a referral, then a countersignature; completed ones last.
_ORDER = Case(
    When(state=State.REFERRED, then=Value(0)),
    When(state=State.AWAITING_COUNTERSIGN, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def _person_s(field: str) -> Subquery:
    """The appraised person's `field` of their login, read record by record (a sort key)."""
    return Subquery(StaffMember.objects.filter(pk=OuterRef("staff_member_id")).order_by().values(f"user__{field}")[:1])


def disagreements(appraisals: QuerySet[Appraisal], *, limit: int | None = None) -> list[Appraisal]:
    """Of `appraisals`, those whose person recorded disagreement at sign-off, waiting ones first, then by
    the person's name (the first `limit` of them), with their people and logins: two queries (one if none).

    The records are chosen first, by their sort keys alone, through the index of disagreements; only those
    are then read with their people. In one query, PostgreSQL read every staff record and login of the
    organisation (tens of thousands at 20,000 staff) to order a few hundred disagreements."""
    page = list(
        appraisals.filter(Q(staff_agrees=False))
        .annotate(_last=_person_s("last_name"), _first=_person_s("first_name"))
        .order_by(_ORDER, "_last", "_first", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    records = Appraisal.objects.select_related(
        "staff_member__user", "appraiser__user", "referred_to__user", "referral_decided_by"
    ).in_bulk(page)
    return [records[pk] for pk in page]


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
