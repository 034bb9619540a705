"""Periodic work of the appraisal side, run by the schedule in settings.SCHEDULE (see core/tasks.py)."""

from importlib import import_module

from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from appraisal import drafts
from staff import login, password_reset


def clear_expired() -> dict[str, int]:
    """Remove expired login sessions, expired kept form input, and failed logins and password reset requests
    too old to count."""
    sessions = Session.objects.filter(expire_date__lt=timezone.now()).count()
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
    return {
        "sessions": sessions,
        "kept input": drafts.clear_expired(),
        "failed logins": login.clear_old_failures(),
        "password reset requests": password_reset.clear_old_requests(),
    }
