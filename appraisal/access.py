"""Who may see an appraisal, in one place.

An appraisal is visible to the person appraised, their appraiser, anyone above the person in the
current line-management chain, and HR admins. To anyone else it does not exist (404). Inside that
scope, what someone may *do* depends on who they are and the record's state; the services refuse
the rest (403). The person appraised sees the manager's scores only once the record is shared.
"""

from django.db.models import Q
from django.http import Http404

from appraisal.models import Appraisal
from core.access import is_hr_admin
from staff.access import hr_conflicts, is_hr_admin_over, staff_member_for
from staff.hierarchy import managers_above, reports_in_line


def visible_appraisals(user):
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


def get_appraisal_for(user, pk: int) -> Appraisal:
    """The appraisal `pk` with what its pages need, or Http404 if `user` may not see it.

    Sets `viewer_is_owner`, `viewer_is_appraiser`, `viewer_is_hr` and `viewer_is_above` on it.
    `viewer_is_hr` is False for an HR admin on their own record (see `staff.access.hr_conflicts`);
    the records of the people above them they do not see at all.
    """
    # Each table joined here costs PostgreSQL planning time on every page of the record (eleven
    # made planning take longer than the rest of the query), so the users who signed are not
    # joined: they are nearly always the person and the appraiser, already loaded.
    appraisal = (
        Appraisal.objects.select_related(
            "cycle", "staff_member__user", "staff_member__service", "appraiser__user", "role_version__role_profile"
        )
        .filter(pk=pk)
        .order_by()  # one row: not the model's ordering, which joins the cycle
        .first()
    )
    if appraisal is None:
        raise Http404("No such appraisal.")
    known = {appraisal.staff_member.user_id: appraisal.staff_member.user, appraisal.appraiser.user_id: appraisal.appraiser.user}
    for name in ("signed_off_by", "countersigned_by"):
        user_id = getattr(appraisal, f"{name}_id")
        if user_id in known:
            setattr(appraisal, name, known[user_id])  # else read when shown (someone else signed)
    person = staff_member_for(user)
    appraisal.viewer_is_hr = is_hr_admin_over(user, appraisal.staff_member_id)
    appraisal.viewer_is_owner = person is not None and person.pk == appraisal.staff_member_id
    appraisal.viewer_is_appraiser = person is not None and person.pk == appraisal.appraiser_id
    appraisal.viewer_is_above = (
        person is not None
        and not appraisal.viewer_is_owner
        and not appraisal.viewer_is_appraiser
        and person.pk in managers_above(appraisal.staff_member_id)
    )
    if not (appraisal.viewer_is_hr or appraisal.viewer_is_owner or appraisal.viewer_is_appraiser or appraisal.viewer_is_above):
        raise Http404("No such appraisal.")
    return appraisal


def may_see_scores(appraisal: Appraisal) -> bool:
    """Whether the viewer of an appraisal from `get_appraisal_for` may read the manager's scores."""
    return appraisal.viewer_is_hr or appraisal.viewer_is_appraiser or appraisal.viewer_is_above or appraisal.is_shared


def get_person_for(user, pk: int):
    """The StaffMember `pk` for their history, or Http404 unless `user` is that person, above them
    in the current line-management chain, or an HR admin. Sets `viewer_is_self` on it."""
    from staff.models import StaffMember

    person = StaffMember.objects.select_related("user", "service", "role_profile", "line_manager__user").filter(pk=pk).order_by().first()
    if person is None:
        raise Http404("No such person.")
    viewer = staff_member_for(user)
    person.viewer_is_self = viewer is not None and viewer.pk == person.pk
    if not (person.viewer_is_self or is_hr_admin_over(user, person.pk) or (viewer is not None and viewer.pk in managers_above(person.pk))):
        raise Http404("No such person.")
    return person
