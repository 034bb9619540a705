"""A long job's page, which refreshes itself until the job ends, and the file it made (core/jobs.py).

A job is seen only by the HR admin who started it: every job so far is HR's work, and what it made
(a cycle's records) is left out or put in for them in particular. Anyone else gets a 404.
"""

from django.http import FileResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from core.access import hr_admin_required
from core.jobs import file_is_kept
from core.models import Job

REFRESH_SECONDS = 2


def _job(request, pk: int) -> Job:
    return get_object_or_404(Job, pk=pk, created_by=request.user)


@hr_admin_required
@require_safe
def job_detail(request, pk):
    job = _job(request, pk)
    refresh = not job.is_finished and "still" not in request.GET
    return render(
        request,
        "core/job.html",
        {
            "job": job,
            "refresh": REFRESH_SECONDS if refresh else None,
            "still": "still" in request.GET,
            "file_is_kept": file_is_kept(job),
        },
    )


@hr_admin_required
@require_safe
def job_file(request, pk):
    job = _job(request, pk)
    if not file_is_kept(job):
        return render(request, "core/job_file_gone.html", {"job": job}, status=404)
    filename = job.result.get("filename") or job.file.name.rsplit("/", 1)[-1]
    response = FileResponse(job.file.open("rb"), as_attachment=True, filename=filename)
    response["Cache-Control"] = "private, no-store"
    return response
