"""Demo data: the framework and role profiles from fixtures/, a small organisation to try them with,
and its appraisal history (three completed annual cycles and the current one in progress; see
demo.appraisals).

The demo's dates move with the day it is built for (see demo.dates): the current cycle is always a
few weeks old. The day is stored with the demo (demo.models.DemoBuild), so running the command
again changes nothing: people are matched by username, cycles by name, and a cycle that already
has appraisals is left alone. `--reset` deletes everything in the database and builds the demo
again for today (or for `--today=YYYY-MM-DD`).

Every demo person signs in with the password "demo"; the leaver cannot, from the day after their
last day; the new starters (NEW_STARTERS) have no password yet, one of them invited, to show each
kind of access on the staff list. For demonstration databases only.
"""

import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from appraisal import tallies
from core.access import make_hr_admin
from demo.appraisals import seed_appraisals
from demo.dates import REFERENCE_DAY, DemoCalendar
from demo.models import DemoBuild
from roles.models import RoleProfile, RoleProfileVersion
from staff import invitations, second_factor
from staff.models import LineManagerAssignment, RoleAssignment, Service, StaffMember
from staff.records import create_staff_member

DEMO_PASSWORD = "demo"  # noqa: S105 - the demo logins' password, given in the README
# The demo hr's second factor: printed, and given in the README, for anyone to add to an authenticator app.
DEMO_HR_SECRET = "HRDE MOSE CRET KEYF ORAP PRAI SALS DEMO"  # noqa: S105 - a demo's, published on purpose

SERVICES = [
    "Supported Housing, Bristol",
    "Higher Needs Floating Support Service",
    "Housing Services",
    "Recovery Coaching, Somerset",
    "Night Support, Bristol",
]

# username, first name, last name, role profile slug (or job title), service, line manager, role since.
# The dates are written for demo.dates.REFERENCE_DAY and move with the day the demo is built for.
PEOPLE = [
    ("hr", "Helen", "Hughes", "HR Business Partner", None, None, "2018-05-01"),
    ("head", "Priya", "Shah", "Head of Services", None, None, "2016-09-01"),
    (
        "manager",
        "Morgan",
        "Ellis",
        "senior-service-coordinator-afeo",
        "Higher Needs Floating Support Service",
        "head",
        "2022-04-01",
    ),
    (
        "staff",
        "Sam",
        "Taylor",
        "support-worker-supported-housing",
        "Supported Housing, Bristol",
        "manager",
        "2021-06-14",
    ),
    (
        "aisha",
        "Aisha",
        "Begum",
        "support-worker-supported-housing",
        "Supported Housing, Bristol",
        "manager",
        "2023-03-06",
    ),
    ("tom", "Tom", "Hardy", "support-worker-supported-housing", "Supported Housing, Bristol", "manager", "2020-01-13"),
    (
        "leah",
        "Leah",
        "Morris",
        "support-worker-supported-housing",
        "Higher Needs Floating Support Service",
        "manager",
        "2024-02-19",
    ),
    (
        "owen",
        "Owen",
        "Price",
        "support-worker-supported-housing",
        "Higher Needs Floating Support Service",
        "manager",
        "2022-10-03",
    ),
    (
        "jo",
        "Jo",
        "Fletcher",
        "senior-service-coordinator-afeo",
        "Higher Needs Floating Support Service",
        "head",
        "2025-05-01",
    ),
    ("daniel", "Daniel", "Reed", "night-senior-support-worker", "Night Support, Bristol", "manager", "2019-11-04"),
    ("kemi", "Kemi", "Adeyemi", "support-worker-supported-housing", "Night Support, Bristol", "daniel", "2022-07-11"),
    ("rhys", "Rhys", "Evans", "support-worker-supported-housing", "Night Support, Bristol", "daniel", "2025-01-06"),
    ("grace", "Grace", "Okafor", "Housing Manager", "Housing Services", "head", "2017-03-01"),
    ("ben", "Ben", "Carter", "housing-worker", "Housing Services", "grace", "2024-09-16"),
    ("nadia", "Nadia", "Hussain", "housing-worker", "Housing Services", "grace", "2021-04-12"),
    ("lucy", "Lucy", "Walsh", "housing-worker", "Housing Services", "grace", "2019-08-05"),
    ("marek", "Marek", "Nowak", "housing-worker", "Housing Services", "grace", "2023-11-20"),
    (
        "chris",
        "Chris",
        "Walker",
        "Team Manager, Recovery Coaching",
        "Recovery Coaching, Somerset",
        "head",
        "2018-02-01",
    ),
    ("ellie", "Ellie", "Jones", "recovery-coach-somerset", "Recovery Coaching, Somerset", "chris", "2019-04-01"),
    ("hamza", "Hamza", "Ali", "recovery-coach-somerset", "Recovery Coaching, Somerset", "chris", "2021-09-20"),
    ("rosie", "Rosie", "Clarke", "recovery-coach-somerset", "Recovery Coaching, Somerset", "chris", "2023-01-09"),
    ("sean", "Sean", "Murphy", "recovery-coach-somerset", "Recovery Coaching, Somerset", "chris", "2024-06-03"),
    ("zara", "Zara", "Khan", "support-worker-supported-housing", "Supported Housing, Bristol", "manager", "2025-09-08"),
    ("femi", "Femi", "Oladipo", "housing-worker", "Housing Services", "grace", "2022-06-27"),
    ("holly", "Holly", "Green", "recovery-coach-somerset", "Recovery Coaching, Somerset", "chris", "2020-10-12"),
    ("amy", "Amy", "Turner", "support-worker-supported-housing", "Supported Housing, Bristol", "manager", "2020-05-18"),
]
# New starters, who joined in the last months of the current cycle's period and have no password yet (they are not demo
# logins): the staff list shows them "not invited" or "invited" (an invitation emailed to them, `INVITED`), and
# the current cycle's page lists them as not emailed, to invite.
NEW_STARTERS = [
    ("noah", "Noah", "Bennett", "support-worker-supported-housing", "Supported Housing, Bristol", "manager"),
    ("ines", "Ines", "Silva", "housing-worker", "Housing Services", "grace"),
    ("tariq", "Tariq", "Aziz", "recovery-coach-somerset", "Recovery Coaching, Somerset", "chris"),
]
INVITED = {"ines"}
STARTERS_SINCE = "2026-01-12"
# People who have left keep their records (their last working day).
LEFT_ON = {"amy": "2025-08-29"}
# When the role profiles loaded from fixtures/ were published, as written.
PUBLISHED_ON = "2022-03-01"
# A demo this many days older than today is worth rebuilding: `seed_demo` says so.
STALE_AFTER_DAYS = 45
# Roles and line managers held before the current ones (above), so that histories show a change.
EARLIER_ROLES = {
    "manager": [("support-worker-supported-housing", "2019-02-04")],
    "jo": [("support-worker-supported-housing", "2022-05-09")],
}
EARLIER_MANAGERS = {"jo": [("manager", "2022-05-09")]}


def _day(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"--today must be a date written YYYY-MM-DD, not {value!r}.") from error


class Command(BaseCommand):
    help = (
        "Load the framework and role profiles, and create a small demo organisation with its appraisal history, "
        "dated around today (every demo person's password: demo). Idempotent; --reset rebuilds it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete everything in the database, then build the demo again (for today, or --today).",
        )
        parser.add_argument("--today", type=_day, help="Build the demo for this day (YYYY-MM-DD) instead of today.")
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="With --reset: do not ask before deleting.",
        )

    def handle(self, *args, reset=False, today=None, interactive=True, **options):
        if reset:
            self._reset(interactive)
        day = self._day(today)
        calendar = DemoCalendar(day)
        call_command("load_framework", stdout=self.stdout)
        with transaction.atomic():
            created = self._create_organisation(calendar)
            if created:
                self._date_role_profiles(calendar)
            DemoBuild.objects.get_or_create(defaults={"built_for": day})
        self.stdout.write(self.style.SUCCESS(f"Demo organisation ready ({created} people created)."))
        # The workflow services email whoever acts next; nobody needs hundreds of demo emails.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"), transaction.atomic():
            self._add_new_starters(calendar)
            summary = seed_appraisals(calendar)
            tallies.rebuild()  # the demo sets some records' states and dates directly, past the services
        self.stdout.write(self.style.SUCCESS(summary.line()))
        self.stdout.write(f"The demo's dates are built around {day:%-d %B %Y}.")
        if (timezone.localdate() - day).days > STALE_AFTER_DAYS:
            self.stdout.write(
                self.style.WARNING("That is a while ago: `manage.py seed_demo --reset` rebuilds the demo for today.")
            )
        self.stdout.write(
            "Sign in as hr (HR admin), manager (line manager), staff (member of staff) or any demo person listed in "
            "the README; password: demo"
        )
        hr = get_user_model().objects.get(username="hr")
        if not second_factor.has_second_factor(hr):  # kept once someone has set up their own for hr
            second_factor.set_device(user=hr, secret_text=DEMO_HR_SECRET)
        device = second_factor.confirmed_device(hr)
        if device is not None and device.key == second_factor.key_from_secret(DEMO_HR_SECRET):
            self.stdout.write(
                "hr's HR pages need a second factor too: in an authenticator app, add an account with the "
                f"time-based key {DEMO_HR_SECRET} and give its code after the password"
            )

    def _day(self, today: datetime.date | None) -> datetime.date:
        """The day the demo is built for: the stored one if there is a demo already, else `today`."""
        built = DemoBuild.objects.first()
        if built is None and StaffMember.objects.filter(user__username=PEOPLE[0][0]).exists():
            # A demo built before its dates moved with the day: it was written for the reference day.
            built = DemoBuild.objects.create(built_for=REFERENCE_DAY)
        if built is None:
            return today or timezone.localdate()
        if today is not None and today != built.built_for:
            raise CommandError(
                f"The demo here was built for {built.built_for:%Y-%m-%d}. To build it for {today:%Y-%m-%d}, "
                f"run: manage.py seed_demo --reset --today={today:%Y-%m-%d}"
            )
        return built.built_for

    def _reset(self, interactive: bool) -> None:
        User = get_user_model()
        demo_here = DemoBuild.objects.exists() or User.objects.filter(username=PEOPLE[0][0]).exists()
        if not demo_here and User.objects.exists():
            raise CommandError(
                "This database holds no demo, and --reset deletes everything in it: it only resets a demo database."
            )
        if interactive:
            answer = input(
                "This deletes everything in the database (people, appraisals, the audit trail) and builds the demo "
                "again.\nType 'yes' to continue: "
            )
            if answer != "yes":
                raise CommandError("Reset cancelled: nothing was deleted.")
        call_command("flush", interactive=False, verbosity=0)
        self.stdout.write("Database emptied.")

    def _date_role_profiles(self, calendar: DemoCalendar) -> None:
        """The role profiles loaded from fixtures/ were published before the demo's first cycle (as written)."""
        published = timezone.make_aware(datetime.datetime.combine(calendar.date(PUBLISHED_ON), datetime.time(9)))
        loaded = RoleProfileVersion.objects.filter(number=1, published_by__isnull=True)
        loaded.filter(status=RoleProfileVersion.Status.PUBLISHED).update(published_at=published)

    def _create_organisation(self, calendar: DemoCalendar) -> int:
        User = get_user_model()
        services = {name: Service.objects.get_or_create(name=name)[0] for name in SERVICES}
        role_profiles = {profile.slug: profile for profile in RoleProfile.objects.all()}
        members, created = {}, 0
        password = None  # hashed once: a million PBKDF2 rounds per user would take seconds
        for username, first, last, role, service, _manager, since in PEOPLE:
            user, user_created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org"},
            )
            if user_created:
                password = password or make_password(DEMO_PASSWORD)
                user.password = password
                user.save(update_fields=["password"])
                created += 1
            since_date = calendar.date(since)
            profile = role_profiles.get(role)
            member, _ = StaffMember.objects.get_or_create(
                user=user,
                defaults={
                    "role_profile": profile,
                    "role_profile_since": since_date if profile else None,
                    "job_title": "" if profile else role,
                    "service": services.get(service) if service else None,
                    "left_on": calendar.date(LEFT_ON[username]) if username in LEFT_ON else None,
                },
            )
            members[username] = member
        started = {username: calendar.date(since) for username, *_, since in PEOPLE}
        for username, *_, manager, _since in PEOPLE:
            member = members[username]
            if manager and member.line_manager_id is None:
                member.line_manager = members[manager]
                member.line_manager_since = max(started[username], started[manager])
                member.full_clean()
                member.save(update_fields=["line_manager", "line_manager_since"])
        for username, member in members.items():
            self._record_history(member, members, role_profiles, username, calendar)
        make_hr_admin(members["hr"].user)
        return created

    def _add_new_starters(self, calendar: DemoCalendar) -> None:
        """The new starters, joined STARTERS_SINCE (written for the reference day): matched by username."""
        hr = StaffMember.objects.select_related("user").get(user__username="hr").user
        for username, first, last, slug, service, manager in NEW_STARTERS:
            if StaffMember.objects.filter(user__username=username).exists():
                continue
            member = create_staff_member(
                by=hr,
                first_name=first,
                last_name=last,
                email=f"{username}@example.org",
                service=Service.objects.get(name=service),
                role_profile=RoleProfile.objects.get(slug=slug),
                role_since=calendar.date(STARTERS_SINCE),
                line_manager=StaffMember.objects.get(user__username=manager),
                manager_since=calendar.date(STARTERS_SINCE),
            )
            if username in INVITED:
                invitations.invite(by=hr, member=member)

    def _record_history(self, member, members, role_profiles, username, calendar: DemoCalendar) -> None:
        """The person's role and line-manager history rows, ending with their current ones (matched, so never
        doubled)."""
        roles = [(role_profiles[slug], calendar.date(since)) for slug, since in EARLIER_ROLES.get(username, [])]
        if member.role_profile_id:
            roles.append((member.role_profile, member.role_profile_since))
        for profile, since in roles:
            RoleAssignment.objects.get_or_create(staff_member=member, role_profile=profile, since=since)
        managers = [(members[name], calendar.date(since)) for name, since in EARLIER_MANAGERS.get(username, [])]
        if member.line_manager_id:
            managers.append((member.line_manager, member.line_manager_since))
        for manager, since in managers:
            LineManagerAssignment.objects.get_or_create(staff_member=member, line_manager=manager, since=since)
