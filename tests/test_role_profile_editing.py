"""HR admins edit role profiles through drafts; published versions never change."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from competencies.models import Competency
from roles import services
from roles.models import RoleProfile, RoleProfileVersion
from roles.versioning import diff, snapshot

pytestmark = pytest.mark.django_db

SLUG = "support-worker-supported-housing"


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
    assert client.post(url, data).status_code == 302
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


def test_the_publish_form_offers_today_in_the_date_field(client, draft):
    """A date field (type="date") takes its value as YYYY-MM-DD; any other format shows it empty."""
    page = client.get(reverse("role_profile_draft", args=[SLUG])).content.decode()
    today = timezone.localdate().isoformat()
    assert f'type="date" name="document_date" value="{today}"' in page


def test_publishing_makes_the_draft_current_and_keeps_the_old_version_readable(client, hr, staff, draft):
    services.replace_text_list(by=hr, version=draft, section="accountabilities", texts=["Only this."])
    response = client.post(reverse("role_profile_draft_publish", args=[SLUG]), {"document_date": "2026-11-01"})
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
    services.publish(by=hr, version=draft, document_date=datetime.date(2026, 11, 1))
    with pytest.raises(ValidationError, match="A published version never changes"):
        services.replace_text_list(by=hr, version=draft, section="accountabilities", texts=["x"])
    with pytest.raises(ValidationError, match="A published version never changes"):
        services.update_details(by=hr, version=draft, purpose="x")
    with pytest.raises(ValidationError, match="A published version never changes"):
        services.set_windows(by=hr, version=draft, entry_levels={})


def test_the_draft_pages_are_gone_once_published(client, hr, draft):
    services.publish(by=hr, version=draft, document_date=datetime.date(2026, 11, 1))
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
    services.publish(by=hr, version=draft, document_date=datetime.date(2026, 11, 1))

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
        services.publish(by=hr, version=version, document_date=datetime.date(2026, 11, 1))


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
