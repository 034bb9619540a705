"""Who may see an appraisal or a person's history, in one place: every lookup by id goes through here.

An appraisal is visible to the person appraised, their appraiser, anyone above the person in the
current line-management chain, and HR admins. To anyone else it does not exist (404). Inside that
scope, what someone may see of it and *do* to it is the `Permissions` value computed where it is
fetched (`get_appraisal_with_permissions`; the rules are in `appraisal.permissions`).
"""

from django.db.models import Q, QuerySet
from django.http import Http404

from appraisal.models import Appraisal
from appraisal.permissions import Permissions, permissions_for
from core.access import Person, is_hr_admin
from staff.access import hr_conflicts, is_hr_admin_over, staff_member_for
from staff.hierarchy import managers_above, reports_in_line
from staff.models import StaffMember


def visible_appraisals(user: Person) -> QuerySet[Appraisal]:
    """The appraisals `user` may see (a queryset)."""
    person = staff_member_for(user)
    if is_hr_admin(user):
        # Everyone's, but for the people above them; their own as its owner.
        above = hr_conflicts(user) - {person.pk} if person is not None else set()
        return Appraisal.objects.exclude(staff_member_id__in=above) if above else Appraisal.objects.all()
    if person is None:
        return Appraisal.objects.none()
    return Appraisal.objects.filter(
        Q(staff_member=person) | Q(appraiser=person) | Q(staff_member_id__in=reports_in_line(person.pk))
    )


def get_appraisal_for(user: Person, pk: int) -> Appraisal:
    """The appraisal `pk` with what its pages need, or Http404 if `user` may not see it."""
    return get_appraisal_with_permissions(user, pk)[0]


# What the record's pages show of the appraisal besides itself, read with it; and what a save needs (an autosave).
PAGE_RELATED = ("cycle", "staff_member__user", "staff_member__service", "appraiser__user", "role_version__role_profile")
SAVE_RELATED = ("cycle", "staff_member__user")


def get_appraisal_with_permissions(
    user: Person, pk: int, *, related: tuple[str, ...] = PAGE_RELATED
) -> tuple[Appraisal, Permissions]:
    """The appraisal `pk` with what its pages need (`related`), and what `user` may see of it and do
    to it (`appraisal.permissions`); Http404 if `user` may not see it.

    An HR admin on their own record has only the person's rights (see `staff.access.hr_conflicts`);
    the records of the people above them they do not see at all.
    """
    # Each table joined here costs PostgreSQL planning time on every page of the record (eleven
    # made planning take longer than the rest of the query), so the users who signed are not
    # joined: they are nearly always the person and the appraiser, already loaded.
    appraisal = (
        Appraisal.objects.select_related(*related)
        .filter(pk=pk)
        .order_by()  # one row: not the model's ordering, which joins the cycle
        .first()
    )
    if appraisal is None:
        raise Http404("No such appraisal.")
    known = {appraisal.staff_member.user_id: appraisal.staff_member.user}
    if Appraisal.appraiser.is_cached(appraisal):
        known[appraisal.appraiser.user_id] = appraisal.appraiser.user
    if appraisal.signed_off_by_id in known:
        appraisal.signed_off_by = known[appraisal.signed_off_by_id]  # else read when shown (someone else signed)
    if appraisal.countersigned_by_id in known:
        appraisal.countersigned_by = known[appraisal.countersigned_by_id]
    permissions = permissions_for(user, appraisal)
    if not permissions.may_see:
        raise Http404("No such appraisal.")
    return appraisal, permissions


def get_person_for(user: Person, pk: int) -> StaffMember:
    """The StaffMember `pk` for their history, or Http404 unless `user` is that person, above them
    in the current line-management chain, or an HR admin."""
    person: StaffMember | None = (
        StaffMember.objects.select_related("user", "service", "role_profile", "line_manager__user")
        .filter(pk=pk)
        .order_by()
        .first()
    )
    if person is None:
        raise Http404("No such person.")
    viewer = staff_member_for(user)
    own = viewer is not None and viewer.pk == person.pk
    if not (
        own or is_hr_admin_over(user, person.pk) or (viewer is not None and viewer.pk in managers_above(person.pk))
    ):
        raise Http404("No such person.")
    return person


def is_self(user: Person, person: StaffMember) -> bool:
    """Whether `person` is `user`'s own staff record."""
    viewer = staff_member_for(user)
    return viewer is not None and viewer.pk == person.pk
