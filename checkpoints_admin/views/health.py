"""The health check: open to anyone, says only which check failed."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from checkpoints_admin.conf import get_settings

#: The probe file's name never ends in .json, so no listing ever shows it.
PROBE_PREFIX = ".healthz-"


def directory_failures(directory: Path) -> list[str]:
    """Names of the failed directory checks: really list it, really create and remove a file.

    Real operations rather than ``os.access``, which says yes to root on a read-only mount.
    """
    failed = []
    try:
        with os.scandir(directory) as entries:
            next(entries, None)
    except OSError:
        failed.append("checkpoints_dir_readable")
    try:
        handle, probe = tempfile.mkstemp(prefix=PROBE_PREFIX, suffix=".tmp", dir=directory)
    except OSError:
        failed.append("checkpoints_dir_writable")
    else:
        os.close(handle)
        os.unlink(probe)
    return failed


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 ``{"status": "ok"}`` when the database answers and the checkpoints directory is
    readable and writable; else 503 with the names of the failed checks and nothing more."""
    failed = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        failed.append("database")
    failed += directory_failures(get_settings().checkpoints_dir)
    if failed:
        return JsonResponse({"status": "failing", "failed": failed}, status=503)
    return JsonResponse({"status": "ok"})
