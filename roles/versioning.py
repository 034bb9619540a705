"""What a role profile version says, as plain data, and what changed between two versions."""

import difflib
import re
from collections.abc import Iterable
from typing import Any

from roles.models import RoleProfileVersion

DETAIL_FIELDS = [
    ("title", "Title"),
    ("service", "Service"),
    ("location", "Location"),
    ("document_date", "Date"),
    ("introduction", "Introduction"),
    ("purpose", "1.1 Job purpose"),
    ("context", "Job context"),
    ("supervisor", "Immediate supervisor"),
    ("peers", "Colleagues/peers"),
    ("direct_reports", "Direct reports"),
]

LIST_SECTIONS = [
    ("organisation_sections", "1.2 Organisation: further sections"),
    ("accountabilities", "1.3 Job accountabilities"),
    ("performance_measures", "1.4 Performance measures"),
    ("person_specification", "2.1 Person specification"),
    ("discrepancies", "Notes on the source document"),
]


def snapshot(version: RoleProfileVersion) -> dict[str, Any]:
    """Everything a version says, as JSON-friendly data (windows by competency name)."""
    details = {name: getattr(version, name) for name, _ in DETAIL_FIELDS}
    details["document_date"] = version.date_label
    return {
        "details": details,
        "organisation_sections": [
            " — ".join(filter(None, [s.heading, "; ".join(s.item_list()), s.text]))
            for s in version.organisation_sections.all()
        ],
        "accountabilities": [item.text for item in version.accountabilities.all()],
        "performance_measures": [item.text for item in version.performance_measures.all()],
        "person_specification": [
            f"{item.category} ({'essential' if item.essential else 'desirable'}): {item.text}"
            for item in version.person_specification.all()
        ],
        "discrepancies": [item.text for item in version.discrepancies.all()],
        "windows": {r.competency.name: r.window_label for r in version.requirements.select_related("competency")},
    }


def list_changes(before: list[str], after: list[str]) -> dict[str, Any]:
    """Items removed and added (by text), and whether the order of the kept items changed."""
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    removed, added = [], []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("delete", "replace"):
            removed.extend(before[i1:i2])
        if tag in ("insert", "replace"):
            added.extend(after[j1:j2])
    kept_before = [item for item in before if item in after]
    kept_after = [item for item in after if item in before]
    moved = set(removed) == set(added) and removed != []
    return {
        "removed": [item for item in removed if item not in after],
        "added": [item for item in added if item not in before],
        "reordered": kept_before != kept_after or moved,
    }


def diff(before: dict, after: dict) -> list[dict]:
    """The sections that differ between two snapshots, in document order.

    Each entry: {"section", "kind": "text", "before", "after"} | {"section", "kind": "list",
    "removed", "added", "reordered"} | {"section", "kind": "windows", "rows": [(competency, before, after)]}.
    """
    changes = []
    for name, label in DETAIL_FIELDS:
        old, new = before["details"].get(name), after["details"].get(name)
        if old != new:
            changes.append({"section": label, "kind": "text", "before": old, "after": new})
    for name, label in LIST_SECTIONS:
        change = list_changes(before[name], after[name])
        if change["removed"] or change["added"] or change["reordered"]:
            changes.append({"section": label, "kind": "list", **change})
    competencies = list(before["windows"]) + [c for c in after["windows"] if c not in before["windows"]]
    rows = [
        (competency, before["windows"].get(competency), after["windows"].get(competency))
        for competency in competencies
        if before["windows"].get(competency) != after["windows"].get(competency)
    ]
    if rows:
        changes.append({"section": "3. Competencies: required windows", "kind": "windows", "rows": rows})
    return changes


def window_changes(changes: list[dict]) -> list[tuple[str, str | None, str | None]]:
    """The (competency, window before, window after) rows of a `diff`; None where not required."""
    return [row for change in changes if change["kind"] == "windows" for row in change["rows"]]


def mentions(text: str, names: Iterable[str]) -> list[str]:
    """The names that `text` mentions as whole words, in any case ("customer care" names Customer Care)."""
    return [name for name in names if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, flags=re.IGNORECASE)]
