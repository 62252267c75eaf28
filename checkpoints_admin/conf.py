"""The app's settings in one place: defaults, read through a cached getter.

The cache is cleared on ``setting_changed`` so ``override_settings`` works in tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from checkpoints_admin.checkpoints import CheckpointStore

NAMES = frozenset(
    {
        "CHECKPOINTS_DIR",
        "CHECKPOINT_MAX_BYTES",
        "CHECKPOINT_LOCK_TIMEOUT",
        "STALE_AFTER_SECONDS",
        "AUDIT_HMAC_KEY",
        "STATUS_PAGE_PUBLIC",
        "METRICS_TOKEN",
    }
)


@dataclass(frozen=True)
class AppSettings:
    checkpoints_dir: Path
    max_bytes: int
    lock_timeout: float
    stale_after_seconds: float
    audit_hmac_key: str
    status_page_public: bool
    metrics_token: str


@cache
def get_settings() -> AppSettings:
    """Return the app's settings, with defaults filled in."""
    return AppSettings(
        checkpoints_dir=Path(getattr(settings, "CHECKPOINTS_DIR", Path.cwd() / "checkpoints")),
        max_bytes=int(getattr(settings, "CHECKPOINT_MAX_BYTES", 256 * 1024 * 1024)),
        lock_timeout=float(getattr(settings, "CHECKPOINT_LOCK_TIMEOUT", 10.0)),
        stale_after_seconds=float(getattr(settings, "STALE_AFTER_SECONDS", 3600)),
        audit_hmac_key=str(getattr(settings, "AUDIT_HMAC_KEY", "")),
        status_page_public=bool(getattr(settings, "STATUS_PAGE_PUBLIC", False)),
        metrics_token=str(getattr(settings, "METRICS_TOKEN", "")),
    )


def get_store() -> CheckpointStore:
    """Return the process-wide store over ``CHECKPOINTS_DIR`` (its list cache lives here).

    The console and the commands never create the directory: a missing one is a wrong
    setting or a volume that is not mounted, which an empty list would hide. Each call
    raises :class:`CheckpointsDirectoryError` while it is missing, also when it went away
    after the store was made (a stat; the store itself is made once).
    """
    store = _store()
    store.check_directory()
    return store


@cache
def _store() -> CheckpointStore:
    app = get_settings()
    return CheckpointStore(
        app.checkpoints_dir,
        lock_timeout=app.lock_timeout,
        max_bytes=app.max_bytes,
        create=False,
        refuse_hard_links=True,  # (a hard link could show any file the console can read)
    )


@receiver(setting_changed)
def _clear_cache(*, setting: str, **kwargs: object) -> None:
    if setting in NAMES:
        get_settings.cache_clear()
        _store.cache_clear()
