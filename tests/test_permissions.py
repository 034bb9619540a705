"""The access policy (docs/access.md) as a matrix: every URL of the project × every kind of user ×
every method the view accepts.

The URL list comes from the resolver, so a new URL that nobody describes here fails the test
`test_the_matrix_covers_every_url`. For each case the expected outcome is one of:

    o  allowed: the page (200) or the action done (a redirect, and the database changed)
    f  inside the scope but not allowed: 403
    n  outside the scope: 404 (the record's existence is not revealed)
    l  anonymous: sent to log in

Every refused POST carries a payload that the allowed user's POST shows to be valid, and leaves
the database exactly as it was. The world is built once for the module; each request runs in a
savepoint that is rolled back, so every case starts from the same records.
"""

import dataclasses
import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from appraisal.models import Appraisal
from appraisal.services import cycles, workflow
from competencies.models import Competency, Level
from core.access import make_hr_admin
from core.models import Job
from outbox.models import Email
from roles import services as role_services
from roles.models import RoleProfile
from staff import invitations, second_factor
from staff.models import Invitation, SingleSignOnIdentity, StaffMember
from tests.appraisals import complete, fresh, make_cycle, rate, reload
from tests.conftest import PASSWORD, make_person
from tests.snapshots import snapshot

USERS = ("owner", "other_staff", "manager", "other_manager", "head", "hr", "hr_below")
LOGIN_URL = reverse("login")
OWNER_ROLE = "support-worker-supported-housing"
DRAFTED_ROLE = "housing-worker"
NEW_PASSWORD = "a-long-and-unusual-phrase"

# Expectations, one letter per user in the order of USERS. `hr_below` is an HR admin whom the owner
# line-manages: on the records of the people above them an HR admin has only the person's rights, so
# the owner's appraisals and history do not exist for them, and the owner's staff record is theirs
# to read, not to change. A ninth user, `leaver` (an HR admin whose last day was yesterday, still
# holding a session), gets on every URL what an anonymous visitor gets: `Case.anonymous`.
EVERYONE = "ooooooo"
HR_ONLY = "fffffoo"
HR_OVER_OWNER = "fffffof"  # a change to the owner's staff record: HR admins, but not one below the owner
IN_LINE = "ononoon"  # the person, their managers up the line, HR; nobody else


@dataclass
class Case:
    """One URL pattern with the record it is asked about, and what each user gets per method."""

    name: str
    kwargs: Callable[["World"], dict] = lambda world: {}
    get: str | None = None  # expectations for GET; None: the view does not accept GET (405)
    post: str | None = None  # expectations for POST; None: the view does not accept POST (405)
    payload: Callable[["World", Client, str], dict] | None = (
        None  # POST data (given the world, a logged-in client and the URL)
    )
    query: str = ""
    anonymous: str = "l"
    post_changes: bool = True  # an allowed POST changes the database
    variant: str = ""
    owner_is_hr: bool = False  # asked again with the owner an HR admin: on their own record, the same answers
    setup: Callable[["World"], object] | None = None  # before the requests, after the logins; undone with the test

    @property
    def id(self) -> str:
        return self.name + (f"[{self.variant}]" if self.variant else "")


@dataclass
class World:
    users: dict = field(default_factory=dict)
    appraisals: dict = field(default_factory=dict)  # state -> the owner's appraisal in that state
    unopened_cycle: int = 0
    competency: str = ""
    retirable_competency: str = ""
    competency_level: int | None = 0
    level: int | None = 0
    draft_number: int = 0
    email: int = 0  # an email to the owner that could not be delivered
    job: int = 0  # a finished job of `hr`'s, with a file kept

    @property
    def owner(self) -> StaffMember:
        return self.users["owner"].staff_member

    def appraisal(self, state) -> int:
        return self.appraisals[state]

    def revision(self, state) -> int:
        return Appraisal.objects.get(pk=self.appraisals[state]).revision


# --- payloads -------------------------------------------------------------------------------------


class _FormScraper(HTMLParser):
    """The fields of the page's POST forms, as a browser would submit them unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._form = None
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self._form = {"action": attrs.get("action") or "", "fields": {}}
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and attrs.get("name"):
            kind = (attrs.get("type") or "text").lower()
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            self._form["fields"].setdefault(attrs["name"], []).append(
                attrs.get("value", "on" if kind == "checkbox" else "")
            )
        elif tag == "textarea" and attrs.get("name"):
            self._textarea = attrs["name"]
            self._form["fields"][self._textarea] = [""]
        elif tag == "select" and attrs.get("name"):
            self._select = {"name": attrs["name"], "first": None, "chosen": []}
        elif tag == "option" and self._select is not None:
            value = attrs.get("value", "")
            if self._select["first"] is None:
                self._select["first"] = value
            if "selected" in attrs:
                self._select["chosen"].append(value)

    def handle_data(self, data):
        if self._textarea:
            self._form["fields"][self._textarea][0] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select is not None:
            chosen = self._select["chosen"] or [self._select["first"] or ""]
            self._form["fields"][self._select["name"]] = chosen
            self._select = None
        elif tag == "form":
            self._form = None


def scraped(client: Client, page_url: str, action: str, **changes) -> dict:
    """The fields of the form on `page_url` that posts to `action`, with `changes` applied."""
    response = client.get(page_url)
    assert response.status_code == 200, (page_url, response.status_code)
    scraper = _FormScraper()
    scraper.feed(response.content.decode())
    path = urlsplit(action).path
    forms = [f for f in scraper.forms if (urlsplit(f["action"]).path or urlsplit(page_url).path) == path]
    assert forms, f"no form posting to {action} on {page_url}"
    # Of several forms posting there, the one holding the fields to change.
    chosen = max(forms, key=lambda f: len(set(f["fields"]) & set(changes)))
    data = {name: values if len(values) > 1 else values[0] for name, values in chosen["fields"].items()}
    data.pop("csrfmiddlewaretoken", None)
    data.update(changes)
    return data


def form_of(page: Callable[[World], str] | None = None, /, **changes):
    """A payload: the form as the page shows it to the allowed user (`page`, default the URL itself), changed."""

    def build(world, client, url):
        values = {k: (v(world) if callable(v) else v) for k, v in changes.items()}
        return scraped(client, page(world) if page else url, url, **values)

    return build


def autosave_of(page: Callable[[World], str], /, **changes):
    """A payload for a page's autosave: the page's own form (it posts to the page), changed."""

    def build(world, client, url):
        return scraped(client, page(world), page(world), **changes)

    return build


def fixed(**values):
    return lambda world, client, url: {k: (v(world) if callable(v) else v) for k, v in values.items()}


def reset_link_of_owner(world) -> dict:
    """The owner's password reset link (no longer good once they log in: a page either way)."""
    user = world.users["owner"]
    return {"uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": default_token_generator.make_token(user)}


def revision_of(state):
    return fixed(revision=lambda world: world.revision(state))


def changed_window() -> dict:
    """The draft's window for its first required competency moved to another valid entry level."""
    from roles.models import RoleRequirement

    requirements = RoleRequirement.objects.filter(
        version__role_profile__slug=DRAFTED_ROLE, version__status="draft"
    ).select_related("competency")
    for requirement in requirements:
        others = [entry for entry in requirement.competency.valid_entry_levels() if entry != requirement.entry_level]
        if others:
            return {f"competency_{requirement.competency_id}": str(others[0])}
    raise AssertionError("no window of the draft can move")


def staff_pk(world):
    return {"pk": world.owner.pk}


def newcomer_above_owner(world):
    """A new starter without a password (one can be invited only then), at the top of the owner's line: so
    `hr_below`, whom the owner line-manages, may not invite them (HR_OVER_OWNER)."""
    member = _newcomer()
    top = world.users["head"].staff_member.pk
    StaffMember.objects.filter(pk=top).update(line_manager=member, line_manager_since=datetime.date(2023, 1, 1))
    return {"pk": member.pk}


def _newcomer():
    """A new starter without a password, whom nobody manages (undone with the test's transaction)."""
    person = make_person("newcomer", manager=None)
    person.set_unusable_password()
    person.email = "newcomer@example.org"
    person.save(update_fields=["password", "email"])
    return person.staff_member


def newcomer_to_invite(world):
    _newcomer()
    return {}


SETUP_TOKEN = "a-token-as-the-email-would-carry-it"


def open_invitation(world):
    member = _newcomer()
    invitation = Invitation.objects.create(
        staff_member=member,
        email=member.user.email,
        expires_at=timezone.now() + datetime.timedelta(days=5),
        secret_hash=invitations.secret_hash(SETUP_TOKEN),
    )
    return {"pk": invitation.pk, "token": SETUP_TOKEN}


def open_setup_code(world):
    _, world.setup_code = invitations.print_code(by=world.users["hr"], member=_newcomer())
    return {}


def appraisal_in(state):
    return lambda world: {"pk": world.appraisal(state)}


def drafted(world):
    return {"slug": DRAFTED_ROLE}


def owner_sso_identity(world: "World") -> dict:
    """The owner's account at a single sign-on provider (made here: the URL names it)."""
    identity, _ = SingleSignOnIdentity.objects.get_or_create(
        user=world.owner.user, issuer="https://sso.example.org", defaults={"subject": "owner", "email": "o@example.org"}
    )
    return {"pk": world.owner.pk, "identity_pk": identity.pk}


S = Appraisal.State
DISAGREED = "awaiting countersign, the person disagreeing"
TODAY = datetime.date.today().isoformat()

CASES = [
    # --- logging in and out, passwords ---
    Case(
        "login",
        get=EVERYONE,
        post=EVERYONE,
        anonymous="o",
        post_changes=False,
        payload=fixed(username="owner", password=PASSWORD),
    ),
    Case("logout", post="ooooooo", anonymous="o", post_changes=False),
    # "Forgot password?": open to anyone, signed in or not, as the login page is. A request is counted
    # (and audited) whatever was typed; the link's page moves its token into the session and changes nothing.
    Case("password_reset", get=EVERYONE, post=EVERYONE, anonymous="o", payload=fixed(login="owner")),
    Case("password_reset_done", get=EVERYONE, anonymous="o"),
    Case(
        "password_reset_confirm",
        kwargs=reset_link_of_owner,
        get=EVERYONE,
        post=EVERYONE,
        anonymous="o",
        post_changes=False,
        payload=fixed(new_password1=NEW_PASSWORD, new_password2=NEW_PASSWORD),
    ),
    Case(
        "change_password",
        get=EVERYONE,
        post=EVERYONE,
        payload=fixed(old_password=PASSWORD, new_password1=NEW_PASSWORD, new_password2=NEW_PASSWORD),
    ),
    # The second factor (the matrix runs without the HR admins' requirement; tests/test_second_factor.py
    # asks again with it): nobody here has one, so verifying sends each to set one up, and making
    # recovery codes to the page that says so. A wrong first code changes only the device being set up.
    Case("second_factor", get=EVERYONE),
    Case("second_factor_enrol", get=EVERYONE, post=EVERYONE, post_changes=False, payload=fixed(code="000000")),
    Case("second_factor_verify", get=EVERYONE, post=EVERYONE, post_changes=False, payload=fixed(code="000000")),
    Case("second_factor_recovery_codes", post=EVERYONE, post_changes=False),
    # Single sign-on's two addresses exist only when it is set up (it is not here: tests/test_sso.py asks
    # them with a provider running).
    Case("sso_start", get="nnnnnnn", anonymous="n"),
    Case("sso_callback", get="nnnnnnn", anonymous="n", query="?state=x&code=y"),
    # --- home, lists open to everyone ---
    Case("home", get=EVERYONE),
    Case("appraisal_list", get=EVERYONE),
    Case("team", get=EVERYONE),
    Case("my_history", get=EVERYONE),
    Case("my_history_pdf", get=EVERYONE),
    # --- role profiles: published ones are the organisation's documents; drafts are HR's ---
    Case("role_profile_list", get=EVERYONE),
    Case("role_profile_detail", kwargs=lambda w: {"slug": OWNER_ROLE}, get=EVERYONE),
    Case("role_profile_pdf", kwargs=lambda w: {"slug": OWNER_ROLE}, get=EVERYONE),
    Case("role_profile_versions", kwargs=lambda w: {"slug": OWNER_ROLE}, get=EVERYONE),
    Case("role_profile_version", kwargs=lambda w: {"slug": OWNER_ROLE, "number": 1}, get=EVERYONE),
    Case(
        "role_profile_version",
        kwargs=lambda w: {"slug": DRAFTED_ROLE, "number": w.draft_number},
        get="nnnnnoo",
        variant="draft",
    ),
    Case("role_profile_version_pdf", kwargs=lambda w: {"slug": OWNER_ROLE, "number": 1}, get=EVERYONE),
    Case(
        "role_profile_version_pdf",
        kwargs=lambda w: {"slug": DRAFTED_ROLE, "number": w.draft_number},
        get="nnnnnoo",
        variant="draft",
    ),
    Case("role_profile_compare", kwargs=lambda w: {"slug": DRAFTED_ROLE}, query="?from=1&to=1", get=EVERYONE),
    Case(
        "role_profile_compare",
        kwargs=lambda w: {"slug": DRAFTED_ROLE},
        query="?from=1&to=2",
        get="nnnnnoo",
        variant="draft",
    ),
    Case(
        "role_profile_create",
        get=HR_ONLY,
        post=HR_ONLY,
        payload=form_of(title="Peer Support Worker", slug="peer-support-worker"),
    ),
    Case("role_profile_draft", kwargs=lambda w: {"slug": OWNER_ROLE}, get=HR_ONLY, post=HR_ONLY, payload=fixed()),
    Case("role_profile_draft", kwargs=drafted, get=HR_ONLY, post=HR_ONLY, post_changes=False, variant="draft started"),
    Case(
        "role_profile_draft_details",
        kwargs=drafted,
        get=HR_ONLY,
        post=HR_ONLY,
        payload=form_of(purpose="A changed purpose."),
    ),
    Case(
        "role_profile_draft_list",
        kwargs=lambda w: {"slug": DRAFTED_ROLE, "section": "accountabilities"},
        get=HR_ONLY,
        post=HR_ONLY,
        payload=form_of(**{"form-0-text": "A changed accountability."}),
    ),
    Case(
        "role_profile_draft_person_specification",
        kwargs=drafted,
        get=HR_ONLY,
        post=HR_ONLY,
        payload=form_of(**{"form-0-text": "A changed requirement."}),
    ),
    Case(
        "role_profile_draft_organisation",
        kwargs=drafted,
        get=HR_ONLY,
        post=HR_ONLY,
        payload=form_of(**{"form-0-heading": "A changed heading"}),
    ),
    Case(
        "role_profile_draft_windows",
        kwargs=drafted,
        get=HR_ONLY,
        post=HR_ONLY,
        payload=lambda world, client, url: scraped(client, url, url, **changed_window()),
    ),
    Case(
        "role_profile_draft_publish",
        kwargs=drafted,
        post=HR_ONLY,
        payload=fixed(note="A window moved.", document_date=TODAY, confirmed="1"),
    ),
    Case(
        "role_profile_draft_publish",
        kwargs=drafted,
        post=HR_ONLY,
        payload=fixed(note="A window moved.", document_date=TODAY),
        post_changes=False,  # not confirmed: the confirmation page, nothing changed
        variant="not confirmed",
    ),
    Case("role_profile_draft_discard", kwargs=drafted, post=HR_ONLY, payload=fixed()),
    # --- the framework: everyone reads it; HR edits it ---
    Case("framework", get=EVERYONE),
    Case("framework_matrix", get=EVERYONE),
    Case("framework_matrix_csv", get=HR_ONLY),
    Case("framework_edit", get=HR_ONLY),
    Case(
        "competency_create",
        get=HR_ONLY,
        post=HR_ONLY,
        payload=form_of(name="Digital Skills", relevance_to_recovery="Online services help recovery."),
    ),
    Case(
        "competency_edit",
        kwargs=lambda w: {"slug": w.competency},
        get=HR_ONLY,
        post=HR_ONLY,
        payload=form_of(note="A changed note."),
    ),
    Case(
        "competency_move", kwargs=lambda w: {"slug": w.competency, "direction": "down"}, post=HR_ONLY, payload=fixed()
    ),
    Case("competency_retire", kwargs=lambda w: {"slug": w.retirable_competency}, post=HR_ONLY, payload=fixed()),
    Case(
        "level_create",
        kwargs=lambda w: {"slug": w.retirable_competency},
        get=HR_ONLY,
        post=HR_ONLY,
        payload=form_of(number="2", kind="indicators", lead="A new level.", indicators="Does the new thing."),
    ),
    Case(
        "level_edit",
        kwargs=lambda w: {"slug": w.competency, "number": w.competency_level},
        get=HR_ONLY,
        post=HR_ONLY,
        payload=form_of(lead="A changed lead sentence.", save_level=""),
    ),
    Case(
        "level_edit",
        kwargs=lambda w: {"slug": w.competency, "number": w.competency_level},
        get=HR_ONLY,
        post=HR_ONLY,
        payload=form_of(**{"indicators-0-text": "A reworded indicator.", "save_indicators": ""}),
        variant="indicators",
    ),
    Case(
        "level_retire",
        kwargs=lambda w: {"slug": w.retirable_competency, "number": w.level},
        post=HR_ONLY,
        payload=fixed(),
    ),
    # --- staff records: HR's ---
    Case("staff_list", get=HR_ONLY),
    Case(
        "staff_create",
        get=HR_ONLY,
        post=HR_ONLY,
        payload=form_of(
            first_name="Alex", last_name="New", email="alex.new@example.org", job_title="Volunteer coordinator"
        ),
    ),
    Case(
        "staff_import",
        get=HR_ONLY,
        post=HR_ONLY,
        payload=fixed(
            csv_text="name,email,role_profile,line_manager,start_date\r\n"
            "Alex New,alex.new@example.org,housing-worker,,2026-01-05\r\n"
        ),
    ),
    Case("staff_import_template", get=HR_ONLY),
    Case("staff_detail", kwargs=staff_pk, get=HR_ONLY),
    Case(
        "staff_edit",
        kwargs=staff_pk,
        get=HR_OVER_OWNER,
        post=HR_OVER_OWNER,
        payload=form_of(job_title="Senior support worker", email="owner@example.org"),
    ),
    Case(
        "staff_assign_role",
        kwargs=staff_pk,
        get=HR_OVER_OWNER,
        post=HR_OVER_OWNER,
        payload=form_of(role_profile=lambda w: str(RoleProfile.objects.get(slug="housing-worker").pk), since=TODAY),
    ),
    Case(
        "staff_assign_manager",
        kwargs=staff_pk,
        get=HR_OVER_OWNER,
        post=HR_OVER_OWNER,
        payload=form_of(manager=lambda w: str(w.users["other_manager"].staff_member.pk), since=TODAY),
    ),
    Case("staff_mark_leaver", kwargs=staff_pk, get=HR_OVER_OWNER, post=HR_OVER_OWNER, payload=form_of(left_on=TODAY)),
    Case(
        "staff_set_password",
        kwargs=staff_pk,
        get=HR_OVER_OWNER,
        post=HR_OVER_OWNER,
        payload=fixed(new_password1=NEW_PASSWORD, new_password2=NEW_PASSWORD),
    ),
    Case("staff_invite", kwargs=newcomer_above_owner, post=HR_OVER_OWNER, payload=fixed()),
    Case("staff_setup_code", kwargs=newcomer_above_owner, get=HR_OVER_OWNER, post=HR_OVER_OWNER, payload=fixed()),
    Case("staff_invite_many", kwargs=newcomer_to_invite, get=HR_ONLY, post=HR_ONLY, payload=fixed(confirmed="1")),
    # --- setting up an account from an invitation: public, like logging in ---
    Case(
        "invitation_accept",
        kwargs=open_invitation,
        get=EVERYONE,
        post=EVERYONE,
        anonymous="o",
        payload=fixed(new_password1=NEW_PASSWORD, new_password2=NEW_PASSWORD),
    ),
    Case(
        "invitation_code",
        kwargs=open_setup_code,
        get=EVERYONE,
        post=EVERYONE,
        anonymous="o",
        payload=fixed(
            username="newcomer",
            code=lambda w: w.setup_code,
            new_password1=NEW_PASSWORD,
            new_password2=NEW_PASSWORD,
        ),
    ),
    Case(
        "staff_unlink_sso",
        kwargs=owner_sso_identity,
        post=HR_OVER_OWNER,
        payload=fixed(confirmed="1"),
    ),
    Case(
        "staff_reset_second_factor",
        kwargs=staff_pk,
        post=HR_OVER_OWNER,
        payload=fixed(confirmed="1"),
        setup=lambda world: second_factor.set_device(user=world.owner.user, secret_text="JBSWY3DPEHPK3PXP"),
    ),
    # --- cycles, reports and the audit trail: HR's ---
    Case("cycle_list", get=HR_ONLY),
    Case(
        "cycle_create",
        get=HR_ONLY,
        post=HR_ONLY,
        payload=form_of(
            name="Annual appraisal 2030", period_start="2027-04-01", period_end="2028-03-31", due_on="2028-06-30"
        ),
    ),
    Case("cycle_detail", kwargs=lambda w: {"pk": w.unopened_cycle}, get=HR_ONLY),
    Case("cycle_open", kwargs=lambda w: {"pk": w.unopened_cycle}, post=HR_ONLY, payload=fixed(confirmed="1")),
    Case(
        "cycle_open",
        kwargs=lambda w: {"pk": w.unopened_cycle},
        post=HR_ONLY,
        payload=fixed(),
        post_changes=False,  # not confirmed: the confirmation page, nothing changed
        variant="not confirmed",
    ),
    Case(
        "cycle_remind",
        kwargs=lambda w: {"pk": Appraisal.objects.get(pk=w.appraisal(S.AWAITING_COUNTERSIGN)).cycle_id},
        get=HR_ONLY,
        post=HR_ONLY,
        payload=fixed(),
        post_changes=False,  # the owner's record is not for `hr_below` to chase: nothing to send for them
    ),
    Case(
        "cycle_zip",
        kwargs=lambda w: {"pk": Appraisal.objects.get(pk=w.appraisal(S.COMPLETED)).cycle_id},
        post=HR_ONLY,
        payload=fixed(),
    ),
    # --- a long job and the file it made: only the HR admin who started it ---
    Case("job", kwargs=lambda w: {"pk": w.job}, get="fffffon"),
    Case("job_file", kwargs=lambda w: {"pk": w.job}, get="fffffon"),
    Case("reports", get=HR_ONLY),
    Case("outcomes_csv", get=HR_ONLY),
    Case("report_progress_by_state", get=HR_ONLY),
    Case("report_progress_by_service", get=HR_ONLY),
    Case("report_progress_by_manager", get=HR_ONLY),
    Case("report_standing", get=HR_ONLY),
    Case("report_below_entry", get=HR_ONLY),
    Case("audit_log", get=HR_ONLY),
    # --- the outbox's delivery log: HR, but an email to the people above an HR admin is not theirs to see ---
    Case("email_log", get=HR_ONLY),
    Case("email_resend", kwargs=lambda w: {"pk": w.email}, post="fffffon", payload=lambda w, c, u: {}),
    # --- a person's history: the person, up their line, HR ---
    Case("person_history", kwargs=staff_pk, get=IN_LINE),
    Case("person_history_pdf", kwargs=staff_pk, get=IN_LINE),
    # --- an appraisal: seen by the person, their line and HR; each step is one person's ---
    Case("appraisal", kwargs=appraisal_in(S.COMPLETED), get=IN_LINE),
    Case("appraisal", kwargs=appraisal_in(S.MANAGER_REVIEW), get=IN_LINE, variant="in review"),
    Case("appraisal_pdf", kwargs=appraisal_in(S.COMPLETED), get=IN_LINE),
    Case("appraisal_pdf", kwargs=appraisal_in(S.MANAGER_REVIEW), get="fnonoon", variant="not shared yet"),
    Case(
        "appraisal_self_assessment",
        kwargs=appraisal_in(S.SELF_ASSESSMENT),
        get="onfnffn",
        post="onfnffn",
        payload=form_of(self_assessment_comments="A good year, I think."),
    ),
    Case(
        "appraisal_self_assessment_autosave",
        kwargs=appraisal_in(S.SELF_ASSESSMENT),
        post="onfnffn",
        payload=autosave_of(
            lambda w: reverse("appraisal_self_assessment", args=[w.appraisal(S.SELF_ASSESSMENT)]),
            self_assessment_comments="Typed, and saved by the page.",
        ),
    ),
    Case(
        "appraisal_submit_self_assessment",
        kwargs=appraisal_in(S.SELF_ASSESSMENT),
        post="onfnffn",
        payload=fixed(confirmed="1", revision=lambda w: w.revision(S.SELF_ASSESSMENT)),
    ),
    Case(
        "appraisal_begin_review",
        kwargs=appraisal_in(S.SELF_ASSESSMENT),
        post="fnonffn",
        payload=revision_of(S.SELF_ASSESSMENT),
    ),
    Case(
        "appraisal_review",
        kwargs=appraisal_in(S.MANAGER_REVIEW),
        get="fnonffn",
        post="fnonffn",
        payload=form_of(objectives="Changed objectives."),
    ),
    Case(
        "appraisal_review_autosave",
        kwargs=appraisal_in(S.MANAGER_REVIEW),
        post="fnonffn",
        payload=autosave_of(
            lambda w: reverse("appraisal_review", args=[w.appraisal(S.MANAGER_REVIEW)]),
            objectives="Typed, and saved by the page.",
        ),
    ),
    Case(
        "appraisal_share",
        kwargs=appraisal_in(S.MANAGER_REVIEW),
        post="fnonffn",
        payload=fixed(confirmed="1", revision=lambda w: w.revision(S.MANAGER_REVIEW)),
    ),
    Case(
        "appraisal_withdraw",
        kwargs=appraisal_in(S.AWAITING_SIGN_OFF),
        post="fnonffn",
        payload=revision_of(S.AWAITING_SIGN_OFF),
    ),
    Case(
        "appraisal_sign_off",
        kwargs=appraisal_in(S.AWAITING_SIGN_OFF),
        post="onfnffn",
        payload=fixed(
            agrees="yes", comments="A fair record.", confirmed="1", revision=lambda w: w.revision(S.AWAITING_SIGN_OFF)
        ),
    ),
    Case(
        "appraisal_countersign",
        kwargs=appraisal_in(S.AWAITING_COUNTERSIGN),
        post="fnonffn",
        payload=fixed(comments="", confirmed="1", revision=lambda w: w.revision(S.AWAITING_COUNTERSIGN)),
    ),
    Case(
        "appraisal_take_back",
        kwargs=appraisal_in(S.AWAITING_COUNTERSIGN),
        post="fnonffn",
        payload=fixed(reason="To talk it through.", revision=lambda w: w.revision(S.AWAITING_COUNTERSIGN)),
    ),
    Case(
        "appraisal_refer",
        kwargs=appraisal_in(DISAGREED),
        post="fnonffn",
        payload=fixed(to="manager", note="We do not agree on a level.", revision=lambda w: w.revision(DISAGREED)),
    ),
    Case(
        "appraisal_decide_referral",
        kwargs=appraisal_in(S.REFERRED),
        post="fnfnoon",
        payload=fixed(
            outcome="complete", decision="The record stands.", confirmed="1", revision=lambda w: w.revision(S.REFERRED)
        ),
    ),
    Case("appraisal", kwargs=appraisal_in(S.REFERRED), get=IN_LINE, variant="referred"),
    Case(
        "appraisal_reopen",
        kwargs=appraisal_in(S.COMPLETED),
        get="fnfnfon",
        post="fnfnfon",
        payload=fixed(reason="Scored against the wrong role.", revision=lambda w: w.revision(S.COMPLETED)),
    ),
    Case(
        "appraisal_reassign",
        kwargs=appraisal_in(S.MANAGER_REVIEW),
        get="fnfnfon",
        post="fnfnfon",
        payload=fixed(appraiser=lambda w: str(w.users["head"].staff_member.pk), reason="Manager on leave."),
    ),
]

# An HR admin's own records: every answer to the owner must be the same when the owner is an HR
# admin (on their own record an HR admin has only the rights of the person).
OWN_RECORD_PAGES = {
    name for name in (case.name for case in CASES) if name.startswith(("appraisal", "person_history", "my_history"))
}
CASES += [
    dataclasses.replace(case, variant=", ".join(filter(None, [case.variant, "owner is an HR admin"])), owner_is_hr=True)
    for case in CASES
    if case.name in OWN_RECORD_PAGES and case.name != "appraisal_list"
]

# Who is allowed to POST each case, for building its payload: the first "o" in the expectations.
METHODS = ("GET", "POST")


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield pattern.name, prefix + str(pattern.pattern)


def all_url_names() -> set[str]:
    return {name for name, _ in _walk(get_resolver().url_patterns)}


def test_the_matrix_covers_every_url():
    """A URL added to the project without a line here fails this test."""
    unnamed = [route for name, route in _walk(get_resolver().url_patterns) if not name]
    assert not unnamed, f"URL patterns without a name: {unnamed}"
    described = {case.name for case in CASES}
    assert all_url_names() - described == set(), "URLs missing from the permission matrix"
    assert described - all_url_names() == set(), "the matrix describes URLs that no longer exist"


# --- the world ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once for the module, rolled back when it ends."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield _build_world()
        transaction.set_rollback(True)


def _build_world() -> World:
    hr = make_person("hr", role=None, hr=True)
    head = make_person("head", role=None)
    manager = make_person("manager", role="senior-service-coordinator-afeo")
    StaffMember.objects.filter(user=manager).update(
        line_manager=head.staff_member, line_manager_since=datetime.date(2023, 1, 1)
    )
    owner = make_person("owner", role=OWNER_ROLE, manager=manager)
    other_manager = make_person("other_manager", role="senior-service-coordinator-afeo")
    other_staff = make_person("other_staff", role="housing-worker", manager=other_manager)
    hr_below = make_person("hr_below", role=None, hr=True, manager=owner)  # the owner is above this HR admin
    leaver = make_person("leaver", role=None, hr=True)  # every right there is, until yesterday
    StaffMember.objects.filter(user=leaver).update(left_on=datetime.date.today() - datetime.timedelta(days=1))
    world = World(
        users={
            "owner": owner,
            "other_staff": other_staff,
            "manager": manager,
            "other_manager": other_manager,
            "head": head,
            "hr": hr,
            "hr_below": hr_below,
            "leaver": leaver,
        }
    )

    def cycle(year, *, self_assessment=False):
        opened = make_cycle(hr, year=year, self_assessment=self_assessment)
        cycles.open_cycle(by=fresh(hr), cycle=opened)
        return Appraisal.objects.get(cycle=opened, staff_member__user=owner)

    completed = complete(cycle(2024), manager=manager, staff=owner)
    countersign = rate(cycle(2025), manager)
    countersign = workflow.share(by=fresh(manager), appraisal=reload(countersign))
    countersign = workflow.sign_off(by=fresh(owner), appraisal=reload(countersign), agrees=True, comments="Fine.")
    sign_off = workflow.share(by=fresh(manager), appraisal=reload(rate(cycle(2026), manager)))
    review = rate(cycle(2027), manager)
    self_assessment = cycle(2028, self_assessment=True)
    world.appraisals = {
        S.COMPLETED: completed.pk,
        S.AWAITING_COUNTERSIGN: countersign.pk,
        S.AWAITING_SIGN_OFF: sign_off.pk,
        S.MANAGER_REVIEW: review.pk,
        S.SELF_ASSESSMENT: self_assessment.pk,
    }
    for state, pk in world.appraisals.items():
        assert Appraisal.objects.get(pk=pk).state == state
    disagreed = workflow.share(by=fresh(manager), appraisal=reload(rate(cycle(2022), manager)))
    disagreed = workflow.sign_off(by=fresh(owner), appraisal=reload(disagreed), agrees=False, comments="Too low.")
    referred = workflow.share(by=fresh(manager), appraisal=reload(rate(cycle(2023), manager)))
    referred = workflow.sign_off(by=fresh(owner), appraisal=reload(referred), agrees=False, comments="Too low.")
    referred = workflow.refer(by=fresh(manager), appraisal=reload(referred), to="manager", note="Please decide.")
    assert referred.referred_to == head.staff_member
    world.appraisals |= {DISAGREED: disagreed.pk, S.REFERRED: referred.pk}
    world.unopened_cycle = make_cycle(hr, year=2029).pk
    world.email = Email.objects.create(
        message_id="<failed@example.org>",
        from_email="appraisals@example.org",
        recipients="owner@example.org",
        subject="Your appraisal",
        raw="Subject: Your appraisal\n\nA link.\n",
        user=owner,
        status=Email.Status.FAILED,
        attempts=9,
    ).pk
    world.job = Job.objects.create(
        kind="cycle zip",
        key="a finished job",
        func="appraisal.cycle_zip.run",
        title="A ZIP",
        created_by=hr,
        state=Job.State.DONE,
        file=default_storage.save("jobs/permissions.zip", ContentFile(b"PK\x05\x06" + bytes(18))),
        expires_at=timezone.now() + datetime.timedelta(hours=1),
        result={"filename": "records.zip"},
    ).pk
    draft = role_services.start_draft(by=fresh(hr), role_profile=RoleProfile.objects.get(slug=DRAFTED_ROLE))
    world.draft_number = draft.number
    competencies = list(Competency.objects.current().order_by("position"))
    world.competency = competencies[0].slug
    world.competency_level = competencies[0].levels.order_by("number").values_list("number", flat=True).first()
    # A competency no role requires can be retired (and so can its levels).
    world.retirable_competency = role_services_free_competency(fresh(hr))
    world.level = (
        Level.objects.filter(competency__slug=world.retirable_competency)
        .order_by("number")
        .values_list("number", flat=True)
        .first()
    )
    return world


def role_services_free_competency(hr) -> str:
    """A new competency with one level, required by no role profile."""
    from competencies import services as framework

    competency = framework.create_competency(
        by=hr, name="Sector Knowledge", relevance_to_recovery="Knowing the sector.", note=""
    )
    framework.add_level(by=hr, competency=competency, number=1, indicators=["Knows the sector."])
    return competency.slug


# --- the matrix -----------------------------------------------------------------------------------


def _matrix_params():
    for case in CASES:
        for method in METHODS:
            expectations = case.get if method == "GET" else case.post
            yield pytest.param(case, method, expectations, id=f"{case.id}-{method}")


def _check(response, expected: str, *, method: str, changed: bool | None, post_changes: bool) -> str | None:
    """None if the response is what `expected` says, else what went wrong."""
    status = response.status_code
    location = response.get("Location", "")
    to_login = status == 302 and location.startswith(LOGIN_URL + "?next=")
    if expected == "l":
        return None if to_login else f"expected a login redirect, got {status} {location}"
    if expected == "f":
        return None if status == 403 else f"expected 403, got {status} {location}"
    if expected == "n":
        return None if status == 404 else f"expected 404, got {status} {location}"
    if expected == "405":
        return None if status == 405 else f"expected 405, got {status}"
    # Allowed.
    if status == 200 or (status == 302 and not to_login):
        if method == "POST" and post_changes and status == 302 and not changed:
            return "the allowed POST changed nothing: its payload is not a real change"
        if method == "POST" and post_changes and status == 200:
            if response["Content-Type"].startswith("application/json"):  # a page's script saving (autosave)
                return None if changed else "the allowed POST changed nothing: its payload is not a real change"
            return "the allowed POST was shown the form again (invalid payload?)"
        return None
    return f"expected success, got {status} {location}"


@pytest.fixture
def quick_pdfs(monkeypatch):
    """Access is decided before a PDF is drawn; the drawing itself is tested elsewhere, and is slow."""
    for module, name in (
        ("roles.pdf_views", "render_role_profile_pdf"),
        ("appraisal.views.records", "render_appraisal_pdf"),
        ("appraisal.views.history", "render_history_pdf"),
    ):
        monkeypatch.setattr(f"{module}.{name}", lambda record: b"%PDF-1.7 drawn for " + str(record).encode())


@pytest.mark.django_db
@pytest.mark.usefixtures("quick_pdfs")
@pytest.mark.parametrize("case, method, expectations", list(_matrix_params()))
def test_permission_matrix(world, case, method, expectations):
    url = reverse(case.name, kwargs=case.kwargs(world)) + case.query
    if case.owner_is_hr:
        make_hr_admin(world.owner.user)  # undone with the test's transaction
    clients = {"anonymous": Client()}
    for name in (*USERS, "leaver"):
        clients[name] = Client()
        clients[name].force_login(world.users[name])
    if case.setup:
        case.setup(world)
    if expectations is None:
        # The view does not accept this method: 405 for a user who may use the view, nothing changed.
        allowed = next((n for n, e in zip(USERS, case.get or case.post, strict=True) if e == "o"), "hr")
        before = snapshot()
        response = _request(clients[allowed], method, url, {})
        assert response.status_code == 405, f"{method} {url}: expected 405, got {response.status_code}"
        assert snapshot() == before
        return
    payload = {}
    if method == "POST":
        allowed = next(n for n, e in zip(USERS, expectations, strict=True) if e == "o")
        with transaction.atomic():
            payload = case.payload(world, clients[allowed], url) if case.payload else {}
            transaction.set_rollback(True)
    before = snapshot()
    failures = []
    for user, expected in [
        ("anonymous", case.anonymous),
        *zip(USERS, expectations, strict=True),
        ("leaver", case.anonymous),
    ]:
        with transaction.atomic():
            response = _request(clients[user], method, url, payload)
            after = snapshot() if method == "POST" else before
            changed = after != before
            problem = _check(response, expected, method=method, changed=changed, post_changes=case.post_changes)
            if problem is None and method == "POST" and expected != "o" and changed:
                problem = "a refused POST changed the database"
            if problem:
                failures.append(f"{user}: {problem}")
            transaction.set_rollback(True)
    assert not failures, f"{method} {url}:\n" + "\n".join(failures)


def _request(client: Client, method: str, url: str, payload: dict):
    if method == "GET":
        return client.get(url)
    return client.post(url, payload)
