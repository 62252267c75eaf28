"""The console's tables: audit entries and their snapshots, the write-ahead journal, status jobs.

``AuditEntry`` is append-only: the model and its queryset refuse update and delete, and the
only code that inserts entries is :func:`checkpoints_admin.audit.append_entry`, called by
``services.py``.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Any, ClassVar

from django.db import IntegrityError, models, transaction
from django.utils import timezone

try:  # Python 3.14+
    from compression import zstd as _zstd  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the interpreter
    _zstd = None

ZLIB = "zlib"
ZSTD = "zstd"
DEFAULT_COMPRESSION = ZSTD if _zstd is not None else ZLIB


class SnapshotCorrupt(Exception):
    """A snapshot's stored bytes do not decompress to bytes with its sha256."""


class ImmutableEntry(Exception):
    """Audit entries are append-only: they cannot be updated or deleted."""


def _compress(raw: bytes, method: str) -> bytes:
    if method == ZSTD:
        if _zstd is None:  # pragma: no cover
            raise SnapshotCorrupt("zstd snapshots need Python 3.14 or newer")
        return bytes(_zstd.compress(raw))
    return zlib.compress(raw, 6)


def _decompress(data: bytes, method: str) -> bytes:
    if method == ZSTD:
        if _zstd is None:
            raise SnapshotCorrupt("zstd snapshots need Python 3.14 or newer")
        return bytes(_zstd.decompress(data))
    return zlib.decompress(data)


class Snapshot(models.Model):
    """The bytes of a checkpoint file at one moment, stored once, compressed, named by sha256."""

    sha = models.CharField(primary_key=True, max_length=64, editable=False)
    data = models.BinaryField(editable=False)
    compression = models.CharField(max_length=8, default=ZLIB, editable=False)
    size = models.PositiveBigIntegerField(editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("-created",)

    def __str__(self) -> str:
        return f"snapshot {self.sha[:12]} ({self.size} bytes)"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableEntry("Snapshots are content-addressed and cannot be changed.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    @classmethod
    def store(cls, raw: bytes) -> Snapshot:
        """Return the snapshot of ``raw``, creating it if these bytes were never stored."""
        raw = bytes(raw)
        sha = hashlib.sha256(raw).hexdigest()
        existing = cls.objects.filter(pk=sha).only("sha", "size", "compression", "created").first()
        if existing is not None:
            return existing
        snapshot = cls(
            sha=sha,
            data=_compress(raw, DEFAULT_COMPRESSION),
            compression=DEFAULT_COMPRESSION,
            size=len(raw),
        )
        try:
            with transaction.atomic():
                snapshot.save(force_insert=True)
        except IntegrityError:
            # Another process stored the same bytes in the meantime: content-addressed, so equal.
            return cls.objects.only("sha", "size", "compression", "created").get(pk=sha)
        return snapshot

    @property
    def raw(self) -> bytes:
        """The original bytes, checked against the sha256 they are named by."""
        try:
            raw = _decompress(bytes(self.data), self.compression)
        except (zlib.error, ValueError) as exc:
            raise SnapshotCorrupt(f"snapshot {self.sha} cannot be decompressed: {exc}") from None
        except Exception as exc:  # zstd raises its own error type
            if exc.__class__.__name__ == "ZstdError":
                raise SnapshotCorrupt(
                    f"snapshot {self.sha} cannot be decompressed: {exc}"
                ) from None
            raise
        if hashlib.sha256(raw).hexdigest() != self.sha:
            raise SnapshotCorrupt(f"snapshot {self.sha} does not match its sha256")
        return raw


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    """Refuses bulk changes: the log is append-only."""

    def update(self, **kwargs: Any) -> int:
        raise ImmutableEntry("Audit entries are append-only: update() is refused.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ImmutableEntry("Audit entries are append-only: delete() is refused.")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        raise ImmutableEntry("Audit entries are append-only: bulk_update() is refused.")

    def update_or_create(self, *args: Any, **kwargs: Any) -> Any:
        raise ImmutableEntry("Audit entries are append-only: update_or_create() is refused.")


class AuditEntryManager(models.Manager["AuditEntry"]):
    def get_queryset(self) -> AuditEntryQuerySet:
        return AuditEntryQuerySet(self.model, using=self._db)

    def record(self, **fields: Any) -> AuditEntry:
        """Append one chained entry (see :func:`checkpoints_admin.audit.append_entry`)."""
        from checkpoints_admin.audit import append_entry

        return append_entry(**fields)


class AuditEntry(models.Model):
    """One intervention on a checkpoint: who, when, from where, why, and exactly what changed."""

    CREATE = "create"
    EDIT = "edit"
    SKIP = "skip"
    REPROCESS = "reprocess"
    RESET = "reset"
    RESTORE = "restore"
    ACTION_CHOICES: ClassVar = [
        (CREATE, "create"),
        (EDIT, "edit"),
        (SKIP, "skip"),
        (REPROCESS, "reprocess"),
        (RESET, "reset"),
        (RESTORE, "restore"),
    ]

    WEB = "web"
    CLI = "cli"
    API = "api"
    SOURCE_CHOICES: ClassVar = [(WEB, "web"), (CLI, "cli"), (API, "api")]

    APPLIED = "applied"
    INTERRUPTED = "interrupted"
    RECOVERED = "recovered"
    OUTCOME_CHOICES: ClassVar = [
        (APPLIED, "applied"),
        (INTERRUPTED, "interrupted (attempt found not landed after a crash)"),
        (RECOVERED, "recovered (landed; entry written by recovery)"),
    ]

    seq = models.PositiveBigIntegerField(primary_key=True, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    actor = models.CharField(max_length=150, editable=False)
    source = models.CharField(max_length=8, choices=SOURCE_CHOICES, editable=False)
    address = models.CharField(max_length=64, blank=True, default="", editable=False)
    action = models.CharField(max_length=16, choices=ACTION_CHOICES, editable=False)
    checkpoint = models.CharField(max_length=128, db_index=True, editable=False)
    reason = models.TextField(editable=False)
    # None means "no file" (before a create, after a reset): distinct from any version.
    base_version = models.CharField(max_length=64, null=True, blank=True, editable=False)  # noqa: DJ001
    result_version = models.CharField(max_length=64, null=True, blank=True, editable=False)  # noqa: DJ001
    before = models.ForeignKey(
        Snapshot,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    after = models.ForeignKey(
        Snapshot,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    patch = models.JSONField(default=list, editable=False)
    summary = models.TextField(editable=False)
    findings = models.JSONField(default=list, editable=False)
    outcome = models.CharField(
        max_length=12, choices=OUTCOME_CHOICES, default=APPLIED, editable=False
    )
    restores = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="restored_by",
        editable=False,
    )
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)

    objects = AuditEntryManager()

    class Meta:
        ordering = ("seq",)
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["checkpoint", "seq"], name="auditentry_checkpoint_seq")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.checkpoint} by {self.actor}: {self.summary}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableEntry(f"Audit entry #{self.seq} is append-only: save() is refused.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableEntry(f"Audit entry #{self.seq} is append-only: delete() is refused.")


class PendingChange(models.Model):
    """Write-ahead journal: an apply in flight, committed before the file is touched.

    A row left behind means the process stopped between journaling and committing; recovery
    compares the file with ``base_version``/``result_version`` and appends the entry.
    """

    checkpoint = models.CharField(max_length=128, db_index=True)
    action = models.CharField(max_length=16, choices=AuditEntry.ACTION_CHOICES)
    payload = models.JSONField()
    base_version = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    result_version = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("created", "id")

    def __str__(self) -> str:
        return f"pending {self.action} on {self.checkpoint} since {self.created:%Y-%m-%d %H:%M:%S}"


class CheckpointAccess(models.Model):
    """Holds the console's permissions; has no table."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_checkpoints", "Can view checkpoints"),
            ("change_checkpoints", "Can skip, reprocess, edit, create and restore checkpoints"),
            ("reset_checkpoints", "Can reset (delete) checkpoints"),
        ]

    def __str__(self) -> str:
        return "checkpoint access"


class StatusJob(models.Model):
    """How a checkpoint appears on the status page: its title, description, order, visibility."""

    name = models.CharField("checkpoint name", max_length=128, unique=True)
    display_name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    hidden = models.BooleanField(default=False)
    position = models.IntegerField(default=0)

    class Meta:
        ordering = ("position", "name")

    def __str__(self) -> str:
        return self.display_name or self.name
