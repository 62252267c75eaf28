"""System checks: ``checkpoints_admin.E001`` and on."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register


@register()
def check_checkpoints_dir(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The checkpoints directory must exist and be readable and writable."""
    from checkpoints_admin.conf import get_settings

    directory = get_settings().checkpoints_dir
    if not directory.is_dir():
        return [
            Error(
                f"The checkpoints directory {directory} does not exist.",
                hint="Create it, or point CHECKPOINTS_DIR at the directory your jobs write to.",
                id="checkpoints_admin.E001",
            )
        ]
    if not os.access(directory, os.R_OK | os.W_OK | os.X_OK):
        return [
            Error(
                f"The checkpoints directory {directory} is not readable and writable.",
                hint="Give the console's user read and write access to it.",
                id="checkpoints_admin.E002",
            )
        ]
    return []


@register()
def check_csp_nonce(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A CSP nonce source needs the csp context processor, or templates cannot use it."""
    from django.utils.csp import CSP

    policy = getattr(settings, "SECURE_CSP", {}) or {}
    uses_nonce = any(CSP.NONCE in (values or []) for values in policy.values())
    engines: list[dict[str, Any]] = settings.TEMPLATES
    processors = [
        processor
        for engine in engines
        for processor in engine.get("OPTIONS", {}).get("context_processors", [])
    ]
    if uses_nonce and "django.template.context_processors.csp" not in processors:
        return [
            Error(
                "SECURE_CSP uses a nonce but the csp context processor is not enabled.",
                hint="Add 'django.template.context_processors.csp' to the context processors.",
                id="checkpoints_admin.E003",
            )
        ]
    return []
