"""The console's tables: audit entries and their snapshots, the write-ahead journal, status jobs.

``AuditEntry`` is append-only: the model and its queryset refuse update and delete, and the
only code that inserts entries is :func:`checkpoints_admin.audit.append_entry`, called by
``services.py``.
"""

from __future__ import annotations

import hashlib
import logging
import struct
import threading
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Iterable
from contextlib import suppress
from functools import lru_cache
from typing import Any, ClassVar, Final

from django.conf import settings
from django.db import DatabaseError, connection, models
from django.utils import timezone

try:  # Python 3.14+
    from compression import zstd as _zstd  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the interpreter
    _zstd = None

logger = logging.getLogger(__name__)

ZLIB = "zlib"
ZSTD = "zstd"
DEFAULT_COMPRESSION = ZSTD if _zstd is not None else ZLIB

#: A version stored as a delta of another is at most this many deltas from a full copy, so
#: reading any snapshot reconstructs at most this many steps.
MAX_DELTA_DEPTH: Final = 16
#: A delta is kept only when it is this many times smaller than the bytes it stands for.
DELTA_GAIN: Final = 4

_DELTA_MAGIC: Final = b"CKD2"
_COPY: Final = struct.Struct("<cQQ")  # b"C", offset in the base, byte length
_INSERT: Final = struct.Struct("<cQ")  # b"I", byte length (the bytes follow)
_SCAN_CHUNK: Final = 65536
_PROBE: Final = 48  # bytes looked for to find where the two sides agree again
_NEAR: Final = 4096  # how far on they are looked for first
#: How many times the bytes of both sides :func:`make_delta`'s searches may scan, at most.
_SCAN_BUDGET: Final = 16


_SNAPSHOT_HEAD: Final = ("sha", "size", "compression", "base", "depth", "created")


def insert_row(obj: models.Model, *, ignore_conflicts: bool = False) -> None:
    """INSERT one row as ``bulk_create([obj])`` would, without the ORM's per-query overhead.

    The write path runs a few inserts per intervention; values go through each field's own
    ``get_db_prep_save``, so JSON, dates and bytes are stored exactly as the ORM stores them.
    An auto primary key is read back into ``obj``.
    """
    sql, params, auto = insert_statement(obj, ignore_conflicts=ignore_conflicts)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if auto is not None:
            setattr(obj, auto.attname, cursor.fetchone()[0])
    mark_inserted(obj)


def insert_rows(
    first: Iterable[models.Model], last: models.Model, *, ignore_conflicts: bool = True
) -> None:
    """INSERT the rows ``first`` (with ``ignore_conflicts``), then ``last``, as :func:`insert_row`
    would. On PostgreSQL they go as one statement (one round trip)."""
    first = list(first)
    if connection.vendor != "postgresql" or not first:
        for obj in first:
            insert_row(obj, ignore_conflicts=ignore_conflicts)
        insert_row(last)
        return
    clauses, params = insert_clauses(first, ignore_conflicts=ignore_conflicts)
    sql, values, auto = insert_statement(last)
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(clauses)} {sql}", [*params, *values])
        if auto is not None:
            setattr(last, auto.attname, cursor.fetchone()[0])
    for obj in (*first, last):
        mark_inserted(obj)


def insert_clauses(
    rows: Iterable[models.Model], *, ignore_conflicts: bool = True, prefix: str = "row"
) -> tuple[list[str], list[Any]]:
    """PostgreSQL ``WITH`` clauses inserting ``rows`` (``row0 AS (INSERT …)``, …) and their
    parameters, for a statement that does more in the same round trip: data-modifying
    ``WITH`` clauses always run to completion, and the rest of the statement sees the
    tables as they were before them."""
    clauses: list[str] = []
    params: list[Any] = []
    for n, obj in enumerate(rows):
        sql, values, _ = insert_statement(obj, ignore_conflicts=ignore_conflicts, returning=False)
        clauses.append(f"{prefix}{n} AS ({sql})")
        params.extend(values)
    return clauses, params


#: The SQL and fields of insert_statement, per model, database vendor and options.
_INSERTS: dict[tuple[type[models.Model], str, bool, bool], tuple[str, list[Any], Any]] = {}


def insert_statement(
    obj: models.Model, *, ignore_conflicts: bool = False, returning: bool = True
) -> tuple[str, list[Any], models.Field[Any, Any] | None]:
    """The INSERT of ``obj`` (``INSERT INTO t (columns) VALUES (%s, …)`` and its options),
    its parameters as the ORM would prepare them, and the auto primary key it returns."""
    key = (type(obj), connection.vendor, ignore_conflicts, returning)
    known = _INSERTS.get(key)
    if known is None:
        meta = obj._meta
        auto = meta.pk if isinstance(meta.pk, models.AutoField) else None
        fields = [f for f in meta.concrete_fields if f is not auto]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(str(f.column)) for f in fields)
        marks = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"
        if ignore_conflicts:
            sql += " ON CONFLICT DO NOTHING"
        if auto is not None and returning:
            sql += f" RETURNING {quote(str(auto.column))}"
        known = _INSERTS[key] = (sql, fields, auto if returning else None)
    sql, fields, auto = known
    return sql, [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields], auto


#: PostgreSQL's error for a named statement the session does not hold (26000): what a pooler
#: that hands the process another server session gives, or a session reset (DISCARD ALL).
#: Raised before the statement runs.
_LOST: Final = "26000"
#: The session holds the name, planned for tables of another shape ("cached plan must not
#: change result type", 0A000: a migration ran since). Raised before the statement runs.
_STALE: Final = "0A000"
#: The session holds the name already (42P05): named by its text, it is this statement.
_HELD_ALREADY: Final = "42P05"
#: After this many statements lost by the sessions (a pooler in transaction mode), this
#: process runs them unnamed, with one warning.
_LOSSES_ALLOWED: Final = 3
_losses = 0
#: The named statements each server session (psycopg connection) holds, as far as this
#: process prepared them there.
_SESSIONS: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
_sessions_guard = threading.Lock()


def prepared_rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """The rows of ``sql``, which every audited change runs, as a named prepared statement.

    PostgreSQL parses and plans a statement at every call; these are long (several inserts
    in ``WITH`` clauses) and run at every change, so each server session prepares them once
    (``PREPARE``) and then only runs them (``EXECUTE``): about a tenth of an audited change's
    time. The name is the sha256 of the text, so a session can only ever hold this very
    statement under it: behind a pooler that hands sessions from one client to another, a
    name another process prepared is the same statement, and one the session lacks is
    refused before it runs, which runs the statement unnamed (after a few such losses, the
    process stops naming them, with one warning). Off with ``DATABASE_PREPARED_STATEMENTS``
    set to false, and inside a transaction (where a refused statement would abort it).
    PostgreSQL only (its callers' other branch does SQLite).
    """
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    if not _naming() or connection.in_atomic_block:
        return _run(sql, params, on_server=True)
    name, prepare, execute = _named(sql)
    held = _held(connection.connection)
    try:
        if name not in held:
            _prepare(prepare)
            held.add(name)
        return _run(execute, params, on_server=False)
    except DatabaseError as exc:
        state = getattr(exc.__cause__, "sqlstate", None)
        if state not in (_LOST, _STALE):
            raise
    held.discard(name)
    if state == _STALE:
        with suppress(DatabaseError):
            _run(f"DEALLOCATE {name}", [], on_server=True)  # prepared again at the next call
    else:
        _lose()
    return _run(sql, params, on_server=True)


def _naming() -> bool:
    return _losses < _LOSSES_ALLOWED and bool(
        getattr(settings, "DATABASE_PREPARED_STATEMENTS", True)
    )


def _lose() -> None:
    global _losses
    with _sessions_guard:
        _losses += 1
        gave_up = _losses == _LOSSES_ALLOWED
    if gave_up:
        logger.warning(
            "PostgreSQL sessions lost the statements this process prepared (a connection "
            "pooler in transaction mode?); they are planned at each change from now on. Set "
            "DATABASE_PREPARED_STATEMENTS=false to not prepare them."
        )


def _held(session: Any) -> set[str]:
    with _sessions_guard:
        held = _SESSIONS.get(session)
        if held is None:
            held = _SESSIONS[session] = set()
        return held


@lru_cache(maxsize=64)
def _named(sql: str) -> tuple[str, str, str]:
    """The name of ``sql`` (``%s`` placeholders), its ``PREPARE`` and its ``EXECUTE``."""
    pieces = sql.split("%s")
    if any("%" in piece for piece in pieces):
        raise ValueError("a prepared statement takes %s placeholders only")
    name = "ckpt_" + hashlib.sha256(sql.encode()).hexdigest()[:40]
    body = pieces[0] + "".join(f"${n}{piece}" for n, piece in enumerate(pieces[1:], 1))
    arguments = f"({', '.join(['%s'] * (len(pieces) - 1))})" if len(pieces) > 1 else ""
    return name, f"PREPARE {name} AS {body}", f"EXECUTE {name}{arguments}"


def _prepare(statement: str) -> None:
    try:
        _run(statement, [], on_server=True)
    except DatabaseError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != _HELD_ALREADY:
            raise


def _run(sql: str, params: list[Any], *, on_server: bool) -> list[tuple[Any, ...]]:
    """Run ``sql`` on a cursor of its own: parameters bound on the server, or (an
    ``EXECUTE``, whose arguments the server types only when it runs) written into the text."""
    import psycopg

    with connection.wrap_database_errors:
        cursor_class: Any = psycopg.Cursor if on_server else psycopg.ClientCursor
        raw = cursor_class(connection.connection)
    # Wrapped as Django wraps its own: errors as django.db errors, queries logged under DEBUG
    # and in tests.
    wrap = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    with wrap(raw) as cursor:
        cursor.execute(sql, params or None)
        return cursor.fetchall() if cursor.description else []


def mark_inserted(obj: models.Model) -> None:
    """Mark ``obj`` as a stored row (as the ORM does after an insert)."""
    obj._state.adding = False
    obj._state.db = connection.alias


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


def _match_length(a: bytes, i: int, b: bytes, j: int) -> int:
    """How many bytes from ``a[i]`` on equal those from ``b[j]`` on (C-speed compares of
    growing chunks, then a binary search in the last one)."""
    limit = min(len(a) - i, len(b) - j)
    n, chunk = 0, 256
    while n + chunk <= limit and a[i + n : i + n + chunk] == b[j + n : j + n + chunk]:
        n += chunk
        chunk = min(chunk * 2, _SCAN_CHUNK)
    lo, hi = n, min(n + chunk, limit)
    while lo < hi:  # a[i:i+lo] matches; the first difference is before hi
        mid = (lo + hi + 1) // 2
        if a[i + lo : i + mid] == b[j + lo : j + mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


class _DeltaWriter:
    """Collects copy and insert operations, merging neighbours."""

    def __init__(self) -> None:
        self.out = [_DELTA_MAGIC]
        self.copy: tuple[int, int] | None = None
        self.literal: list[bytes] = []

    def add_copy(self, offset: int, length: int) -> None:
        if length <= 0:
            return
        self._flush_literal()
        if self.copy is not None and self.copy[0] + self.copy[1] == offset:
            self.copy = (self.copy[0], self.copy[1] + length)
            return
        self._flush_copy()
        self.copy = (offset, length)

    def add_literal(self, data: bytes) -> None:
        if data:
            self._flush_copy()
            self.literal.append(data)

    def _flush_copy(self) -> None:
        if self.copy is not None:
            self.out.append(_COPY.pack(b"C", *self.copy))
            self.copy = None

    def _flush_literal(self) -> None:
        if self.literal:
            chunk = b"".join(self.literal)
            self.out.append(_INSERT.pack(b"I", len(chunk)))
            self.out.append(chunk)
            self.literal.clear()

    def result(self) -> bytes:
        self._flush_copy()
        self._flush_literal()
        return b"".join(self.out)


def make_delta(old: bytes, new: bytes, limit: int | None = None) -> bytes | None:
    """``new`` as byte ranges copied from ``old`` and inserted bytes; None when the delta
    would be longer than ``limit``.

    Greedy, with C-speed compares and searches: equal stretches are copied; at a difference
    the next bytes of one side are looked for a little further on in the other (an insertion
    or a deletion), then anywhere further on, else one line of ``new`` replaces one line of
    ``old``. The searches together scan at most :data:`_SCAN_BUDGET` times the bytes of both
    sides (None beyond: a full copy is cheaper than finding every change of a document
    rewritten throughout), so a delta costs linear time whatever the change.
    """
    writer = _DeltaWriter()
    i = j = 0
    size = 0
    budget = _SCAN_BUDGET * (len(old) + len(new)) + (1 << 20)
    while j < len(new):
        run = _match_length(old, i, new, j) if i < len(old) else 0
        if run:
            writer.add_copy(i, run)
            i += run
            j += run
            size += _COPY.size
            continue
        if i >= len(old):
            writer.add_literal(new[j:])
            size += len(new) - j
            break
        # Resynchronise: a deletion from old, or an insertion into new, whichever is shorter,
        # near first (most edits are local). Then, unless this is one changed line, the next
        # bytes of new anywhere in old: further on (a long run of items removed) or before
        # (a run moved to a list further down: skipped items); a copy may start anywhere.
        wanted, found = new[j : j + _PROBE], old[i : i + _PROBE]
        deleted = old.find(wanted, i + 1, i + _NEAR + _PROBE)
        inserted = new.find(found, j + 1, j + _NEAR + _PROBE)
        if deleted == -1 and inserted == -1:
            end_new, end_old = new.find(b"\n", j) + 1, old.find(b"\n", i) + 1
            agree = _match_length(old, end_old, new, end_new) if end_new and end_old else 0
            if agree < min(_PROBE, len(new) - end_new):  # (else one changed line: below)
                deleted = old.find(wanted)
                budget -= _scanned(deleted, 0, len(old))
                if deleted == -1:
                    inserted = new.find(found, j + 1)
                    budget -= _scanned(inserted, j, len(new))
        if budget < 0:
            return None
        if deleted != -1 and (inserted == -1 or deleted - i <= inserted - j):
            i = deleted
        elif inserted != -1:
            writer.add_literal(new[j:inserted])
            size += inserted - j
            j = inserted
        else:  # a changed line: replace up to the next line end on both sides
            end_new = new.find(b"\n", j)
            end_new = len(new) if end_new == -1 else end_new + 1
            end_old = old.find(b"\n", i)
            i = len(old) if end_old == -1 else end_old + 1
            writer.add_literal(new[j:end_new])
            size += end_new - j + _INSERT.size
            j = end_new
        if limit is not None and size > limit:
            return None
    return writer.result()


def _scanned(found: int, start: int, size: int) -> int:
    """About how many bytes a search from ``start`` on read: up to what it found, else to
    the end (``size``)."""
    return (found if found != -1 else size) - start + _PROBE


def apply_delta(old: bytes, delta: bytes) -> bytes:
    """The bytes a delta made by :func:`make_delta` stands for."""
    if not delta.startswith(_DELTA_MAGIC):
        raise ValueError("not a snapshot delta")
    parts: list[bytes] = []
    view = memoryview(delta)
    pos = len(_DELTA_MAGIC)
    while pos < len(delta):
        op = delta[pos : pos + 1]
        if op == b"C":
            _, offset, length = _COPY.unpack_from(view, pos)
            if offset + length > len(old):
                raise ValueError("snapshot delta copies past the end of its base")
            parts.append(old[offset : offset + length])
            pos += _COPY.size
        elif op == b"I":
            _, length = _INSERT.unpack_from(view, pos)
            pos += _INSERT.size
            if pos + length > len(delta):
                raise ValueError("snapshot delta ends inside inserted bytes")
            parts.append(bytes(view[pos : pos + length]))
            pos += length
        else:
            raise ValueError(f"unknown snapshot delta operation {op!r}")
    return b"".join(parts)


class Snapshot(models.Model):
    """The bytes of a checkpoint file at one moment, stored once, compressed, named by sha256.

    A snapshot is either a full compressed copy or, when it has a ``base``, a compressed
    line delta against that snapshot (at most ``MAX_DELTA_DEPTH`` deltas from a full copy):
    a 20 MB checkpoint edited a hundred times costs a few full copies, not a hundred.
    """

    sha = models.CharField(primary_key=True, max_length=64, editable=False)
    data = models.BinaryField(editable=False)
    compression = models.CharField(max_length=8, default=ZLIB, editable=False)
    size = models.PositiveBigIntegerField(editable=False)
    base = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("-created",)

    def __str__(self) -> str:
        kind = f"delta of {self.base_id[:12]}" if self.base_id else "full"
        return f"snapshot {self.sha[:12]} ({self.size} bytes, {kind})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableEntry("Snapshots are content-addressed and cannot be changed.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    @classmethod
    def store(
        cls,
        raw: bytes,
        *,
        base: Snapshot | None = None,
        base_raw: bytes | None = None,
        sha: str | None = None,
    ) -> Snapshot:
        """Return the snapshot of ``raw``, creating it if these bytes were never stored.

        With ``base`` (and its bytes ``base_raw``, when the caller has them) new bytes are
        stored as a delta of that snapshot when that is much smaller than a full copy.
        ``sha`` saves hashing ``raw`` again when the caller just did.
        """
        raw = bytes(raw)
        sha = sha or hashlib.sha256(raw).hexdigest()
        existing = Snapshot.objects.filter(pk=sha).only(*_SNAPSHOT_HEAD).first()
        if existing is not None:
            return existing
        snapshot = cls.build(raw, sha=sha, base=base, base_raw=base_raw)
        # Another process may store the same bytes at the same moment: content-addressed, so
        # whichever row lands is the same snapshot.
        insert_row(snapshot, ignore_conflicts=True)
        return snapshot

    @classmethod
    def build(
        cls,
        raw: bytes,
        *,
        sha: str | None = None,
        base: Snapshot | None = None,
        base_raw: bytes | None = None,
    ) -> Snapshot:
        """An unsaved snapshot of ``raw``: a delta of ``base`` when much smaller, else full."""
        raw = bytes(raw)
        sha = sha or hashlib.sha256(raw).hexdigest()
        snapshot = Snapshot(sha=sha, compression=DEFAULT_COMPRESSION, size=len(raw))
        if base is not None and base.depth < MAX_DELTA_DEPTH and base.sha != sha:
            try:
                old = base_raw if base_raw is not None else base.raw
            except SnapshotCorrupt:
                old = None  # never build on a broken base: store a full copy
            delta = make_delta(old, raw, len(raw) // DELTA_GAIN) if old is not None else None
            if delta is not None and len(delta) * DELTA_GAIN <= len(raw):
                snapshot.base, snapshot.depth = base, base.depth + 1
                snapshot.data = _compress(delta, DEFAULT_COMPRESSION)
        if snapshot.base_id is None:
            snapshot.data = _compress(raw, DEFAULT_COMPRESSION)
        return snapshot

    @property
    def raw(self) -> bytes:
        """The original bytes, checked against the sha256 they are named by."""
        return self.read_raw()

    def read_raw(self, cache: RawCache | None = None) -> bytes:
        """The original bytes (reconstructed through the delta chain), checked by sha256.

        ``cache`` saves reading and reconstructing shared bases when many snapshots are read
        in a row (each is added to it).
        """
        chain: list[Snapshot] = []
        node: Snapshot | None = self
        raw = cache.get(self.sha) if cache is not None else None
        while node is not None and raw is None:
            chain.append(node)
            if node.base_id is None:
                break
            if len(chain) > MAX_DELTA_DEPTH + 1:
                raise SnapshotCorrupt(f"snapshot {self.sha} has a delta chain that is too long")
            raw = cache.get(node.base_id) if cache is not None else None
            if raw is not None:
                break
            node = Snapshot.objects.filter(pk=node.base_id).first()
            if node is None:
                raise SnapshotCorrupt(f"snapshot {chain[-1].sha} lost its base snapshot")
        for snapshot in reversed(chain):
            try:
                data = _decompress(bytes(snapshot.data), snapshot.compression)
                raw = data if raw is None else apply_delta(raw, data)
            except (zlib.error, ValueError, struct.error) as exc:
                raise SnapshotCorrupt(
                    f"snapshot {snapshot.sha} cannot be decompressed: {exc}"
                ) from None
            except Exception as exc:  # zstd raises its own error type
                if exc.__class__.__name__ == "ZstdError":
                    raise SnapshotCorrupt(
                        f"snapshot {snapshot.sha} cannot be decompressed: {exc}"
                    ) from None
                raise
            if hashlib.sha256(raw).hexdigest() != snapshot.sha:
                raise SnapshotCorrupt(f"snapshot {snapshot.sha} does not match its sha256")
            if cache is not None:
                cache.put(snapshot.sha, raw)
        assert raw is not None
        return raw


class RawCache:
    """The bytes of snapshots read lately, by sha, the least recently used dropped beyond
    ``limit`` bytes: reading a log's snapshots in order, each delta's base is usually the
    last one read of its checkpoint, however many checkpoints are interleaved."""

    def __init__(self, limit: int = 64 * 1024 * 1024) -> None:
        self.limit = limit
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0

    def get(self, sha: str | None) -> bytes | None:
        if sha is None or (raw := self._items.get(sha)) is None:
            return None
        self._items.move_to_end(sha)
        return raw

    def put(self, sha: str, raw: bytes) -> None:
        old = self._items.pop(sha, None)
        self._bytes += len(raw) - (len(old) if old is not None else 0)
        self._items[sha] = raw
        while self._bytes > self.limit and len(self._items) > 1:
            _, dropped = self._items.popitem(last=False)
            self._bytes -= len(dropped)


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

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        # Rows inserted in bulk would skip the chain's lock and hashing.
        raise ImmutableEntry(
            "Audit entries are appended one by one with append_entry(): bulk_create() is refused."
        )


class AuditEntryManager(models.Manager["AuditEntry"]):
    def get_queryset(self) -> AuditEntryQuerySet:
        return AuditEntryQuerySet(self.model, using=self._db)


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
    # (looked up through the (checkpoint, seq) index)
    checkpoint = models.CharField(max_length=128, editable=False)
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
        db_index=False,  # (indexed in Meta, without a LIKE index for a sha)
    )
    after = models.ForeignKey(
        Snapshot,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        db_index=False,  # (indexed in Meta, without a LIKE index for a sha)
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
        indexes = [
            models.Index(fields=["checkpoint", "seq"], name="auditentry_checkpoint_seq"),
            # Deleting a snapshot (prune_snapshots) looks for entries referring to it.
            models.Index(fields=["before"], name="auditentry_before"),
            models.Index(fields=["after"], name="auditentry_after"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.checkpoint} by {self.actor}: {self.summary}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A new entry is appended by audit.append_entry (chained, under the chain's lock); an
        # inserting save() would add a row outside the chain.
        if self._state.adding:
            raise ImmutableEntry(
                "Audit entries are appended through checkpoints_admin.audit.append_entry: "
                "save() is refused."
            )
        raise ImmutableEntry(f"Audit entry #{self.seq} is append-only: save() is refused.")

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
