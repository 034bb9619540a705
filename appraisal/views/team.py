"""/team/: a line manager's reports, their appraisals in a cycle and where they stand."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_safe

from appraisal.team import DIRECT, LINE, team_overview
from staff.access import staff_member_for


@login_required
@require_safe
def team(request):
    person = staff_member_for(request.user)
    if person is None:
        return render(request, "appraisal/team.html", {"team": None})
    scope = LINE if request.GET.get("scope") == LINE else DIRECT
    try:
        cycle_id = int(request.GET["cycle"]) if request.GET.get("cycle") else None
    except ValueError:
        cycle_id = -1  # not a cycle: the page says so and shows the latest
    # A long line is shown a page at a time: a page that does not exist shows the nearest (Paginator.get_page).
    team = team_overview(person, scope=scope, cycle_id=cycle_id, page=request.GET.get("page"))
    unknown_cycle = cycle_id is not None and (team.cycle is None or team.cycle.pk != cycle_id)
    # The page links keep what is shown: the scope, and the cycle if one was chosen.
    chosen = {"cycle": team.cycle.pk} if cycle_id is not None and not unknown_cycle and team.cycle else {}
    return render(
        request,
        "appraisal/team.html",
        {
            "team": team,
            "viewer": person,
            "unknown_cycle": unknown_cycle,
            "page_query": urlencode({"scope": scope, **chosen}),
        },
    )
