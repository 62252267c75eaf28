"""Django admin: the audit log and its snapshots read-only, status-page jobs editable."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from checkpoints_admin.models import AuditEntry, Snapshot, StatusJob


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable by those with the view permission; nobody adds, changes or deletes."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "seq",
        "created",
        "actor",
        "source",
        "action",
        "checkpoint",
        "outcome",
        "summary",
    )
    list_display_links = ("seq", "summary")
    list_filter = ("action", "source", "outcome", "checkpoint")
    search_fields = ("checkpoint", "actor", "reason", "summary")
    date_hierarchy = "created"
    ordering = ("-seq",)
    list_select_related = False
    readonly_fields = (
        "seq",
        "created",
        "actor",
        "source",
        "address",
        "action",
        "checkpoint",
        "reason",
        "summary",
        "outcome",
        "base_version",
        "result_version",
        "before",
        "after",
        "restores",
        "patch",
        "findings",
        "prev_hash",
        "hash",
    )
    fields = readonly_fields


@admin.register(Snapshot)
class SnapshotAdmin(ReadOnlyAdmin):
    list_display = ("sha", "size", "compression", "created")
    search_fields = ("sha",)
    readonly_fields = ("sha", "size", "compression", "created")
    fields = readonly_fields
    ordering = ("-created",)

    def get_queryset(self, request: HttpRequest) -> Any:
        # The compressed bytes can be large; the admin never shows them.
        return super().get_queryset(request).defer("data")


@admin.register(StatusJob)
class StatusJobAdmin(admin.ModelAdmin):
    list_display = ("name", "display_name", "hidden", "position")
    list_editable = ("display_name", "hidden", "position")
    list_filter = ("hidden",)
    search_fields = ("name", "display_name", "description")
    ordering = ("position", "name")
