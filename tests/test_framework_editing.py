"""HR admins edit the framework; no edit can change the words an existing record cites."""

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from competencies.models import Competency, Indicator, Level
from roles import framework

pytestmark = pytest.mark.django_db


def indicator_rows(level, *, change=None, retire=(), add=(), order=None):
    """Formset data for the level's current indicators."""
    current = list(level.indicators.current())
    rows = []
    for n, indicator in enumerate(current, start=1):
        row = {
            "id": str(indicator.pk),
            "text": (change or {}).get(n, indicator.text),
            "ORDER": str((order or {}).get(n, n)),
        }
        if n in retire:
            row["DELETE"] = "on"
        rows.append(row)
    for text in add:
        rows.append({"id": "", "text": text, "ORDER": str(len(rows) + 1)})
    data = {
        "save_indicators": "1",
        "indicators-TOTAL_FORMS": str(len(rows)),
        "indicators-INITIAL_FORMS": str(len(current)),
        "indicators-MIN_NUM_FORMS": "0",
        "indicators-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data.update({f"indicators-{i}-{k}": v for k, v in row.items()})
    return data


@pytest.fixture
def level_3(db):
    return Level.objects.get(competency__slug="achieving-results", number=3)


def test_rewording_an_indicator_never_changes_the_row_a_record_cites(client, hr, level_3):
    cited = level_3.indicators.current().first()  # as an appraisal rating would refer to it
    words = cited.text
    client.force_login(hr)
    response = client.post(
        reverse("level_edit", args=["achieving-results", 3]),
        indicator_rows(level_3, change={1: "Prioritises key tasks well."}),
    )
    assert response.status_code == 302
    cited.refresh_from_db()
    assert cited.text == words and cited.retired_at is not None
    assert cited.replaced_by.text == "Prioritises key tasks well." and cited.replaced_by.position == 1
    assert [i.text for i in level_3.indicators.current()][0] == "Prioritises key tasks well."
    page = client.get(reverse("role_profile_detail", args=["support-worker-supported-housing"])).content.decode()
    assert "Prioritises key tasks well." in page and words not in page
    entry = AuditEntry.objects.get(action="edit indicators")
    assert entry.changes["indicators"][0][0] == words


def test_it_adds_reorders_and_retires_indicators(client, hr, level_3):
    first, second, third = level_3.indicators.current()
    client.force_login(hr)
    data = indicator_rows(level_3, retire=[2], order={1: 3, 3: 1}, add=["Delivers on commitments."])
    assert client.post(reverse("level_edit", args=["achieving-results", 3]), data).status_code == 302
    assert [i.text for i in level_3.indicators.current()] == [third.text, first.text, "Delivers on commitments."]
    second.refresh_from_db()
    assert second.retired_at is not None  # retired, not deleted
    assert Indicator.objects.filter(pk=first.pk, retired_at__isnull=True).exists()  # moved, same row


def test_a_level_keeps_at_least_one_indicator(client, hr, level_3):
    client.force_login(hr)
    response = client.post(
        reverse("level_edit", args=["achieving-results", 3]), indicator_rows(level_3, retire=[1, 2, 3])
    )
    assert response.status_code == 200
    assert "A level needs at least one indicator" in response.content.decode()
    assert level_3.indicators.current().count() == 3


def test_the_level_page_shows_which_role_profiles_use_it_before_saving(client, hr):
    client.force_login(hr)
    page = client.get(reverse("level_edit", args=["customer-care", 1])).content.decode()
    assert "Housing Worker</a>: Entry" in page
    page = client.get(reverse("level_edit", args=["achieving-results", 3])).content.decode()
    assert "Support Worker (Supported Housing)</a>: Desired" in page
    assert "Night Senior Support Worker</a>: Desired" in page


def test_a_level_in_use_cannot_be_retired(client, hr):
    client.force_login(hr)
    response = client.post(reverse("level_retire", args=["achieving-results", 4]), follow=True)
    assert "is in the window of" in response.content.decode()
    assert Level.objects.get(competency__slug="achieving-results", number=4).retired_at is None


def test_adding_a_level_widens_the_windows_on_offer_and_an_unused_level_can_be_retired(client, hr):
    client.force_login(hr)
    response = client.post(
        reverse("level_create", args=["achieving-results"]),
        {"number": "5", "kind": "indicators", "indicators": "Leads the organisation's results.\nSets the direction.\n"},
    )
    assert response.status_code == 302
    competency = Competency.objects.get(slug="achieving-results")
    assert competency.valid_entry_levels() == [2, 3]
    level = competency.levels.get(number=5)
    assert [i.text for i in level.indicators.all()] == ["Leads the organisation's results.", "Sets the direction."]
    assert client.post(reverse("level_retire", args=["achieving-results", 5])).status_code == 302
    assert Competency.objects.get(slug="achieving-results").valid_entry_levels() == [2]


def test_a_new_level_needs_indicators_or_a_complete_rule(client, hr):
    client.force_login(hr)
    response = client.post(
        reverse("level_create", args=["achieving-results"]),
        {"number": "5", "kind": "rule", "sustained_level": "", "rule_text": ""},
    )
    assert response.status_code == 200
    assert "Needed for a sustained-level rule." in response.content.decode()
    response = client.post(
        reverse("level_create", args=["achieving-results"]), {"number": "3", "kind": "indicators", "indicators": "x"}
    )
    assert "Achieving Results already defines level 3." in response.content.decode()
    assert not Level.objects.filter(competency__slug="achieving-results", number=5).exists()


def test_the_sustained_rule_is_edited_as_a_rule(client, hr):
    client.force_login(hr)
    url = reverse("level_edit", args=["policy-procedure-and-practice", 5])
    response = client.post(
        url,
        {
            "save_level": "1",
            "sustained_level": "4",
            "sustained_months": "24",
            "rule_text": "Competency at Level 4 maintained for at least 2 years",
        },
    )
    assert response.status_code == 302
    level = Level.objects.get(competency__slug="policy-procedure-and-practice", number=5)
    assert (level.sustained_level, level.sustained_months) == (4, 24) and not level.indicators.exists()
    response = client.post(url, {"save_level": "1", "sustained_level": "4", "sustained_months": "0", "rule_text": "x"})
    assert response.status_code == 200
    level.refresh_from_db()
    assert level.sustained_months == 24


def test_competencies_are_created_edited_reordered_and_retired(client, hr):
    client.force_login(hr)
    response = client.post(
        reverse("competency_create"), {"name": "Leadership", "relevance_to_recovery": "Leaders model hope.", "note": ""}
    )
    assert response.status_code == 302
    leadership = Competency.objects.get(slug="leadership")
    assert leadership.position == 12
    assert client.post(reverse("competency_create"), {"name": "leadership"}).status_code == 200  # duplicate name
    saved = client.post(
        reverse("competency_edit", args=["leadership"]),
        {"name": "Leadership", "relevance_to_recovery": "Leaders inspire hope.", "note": ""},
        follow=True,
    ).content.decode()
    assert "Leadership saved." in saved
    leadership.refresh_from_db()
    assert leadership.relevance_to_recovery == "Leaders inspire hope."
    unchanged = client.post(
        reverse("competency_edit", args=["leadership"]),
        {"name": "Leadership", "relevance_to_recovery": "Leaders inspire hope.", "note": ""},
        follow=True,
    ).content.decode()
    assert "No changes to save" in unchanged and "Leadership saved." not in unchanged
    client.post(reverse("competency_move", args=["leadership", "up"]))
    assert list(Competency.objects.current().values_list("slug", flat=True))[-2:] == [
        "leadership",
        "releasing-potential",
    ]
    assert client.post(reverse("competency_retire", args=["leadership"])).status_code == 302
    assert Competency.objects.get(slug="leadership").retired_at is not None
    ladders = client.get(reverse("framework")).context["ladders"]
    assert "leadership" not in [ladder["competency"].slug for ladder in ladders]
    assert {"create", "edit", "reorder", "retire"} <= set(
        AuditEntry.objects.filter(object_type="competency").values_list("action", flat=True)
    )


def test_a_competency_a_role_requires_cannot_be_retired(client, hr):
    client.force_login(hr)
    response = client.post(reverse("competency_retire", args=["customer-care"]), follow=True)
    assert "Customer Care is required by" in response.content.decode()
    assert Competency.objects.get(slug="customer-care").retired_at is None


def test_usage_counts_current_versions_and_drafts_only(hr):
    from roles.models import RoleProfile
    from roles.services import start_draft

    customer_care = Competency.objects.get(slug="customer-care")
    assert len(framework.usage(customer_care)) == 5
    start_draft(by=hr, role_profile=RoleProfile.objects.get(slug="housing-worker"))
    uses = framework.usage(customer_care, 1)
    assert [(u["version"].title, u["label"], u["draft"]) for u in uses] == [
        ("Housing Worker", "Entry", False),
        ("Housing Worker", "Entry", True),
    ]


EDIT_URLS = [
    ("framework_edit", []),
    ("competency_create", []),
    ("competency_edit", ["customer-care"]),
    ("competency_move", ["customer-care", "up"]),
    ("competency_retire", ["releasing-potential"]),
    ("level_create", ["achieving-results"]),
    ("level_edit", ["achieving-results", 3]),
    ("level_retire", ["achieving-results", 3]),
]


@pytest.mark.parametrize("name, args", EDIT_URLS)
@pytest.mark.parametrize("who", ["staff", "manager"])
def test_non_hr_users_are_refused_every_framework_editing_url(client, request, name, args, who):
    before = (
        Indicator.objects.count(),
        Level.objects.current().count(),
        list(Competency.objects.values_list("slug", "position", "retired_at")),
    )
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse(name, args=args)).status_code in (403, 405)
    assert (
        client.post(
            reverse(name, args=args), {"name": "x", "number": "5", "kind": "indicators", "indicators": "x"}
        ).status_code
        == 403
    )
    after = (
        Indicator.objects.count(),
        Level.objects.current().count(),
        list(Competency.objects.values_list("slug", "position", "retired_at")),
    )
    assert after == before
