"""The audit log's chain: canonical entries, hashing, serialised appends, verification, export.

``hash = HMAC-SHA256(AUDIT_HMAC_KEY, prev_hash + canonical)`` when ``AUDIT_HMAC_KEY`` is set,
else ``sha256(prev_hash + canonical)``; the first entry's ``prev_hash`` is 64 zeros.
The canonical form is the sorted-key compact JSON (UTF-8, as orjson writes it) of the hashed
fields below, times as ISO 8601 UTC with microseconds, JSON numbers as the database gives
them back (integral floats as integers).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any, Final, Required, TypedDict, Unpack

import orjson
from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet
from django.db.models.functions import Length
from django.utils import timezone

from checkpoints_admin.checkpoints import CheckpointStore
from checkpoints_admin.conf import get_settings, get_store
from checkpoints_admin.models import (
    AuditEntry,
    PendingChange,
    RawCache,
    Snapshot,
    SnapshotCorrupt,
    insert_row,
    insert_statement,
    mark_inserted,
    prepared_rows,
)

__all__ = [
    "GENESIS",
    "HASHED_FIELDS",
    "PruneResult",
    "EntryFields",
    "VerifyResult",
    "append_entry",
    "append_entry_at",
    "canonical_entry",
    "chain_waits_at_most",
    "entry_hash",
    "export",
    "format_time",
    "entry_number",
    "last_content",
    "latest_entry",
    "lock_chain",
    "parse_since",
    "prune_snapshots",
    "shared_verification",
    "verify_chain",
]

GENESIS: Final = "0" * 64

# Serialises appends on PostgreSQL for the length of the transaction ("CHKPAUDT").
ADVISORY_LOCK_KEY: Final = 0x43484B5041554454

#: Seconds an append waits for the chain's lock on PostgreSQL, when bounded
#: (:func:`chain_waits_at_most`); None: as long as it takes.
_chain_wait: ContextVar[float | None] = ContextVar("chain_wait", default=None)


@contextmanager
def chain_waits_at_most(seconds: float) -> Iterator[None]:
    """In this block, an append on PostgreSQL waits at most ``seconds`` for the chain's lock
    (held by another append, or for a while by ``prune_snapshots``), then fails with
    ``OperationalError`` ("canceling statement due to lock timeout"). For a caller that holds
    a checkpoint's lock meanwhile, which a job may be waiting for."""
    token = _chain_wait.set(seconds)
    try:
        yield
    finally:
        _chain_wait.reset(token)


def _chain_lock_call() -> tuple[str, list[Any]]:
    """The SQL call taking the chain's lock for the transaction, and its parameters. Bounded
    (:func:`chain_waits_at_most`), it first sets ``lock_timeout`` for the transaction: the
    ``CASE`` is the lock's argument, so it is worked out before the lock is asked for."""
    wait = _chain_wait.get()
    if wait is None:
        return "pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY]
    return (
        "pg_advisory_xact_lock(CASE WHEN set_config('lock_timeout', %s, true) IS NOT NULL "
        "THEN %s::bigint END)",
        [f"{max(1, round(wait * 1000))}ms", ADVISORY_LOCK_KEY],
    )


HASHED_FIELDS: Final = (
    "seq",
    "created",
    "actor",
    "source",
    "address",
    "action",
    "checkpoint",
    "reason",
    "base_version",
    "result_version",
    "before",
    "after",
    "patch",
    "summary",
    "findings",
    "outcome",
    "restores",
)

# The model attributes (and column names) of the hashed fields: foreign keys as their raw ids.
_ATTRIBUTES: Final = tuple(
    f"{name}_id" if name in {"before", "after", "restores"} else name for name in HASHED_FIELDS
)
_COLUMNS: Final = (*_ATTRIBUTES, "prev_hash", "hash")

EXPORT_FIELDS: Final = ("id", *HASHED_FIELDS, "prev_hash", "hash")


def format_time(value: datetime) -> str:
    """ISO 8601 in UTC with microseconds and a ``Z``: ``2025-03-06T10:15:23.456789Z``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    elif value.utcoffset():
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _normalise(value: Any) -> Any:
    """JSON values as any database gives them back: integral floats as ints (jsonb does so)."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    return value


def _fields_of(entry: AuditEntry | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(entry, AuditEntry):
        return {
            name: getattr(entry, attr)
            for name, attr in zip(HASHED_FIELDS, _ATTRIBUTES, strict=True)
        }
    return {name: entry.get(name) for name in HASHED_FIELDS}


def canonical_entry(entry: AuditEntry | Mapping[str, Any]) -> bytes:
    """The bytes an entry's hash covers (its ``prev_hash`` is prepended when hashing)."""
    return _canonical(_fields_of(entry))


def _canonical(fields: dict[str, Any], *, floats: bool = True) -> bytes:
    """Canonical bytes of a fresh field dict (changed in place). ``floats=False`` when the
    JSON fields are known to hold no float, which skips normalising them."""
    created = fields["created"]
    if isinstance(created, datetime):
        fields["created"] = format_time(created)
    for name in ("patch", "findings"):
        value = fields[name]
        if value is None:
            fields[name] = []
        elif floats:
            fields[name] = _normalise(value)
    try:
        return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        # Integers beyond 64 bits (orjson refuses them): the same data always lands here.
        return json.dumps(
            fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()


def _digest(prev_hash: str, canonical: bytes, key: str) -> str:
    message = prev_hash.encode("ascii") + canonical
    if key:
        return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
    return hashlib.sha256(message).hexdigest()


def entry_hash(
    entry: AuditEntry | Mapping[str, Any], prev_hash: str | None = None, *, key: str | None = None
) -> str:
    """The hash an entry must carry: HMAC-SHA256 with ``AUDIT_HMAC_KEY``, else plain SHA-256."""
    if prev_hash is None:
        prev_hash = entry.prev_hash if isinstance(entry, AuditEntry) else entry["prev_hash"]
    if key is None:
        key = get_settings().audit_hmac_key
    return _digest(prev_hash, canonical_entry(entry), key)


def journal_seal(
    checkpoint: str,
    action: str,
    base_version: str | None,
    result_version: str | None,
    payload: Mapping[str, Any],
    *,
    key: str | None = None,
) -> str:
    """The seal of a journal row (its fields and its payload but the seal): keyed like the
    entries' hashes. Recovery turns a journal row into an entry only with the seal the console
    gave it, so a row put into the database by anyone without the key is not recorded as
    somebody's change."""
    fields = {
        "checkpoint": checkpoint,
        "action": action,
        "base_version": base_version,
        "result_version": result_version,
        "payload": {name: value for name, value in payload.items() if name != "seal"},
    }
    normalised = _normalise(fields)
    try:
        canonical = orjson.dumps(normalised, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # integers beyond 64 bits
        canonical = json.dumps(
            normalised, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    return _digest("journal:", canonical, get_settings().audit_hmac_key if key is None else key)


def lock_chain(*, with_statement: str = "", params: Sequence[Any] = ()) -> None:
    """Serialise appends until the end of the current transaction.

    ``with_statement`` (a data-modifying statement of the caller's, with ``params``) runs in
    the same transaction: on PostgreSQL as a ``WITH`` clause of the statement taking the lock,
    so both cost one round trip (a data-modifying ``WITH`` always runs to completion).
    """
    if connection.vendor == "postgresql":
        call, lock_params = _chain_lock_call()
        sql = f"SELECT {call}"
        if with_statement:
            sql = f"WITH caller AS ({with_statement}) {sql}"
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, *lock_params])
        return
    # SQLite: the IMMEDIATE transaction mode (settings) took the database's write lock at BEGIN.
    if with_statement:
        with connection.cursor() as cursor:
            cursor.execute(with_statement, list(params))


def _head() -> tuple[int, str]:
    """The last entry's seq and hash (plain SQL: every append reads it)."""
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT seq, hash FROM {table} ORDER BY seq DESC LIMIT 1")
        head = cursor.fetchone()
    return (int(head[0]), head[1]) if head is not None else (0, GENESIS)


def latest_entry() -> tuple[int, str, str, datetime] | None:
    """The newest entry's seq, checkpoint, action and time; None for an empty log, or when
    the database cannot be reached (its callers say what they can without it)."""
    try:
        return (
            AuditEntry.objects.order_by("-seq")
            .values_list("seq", "checkpoint", "action", "created")
            .first()
        )
    except DatabaseError:
        return None


_ENTRY_NUMBER_RE: Final = re.compile(r"-?[0-9]+")


def entry_number(text: str) -> int:
    """An audit entry's number as a person typed it (``--entry``, a restore address): ASCII
    digits, blanks around them ignored; ValueError otherwise. (``int()`` also reads "1_0" as
    10, and digits of other scripts.) Whether such an entry exists is for the caller."""
    text = text.strip()
    if _ENTRY_NUMBER_RE.fullmatch(text) is None:
        raise ValueError(f"not an audit entry number: {text!r}")
    return int(text)


def last_content(entries: Iterable[AuditEntry]) -> tuple[AuditEntry, str] | None:
    """Of a checkpoint that has no file now, given its entries newest first: the entry and
    side holding the last content the log knows, to restore it. The before of a change that
    deleted the file (a reset), or the after of one that left a file since removed outside
    the console; attempts that did not land are passed over. None when the log holds none.
    """
    for entry in entries:
        if entry.outcome == AuditEntry.INTERRUPTED:
            continue
        if entry.after_id is not None:
            return entry, "after"
        if entry.before_id is not None:
            return entry, "before"
    return None


class EntryFields(TypedDict, total=False):
    """What an appended entry says (the chain adds seq, prev_hash and hash)."""

    actor: Required[str]
    source: Required[str]
    action: Required[str]
    checkpoint: Required[str]
    reason: Required[str]
    summary: Required[str]
    address: str
    base_version: str | None
    result_version: str | None
    before: Snapshot | str | None
    after: Snapshot | str | None
    patch: list[dict[str, Any]] | None
    findings: list[dict[str, Any]] | None
    outcome: str
    restores: AuditEntry | int | None
    created: datetime | None


def _check_fields(fields: EntryFields) -> None:
    if fields["source"] not in dict(AuditEntry.SOURCE_CHOICES):
        raise ValueError(f"Unknown audit source {fields['source']!r}.")
    if fields["action"] not in dict(AuditEntry.ACTION_CHOICES):
        raise ValueError(f"Unknown audit action {fields['action']!r}.")
    outcome = fields.get("outcome", AuditEntry.APPLIED)
    if outcome not in dict(AuditEntry.OUTCOME_CHOICES):
        raise ValueError(f"Unknown audit outcome {outcome!r}.")
    if not fields["reason"] or not fields["reason"].strip():
        raise ValueError("An audit entry needs a reason.")


def _new_entry(seq: int, prev_hash: str, key: str, fields: EntryFields) -> AuditEntry:
    """The entry following ``seq``/``prev_hash``, hashed, not stored."""
    before, after = fields.get("before"), fields.get("after")
    restores = fields.get("restores")
    entry = AuditEntry(
        seq=seq + 1,
        created=fields.get("created") or timezone.now(),
        actor=fields["actor"],
        source=fields["source"],
        address=fields.get("address") or "",
        action=fields["action"],
        checkpoint=fields["checkpoint"],
        reason=fields["reason"].strip(),
        base_version=fields.get("base_version"),
        result_version=fields.get("result_version"),
        before_id=before.pk if isinstance(before, Snapshot) else before,
        after_id=after.pk if isinstance(after, Snapshot) else after,
        patch=list(fields.get("patch") or []),
        summary=fields["summary"],
        findings=list(fields.get("findings") or []),
        outcome=fields.get("outcome", AuditEntry.APPLIED),
        restores_id=restores.pk if isinstance(restores, AuditEntry) else restores,
        prev_hash=prev_hash,
    )
    # The stored time is what is hashed: keep the precision every backend round-trips.
    entry.created = entry.created.astimezone(UTC)
    entry.hash = entry_hash(entry, prev_hash, key=key)
    return entry


def append_entry(*, chain_locked: bool = False, **fields: Unpack[EntryFields]) -> AuditEntry:
    """Append one entry at the head of the chain (its own transaction, or the caller's).

    ``chain_locked``: the caller's transaction took :func:`lock_chain` already.
    """
    _check_fields(fields)
    key = get_settings().audit_hmac_key
    # No savepoint when nested (apply's transaction): a failure here rolls the whole back.
    # The lock taken by the caller holds only inside the caller's transaction.
    locked = chain_locked and connection.in_atomic_block
    with transaction.atomic(savepoint=False):
        if not locked:
            lock_chain()
        seq, prev_hash = _head()
        entry = _new_entry(seq, prev_hash, key, fields)
        insert_row(entry)
    return entry


#: Tries of :func:`append_entry_at` before it appends under the lock for a whole transaction.
_RACES: Final = 4


def append_entry_at(
    head: tuple[int, str] | None,
    *,
    delete: tuple[str, int] | None = None,
    relax_commit: bool = False,
    **fields: Unpack[EntryFields],
) -> AuditEntry:
    """Append one entry (fields as :func:`append_entry` takes them) in one autocommitted
    statement on PostgreSQL, hashed against ``head``: the chain's (seq, hash) as read a
    moment ago, for instance in a query made anyway (None: read it now).

    The statement takes the chain's advisory lock and inserts the entry unless its seq was
    taken meanwhile, so the chain cannot fork; if it was, the entry is hashed again against
    the head the statement saw and tried again, and after a few lost races appended under
    the lock for a whole transaction. ``delete`` (a table and an id) deletes that row in the
    same statement when the entry goes in, and only then; ``relax_commit`` lets the commit of
    that delete skip waiting for the WAL flush (see ``services``: the deleted row was
    committed durably and still covers the change if this commit is lost).

    Elsewhere (SQLite, or inside a transaction) this is :func:`append_entry` in a transaction
    that also runs the delete.
    """
    _check_fields(fields)
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return _append_locked(delete, relax_commit, fields)
    key = get_settings().audit_hmac_key
    quote = connection.ops.quote_name
    table = quote(AuditEntry._meta.db_table)
    for _ in range(_RACES):
        seq, prev_hash = head if head is not None else _head()
        entry = _new_entry(seq, prev_hash, key, fields)
        sql, params, _auto = insert_statement(entry, returning=False)
        values_at = sql.index(" VALUES (")
        call, lock_params = _chain_lock_call()
        sql = (
            f"{sql[:values_at]} SELECT {sql[values_at + 9 : -1]} "
            f"FROM (SELECT {call}) AS chain_lock "
            f"ON CONFLICT ({quote('seq')}) DO NOTHING RETURNING 1"
        )
        params = [*params, *lock_params]
        clauses = [f"appended AS ({sql})"]
        if delete is not None:
            relaxed = ", set_config('synchronous_commit', 'off', true)" if relax_commit else ""
            clauses.append(
                f"forgotten AS (DELETE FROM {quote(delete[0])} WHERE id = %s "
                f"AND EXISTS (SELECT FROM appended) RETURNING 1{relaxed})"
            )
            params.append(delete[1])
        ((appended, head_seq, head_hash),) = prepared_rows(
            f"WITH {', '.join(clauses)} SELECT EXISTS (SELECT FROM appended), head.seq, "
            f"head.hash FROM (SELECT) AS one LEFT JOIN (SELECT seq, hash FROM {table} "
            "ORDER BY seq DESC LIMIT 1) AS head ON true",
            params,
        )
        if appended:
            mark_inserted(entry)
            return entry
        # Another process appended first: its entry is the new head (the statement may not
        # have seen it yet when it waited for the lock; the next try does).
        head = (int(head_seq), head_hash) if head_seq is not None else None
    return _append_locked(delete, relax_commit, fields)


def _append_locked(
    delete: tuple[str, int] | None, relax_commit: bool, fields: EntryFields
) -> AuditEntry:
    with transaction.atomic(savepoint=False):
        if delete is not None:
            statement = f"DELETE FROM {connection.ops.quote_name(delete[0])} WHERE id = %s"
            if relax_commit and connection.vendor == "postgresql":
                statement += " RETURNING set_config('synchronous_commit', 'off', true)"
            lock_chain(with_statement=statement, params=[delete[1]])
        else:
            lock_chain()
        return append_entry(**fields, chain_locked=True)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of :func:`verify_chain`; ``first_break`` is the first bad entry's seq."""

    ok: bool
    checked: int
    first_break: int | None
    message: str
    #: The newest entry's seq and hash: recorded elsewhere, they let a later run tell that
    #: newest entries were deleted (which leaves a shorter chain that verifies).
    head: tuple[int, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_break": self.first_break,
            "message": self.message,
            "head": {"seq": self.head[0], "hash": self.head[1]} if self.head else None,
        }


def _verify_snapshot(snapshot: Snapshot, cache: RawCache) -> str | None:
    try:
        raw = snapshot.read_raw(cache)
    except SnapshotCorrupt as exc:
        return str(exc)
    if len(raw) != snapshot.size:
        return f"snapshot {snapshot.sha} is {len(raw)} bytes, recorded as {snapshot.size}"
    return None


def _verify_snapshots(first_use: dict[str, int]) -> list[tuple[int, str]]:
    """Rebuild and hash every referenced snapshot, bases before the deltas built on them."""
    shas = list(first_use)
    created: dict[str, Any] = {}
    for start in range(0, len(shas), 500):
        rows = Snapshot.objects.filter(pk__in=shas[start : start + 500]).values_list(
            "sha", "created"
        )
        created.update(rows)
    bad = [(first_use[sha], f"snapshot {sha} is missing") for sha in shas if sha not in created]
    ordered = sorted(created, key=lambda sha: (created[sha], sha))
    cache = RawCache()
    for start in range(0, len(ordered), 50):
        batch = ordered[start : start + 50]
        snapshots = Snapshot.objects.in_bulk(batch)
        for sha in batch:
            problem = _verify_snapshot(snapshots[sha], cache)
            if problem is not None:
                bad.append((first_use[sha], problem))
    return bad


# A JSON number with a fraction or an exponent: a digit then "." or "e" (strings may match too,
# which only costs a normalisation that changes nothing).
_FLOATY: Final = re.compile(r"[0-9][.eE]")


def _load_json(value: Any) -> tuple[Any, bool]:
    """The decoded value, and whether it may hold a float."""
    if not isinstance(value, (str, bytes)):
        return value, True  # a driver that decodes JSON itself
    text = value.decode() if isinstance(value, bytes) else value
    try:
        return orjson.loads(text), _FLOATY.search(text) is not None
    except orjson.JSONDecodeError:
        return json.loads(text), True


def _load_time(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def stored_rows(chunk_size: int = 2000) -> Iterator[tuple[Any, ...]]:
    """Every entry's hashed columns, then prev_hash, hash and whether its JSON may hold a
    float, in seq order, as stored.

    Plain SQL in keyset pages: verifying 100,000 entries should not pay the ORM per row.
    """
    quote = connection.ops.quote_name
    table = quote(AuditEntry._meta.db_table)
    columns = ", ".join(quote(column) for column in _COLUMNS)
    json_at = [_COLUMNS.index("patch"), _COLUMNS.index("findings")]
    created_at = _COLUMNS.index("created")
    last = -1
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                f"SELECT {columns} FROM {table} WHERE seq > %s ORDER BY seq LIMIT %s",
                [last, chunk_size],
            )
            rows = cursor.fetchall()
            for raw in rows:
                row = list(raw)
                row[created_at] = _load_time(row[created_at])
                floats = False
                for index in json_at:
                    row[index], floaty = _load_json(row[index])
                    floats = floats or floaty
                yield (*row, floats)
            if len(rows) < chunk_size:
                return
            last = rows[-1][0]


def verify_chain(
    *, chunk_size: int = 2000, expect_head: tuple[int, str] | None = None
) -> VerifyResult:
    """Recompute every entry's hash in order, check seq has no gap and each snapshot its sha.

    ``expect_head``: a head (seq, hash) an earlier run gave; the log must still hold that
    entry with that hash, else it was cut short or rewritten from there.
    """
    key = get_settings().audit_hmac_key
    seen_head: str | None = None
    expected_prev = GENESIS
    expected_seq = 1
    checked = 0
    first_use: dict[str, int] = {}
    for row in stored_rows(chunk_size):
        fields = dict(zip(HASHED_FIELDS, row, strict=False))
        prev_hash, stored_hash, floats = row[-3], row[-2], row[-1]
        seq = fields["seq"]
        if seq != expected_seq:
            if seq > expected_seq:
                missing = (
                    f"entry {expected_seq} is missing"
                    if seq == expected_seq + 1
                    else f"entries {expected_seq}–{seq - 1} are missing"
                )
            else:
                missing = f"entry {seq} is out of order"
            return VerifyResult(
                False, checked, expected_seq, f"Audit chain broken: {missing} (gap before {seq})."
            )
        if prev_hash != expected_prev:
            return VerifyResult(
                False,
                checked,
                seq,
                f"Audit chain broken at entry {seq}: its prev_hash does not match the hash of "
                f"entry {seq - 1}.",
            )
        if _digest(prev_hash, _canonical(fields, floats=floats), key) != stored_hash:
            return VerifyResult(
                False,
                checked,
                seq,
                f"Audit chain broken at entry {seq}: its hash does not match its content "
                "(the entry was altered, or the AUDIT_HMAC_KEY differs from the one it was "
                "written with).",
            )
        for side in ("before", "after"):
            sha = fields[side]
            if sha is not None and sha not in first_use:
                first_use[sha] = seq
        if expect_head is not None and seq == expect_head[0]:
            seen_head = stored_hash
        expected_prev = stored_hash
        expected_seq += 1
        checked += 1

    bad = _verify_snapshots(first_use)
    if bad:
        seq, problem = min(bad)
        return VerifyResult(
            False, checked, seq, f"Audit snapshot broken at entry {seq}: {problem}."
        )
    head = (checked, expected_prev) if checked else None
    if expect_head is not None:
        seq, recorded = expect_head
        if seen_head is None:
            ends = f"it ends at entry {checked}" if checked else "it is empty"
            return VerifyResult(
                False,
                checked,
                checked + 1,
                f"Audit log cut short: entry {seq}, the newest when its head was recorded, is "
                f"missing ({ends}).",
                head,
            )
        if seen_head != recorded.lower():
            return VerifyResult(
                False,
                checked,
                seq,
                f"Audit chain broken at entry {seq}: its hash is not the one recorded for it "
                "(the log was rewritten from there, or the recorded head is of another log).",
                head,
            )
    if checked == 0:
        return VerifyResult(True, 0, None, "The audit log is empty.")
    return VerifyResult(
        True,
        checked,
        None,
        f"Audit chain intact: {checked} {'entry' if checked == 1 else 'entries'}, "
        f"{len(first_use)} {'snapshot' if len(first_use) == 1 else 'snapshots'} verified. "
        f"Head: {checked}:{expected_prev}",
        head,
    )


#: The latest verification of the whole chain for the console's "Verify" buttons: the number
#: of requests asked when it started, and its result (``verify_audit`` always verifies anew).
_verification: tuple[int, VerifyResult] | None = None
_verification_lock = threading.Lock()
#: Requests for a verification so far (each one's ticket), under ``_asked_lock``.
_verification_asked = 0
_asked_lock = threading.Lock()


def shared_verification() -> VerifyResult:
    """The whole chain verified, as it is at the time of asking or later: a verification
    that started after this request was made answers it (many readers pressing at once
    share one, as each would hash every entry and rebuild every snapshot); one that started
    before it never does, so that a row changed since is always seen."""
    global _verification, _verification_asked
    with _asked_lock:
        _verification_asked += 1
        ticket = _verification_asked
    with _verification_lock:  # (one verification at a time)
        done = _verification
        if done is not None and done[0] >= ticket:
            return done[1]
        with _asked_lock:
            started = _verification_asked  # every request so far is answered by this one
        result = verify_chain()
        _verification = (started, result)
        return result


def parse_since(since: datetime | date | str | None) -> datetime | None:
    """An export's start as an aware time: a date is its midnight UTC, a naive time is UTC,
    a string is ``YYYY-MM-DD`` or ISO 8601 (``ValueError`` otherwise)."""
    if since is None:
        return None
    if isinstance(since, str):
        text = since.strip()
        try:
            parsed: datetime | date = (
                date.fromisoformat(text)
                if len(text) == 10
                else datetime.fromisoformat(text.replace("Z", "+00:00"))
            )
        except ValueError:
            raise ValueError(f"Not a date or time: {since!r} (use YYYY-MM-DD).") from None
        since = parsed
    if not isinstance(since, datetime):
        since = datetime.combine(since, time.min, tzinfo=UTC)
    elif timezone.is_naive(since):
        since = since.replace(tzinfo=UTC)
    return since


def export_record(entry: AuditEntry) -> dict[str, Any]:
    """One entry as a JSON-ready record; snapshots named by sha, never inline."""
    fields = _fields_of(entry)
    return {
        "id": entry.seq,
        **fields,
        "created": format_time(entry.created),
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def export_records(
    checkpoint: str | None = None,
    since: datetime | date | str | None = None,
    *,
    entries: QuerySet[AuditEntry] | None = None,
) -> Generator[dict[str, Any]]:
    """The entries (optionally of one checkpoint, from a time on, among ``entries``: all by
    default, or a filtered queryset) as records, in seq order."""
    entries = (entries if entries is not None else AuditEntry.objects.all()).order_by("seq")
    if checkpoint:
        entries = entries.filter(checkpoint=checkpoint)
    since_dt = parse_since(since)
    if since_dt is not None:
        entries = entries.filter(created__gte=since_dt)
    for entry in entries.iterator(chunk_size=2000):
        yield export_record(entry)


def export(
    fmt: str,
    stream: IO[str],
    checkpoint: str | None = None,
    since: datetime | date | str | None = None,
    *,
    entries: QuerySet[AuditEntry] | None = None,
) -> int:
    """Write one record per entry (as :func:`export_records` selects them) as JSON lines
    (``jsonl``) or CSV; return how many."""
    if fmt not in {"jsonl", "csv"}:
        raise ValueError(f"Unknown export format {fmt!r} (use jsonl or csv).")
    # Closed however the writing ends (a reader gone mid-way): its database cursor is closed
    # while the connection is still open.
    with closing(export_records(checkpoint, since, entries=entries)) as records:
        return _write_records(fmt, stream, records)


def _write_records(fmt: str, stream: IO[str], records: Iterable[dict[str, Any]]) -> int:
    count = 0
    if fmt == "jsonl":
        for record in records:
            stream.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
        return count
    writer = csv.writer(stream)
    writer.writerow(EXPORT_FIELDS)
    for record in records:
        writer.writerow(
            [
                json.dumps(record[name], ensure_ascii=False, separators=(",", ":"))
                if name in {"patch", "findings"}
                else _csv_cell(record[name])
                for name in EXPORT_FIELDS
            ]
        )
        count += 1
    return count


#: A cell starting with one of these is a formula to a spreadsheet opening the export.
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    """A CSV cell: text that a spreadsheet would run as a formula (a reason starting with
    ``=``) gets a leading apostrophe, as OWASP advises; the JSON lines keep it as written."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


# --- snapshot retention --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What :func:`prune_snapshots` removed (or would remove, in a dry run) and kept."""

    removed: int
    freed_bytes: int
    kept: int
    dry_run: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "removed": self.removed,
            "freed_bytes": self.freed_bytes,
            "kept": self.kept,
            "dry_run": self.dry_run,
        }


def _referenced_snapshots() -> set[str]:
    """Snapshots the log needs: every entry's sides and those of journaled attempts."""
    needed: set[str] = set()
    for before, after in AuditEntry.objects.values_list("before_id", "after_id").iterator(
        chunk_size=5000
    ):
        if before:
            needed.add(before)
        if after:
            needed.add(after)
    for payload in PendingChange.objects.values_list("payload", flat=True):
        if isinstance(payload, Mapping):
            needed.update(v for k in ("before", "after") if isinstance(v := payload.get(k), str))
    return needed


def prune_snapshots(
    *,
    older_than: timedelta = timedelta(days=7),
    dry_run: bool = False,
    now: datetime | None = None,
    store: CheckpointStore | None = None,
) -> PruneResult:
    """Remove snapshots no audit entry needs that were stored more than ``older_than`` ago.

    Such snapshots come from previews (the version an operator saw, kept so a conflict page
    can say what changed since) and from attempts that failed before their entry was written.
    Kept: both sides of every entry and of every journaled attempt, everything stored since
    the cutoff (a preview may still be applied), the version each checkpoint file has now
    (an apply may be taking it as its base this moment), and every base a kept delta is
    built on.
    Runs with the audit chain locked, so no entry is appended while the set is computed.
    """
    if older_than < timedelta(0):
        raise ValueError("older_than cannot be negative")
    cutoff = (now or timezone.now()) - older_than
    with transaction.atomic():
        lock_chain()
        bases: dict[str, str | None] = {}
        sizes: dict[str, int] = {}
        keep = _referenced_snapshots()
        keep.update(info.version for info in (store or get_store()).list() if info.version)
        rows = Snapshot.objects.values_list("sha", "base_id", "created", Length("data"))
        for sha, base, created, stored in rows.iterator(chunk_size=5000):
            bases[sha] = base
            sizes[sha] = int(stored or 0)
            if created >= cutoff:
                keep.add(sha)
        # Every base under a kept snapshot is kept: a delta cannot be read without it.
        todo = [sha for sha in keep if sha in bases]
        while todo:
            base = bases.get(todo.pop())
            if base is not None and base not in keep:
                keep.add(base)
                todo.append(base)
        doomed = [sha for sha in bases if sha not in keep]
        if doomed and not dry_run:
            table = connection.ops.quote_name(Snapshot._meta.db_table)
            with connection.cursor() as cursor:
                # A doomed snapshot is never the base of a kept one (kept bases are closed),
                # so deltas and their bases go together; the foreign key is checked at commit.
                for start in range(0, len(doomed), 500):
                    chunk = doomed[start : start + 500]
                    marks = ", ".join(["%s"] * len(chunk))
                    cursor.execute(f"DELETE FROM {table} WHERE sha IN ({marks})", chunk)
    return PruneResult(
        removed=len(doomed),
        freed_bytes=sum(sizes[sha] for sha in doomed),
        kept=len(bases) - len(doomed),
        dry_run=dry_run,
    )
