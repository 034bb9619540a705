"""Records whose person disagreed with them, for HR's cycle page and report: waiting on the appraiser,
referred (to whom, since when), or completed (noted in the countersignature, or decided on referral)."""

import datetime
from dataclasses import dataclass

from django.db.models import Q
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from appraisal.models import Appraisal, AppraisalCycle, ListedDisagreement
from core.links import url_for
from staff.models import display_name

State = Appraisal.State


@dataclass(frozen=True)
class Disagreement:
    """A record whose person disagreed at sign-off, as HR's lists show it."""

    appraisal_id: int
    person: str
    appraiser: str
    state: str
    stands: str  # where it stands, in words (`where_it_stands`)


def _names(path: str) -> tuple[str, str, str]:
    return (f"{path}first_name", f"{path}last_name", f"{path}username")


def disagreements(cycle: AppraisalCycle, *, within: Q | None = None, limit: int | None = None) -> list[Disagreement]:
    """The records of `cycle` whose person recorded disagreement at sign-off (`within`: those matching it, a
    Q on `ListedDisagreement`, reaching the record through "appraisal__"), waiting ones first, then by the
    person's name (`staff.models.name_order`): the first `limit` of them, in one query.

    They are read through the index of the cycle's disagreements in this order (`appraisal.tallies` keeps
    it), which stops at the page's end, with only what the lists show of each record and its people."""
    listed = ListedDisagreement.objects.filter(cycle=cycle)
    if within is not None:
        listed = listed.filter(within)
    rows = listed.order_by("stage", "person_order", "appraisal_id").values_list(
        "appraisal_id",
        "appraisal__state",
        "appraisal__referred_at",
        "appraisal__referral_decided_at",
        *_names("appraisal__staff_member__user__"),
        *_names("appraisal__appraiser__user__"),
        *_names("appraisal__referred_to__user__"),
        *_names("appraisal__referral_decided_by__"),
    )[:limit]
    found = []
    for pk, state, referred_at, decided_at, *names in rows:
        person, appraiser, referred_to, decided_by = (display_name(*names[i : i + 3]) for i in range(0, 12, 3))
        stands = where_it_stands(
            state,
            referred_to=referred_to,
            referred_at=referred_at,
            appraiser=appraiser,
            decided_at=decided_at,
            decided_by=decided_by,
        )
        found.append(Disagreement(pk, person=person, appraiser=appraiser, state=state, stands=stands))
    return found


def where_it_stands(
    state: str,
    *,
    referred_to: str,
    referred_at: datetime.datetime | None,
    appraiser: str,
    decided_at: datetime.datetime | None,
    decided_by: str,
) -> str:
    """The disagreement's stage, in words (`referred_to` empty: referred to HR)."""
    if state == State.REFERRED:
        return f"Referred to {referred_to or 'HR'} on {referred_at:%-d %B %Y}: awaiting a decision"
    if state == State.AWAITING_COUNTERSIGN:
        return f"Awaiting {appraiser}: countersign noting it, take it back, or refer it"
    if state == State.COMPLETED and decided_at:
        return f"Completed: decided on referral by {decided_by or 'the referee'}"
    if state == State.COMPLETED:
        return "Completed: countersigned, noting the disagreement"
    return State(state).label


def rows_html(rows: list[Disagreement]) -> SafeString:
    """The table rows of `_disagreements.html`, built here (fifty rendered tag by tag in the template took
    longer than reading them): a waiting record's row is highlighted; every name is escaped."""
    record = url_for("appraisal")
    return format_html_join(
        "\n",
        '      <tr{}>\n        <th scope="row">{}</th>\n        <td>{}</td>\n        <td>{}</td>\n'
        '        <td><a href="{}">Open<span class="visually-hidden"> {}\'s record</span></a></td>\n      </tr>',
        (
            (
                SafeString(' class="table-warning"') if row.state != State.COMPLETED else "",
                row.person,
                row.appraiser,
                row.stands,
                record(row.appraisal_id),
                row.person,
            )
            for row in rows
        ),
    )
