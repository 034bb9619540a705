"""HR admins edit role profiles through drafts; published versions never change."""

import datetime
import io
import itertools
import re
from html.parser import HTMLParser

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from audit.models import AuditEntry
from competencies.models import Competency
from roles import services
from roles.models import RoleProfile, RoleProfileVersion
from roles.versioning import diff, mentions, snapshot

pytestmark = pytest.mark.django_db

SLUG = "support-worker-supported-housing"
NOTE = "Customer Care window moved to 1–3."


def formset_data(rows: list[dict], *, prefix="items", initial=0) -> dict:
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"{prefix}-{i}-{key}"] = value
    return data


@pytest.fixture
def draft(client, hr):
    client.force_login(hr)
    response = client.post(reverse("role_profile_draft", args=[SLUG]))
    assert response.status_code == 302
    return RoleProfile.objects.get(slug=SLUG).versions.get(status="draft")


def test_editing_a_published_version_starts_a_draft_copy(draft):
    current = RoleProfile.objects.get(slug=SLUG).current_version
    assert (current.number, draft.number) == (1, 2)
    assert snapshot(draft) == snapshot(current)
    assert diff(snapshot(current), snapshot(draft)) == []


def test_starting_a_draft_twice_returns_the_same_draft(client, draft):
    client.post(reverse("role_profile_draft", args=[SLUG]))
    assert RoleProfileVersion.objects.filter(role_profile__slug=SLUG, status="draft").count() == 1


def test_it_edits_the_details(client, draft):
    url = reverse("role_profile_draft_details", args=[SLUG])
    assert client.get(url).status_code == 200
    data = {
        name: getattr(draft, name)
        for name in ["title", "service", "location", "introduction", "context", "supervisor", "peers", "direct_reports"]
    }
    data["purpose"] = "To provide excellent support."
    response = client.post(url, data)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.purpose == "To provide excellent support."
    entry = AuditEntry.objects.get(action="edit", object_id=str(draft.pk))
    assert entry.changes["purpose"][1] == "To provide excellent support."


def test_a_missing_title_is_refused_next_to_the_field(client, draft):
    response = client.post(reverse("role_profile_draft_details", args=[SLUG]), {"title": "", "purpose": "x"})
    assert response.status_code == 200
    assert response.context["form"].errors["title"]
    draft.refresh_from_db()
    assert draft.title == "Support Worker (Supported Housing)" and draft.purpose != "x"


@pytest.mark.parametrize(
    "section, attribute",
    [
        ("accountabilities", "accountabilities"),
        ("performance-measures", "performance_measures"),
        ("notes", "discrepancies"),
    ],
)
def test_it_adds_edits_reorders_and_removes_list_items(client, draft, section, attribute):
    url = reverse("role_profile_draft_list", args=[SLUG, section])
    assert client.get(url).status_code == 200
    texts = list(getattr(draft, attribute).values_list("text", flat=True))
    rows = [{"text": text, "ORDER": str(i)} for i, text in enumerate(texts, start=1)]
    rows[0]["ORDER"] = str(len(texts) + 1)  # move the first to the end
    rows[1]["text"] = "An edited item."
    rows[2]["DELETE"] = "on"
    rows.append({"text": "A new item.", "ORDER": "2"})
    rows.append({"text": "", "ORDER": ""})  # an empty extra row is ignored
    response = client.post(url, formset_data(rows, initial=len(texts)))
    assert response.status_code == 302
    expected = ["An edited item.", "A new item."] + texts[3:] + [texts[0]]
    assert list(getattr(draft, attribute).values_list("text", flat=True)) == expected


def test_it_edits_the_person_specification_and_refuses_an_item_without_category(client, draft):
    url = reverse("role_profile_draft_person_specification", args=[SLUG])
    rows = [
        {"category": "Skills", "essential": "1", "text": "Driving licence", "ORDER": "1"},
        {"category": "Skills", "essential": "0", "text": "First aid", "ORDER": "2"},
        {"category": "", "essential": "1", "text": "Orphan item", "ORDER": "3"},
    ]
    before = list(draft.person_specification.values_list("text", flat=True))
    response = client.post(url, formset_data(rows))
    assert response.status_code == 200
    assert "Give the category this item belongs to." in response.content.decode()
    assert list(draft.person_specification.values_list("text", flat=True)) == before  # nothing half-saved

    response = client.post(url, formset_data(rows[:2]))
    assert response.status_code == 302
    assert draft.person_specification_rows() == [
        {"category": "Skills", "essential": ["Driving licence"], "desirable": ["First aid"]}
    ]


def test_it_edits_the_organisation_sections(client, draft):
    url = reverse("role_profile_draft_organisation", args=[SLUG])
    rows = [
        {"heading": "Team Structure", "items": "Support Workers\nSenior Support Worker\n", "text": "", "ORDER": "1"}
    ]
    assert client.post(url, formset_data(rows)).status_code == 302
    section = draft.organisation_sections.get()
    assert section.item_list() == ["Support Workers", "Senior Support Worker"]


def test_it_sets_windows_and_shows_the_chosen_indicators(client, draft):
    url = reverse("role_profile_draft_windows", args=[SLUG])
    page = client.get(url).content.decode()
    assert "Plans own work and meets agreed goals within the time available" in page  # Achieving Results 2
    competencies = {c.slug: c for c in Competency.objects.all()}
    data = {f"competency_{c.pk}": str(r.entry_level) for r in draft.requirements.all() for c in [r.competency]}
    data[f"competency_{competencies['working-with-change'].pk}"] = "3"
    data[f"competency_{competencies['policy-procedure-and-practice'].pk}"] = ""  # not required
    data[f"competency_{competencies['releasing-potential'].pk}"] = "1"
    response = client.post(url, data, follow=True)
    assert response.redirect_chain == [(url, 302)]  # back to the windows, to check what they ask for
    page = response.content.decode()
    assert "Required windows saved." in page
    assert "Indicators of the chosen window for Working with Change" in page
    assert "Indicators of the chosen window for Policy, Procedure and Practice" not in page
    windows = {r.competency.slug: r.window_label for r in draft.requirements.select_related("competency")}
    assert windows["working-with-change"] == "3–5"
    assert windows["releasing-potential"] == "1–3"
    assert "policy-procedure-and-practice" not in windows
    assert windows["customer-care"] == "2–4"


def test_an_invalid_window_is_refused_with_a_message_and_nothing_saved(client, draft):
    url = reverse("role_profile_draft_windows", args=[SLUG])
    achieving = Competency.objects.get(slug="achieving-results")
    care = Competency.objects.get(slug="customer-care")
    before = snapshot(draft)["windows"]
    data = {f"competency_{r.competency_id}": str(r.entry_level) for r in draft.requirements.all()}
    data[f"competency_{care.pk}"] = "1"  # valid change, must not be saved alone
    data[f"competency_{achieving.pk}"] = "3"  # 3–5: Achieving Results has no level 5
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Select a valid choice" in str(response.context["form"].errors[f"competency_{achieving.pk}"])
    assert snapshot(draft)["windows"] == before


def test_the_service_refuses_a_window_the_competency_does_not_define(hr, draft):
    achieving = Competency.objects.get(slug="achieving-results")
    with pytest.raises(ValidationError) as error:
        services.set_windows(by=hr, version=draft, entry_levels={achieving.pk: 1})
    assert "Achieving Results does not define level 1" in error.value.message_dict[achieving.pk][0]


def test_the_publish_form_offers_the_drafts_own_date(client, draft):
    """A date field (type="date") takes its value as YYYY-MM-DD; any other format shows it empty."""
    page = client.get(reverse("role_profile_draft", args=[SLUG])).content.decode()
    assert 'type="date" name="document_date" value="2023-03-01"' in page  # version 1's date, not today's


def test_the_publish_form_of_a_new_role_profile_offers_today(client, hr):
    services.create_role_profile(by=hr, title="Peer Support Worker")
    client.force_login(hr)
    page = client.get(reverse("role_profile_draft", args=["peer-support-worker"])).content.decode()
    assert f'type="date" name="document_date" value="{timezone.localdate().isoformat()}"' in page


def test_publishing_makes_the_draft_current_and_keeps_the_old_version_readable(client, hr, staff, draft):
    services.replace_text_list(by=hr, version=draft, section="accountabilities", texts=["Only this."])
    response = client.post(
        reverse("role_profile_draft_publish", args=[SLUG]),
        {"note": NOTE, "document_date": "2026-11-01", "confirmed": "1"},
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "published" and draft.published_by == hr and draft.date_label == "November 2026"
    client.force_login(staff)
    page = client.get(reverse("role_profile_detail", args=[SLUG])).content.decode()
    assert "Only this." in page and "version 2" in page
    old = client.get(reverse("role_profile_version", args=[SLUG, 1])).content.decode()
    assert "It has been replaced" in old and "Carry out role adhering to Second Steps policies" in old
    assert AuditEntry.objects.filter(action="publish", actor=hr).exists()


def test_a_published_version_never_changes(hr, draft):
    services.publish(by=hr, version=draft, note=NOTE, document_date=datetime.date(2026, 11, 1))
    with pytest.raises(ValidationError, match="A published version never changes"):
        services.replace_text_list(by=hr, version=draft, section="accountabilities", texts=["x"])
    with pytest.raises(ValidationError, match="A published version never changes"):
        services.update_details(by=hr, version=draft, purpose="x")
    with pytest.raises(ValidationError, match="A published version never changes"):
        services.set_windows(by=hr, version=draft, entry_levels={})


def test_the_draft_pages_are_gone_once_published(client, hr, draft):
    services.publish(by=hr, version=draft, note=NOTE, document_date=datetime.date(2026, 11, 1))
    assert client.get(reverse("role_profile_draft_details", args=[SLUG])).status_code == 404
    assert client.get(reverse("role_profile_draft_list", args=[SLUG, "accountabilities"])).status_code == 404


def test_the_version_diff_shows_sections_and_windows(client, hr, staff, draft, django_assert_max_num_queries):
    services.update_details(by=hr, version=draft, purpose="A new purpose.")
    texts = list(draft.accountabilities.values_list("text", flat=True))
    services.replace_text_list(
        by=hr, version=draft, section="accountabilities", texts=texts[1:] + ["A new accountability."]
    )
    customer_care = Competency.objects.get(slug="customer-care")
    windows = {r.competency_id: r.entry_level for r in draft.requirements.all()}
    services.set_windows(by=hr, version=draft, entry_levels={**windows, customer_care.pk: 1})
    services.publish(by=hr, version=draft, note=NOTE, document_date=datetime.date(2026, 11, 1))

    changes = {c["section"]: c for c in diff(snapshot(draft.role_profile.versions.get(number=1)), snapshot(draft))}
    assert changes["1.1 Job purpose"]["after"] == "A new purpose."
    assert changes["1.3 Job accountabilities"]["removed"] == [texts[0]]
    assert changes["1.3 Job accountabilities"]["added"] == ["A new accountability."]
    assert changes["3. Competencies: required windows"]["rows"] == [("Customer Care", "2–4", "1–3")]
    assert set(changes) >= {"Date", "1.1 Job purpose", "1.3 Job accountabilities", "3. Competencies: required windows"}

    client.force_login(staff)
    page = client.get(reverse("role_profile_compare", args=[SLUG]) + "?from=1&to=2").content.decode()
    with django_assert_max_num_queries(30):  # two whole versions, whatever their length
        client.get(reverse("role_profile_compare", args=[SLUG]) + "?from=1&to=2")
    assert "A new accountability." in page and "1–3" in page
    history = client.get(reverse("role_profile_versions", args=[SLUG])).content.decode()
    assert "Helen" in history or "hr" in history


def test_a_new_role_profile_is_a_draft_until_published(client, hr, staff):
    client.force_login(hr)
    response = client.post(reverse("role_profile_create"), {"title": "Peer Support Worker", "slug": ""})
    assert response.status_code == 302
    assert response.url == reverse("role_profile_draft", args=["peer-support-worker"])
    assert (
        client.post(reverse("role_profile_create"), {"title": "Peer Support Worker"}).status_code == 200
    )  # slug taken
    client.force_login(staff)
    assert client.get(reverse("role_profile_detail", args=["peer-support-worker"])).status_code == 404
    assert client.get(reverse("role_profile_version", args=["peer-support-worker", 1])).status_code == 404
    assert "Peer Support Worker" not in client.get(reverse("role_profile_list")).content.decode()


def test_publishing_without_windows_is_refused(hr):
    version = services.create_role_profile(by=hr, title="Peer Support Worker")
    with pytest.raises(ValidationError, match="at least one competency"):
        services.publish(by=hr, version=version, note=NOTE, document_date=datetime.date(2026, 11, 1))
    with pytest.raises(ValidationError, match="Say briefly what changed"):
        services.publish(by=hr, version=version, note=" \u200b", document_date=datetime.date(2026, 11, 1))


def test_discarding_a_draft_leaves_the_published_version(client, draft):
    response = client.post(reverse("role_profile_draft_discard", args=[SLUG]))
    assert response.status_code == 302
    assert list(RoleProfile.objects.get(slug=SLUG).versions.values_list("number", "status")) == [(1, "published")]


EDIT_URLS = [
    ("role_profile_create", []),
    ("role_profile_draft", [SLUG]),
    ("role_profile_draft_details", [SLUG]),
    ("role_profile_draft_list", [SLUG, "accountabilities"]),
    ("role_profile_draft_person_specification", [SLUG]),
    ("role_profile_draft_organisation", [SLUG]),
    ("role_profile_draft_windows", [SLUG]),
    ("role_profile_draft_publish", [SLUG]),
    ("role_profile_draft_discard", [SLUG]),
]


@pytest.mark.parametrize("name, args", EDIT_URLS)
@pytest.mark.parametrize("who", ["staff", "manager"])
def test_non_hr_users_are_refused_every_editing_url(client, request, hr, name, args, who):
    services.start_draft(by=hr, role_profile=RoleProfile.objects.get(slug=SLUG))
    before = (RoleProfileVersion.objects.count(), AuditEntry.objects.count())
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse(name, args=args)).status_code in (403, 405)
    assert client.post(reverse(name, args=args), {"title": "x", "document_date": "2026-11-01"}).status_code == 403
    assert (RoleProfileVersion.objects.count(), AuditEntry.objects.count()) == before


@pytest.mark.parametrize("name, args", EDIT_URLS)
def test_anonymous_visitors_are_sent_to_log_in_from_editing_urls(client, name, args):
    response = client.post(reverse(name, args=args))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_line_endings_from_browsers_do_not_count_as_changes(client, draft):
    data = {
        name: getattr(draft, name)
        for name in ["title", "service", "location", "introduction", "purpose", "supervisor", "peers", "direct_reports"]
    }
    data["context"] = draft.context.replace("\n", "\r\n")
    client.post(reverse("role_profile_draft_details", args=[SLUG]), data)
    draft.refresh_from_db()
    assert "\r" not in draft.context
    assert not AuditEntry.objects.filter(action="edit", object_id=str(draft.pk)).exists()


# --- publishing: a note, the document's own date, and a confirmation first ----------------------


class _HiddenFields(HTMLParser):
    """The hidden fields of a page's forms: what the confirmation posts again."""

    def __init__(self):
        super().__init__()
        self.fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "hidden" and attrs.get("name") != "csrfmiddlewaretoken":
            self.fields.append((attrs["name"], attrs.get("value", "")))


def hidden_fields(page: str) -> dict:
    parser = _HiddenFields()
    parser.feed(page)
    return dict(parser.fields)


def state(slug=SLUG):
    """What publishing would change: the versions and their statuses, and the audit trail's length."""
    versions = list(RoleProfile.objects.get(slug=slug).versions.values_list("number", "status", "change_note"))
    return versions, AuditEntry.objects.count()


@pytest.fixture
def changed_draft(hr, draft):
    """A draft whose Customer Care window moves, with a note that names it, one that names an unchanged
    competency and one that names none."""
    care = Competency.objects.get(slug="customer-care")
    windows = {r.competency_id: r.entry_level for r in draft.requirements.all()}
    services.set_windows(by=hr, version=draft, entry_levels={**windows, care.pk: 1})
    texts = list(draft.discrepancies.values_list("text", flat=True))
    services.replace_text_list(
        by=hr,
        version=draft,
        section="discrepancies",
        texts=[*texts, "Working with Change is printed twice.", "The cover's date is smudged."],
    )
    return draft


def publish_url(slug=SLUG):
    return reverse("role_profile_draft_publish", args=[slug])


def test_publishing_asks_for_a_note_and_says_so_next_to_the_field(client, changed_draft):
    before = state()
    for data in (
        {"document_date": "2023-03-01"},
        {"note": " \u200b ", "document_date": "2023-03-01", "confirmed": "1"},
    ):
        response = client.post(publish_url(), data)
        assert response.status_code == 200
        assert "roles/edit/draft.html" in [t.name for t in response.templates]
        assert response.context["publish_form"].errors["note"] == ["Say briefly what changed in this version."]
        page = response.content.decode()
        assert 'id="error_1_id_note"' in page and "is-invalid" in page
        assert f"Version {changed_draft.number} was not published" in page
    assert state() == before


def test_a_note_longer_than_the_limit_is_refused(client, changed_draft):
    before = state()
    response = client.post(publish_url(), {"note": "x" * 501, "document_date": "2023-03-01", "confirmed": "1"})
    assert response.status_code == 200 and response.context["publish_form"].errors["note"]
    assert state() == before


def test_publishing_answers_first_with_a_confirmation_and_changes_nothing(
    client, staff, changed_draft, django_assert_max_num_queries
):
    before = state()
    data = {"note": NOTE, "document_date": "2023-03-01"}
    with django_assert_max_num_queries(30):
        response = client.post(publish_url(), data)
    assert response.status_code == 200
    assert "core/confirm.html" in [t.name for t in response.templates]
    assert state() == before  # nothing published, the draft still there, nothing audited
    assert RoleProfile.objects.get(slug=SLUG).versions.get(number=2).status == "draft"
    page = response.content.decode()
    assert "Publish version 2 of Support Worker (Supported Housing)?" in page
    assert NOTE in page
    assert "March 2023 (unchanged from version 1)" in page  # the document's own date
    assert "Customer Care: 2–4 → 1–3" in page  # the window that changes
    assert "Notes on the source document" in page  # another section that changes
    assert "Nobody is sent an email." in page
    assert "1 person holds this role profile" in page  # staff (their manager holds another)
    assert "Appraisals already opened keep the version they were opened against" in page
    assert "a published version never changes and cannot be deleted" in page
    # The form posts everything again, with confirmed=1.
    assert hidden_fields(page) == {**data, "confirmed": "1"}


def test_the_confirmation_lists_the_notes_for_hr_that_name_a_changed_competency(client, changed_draft):
    page = client.post(publish_url(), {"note": NOTE, "document_date": "2023-03-01"}).content.decode()
    notes = list(changed_draft.discrepancies.values_list("text", flat=True))
    named = [i for i, text in enumerate(notes) if "Customer Care" in text]
    assert len(named) == 4
    edit = reverse("role_profile_draft_list", args=[SLUG, "notes"])
    for index in named:
        assert f'href="{edit}#id_items-{index}-text"' in page
    assert "4 of the notes on the source document name a competency whose window changes" in page
    assert "Working with Change is printed twice." not in page  # its window does not change
    assert "The cover&#x27;s date is smudged." not in page
    # The links lead to the field that edits each note.
    form_page = client.get(edit).content.decode()
    assert all(f'id="id_items-{index}-text"' in form_page for index in named)


def test_only_the_confirmed_post_publishes_keeping_the_note_and_the_documents_date(client, hr, changed_draft):
    page = client.post(publish_url(), {"note": NOTE, "document_date": "2023-03-01"}).content.decode()
    response = client.post(publish_url(), hidden_fields(page))  # the confirmation's button, without JavaScript
    assert response.status_code == 302 and response.url == reverse("role_profile_detail", args=[SLUG])
    changed_draft.refresh_from_db()
    assert changed_draft.status == "published" and changed_draft.change_note == NOTE
    assert changed_draft.document_date == datetime.date(2023, 3, 1)  # not today's
    entry = AuditEntry.objects.get(action="publish", object_id=str(changed_draft.pk))
    assert entry.actor == hr
    assert entry.changes == {
        "status": ["Draft", "Published"],
        "version": [1, 2],
        "date": "March 2023",
        "note": NOTE,
    }


def test_the_date_changes_only_when_hr_changes_it(client, changed_draft):
    page = client.post(publish_url(), {"note": NOTE, "document_date": "2026-11-01"}).content.decode()
    assert "November 2026 (version 1 says March 2023)" in page
    client.post(publish_url(), {"note": NOTE, "document_date": "2026-11-01", "confirmed": "1"})
    changed_draft.refresh_from_db()
    assert changed_draft.date_label == "November 2026"
    entry = AuditEntry.objects.get(action="publish", object_id=str(changed_draft.pk))
    assert entry.changes["date"] == ["March 2023", "November 2026"]


def test_the_published_pdf_carries_the_documents_own_date(client, hr, changed_draft):
    client.post(publish_url(), {"note": NOTE, "document_date": "2023-03-01", "confirmed": "1"})
    response = client.get(reverse("role_profile_pdf", args=[SLUG]))
    first_page = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "March 2023\nVersion 2, published" in first_page  # the document's date, then when it was published


def test_a_draft_that_cannot_be_published_gets_a_confirmation_without_a_button(client, hr):
    services.create_role_profile(by=hr, title="Peer Support Worker")
    client.force_login(hr)
    before = state("peer-support-worker")
    response = client.post(publish_url("peer-support-worker"), {"note": "First version.", "document_date": ""})
    page = response.content.decode()
    assert response.status_code == 200 and "To do first" in page
    assert "Choose the required window of at least one competency before publishing." in page
    assert 'name="confirmed"' not in page
    assert "Nobody holds it yet" in page
    assert state("peer-support-worker") == before


def test_the_note_is_shown_in_the_version_history_and_on_the_compare_page(client, hr, staff, changed_draft):
    services.publish(by=hr, version=changed_draft, note=NOTE, document_date=changed_draft.document_date)
    client.force_login(staff)
    history = client.get(reverse("role_profile_versions", args=[SLUG])).content.decode()
    assert NOTE in history
    assert "No note recorded" in history  # version 1, published before notes were asked for
    compare = client.get(reverse("role_profile_compare", args=[SLUG]) + "?from=1&to=2").content.decode()
    assert "Notes on publishing" in compare and NOTE in compare


def test_a_note_is_escaped_where_it_is_shown(client, hr, staff, changed_draft):
    note = "<script>alert(1)</script> moved"
    services.publish(by=hr, version=changed_draft, note=note, document_date=changed_draft.document_date)
    client.force_login(staff)
    history = client.get(reverse("role_profile_versions", args=[SLUG])).content.decode()
    assert "<script>alert(1)" not in history and "&lt;script&gt;alert(1)&lt;/script&gt; moved" in history


def test_mentions_finds_names_as_whole_words_in_any_case():
    names = ["Customer Care", "Working with Change", "Achieving Results"]
    assert mentions("The customer care window is inferred.", names) == ["Customer Care"]
    assert mentions("Customer Carers; Achieving Results, Working with Change.", names) == [
        "Working with Change",
        "Achieving Results",
    ]
    assert mentions("Nothing here.", names) == []


def test_the_draft_editor_has_one_h1_and_no_heading_skips_a_level(client, draft):
    page = client.get(reverse("role_profile_draft", args=[SLUG])).content.decode()
    levels = [int(level) for level in re.findall(r"<h([1-6])\b", page)]
    assert levels.count(1) == 1 and levels[0] == 1
    assert all(after <= before + 1 for before, after in itertools.pairwise(levels))
    assert '<p class="h2 mb-1">Support Worker (Supported Housing)</p>' in page  # the preview's title
