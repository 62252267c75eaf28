"""The health check: open to anyone, says only which check failed."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from checkpoints_admin.conf import get_settings

#: The probe file's name never ends in .json, so no listing ever shows it.
PROBE_PREFIX = ".healthz-"

#: Below this much free space the directory counts as full, unless the setting
#: ``HEALTH_MIN_FREE_BYTES`` says otherwise: a checkpoint is saved by writing a whole new file
#: beside the old one, and a job's next save would fail.
MIN_FREE_BYTES = 1024 * 1024


def directory_failures(directory: Path) -> list[str]:
    """Names of the failed directory checks: really list it, really create and remove a file,
    and enough free space for a save.

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
    if not space_left(directory):
        failed.append("checkpoints_dir_space")
    return failed


def space_left(directory: Path) -> bool:
    """Whether the directory's filesystem has at least ``HEALTH_MIN_FREE_BYTES`` (by default
    :data:`MIN_FREE_BYTES`) free for a process without root's reserve, as a job runs (True
    when it cannot tell).

    Creating the empty probe file succeeds on a full disk (it takes an inode, no block), and
    writing a byte to it proves little: ext4 reports a full disk at fsync rather than at the
    write, a byte may fit in the inode or in root's reserve, and a fsync on every probe of a
    busy disk would make the check slow. ``statvfs`` is one cheap call that writes nothing
    (it does not see quotas, which only a real write of the size of a save would)."""
    try:
        stats = os.statvfs(directory)
    except OSError:  # (no directory: the other checks say so)
        return True
    if stats.f_blocks == 0:  # a filesystem that reports no sizes (some FUSE or network ones)
        return True
    wanted = int(getattr(settings, "HEALTH_MIN_FREE_BYTES", MIN_FREE_BYTES))
    return stats.f_bavail * stats.f_frsize >= wanted


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 ``{"status": "ok"}`` when the database answers and the checkpoints directory is
    readable and writable, with room for a save; else 503 with the names of the failed checks
    and nothing more."""
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
