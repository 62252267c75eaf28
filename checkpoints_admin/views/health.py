"""The health check: open to anyone, says only which check failed."""

from __future__ import annotations

import os

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from checkpoints_admin.conf import get_settings


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers and the checkpoints directory is usable, else 503."""
    failed = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        failed.append("database")
    directory = get_settings().checkpoints_dir
    if not (directory.is_dir() and os.access(directory, os.R_OK | os.W_OK | os.X_OK)):
        failed.append("checkpoints_dir")
    if failed:
        return JsonResponse({"status": "failing", "failed": failed}, status=503)
    return JsonResponse({"status": "ok"})
