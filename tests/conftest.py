import datetime
import io
import shutil

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command

from core.access import make_hr_admin
from roles.models import RoleProfile
from staff.models import Service, StaffMember
from tests.sso_provider import SSO_CALLBACK, Provider


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache: ids repeat between tests, so a page cached in one test
    could otherwise be served in the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def emails_through_the_outbox(settings, monkeypatch):
    """Emails take their production path, into the outbox and out through a task, which here runs at once
    in this process when its transaction commits; they are delivered to Django's test outbox
    (`mail.outbox`). So do long jobs (core/jobs.py: opening a cycle, an import), so that a page that
    starts one shows it done when the test captures the commit's callbacks (`run_on_commit`), and
    queues it otherwise. Other tasks (a completed record's PDF, say) are queued for the engine as in
    production, and run when a test calls `core.tasks.run_due`. tests/test_outbox.py runs the engine as
    workers do for emails too, and delivers to a real SMTP server."""
    from core import tasks

    settings.EMAIL_BACKEND = "outbox.backends.OutboxBackend"
    settings.OUTBOX_DELIVERY_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    queue = tasks.enqueue

    def emails_at_once(kind, func, *ids, **options):
        if (func.startswith("outbox.delivery.") or func == "core.jobs.run") and not options:
            tasks.run(kind, func, list(ids))
        else:
            queue(kind, func, *ids, **options)

    monkeypatch.setattr(tasks, "enqueue", emails_at_once)


@pytest.fixture(scope="session", autouse=True)
def collected_static_files():
    """The static files collected once for the run into STATIC_ROOT (a temporary folder, see
    tests/settings.py), as production does before it starts: hashed names, their manifest and
    compressed copies. With DEBUG off, a template's {% static %} fails without the manifest."""
    call_command("collectstatic", "--no-input", verbosity=0)
    yield
    shutil.rmtree(settings.STATIC_ROOT, ignore_errors=True)


PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Every test database holds the organisation's framework and role profiles, as in production."""
    with django_db_blocker.unblock():
        call_command("load_framework", verbosity=0, stdout=io.StringIO())


@pytest.fixture
def framework_loaded(transactional_db):
    """For transactional tests: the framework and role profiles, loaded again if need be.

    A transactional test empties every table when it ends, after its own fixtures' teardown, so
    the framework cannot be put back afterwards; the next transactional test loads it first.
    (pytest-django runs transactional tests after all the others.)
    """
    call_command("load_framework", verbosity=0, stdout=io.StringIO())


def make_person(username, *, role="support-worker-supported-housing", manager=None, hr=False, service=None):
    user = get_user_model().objects.create_user(
        username=username, password=PASSWORD, first_name=username.replace("_", " ").title(), last_name="Example"
    )
    profile = RoleProfile.objects.get(slug=role) if role else None
    member = StaffMember.objects.create(
        user=user,
        role_profile=profile,
        role_profile_since=datetime.date(2022, 4, 1) if profile else None,
        line_manager=manager.staff_member if manager else None,
        line_manager_since=datetime.date(2023, 1, 1) if manager else None,
        service=Service.objects.get_or_create(name=service)[0] if service else None,
        job_title="" if profile else "HR Business Partner",
    )
    if hr:
        make_hr_admin(user)
    assert member.pk
    return user


@pytest.fixture
def hr(db):
    return make_person("hr", role=None, hr=True)


@pytest.fixture
def manager(db):
    return make_person("manager", role="senior-service-coordinator-afeo")


@pytest.fixture
def staff(manager):
    return make_person("staff", manager=manager, service="Supported Housing, Bristol")


@pytest.fixture
def other_manager(db):
    return make_person("other_manager", role="senior-service-coordinator-afeo")


@pytest.fixture
def other_staff(other_manager):
    return make_person("other_staff", role="housing-worker", manager=other_manager)


@pytest.fixture(scope="session")
def oidc_provider():
    """A real OpenID Connect provider (tests/sso_provider.py) for the whole run, its client allowed
    SSO_CALLBACK. Its people persist from test to test: each test sets up those it signs in with
    (`set_user`), under usernames of its own where the details differ."""
    with Provider([SSO_CALLBACK]) as provider:
        yield provider


def pytest_report_header(config):
    from django.conf import settings

    database = settings.DATABASES["default"]
    return f"database: {database['ENGINE'].rsplit('.', 1)[-1]} {database.get('HOST') or ''}".rstrip()
