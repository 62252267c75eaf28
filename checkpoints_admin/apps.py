from __future__ import annotations

from django.apps import AppConfig


class CheckpointsAdminConfig(AppConfig):
    name = "checkpoints_admin"
    verbose_name = "Checkpoints Admin"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from checkpoints_admin import checks  # noqa: F401  (registers the system checks)
