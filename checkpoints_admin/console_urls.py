"""URLs of the console pages."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path, register_converter

from checkpoints_admin.views import audit, checkpoints, diff


class ChoiceConverter:
    """A path segment matched by ``regex`` and passed on as it is."""

    regex = ""

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class CheckpointNameConverter(ChoiceConverter):
    """A checkpoint name as the file protocol allows it; anything else never reaches a view."""

    regex = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"


class SnapshotSideConverter(ChoiceConverter):
    regex = "before|after"


class ExportFormatConverter(ChoiceConverter):
    regex = "jsonl|csv"


register_converter(CheckpointNameConverter, "checkpoint")
register_converter(SnapshotSideConverter, "side")
register_converter(ExportFormatConverter, "export")

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", checkpoints.checkpoint_list, name="checkpoint_list"),
    path("checkpoints/<checkpoint:name>/", checkpoints.checkpoint_detail, name="checkpoint_detail"),
    path("checkpoints/<checkpoint:name>/raw", checkpoints.checkpoint_raw, name="checkpoint_raw"),
    path("diff/", diff.diff_page, name="diff"),
    path("audit/", audit.audit_list, name="audit_list"),
    path("audit/export.<export:fmt>", audit.audit_export, name="audit_export"),
    path("audit/<int:seq>/", audit.audit_detail, name="audit_detail"),
    path("audit/<int:seq>/<side:side>", audit.audit_snapshot, name="audit_snapshot"),
]
