"""Django admin: the audit log and its snapshots read-only, status-page jobs editable, and
the accounts within the admin role's reach."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest

from checkpoints_admin.models import AuditEntry, Snapshot, StatusJob
from checkpoints_admin.permissions import ROLES

# The console's name, not "Django administration"; "View site" leads back to the console.
admin.site.site_header = admin.site.site_title = "Checkpoints Admin"


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


# --- accounts: an admin manages the console's accounts, never more power than its own ------


class ConsoleUserAdmin(UserAdmin):
    """Django's user admin, held to the console's roles for those who are not superusers
    (the admin role): they give people a role, but cannot make anyone a superuser or give
    permissions one by one, and cannot change, delete or set the password of a superuser.
    Django's own admin would let the admin role promote itself."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return fields
        return (*fields, "is_superuser", "user_permissions")

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "groups" and not request.user.is_superuser:
            kwargs["queryset"] = Group.objects.filter(name__in=ROLES)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False  # (its password view asks this too)
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, ConsoleUserAdmin)
