"""URLs of the console pages."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path, register_converter

from checkpoints_admin.views import accounts, audit, checkpoints, diff, interventions


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


class InterventionConverter(ChoiceConverter):
    regex = "skip|reprocess|edit-raw|edit|reset|restore"


register_converter(CheckpointNameConverter, "checkpoint")
register_converter(SnapshotSideConverter, "side")
register_converter(ExportFormatConverter, "export")
register_converter(InterventionConverter, "intervention")

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", accounts.sign_out, name="logout"),
    path("", checkpoints.checkpoint_list, name="checkpoint_list"),
    path("checkpoints/<checkpoint:name>/", checkpoints.checkpoint_detail, name="checkpoint_detail"),
    path("checkpoints/<checkpoint:name>/raw", checkpoints.checkpoint_raw, name="checkpoint_raw"),
    path("diff/", diff.diff_page, name="diff"),
    path("audit/", audit.audit_list, name="audit_list"),
    path("audit/export.<export:fmt>", audit.audit_export, name="audit_export"),
    path("audit/<int:seq>/", audit.audit_detail, name="audit_detail"),
    path("audit/<int:seq>/<side:side>", audit.audit_snapshot, name="audit_snapshot"),
    # Interventions: choose (GET), live check, back to choose from a preview, preview and
    # apply (POST); the result page.
    path(
        "checkpoints/<checkpoint:name>/<intervention:key>/",
        interventions.choose,
        name="intervention",
    ),
    path(
        "checkpoints/<checkpoint:name>/<intervention:key>/check",
        interventions.check,
        name="intervention_check",
    ),
    path(
        "checkpoints/<checkpoint:name>/<intervention:key>/change",
        interventions.change,
        name="intervention_change",
    ),
    path(
        "checkpoints/<checkpoint:name>/<intervention:key>/preview",
        interventions.preview,
        name="intervention_preview",
    ),
    path(
        "checkpoints/<checkpoint:name>/<intervention:key>/apply",
        interventions.apply,
        name="intervention_apply",
    ),
    path(
        "checkpoints/<checkpoint:name>/applied/<int:seq>/",
        interventions.result,
        name="intervention_result",
    ),
    path("create/", interventions.create, name="checkpoint_create"),
    path("create/check", interventions.create_check, name="checkpoint_create_check"),
    path("create/change", interventions.create_change, name="checkpoint_create_change"),
    path("create/preview", interventions.create_preview, name="checkpoint_create_preview"),
    path("create/apply", interventions.create_apply, name="checkpoint_create_apply"),
]
