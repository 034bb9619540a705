"""Text people type is shown as text everywhere: on every page, in every PDF and CSV download.

One world holds every kind of record: the framework edited, a role profile edited and published
with a new draft open, staff records, two cycles, and appraisals taken through self-assessment,
review (evidence, overrides, measures, objectives, plan, comments), sharing, taking back, sign-off
and countersignature, one of them reopened. Then every free-text field of the framework, the role
profiles, the staff records and the appraisals holds markup of its own (found from the models, so
a field added later is covered too), and every page that shows those records is read as HR, the
line manager and the person: the markup must come back escaped, never as markup.
"""

import csv
import datetime
import io
import re
import unicodedata
from dataclasses import dataclass
from typing import cast

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models.functions import Cast, Concat
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from appraisal.models import Appraisal, AppraisalCycle
from appraisal.selectors import appraisal_sheet
from appraisal.services import cycles, scoring, workflow
from competencies import services as framework
from competencies.models import Competency, Level
from roles import services as role_profiles
from roles.models import RoleProfile
from staff import invitations, records as staff_records
from staff.models import SingleSignOnIdentity, StaffMember
from tests.appraisals import fresh, make_cycle, reload
from tests.conftest import make_person

pytestmark = pytest.mark.django_db

ROLE = "support-worker-supported-housing"  # edited, published as version 2, with version 3 open as a draft
PROMOTED_TO = "senior-service-coordinator-afeo"
MEETING = datetime.date(2026, 4, 15)

# Fields that hold codes, states or identifiers rather than words people type.
NOT_FREE_TEXT = {
    "username",
    "password",
    "state",
    "status",
    "action",
    "from_state",
    "to_state",
    "object_type",
    "object_id",
    "path",
    "secret_hash",  # a keyed hash of an invitation's token or code, never shown
    "identifier",  # what was typed to ask for a password reset, counted for throttling, never shown
    "subject",  # a single sign-on provider's identifier of a person (SingleSignOnIdentity), never shown
    # A name's place in the report's lists (`staff.models.name_order`), kept beside their rows for ordering,
    # never shown (the names shown are read from the logins).
    "appraiser_order",
    "person_order",
}
USER_FIELDS = ("first_name", "last_name", "email")
ROW_DIGITS = 12  # room left in a field for " #<row id>"


def payload(marker: str) -> str:
    return f'<script>{marker}</script><b>{marker}</b>" onx="{marker}'


# What people type through the app's own forms and services; it reaches the audit trail's changes
# and the window each appraisal copies, which no single model field holds.
TYPED = payload("xss0")


@dataclass(frozen=True)
class Field:
    """A free-text field of a model, with a payload of its own: markup that names the field."""

    model: type[models.Model]
    name: str
    max_length: int | None
    number: int

    @property
    def label(self) -> str:
        return f"{self.model.__name__}.{self.name}"

    @property
    def marker(self) -> str:
        return f"xss{self.number}"

    @property
    def prefix(self) -> str:
        """The payload, shortened to fit the field with the row id after it (each row's text differs)."""
        m = self.marker
        for text in (payload(m) + " #", f"<script>{m}</script><b>{m}</b> #", f"<script>{m}</script> #"):
            if self.max_length is None or len(text) + ROW_DIGITS <= self.max_length:
                return text
        raise AssertionError(f"{self.label} is too short for a payload")

    @property
    def escaped(self) -> str:
        return f"&lt;script&gt;{self.marker}&lt;/script&gt;"

    @property
    def literal(self) -> list[str]:
        """What a PDF must print: the markup as characters."""
        tags = [f"<script>{self.marker}</script>"]
        if "<b>" in self.prefix:
            tags.append(f"<b>{self.marker}</b>")
        return tags


def free_text_fields() -> list[Field]:
    """Every CharField and TextField people fill in: not slugs, not choices, not codes or states."""
    found = []
    for label in ("audit", "competencies", "roles", "staff", "appraisal"):
        for model in apps.get_app_config(label).get_models():
            for field in model._meta.concrete_fields:
                if (
                    isinstance(field, (models.CharField, models.TextField))
                    and not isinstance(field, models.SlugField)
                    and not field.choices
                    and field.name not in NOT_FREE_TEXT
                ):
                    found.append((model, field))
    user = get_user_model()
    found += [(user, cast(models.CharField, user._meta.get_field(name))) for name in USER_FIELDS]
    return [Field(model, field.name, field.max_length, number) for number, (model, field) in enumerate(found, start=1)]


FIELDS = free_text_fields()
BY_LABEL = {field.label: field for field in FIELDS}
LABELS = {field.marker: field.label for field in FIELDS} | {"xss0": "text typed through the app"}


def put_payloads() -> None:
    """Every row of every free-text field: the field's payload and the row's id (unique, and fits)."""
    for field in FIELDS:
        value = Concat(
            models.Value(field.prefix), Cast("pk", output_field=models.CharField()), output_field=models.TextField()
        )
        field.model._default_manager.update(**{field.name: value})


# --- the world ------------------------------------------------------------------------------------


@dataclass
class World:
    hr: object
    manager: object
    staff: object
    colleague: object
    starter: StaffMember
    cycle_2025: AppraisalCycle
    cycle_2026: AppraisalCycle
    completed: (
        Appraisal  # staff, 2025: self-assessed, reviewed, shared, taken back, signed off (disagreeing), countersigned
    )
    reopened: Appraisal  # colleague, 2025: completed, then reopened by HR: the manager is scoring it again
    self_assessing: Appraisal  # staff, 2026: their self-assessment saved, not yet sent
    reassigned: Appraisal  # colleague, 2026: given to another appraiser, with a reason
    competency: Competency
    decided: Appraisal  # disputer, 2025: signed off disagreeing, referred to HR, completed by HR's decision


def review(appraisal, manager) -> Appraisal:
    """Every indicator rated with evidence, the first competency overridden with a reason, every
    measure commented, objectives, plan, comments and the meeting date saved."""
    appraisal = reload(appraisal)
    sheet = appraisal_sheet(appraisal)
    ratings = {
        row.indicator.pk: ("consistently", TYPED)
        for c in sheet.competencies
        for level in c.levels
        for row in level.indicators
    }
    first = sheet.competencies[0].scored  # overridden to below entry: the reports list it
    return scoring.save_review(
        by=fresh(manager), appraisal=appraisal, revision=appraisal.revision, ratings=ratings,
        overrides={first.competency_id: (first.entry_level - 1, TYPED)},
        measures={item["measure"].pk: TYPED for item in sheet.measures},
        meeting_date=MEETING, objectives=TYPED, development_plan=TYPED, manager_comments=TYPED,
    )  # fmt: skip


def self_assess(appraisal, person, *, send: bool) -> Appraisal:
    appraisal = reload(appraisal)
    sheet = appraisal_sheet(appraisal)
    ratings = {
        row.indicator.pk: ("partly", TYPED)
        for c in sheet.competencies
        for level in c.levels
        for row in level.indicators
    }
    appraisal = scoring.save_self_assessment(
        by=fresh(person), appraisal=appraisal, revision=appraisal.revision, ratings=ratings, comments=TYPED
    )
    return workflow.submit_self_assessment(by=fresh(person), appraisal=reload(appraisal)) if send else appraisal


def complete(appraisal, *, manager, person, referred_to_hr=None) -> Appraisal:
    """Walked to completion, the person disagreeing: countersigned, or referred to HR (`referred_to_hr`:
    the HR admin who decides)."""
    self_assess(appraisal, person, send=True)
    review(appraisal, manager)
    workflow.share(by=fresh(manager), appraisal=reload(appraisal))
    workflow.withdraw(by=fresh(manager), appraisal=reload(appraisal), reason=TYPED)
    workflow.share(by=fresh(manager), appraisal=reload(appraisal))
    workflow.sign_off(by=fresh(person), appraisal=reload(appraisal), agrees=False, comments=TYPED)
    if referred_to_hr is None:
        return workflow.countersign(by=fresh(manager), appraisal=reload(appraisal), comments=TYPED)
    workflow.refer(by=fresh(manager), appraisal=reload(appraisal), to="hr", note=TYPED)
    return workflow.decide_referral(
        by=fresh(referred_to_hr), appraisal=reload(appraisal), outcome="complete", decision=TYPED
    )


def edit_framework(hr) -> Competency:
    by = fresh(hr)
    competency = cast(Competency, Competency.objects.current().order_by("position").first())
    framework.update_competency(by=by, competency=competency, relevance_to_recovery=TYPED, note=TYPED)
    level = cast(Level, competency.levels.filter(retired_at=None, sustained_level=None).order_by("number").first())
    framework.update_level(by=by, level=level, lead=TYPED)
    indicators = list(level.indicators.current().order_by("position"))
    framework.update_indicators(
        by=by,
        level=level,
        items=[{"id": i.pk, "text": TYPED if n == 0 else i.text, "retire": False} for n, i in enumerate(indicators)],
    )
    return competency


def edit_role_profile(hr) -> None:
    """Edit every section of a draft and publish it as version 2; then open a draft of version 3."""
    by = fresh(hr)
    profile = RoleProfile.objects.get(slug=ROLE)
    draft = role_profiles.start_draft(by=by, role_profile=profile)
    role_profiles.update_details(by=by, version=draft, purpose=TYPED, introduction=TYPED, context=TYPED, peers=TYPED)
    for section in ("accountabilities", "performance_measures", "discrepancies"):
        texts = list(getattr(draft, section).values_list("text", flat=True))
        role_profiles.replace_text_list(by=by, version=draft, section=section, texts=[TYPED, *texts])
    role_profiles.replace_person_specification(
        by=by,
        version=draft,
        items=[{"category": TYPED, "essential": True, "text": TYPED}]
        + [
            {"category": i.category, "essential": i.essential, "text": i.text} for i in draft.person_specification.all()
        ],
    )
    role_profiles.replace_organisation_sections(
        by=by, version=draft, sections=[{"heading": TYPED, "items": [TYPED], "text": TYPED}]
    )
    role_profiles.publish(by=by, version=draft, note="A window moved.", document_date=datetime.date(2024, 6, 1))
    draft = role_profiles.start_draft(by=by, role_profile=profile)
    role_profiles.update_details(by=by, version=draft, purpose=TYPED + " (version 3)")


def build_world() -> World:
    hr = make_person("hr", role=None, hr=True, service="Head Office")
    manager = make_person("manager", role="senior-service-coordinator-afeo", service="Head Office")
    staff = make_person("staff", manager=manager, service="Supported Housing, Bristol")
    colleague = make_person("colleague", role="housing-worker", manager=manager, service="Supported Housing, Bristol")
    disputer = make_person("disputer", manager=manager, service="Supported Housing, Bristol")
    by = fresh(hr)
    starter = staff_records.create_staff_member(
        by=by, first_name=TYPED, last_name=TYPED, email="starter@example.org", job_title=TYPED,
        role_profile=RoleProfile.objects.get(slug=ROLE), role_since=datetime.date(2025, 1, 6),
    )  # fmt: skip
    invitations.invite(by=by, member=starter)  # the record lists the invitation, with its address
    # The starter has no line manager, so each cycle lists them as not appraised.
    staff_records.update_staff_details(
        by=by, member=staff.staff_member, first_name=TYPED, last_name=TYPED, email="staff@example.org",
        service=staff.staff_member.service, job_title=TYPED,
    )  # fmt: skip
    # The staff record shows the account at the single sign-on provider it is linked to.
    SingleSignOnIdentity.objects.create(
        user=staff, issuer="https://sso.example.org", subject="1", email="s@example.org"
    )
    competency = edit_framework(hr)
    edit_role_profile(hr)
    put_payloads()  # before the cycles open, so that each appraisal's copy of its window holds them too

    cycle_2025 = make_cycle(hr, year=2025, self_assessment=True)
    cycles.open_cycle(by=fresh(hr), cycle=cycle_2025)
    completed = complete(
        Appraisal.objects.get(cycle=cycle_2025, staff_member__user=staff), manager=manager, person=staff
    )
    reopened = complete(
        Appraisal.objects.get(cycle=cycle_2025, staff_member__user=colleague), manager=manager, person=colleague
    )
    workflow.reopen(by=fresh(hr), appraisal=reload(reopened), reason=TYPED)
    decided = complete(
        Appraisal.objects.get(cycle=cycle_2025, staff_member__user=disputer),
        manager=manager,
        person=disputer,
        referred_to_hr=hr,
    )
    staff_records.assign_role_profile(
        by=fresh(hr), member=StaffMember.objects.get(user=staff),
        role_profile=RoleProfile.objects.get(slug=PROMOTED_TO), since=datetime.date(2025, 5, 1),
    )  # fmt: skip

    cycle_2026 = make_cycle(hr, year=2026, self_assessment=True)
    cycles.open_cycle(by=fresh(hr), cycle=cycle_2026)
    self_assessing = self_assess(Appraisal.objects.get(cycle=cycle_2026, staff_member__user=staff), staff, send=False)
    reassigned = Appraisal.objects.get(cycle=cycle_2026, staff_member__user=colleague)
    workflow.reassign_appraiser(
        by=fresh(hr), appraisal=reassigned, appraiser=StaffMember.objects.get(user=hr), reason=TYPED
    )

    put_payloads()
    return World(
        hr=fresh(hr), manager=fresh(manager), staff=fresh(staff), colleague=fresh(colleague), starter=starter,
        cycle_2025=cycle_2025, cycle_2026=cycle_2026, completed=reload(completed), reopened=reload(reopened),
        self_assessing=reload(self_assessing), reassigned=reload(reassigned), competency=competency,
        decided=reload(decided),
    )  # fmt: skip


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once for the module (a few seconds), rolled back when the module ends."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


# --- reading the pages ----------------------------------------------------------------------------

UNESCAPED = re.compile(r'<script>(xss\d+)|<b>(xss\d+)|onx="(xss\d+)')


def unescaped(text: str) -> list[str]:
    """Each payload that came back as markup: the field it names, and what surrounds it."""
    found = []
    for match in UNESCAPED.finditer(text):
        marker = next(group for group in match.groups() if group)
        found.append(f"{LABELS.get(marker, marker)}: …{text[max(0, match.start() - 40) : match.end() + 20]}…")
    return found


def get(world, viewer: str, url: str):
    client = Client()
    client.force_login(getattr(world, viewer))
    response = client.get(url)
    assert response.status_code == 200, (viewer, url, response.status_code)
    return response


def squash(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def pdf_text(response) -> str:
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF-")
    return squash("".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages))


# What typed text reaches besides the fields: the audit trail's record of each change (a JSON field).
AUDIT_CHANGES = "AuditEntry.changes"
ESCAPED = {field.label: field.escaped for field in FIELDS} | {AUDIT_CHANGES: "&lt;script&gt;xss0&lt;/script&gt;"}

NAMES = {"User.first_name", "User.last_name"}
RECORD = NAMES | {
    "Indicator.text", "RoleProfileVersion.title", "PerformanceMeasure.text", "AppraisalCycle.name",
    "Appraisal.self_assessment_comments", "Appraisal.objectives", "Appraisal.development_plan",
    "Appraisal.manager_comments", "ScoredCompetency.name", "ScoredCompetency.override_reason",
    "IndicatorRating.evidence", "IndicatorRating.self_evidence", "MeasureReview.comment", "AppraisalEvent.comment",
}  # fmt: skip
SIGNATURES = {"Appraisal.staff_comments", "Appraisal.countersign_comments"}
REFERRAL = {"Appraisal.staff_comments", "Appraisal.referral_note", "Appraisal.referral_decision"}
SCORING = (RECORD - {"Appraisal.self_assessment_comments", "AppraisalEvent.comment"}) | {"Level.lead"}
SELF_ASSESSMENT = NAMES | {
    "Level.lead", "Level.rule_text", "Indicator.text", "RoleProfileVersion.title", "AppraisalCycle.name",
    "Appraisal.self_assessment_comments", "ScoredCompetency.name", "IndicatorRating.self_evidence",
}  # fmt: skip
HISTORY = NAMES | {
    "Competency.name",
    "Level.lead",
    "Level.rule_text",
    "Indicator.text",
    "RoleProfileVersion.title",
    "AppraisalCycle.name",
    "Service.name",
}
DETAILS = {
    "RoleProfileVersion.title", "RoleProfileVersion.service", "RoleProfileVersion.location",
    "RoleProfileVersion.introduction", "RoleProfileVersion.purpose", "RoleProfileVersion.context",
    "RoleProfileVersion.supervisor", "RoleProfileVersion.peers", "RoleProfileVersion.direct_reports",
}  # fmt: skip
ORGANISATION = {"OrganisationSection.heading", "OrganisationSection.items", "OrganisationSection.text"}
SPECIFICATION = {"PersonSpecificationItem.text", "PersonSpecificationItem.category"}
WINDOWS = {"Competency.name", "Competency.relevance_to_recovery", "Competency.note", "Level.lead", "Indicator.text"}
DOCUMENT = DETAILS | ORGANISATION | SPECIFICATION | WINDOWS | {"Accountability.text", "PerformanceMeasure.text"}
FOR_HR = {"RoleProfileVersion.source_document", "SourceDiscrepancy.text"}
CHANGES = (
    DETAILS
    | ORGANISATION
    | SPECIFICATION
    | {"Accountability.text", "PerformanceMeasure.text", "SourceDiscrepancy.text"}
)
STAFF = NAMES | {"StaffMember.job_title", "RoleProfileVersion.title"}


def arguments(world, key: str | None) -> list:
    """A page's URL arguments, named in the tables below: an appraisal or cycle of the world,
    "member:<user>" (their staff record), "role[/…]" (the edited role profile, then more), the
    edited "competency" or its first "level" with indicators."""
    if key is None:
        return []
    if key.startswith("member:"):
        return [StaffMember.objects.get(user=getattr(world, key.removeprefix("member:"))).pk]
    if key == "role" or key.startswith("role/"):
        return [ROLE, *(int(part) if part.isdigit() else part for part in key.split("/")[1:])]
    if key == "competency":
        return [world.competency.slug]
    if key == "level":
        level = world.competency.levels.filter(retired_at=None, sustained_level=None).order_by("number").first()
        return [world.competency.slug, level.number]
    return [getattr(world, key).pk]


# (viewer, URL name, its arguments (see `arguments`), query string, the fields the page shows)
PAGES = [
    ("hr", "home", None, "", NAMES | {"StaffMember.job_title", "Service.name"}),
    ("manager", "home", None, "", NAMES | {"RoleProfileVersion.title", "AppraisalCycle.name", "Service.name"}),
    ("staff", "home", None, "", NAMES | {"RoleProfileVersion.title", "AppraisalCycle.name", "Service.name"}),
    ("hr", "appraisal_list", None, "", NAMES | {"AppraisalCycle.name"}),
    ("manager", "appraisal_list", None, "", NAMES | {"AppraisalCycle.name"}),
    ("staff", "appraisal_list", None, "", NAMES | {"AppraisalCycle.name"}),
    ("hr", "appraisal", "completed", "", RECORD | SIGNATURES),
    ("manager", "appraisal", "completed", "", RECORD | SIGNATURES),
    ("staff", "appraisal", "completed", "", RECORD | SIGNATURES),
    ("hr", "appraisal", "reopened", "", RECORD),
    ("hr", "appraisal", "decided", "", RECORD | REFERRAL),
    ("manager", "appraisal", "decided", "", RECORD | REFERRAL),
    ("manager", "appraisal", "reopened", "", RECORD),
    ("manager", "appraisal_review", "reopened", "", SCORING),
    ("staff", "appraisal", "self_assessing", "", (SELF_ASSESSMENT - {"Level.lead"}) | {"AppraisalEvent.comment"}),
    ("staff", "appraisal_self_assessment", "self_assessing", "", SELF_ASSESSMENT),
    ("hr", "appraisal_reopen", "completed", "", NAMES | {"AppraisalCycle.name"}),
    ("hr", "appraisal_reassign", "reassigned", "", NAMES | {"AppraisalCycle.name"}),
    ("hr", "cycle_list", None, "", {"AppraisalCycle.name"}),
    ("hr", "cycle_detail", "cycle_2025", "", STAFF | {"AppraisalCycle.name"}),
    ("hr", "cycle_detail", "cycle_2026", "", STAFF | {"AppraisalCycle.name"}),
    ("manager", "team", None, "", NAMES | {"Competency.name", "RoleProfileVersion.title", "AppraisalCycle.name"}),
    (
        "manager",
        "team",
        None,
        "?cycle={cycle_2025}",
        NAMES | {"Competency.name", "RoleProfileVersion.title", "AppraisalCycle.name"},
    ),
    ("staff", "my_history", None, "", HISTORY),
    ("manager", "person_history", "member:staff", "", HISTORY),
    ("hr", "person_history", "member:staff", "", HISTORY),
    ("hr", "staff_list", None, "", STAFF | {"Service.name"}),
    (
        "hr",
        "staff_detail",
        "member:staff",
        "",
        STAFF
        | {"Service.name", "User.email", "Competency.name", "Indicator.text", AUDIT_CHANGES}
        | {"SingleSignOnIdentity.email", "SingleSignOnIdentity.issuer"},
    ),
    ("hr", "staff_detail", "starter", "", STAFF | {"User.email", "Invitation.email", AUDIT_CHANGES}),
    ("hr", "staff_edit", "member:staff", "", STAFF | {"Service.name", "User.email"}),
    (
        "staff",
        "role_profile_list",
        None,
        "",
        {"RoleProfileVersion.title", "RoleProfileVersion.service", "RoleProfileVersion.location"},
    ),
    (
        "hr",
        "role_profile_list",
        None,
        "",
        {"RoleProfileVersion.title", "RoleProfileVersion.service", "RoleProfileVersion.location"},
    ),
    ("staff", "role_profile_detail", "role", "", DOCUMENT),
    ("hr", "role_profile_detail", "role", "", DOCUMENT | FOR_HR),
    ("staff", "role_profile_version", "role/1", "", DOCUMENT - ORGANISATION),
    ("hr", "role_profile_version", "role/3", "", DOCUMENT | FOR_HR),
    (
        "staff",
        "role_profile_versions",
        "role",
        "",
        NAMES | {"RoleProfileVersion.title", "RoleProfileVersion.change_note"},
    ),
    ("staff", "role_profile_compare", "role", "?from=1&to=2", CHANGES | {"RoleProfileVersion.change_note"}),
    ("hr", "role_profile_compare", "role", "?from=2&to=3", CHANGES),
    ("hr", "role_profile_draft", "role", "", DOCUMENT | FOR_HR),
    ("hr", "role_profile_draft_details", "role", "", DETAILS),
    ("hr", "role_profile_draft_person_specification", "role", "", SPECIFICATION),
    ("hr", "role_profile_draft_organisation", "role", "", ORGANISATION),
    ("hr", "role_profile_draft_windows", "role", "", {"Competency.name", "Level.lead", "Indicator.text"}),
    ("hr", "role_profile_draft_list", "role/accountabilities", "", {"Accountability.text"}),
    ("hr", "role_profile_draft_list", "role/performance-measures", "", {"PerformanceMeasure.text"}),
    ("hr", "role_profile_draft_list", "role/notes", "", {"SourceDiscrepancy.text"}),
    ("staff", "framework", None, "", WINDOWS | {"Competency.sources", "Level.rule_text", "RoleProfileVersion.title"}),
    ("staff", "framework_matrix", None, "", {"Competency.name", "RoleProfileVersion.title"}),
    ("hr", "framework_edit", None, "", {"Competency.name"}),
    (
        "hr",
        "competency_edit",
        "competency",
        "",
        {"Competency.name", "Competency.relevance_to_recovery", "Competency.note"},
    ),
    ("hr", "level_edit", "level", "", {"Competency.name", "Level.lead", "Indicator.text"}),
    ("hr", "reports", None, "", NAMES | {"Service.name", "RoleProfileVersion.title", "AppraisalCycle.name"}),
    (
        "hr",
        "reports",
        None,
        "?cycle={cycle_2025}",
        NAMES | {"Competency.name", "Service.name", "RoleProfileVersion.title", "AppraisalCycle.name"},
    ),
    ("hr", "audit_log", None, "", NAMES | {"AuditEntry.object_repr", AUDIT_CHANGES}),
    (
        "hr",
        "audit_log",
        None,
        "?object_type=appraisal",
        NAMES | {"AuditEntry.object_repr", AUDIT_CHANGES, "Indicator.text", "Competency.name"},
    ),
    ("hr", "audit_log", None, "?object_type=role+profile", NAMES | {"AuditEntry.object_repr", AUDIT_CHANGES}),
]

# (viewer, URL name, its arguments, the fields the PDF prints)
PDFS = [
    ("staff", "appraisal_pdf", "completed", RECORD | SIGNATURES | {"Level.lead", "Service.name"}),
    ("staff", "role_profile_pdf", "role", DOCUMENT),
    ("hr", "role_profile_version_pdf", "role/3", DOCUMENT),
    ("staff", "my_history_pdf", None, HISTORY),
    ("manager", "person_history_pdf", "member:staff", HISTORY),
]

# (URL name, query string, the fields in its rows)
CSVS = [
    ("framework_matrix_csv", "", {"RoleProfileVersion.title", "Competency.name"}),
    ("outcomes_csv", "", NAMES | {"RoleProfileVersion.title", "AppraisalCycle.name", "ScoredCompetency.name"}),
    ("report_progress_by_state", "", {"AppraisalCycle.name"}),
    ("report_progress_by_service", "", {"AppraisalCycle.name", "Service.name"}),
    ("report_progress_by_manager", "", NAMES | {"AppraisalCycle.name"}),
    ("report_standing", "?cycle={cycle_2025}", {"AppraisalCycle.name", "RoleProfileVersion.title", "Competency.name"}),
    (
        "report_below_entry",
        "?cycle={cycle_2025}",
        NAMES | {"AppraisalCycle.name", "Service.name", "RoleProfileVersion.title"},
    ),
]


def page_url(world, name, args, query="") -> str:
    return reverse(name, args=arguments(world, args)) + query.format(cycle_2025=world.cycle_2025.pk)


def page_id(spec) -> str:
    viewer, name, args, *rest = spec
    query = rest[0] if len(rest) == 2 else ""
    return f"{viewer}:{name}" + (f"({args})" if args else "") + query


# --- the tests ------------------------------------------------------------------------------------


def test_the_free_text_fields_are_found_from_the_models():
    labels = {field.label for field in FIELDS}
    assert len(labels) == len(FIELDS) >= 40
    assert {
        "Appraisal.objectives", "IndicatorRating.evidence", "RoleProfileVersion.purpose", "Indicator.text",
        "StaffMember.job_title", "Competency.name", "Level.lead", "Service.name", "AppraisalCycle.name",
        "AppraisalEvent.comment", "MeasureReview.comment", "ScoredCompetency.override_reason",
        "OrganisationSection.items", "AuditEntry.object_repr", "User.first_name", "User.email",
    } <= labels  # fmt: skip
    codes = {
        "RoleProfileVersion.status",
        "Appraisal.state",
        "IndicatorRating.rating",
        "AppraisalEvent.action",
        "AuditEntry.object_type",
        "User.username",
    }
    assert not codes & labels
    assert not any(label.endswith(".slug") for label in labels)


def test_every_free_text_field_holds_its_payload(world):
    empty = [
        field.label
        for field in FIELDS
        if not field.model.objects.filter(**{f"{field.name}__startswith": field.prefix}).exists()
    ]
    assert empty == []
    for field in FIELDS:
        stray = field.model.objects.exclude(**{f"{field.name}__startswith": field.prefix})
        assert not stray.exists(), f"{field.label}: rows without the payload"


def test_every_free_text_field_is_checked_on_some_page():
    shown = set().union(*(spec[-1] for spec in PAGES))
    assert {field.label for field in FIELDS} - shown == set()
    printed = set().union(*(spec[-1] for spec in PDFS))
    assert {
        "Appraisal.objectives",
        "IndicatorRating.evidence",
        "RoleProfileVersion.purpose",
        "Indicator.text",
        "AppraisalCycle.name",
    } <= printed


@pytest.mark.parametrize("viewer, name, args, query, expected", PAGES, ids=[page_id(spec) for spec in PAGES])
def test_a_page_shows_what_people_typed_as_text(world, viewer, name, args, query, expected):
    response = get(world, viewer, page_url(world, name, args, query))
    assert response["Content-Type"] == "text/html; charset=utf-8"
    text = response.content.decode()
    assert unescaped(text) == []
    missing = sorted(label for label in expected if ESCAPED[label] not in text)
    assert missing == [], f"escaped text of {missing} not on the page"


@pytest.mark.parametrize("viewer, name, args, expected", PDFS, ids=[page_id(spec) for spec in PDFS])
def test_a_pdf_prints_what_people_typed_as_text(world, viewer, name, args, expected):
    text = pdf_text(get(world, viewer, page_url(world, name, args)))
    missing = sorted(
        {label for label in expected for literal in BY_LABEL[label].literal if squash(literal) not in text}
    )
    assert missing == [], f"{missing} not printed as text"
    # Every payload is printed whole: no <b> became bold and no <script> vanished.
    assert len(re.findall(r"<b>xss\d+</b>", text)) == len(re.findall(r"<script>xss\d+</script>", text)) > len(expected)


@pytest.mark.parametrize("name, query, expected", CSVS, ids=[spec[0] for spec in CSVS])
def test_a_csv_download_is_text_csv_with_the_text_as_typed(world, name, query, expected):
    response = get(world, "hr", page_url(world, name, None, query))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"  # browsers never read it as a page
    assert response["Content-Disposition"].startswith("attachment;")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    cells = [cell for row in csv.reader(io.StringIO(body.decode())) for cell in row]
    assert len(cells) > 10
    missing = sorted(label for label in expected if not any(BY_LABEL[label].prefix in cell for cell in cells))
    assert missing == [], f"{missing} not in the CSV as typed"
    assert not any("&lt;" in cell or "&quot;" in cell for cell in cells)  # data, not HTML


REFLECTED = payload("xss999")


@pytest.mark.parametrize(
    "viewer, name, params, echoed",
    [
        (
            "hr",
            "audit_log",
            {"person": REFLECTED, "object_type": REFLECTED, "object_id": REFLECTED, "action": REFLECTED},
            True,
        ),
        ("hr", "staff_list", {"service": REFLECTED, "role_profile": REFLECTED, "status": REFLECTED}, False),
        ("hr", "reports", {"cycle": REFLECTED, "service": REFLECTED, "role": REFLECTED}, False),
        ("hr", "report_standing", {"cycle": REFLECTED}, False),
        ("manager", "team", {"cycle": REFLECTED, "scope": REFLECTED}, False),
        ("staff", "role_profile_compare", {"from": REFLECTED, "to": REFLECTED}, False),
        (None, "login", {"next": REFLECTED}, True),
    ],
    ids=["audit_log", "staff_list", "reports", "report_standing_csv", "team", "compare", "login"],
)
def test_what_is_typed_into_an_address_comes_back_escaped(world, viewer, name, params, echoed):
    client = Client()
    if viewer:
        client.force_login(getattr(world, viewer))
    response = client.get(reverse(name, args=[ROLE] if name == "role_profile_compare" else None), params)
    text = response.content.decode()
    assert unescaped(text) == []
    if echoed:
        assert "&lt;script&gt;xss999&lt;/script&gt;" in text
    if response["Content-Type"].startswith("text/html"):
        assert response.status_code in (200, 404)  # the page, or no such versions to compare
    else:  # a CSV download's filters that do not validate: the errors as plain text
        assert response.status_code == 400 and response["Content-Type"] == "text/plain; charset=utf-8"


def csv_line(*cells) -> str:
    line = io.StringIO()
    csv.writer(line).writerow(cells)
    return line.getvalue()


UPLOADS = {
    "rows": (
        "name,email,role_profile,line_manager,start_date\n" + csv_line(*(payload(f"xss90{n}") for n in range(1, 6))),
        5,
    ),
    "header": (csv_line(payload("xss901"), "email"), 1),
}


@pytest.mark.parametrize("upload, cells", UPLOADS.values(), ids=UPLOADS)
def test_a_staff_import_preview_shows_the_files_cells_as_text(world, upload, cells):
    client = Client()
    client.force_login(world.hr)
    file = io.BytesIO(upload.encode())
    file.name = "staff.csv"
    response = client.post(reverse("staff_import"), {"file": file})
    assert response.status_code == 200
    text = response.content.decode()
    assert unescaped(text) == []
    missing = [f"xss90{n}" for n in range(1, cells + 1) if f"&lt;script&gt;xss90{n}&lt;/script&gt;" not in text]
    assert missing == []
