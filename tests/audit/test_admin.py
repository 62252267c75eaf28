"""The Django admin: audit entries and snapshots read-only, status-page jobs editable."""

from __future__ import annotations

import pytest
from django.urls import reverse

from checkpoints_admin import services
from checkpoints_admin.models import AuditEntry, StatusJob
from checkpoints_admin.services import Actor

pytestmark = pytest.mark.django_db

UNIFIED = "reconciliation_checkpoint"


@pytest.fixture
def entry(samples_dir) -> AuditEntry:
    return services.apply(
        UNIFIED, "skip", {"dates": ["2025-03-06"]}, actor=Actor("alice", "cli"), reason="why"
    ).entry


def test_audit_entries_are_listed_filtered_and_shown_read_only(admin_client, entry) -> None:
    changelist = reverse("admin:checkpoints_admin_auditentry_changelist")

    page = admin_client.get(changelist, {"action": "skip", "q": "why"})
    assert page.status_code == 200
    assert "2025-03-06 pendingDates → completedDates" in page.text
    assert admin_client.get(changelist, {"action": "reset"}).context["cl"].result_count == 0

    detail = admin_client.get(reverse("admin:checkpoints_admin_auditentry_change", args=[1]))
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.text
    assert entry.hash in detail.text


@pytest.mark.parametrize("model", ["auditentry", "snapshot"])
def test_nobody_adds_changes_or_deletes_audit_rows(admin_client, entry, model) -> None:
    pk = entry.pk if model == "auditentry" else entry.after_id
    add = reverse(f"admin:checkpoints_admin_{model}_add")
    change = reverse(f"admin:checkpoints_admin_{model}_change", args=[pk])
    delete = reverse(f"admin:checkpoints_admin_{model}_delete", args=[pk])

    assert admin_client.get(add).status_code == 403
    assert admin_client.post(change, {"reason": "edited"}).status_code == 403
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.get(seq=1).reason == "why"
    assert (
        admin_client.get(reverse(f"admin:checkpoints_admin_{model}_changelist")).status_code == 200
    )


def test_status_jobs_are_editable(admin_client) -> None:
    response = admin_client.post(
        reverse("admin:checkpoints_admin_statusjob_add"),
        {"name": "daily", "display_name": "Daily run", "description": "", "position": 2},
    )

    assert response.status_code == 302
    job = StatusJob.objects.get()
    assert (job.name, job.display_name, job.hidden, job.position) == (
        "daily",
        "Daily run",
        False,
        2,
    )
    assert str(job) == "Daily run"


def test_the_audit_entry_page_shows_every_stored_field_read_only() -> None:
    from django.contrib import admin

    shown = admin.site._registry[AuditEntry]
    stored = {field.name for field in AuditEntry._meta.concrete_fields}
    assert set(shown.readonly_fields) == stored
    assert tuple(shown.fields) == tuple(shown.readonly_fields)
