from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from competencies.models import HIGHEST_LEVEL, LOWEST_LEVEL
from competencies.selectors import framework_competencies
from competencies.windows import window_levels
from core.access import hr_admin_required
from core.text import SpreadsheetSafeWriter
from roles.selectors import matrix


@login_required
@require_safe
def framework(request):
    competencies, rows = matrix(framework_competencies().filter(retired_at__isnull=True))
    # Which role profiles use each level of each competency, and as which column of their window.
    used_by: dict[tuple[int, int], list[dict[str, str]]] = {}
    for row in rows:
        for requirement in filter(None, row["cells"]):
            for label, number in window_levels(requirement.entry_level):
                used_by.setdefault((requirement.competency_id, number), []).append(
                    {"title": row["version"].title, "slug": row["version"].role_profile.slug, "label": label}
                )
    ladders = []
    for competency in competencies:
        levels = {level.number: level for level in competency.levels.all() if level.retired_at is None}
        ladders.append(
            {
                "competency": competency,
                "rungs": [
                    {"number": n, "level": levels.get(n), "used_by": used_by.get((competency.pk, n), [])}
                    for n in range(LOWEST_LEVEL, HIGHEST_LEVEL + 1)
                ],
            }
        )
    return render(request, "competencies/framework.html", {"ladders": ladders})


@login_required
@require_safe
def framework_matrix(request):
    competencies, rows = matrix()
    return render(request, "competencies/matrix.html", {"competencies": competencies, "rows": rows})


@hr_admin_required
@require_safe
def framework_matrix_csv(request):
    competencies, rows = matrix()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="framework-matrix.csv"'
    writer = SpreadsheetSafeWriter(response)
    writer.writerow(["role_profile", "competency", "entry_level", "desired_level", "exceptional_level"])
    for row in rows:
        for requirement in filter(None, row["cells"]):
            writer.writerow(
                [
                    row["version"].title,
                    requirement.competency.name,
                    requirement.entry_level,
                    requirement.desired_level,
                    requirement.exceptional_level,
                ]
            )
    return response
