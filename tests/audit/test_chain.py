"""The audit chain: hashes, verification naming the first break, append-only, export."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction

from checkpoints_admin import audit, services
from checkpoints_admin.models import AuditEntry, ImmutableEntry, Snapshot, SnapshotCorrupt
from checkpoints_admin.services import Actor
from tests.audit.conftest import raw_sql
from tests.tampering import tamper

pytestmark = pytest.mark.django_db

UNIFIED = "reconciliation_checkpoint"
MANAGED = "my-process"


def three_entries() -> list[AuditEntry]:
    actor = Actor("alice", "cli")
    return [
        services.apply(UNIFIED, "skip", {"dates": ["2025-03-06"]}, actor=actor, reason="r1").entry,
        services.apply(MANAGED, "skip", {"items": ["item2"]}, actor=actor, reason="r2").entry,
        services.apply(UNIFIED, "reset", {}, actor=actor, reason="r3").entry,
    ]


def table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def test_entries_chain_from_the_genesis_hash(samples_dir: Path) -> None:
    first, second, third = three_entries()

    assert first.prev_hash == "0" * 64
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    expected = hashlib.sha256(first.prev_hash.encode() + audit.canonical_entry(first)).hexdigest()
    assert first.hash == expected
    assert audit.entry_hash(AuditEntry.objects.get(seq=2)) == second.hash


def test_the_canonical_form_is_sorted_compact_json_with_utc_microseconds(samples_dir) -> None:
    [entry, *_] = three_entries()

    canonical = json.loads(audit.canonical_entry(entry))

    assert list(canonical) == sorted(audit.HASHED_FIELDS)
    assert canonical["created"] == entry.created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert canonical["before"] == entry.before_id
    assert b", " not in audit.canonical_entry(entry)
    assert audit.format_time(datetime(2025, 3, 6, 10, 15, 23, 456, tzinfo=UTC)) == (
        "2025-03-06T10:15:23.000456Z"
    )


def test_verify_passes_on_an_intact_chain(samples_dir: Path) -> None:
    three_entries()

    result = audit.verify_chain()

    assert (result.ok, result.checked, result.first_break) == (True, 3, None)
    assert "3 entries" in result.message


def test_verify_reads_each_snapshot_once_however_many_checkpoints_interleave(
    samples_dir: Path, django_assert_max_num_queries
) -> None:
    """Each snapshot is a delta of its checkpoint's previous one; with many checkpoints
    changed in turn, the previous one was read again from the database for each (79,000
    queries and a minute for 40,000 entries)."""
    from tests.web.conftest import write_json

    actor = Actor("alice", "cli")
    for n in range(40):
        write_json(samples_dir, f"job-{n:02d}", {"id": f"job-{n}", "pendingItems": list(range(50))})
    for item in range(3):
        for n in range(40):
            services.apply(f"job-{n:02d}", "edit", {"set": {"/pendingItems/0": 100 + item}},
                           actor=actor, reason="r")  # fmt: skip
    assert Snapshot.objects.exclude(base=None).count() >= 80  # deltas, of the one before

    with django_assert_max_num_queries(20):
        result = audit.verify_chain()

    assert (result.ok, result.checked) == (True, 120)


def test_verify_on_an_empty_log() -> None:
    assert audit.verify_chain() == audit.VerifyResult(True, 0, None, "The audit log is empty.")


@pytest.mark.parametrize(
    ("column", "value"),
    [("reason", "nothing to see"), ("actor", "mallory"), ("patch", "[]"), ("outcome", "recovered")],
)
def test_an_altered_field_is_named_by_its_seq(samples_dir: Path, column, value) -> None:
    three_entries()

    tamper(f"UPDATE {table(AuditEntry)} SET {column} = %s WHERE seq = 2", [value])

    result = audit.verify_chain()
    assert (result.ok, result.first_break, result.checked) == (False, 2, 1)
    assert "entry 2" in result.message
    assert "hash does not match" in result.message


def test_a_rehashed_entry_breaks_the_link_to_the_next(samples_dir: Path) -> None:
    three_entries()
    entry = AuditEntry.objects.get(seq=2)
    entry.reason = "rewritten"
    forged = audit.entry_hash(entry)

    tamper(
        f"UPDATE {table(AuditEntry)} SET reason = %s, hash = %s WHERE seq = 2",
        ["rewritten", forged],
    )

    result = audit.verify_chain()
    assert (result.ok, result.first_break) == (False, 3)
    assert "prev_hash" in result.message


def test_a_deleted_entry_is_a_gap(samples_dir: Path) -> None:
    three_entries()

    tamper(f"DELETE FROM {table(AuditEntry)} WHERE seq = 2")

    result = audit.verify_chain()
    assert (result.ok, result.first_break) == (False, 2)
    assert "entry 2 is missing" in result.message


def test_altered_snapshot_bytes_are_named_by_the_first_entry_using_them(samples_dir) -> None:
    first, _, third = three_entries()
    # Entry 3 (reset) has entry 1's after-snapshot as its before-snapshot: entry 1 is named.
    assert third.before_id == first.after_id

    tamper(
        f"UPDATE {table(Snapshot)} SET data = %s WHERE sha = %s",
        [zlib.compress(b'{"forged": true}\n'), first.after_id],
    )

    result = audit.verify_chain()
    assert (result.ok, result.first_break) == (False, 1)
    assert first.after_id in result.message
    with pytest.raises(SnapshotCorrupt):
        _ = Snapshot.objects.get(pk=first.after_id).raw


def test_undecompressable_or_missing_snapshots_are_breaks(samples_dir: Path) -> None:
    _, second, _ = three_entries()

    tamper(f"UPDATE {table(Snapshot)} SET data = %s WHERE sha = %s", [b"junk", second.after_id])
    result = audit.verify_chain()
    assert (result.ok, result.first_break) == (False, 2)
    assert "cannot be decompressed" in result.message


def test_hmac_key_is_used_when_set_and_a_plain_rehash_is_detected(samples_dir, settings) -> None:
    settings.AUDIT_HMAC_KEY = "audit-key-0123456789"
    [first, *_] = three_entries()

    message = first.prev_hash.encode() + audit.canonical_entry(first)
    assert first.hash == hmac.new(b"audit-key-0123456789", message, hashlib.sha256).hexdigest()
    assert first.hash != hashlib.sha256(message).hexdigest()
    assert audit.verify_chain().ok

    # Someone without the key rewrites entry 1 and re-chains everything with plain SHA-256.
    prev = "0" * 64
    for entry in AuditEntry.objects.order_by("seq"):
        new_hash = audit.entry_hash(entry, prev, key="")
        tamper(
            f"UPDATE {table(AuditEntry)} SET prev_hash = %s, hash = %s WHERE seq = %s",
            [prev, new_hash, entry.seq],
        )
        prev = new_hash
    result = audit.verify_chain()
    assert (result.ok, result.first_break) == (False, 1)
    assert "AUDIT_HMAC_KEY" in result.message

    settings.AUDIT_HMAC_KEY = ""
    assert audit.verify_chain().ok


def test_entries_refuse_update_and_delete_at_model_and_queryset_level(samples_dir) -> None:
    [entry, *_] = three_entries()

    with pytest.raises(ImmutableEntry):
        AuditEntry.objects.filter(seq=1).update(reason="changed")
    with pytest.raises(ImmutableEntry):
        AuditEntry.objects.all().delete()
    with pytest.raises(ImmutableEntry):
        entry.delete()
    entry.reason = "changed"
    with pytest.raises(ImmutableEntry) as excinfo:
        entry.save()
    assert "append-only" in str(excinfo.value)
    with pytest.raises(ImmutableEntry):
        AuditEntry.objects.bulk_update([entry], ["reason"])
    with pytest.raises(ImmutableEntry, match="append_entry"):
        AuditEntry.objects.bulk_create([AuditEntry(seq=99, reason="forged")])
    assert not AuditEntry.objects.filter(seq=99).exists()
    assert AuditEntry.objects.get(seq=1).reason == "r1"
    assert audit.verify_chain().ok


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has no users to refuse a change to"
)
@pytest.mark.parametrize(
    "statement",
    [
        f"UPDATE {table(AuditEntry)} SET reason = 'nothing to see' WHERE seq = 2",
        f"DELETE FROM {table(AuditEntry)} WHERE seq = 3",
        f"UPDATE {table(Snapshot)} SET data = data || 'x'",
    ],
)
def test_postgresql_refuses_changing_the_log_by_hand(samples_dir: Path, statement: str) -> None:
    """Not only the models: an UPDATE or DELETE sent straight to the database (psql, the
    console's credentials) is refused, and the log stays as it was."""
    three_entries()
    before = list(AuditEntry.objects.order_by("seq").values_list("seq", "reason", "hash"))
    snapshots = dict(Snapshot.objects.values_list("sha", "data"))

    with pytest.raises(DatabaseError) as excinfo, transaction.atomic():
        raw_sql(statement)

    assert "the audit log is append-only" in str(excinfo.value)
    assert list(AuditEntry.objects.order_by("seq").values_list("seq", "reason", "hash")) == before
    assert {sha: bytes(data) for sha, data in Snapshot.objects.values_list("sha", "data")} == {
        sha: bytes(data) for sha, data in snapshots.items()
    }
    assert audit.verify_chain().ok


def test_append_entry_refuses_unknown_values_and_blank_reasons() -> None:
    base = {
        "actor": "a",
        "source": "cli",
        "action": "edit",
        "checkpoint": "c",
        "reason": "r",
        "summary": "s",
    }
    for field, value in [("source", "fax"), ("action", "burn"), ("outcome", "maybe")]:
        with pytest.raises(ValueError, match=value):
            audit.append_entry(**{**base, field: value})
    with pytest.raises(ValueError, match="reason"):
        audit.append_entry(**{**base, "reason": "  "})
    assert AuditEntry.objects.count() == 0


def test_an_audit_entry_cannot_be_inserted_outside_the_chain(samples_dir) -> None:
    fields = {
        "seq": 1,
        "created": datetime.now(UTC),
        "actor": "mallory",
        "source": "cli",
        "action": "edit",
        "checkpoint": "my-process",
        "reason": "r",
        "summary": "s",
        "prev_hash": "0" * 64,
        "hash": "0" * 64,
    }
    with pytest.raises(ImmutableEntry) as excinfo:
        AuditEntry(**fields).save()
    assert "append_entry" in str(excinfo.value)
    with pytest.raises(ImmutableEntry):
        AuditEntry.objects.create(**fields)
    assert AuditEntry.objects.count() == 0
    assert audit.verify_chain().ok


def test_append_entry_starts_the_chain_at_genesis() -> None:
    entry = audit.append_entry(
        actor="a", source="api", action="edit", checkpoint="c", reason="r", summary="s"
    )
    assert (entry.seq, entry.prev_hash) == (1, "0" * 64)
    assert str(entry) == "#1 edit c by a: s"
    assert audit.verify_chain().ok


def test_snapshots_are_stored_once_and_verify_their_bytes() -> None:
    raw = b'{"a": 1}\n' * 1000

    first = Snapshot.store(raw)
    again = Snapshot.store(raw)

    assert first.pk == again.pk == hashlib.sha256(raw).hexdigest()
    assert Snapshot.objects.count() == 1
    stored = Snapshot.objects.get()
    assert stored.raw == raw
    assert stored.size == len(raw)
    assert len(bytes(stored.data)) < len(raw) / 10
    stored.size = 1
    with pytest.raises(ImmutableEntry):
        stored.save()


# --- export --------------------------------------------------------------------------------


def test_export_jsonl_has_one_record_per_entry_with_an_id(samples_dir: Path) -> None:
    entries = three_entries()
    stream = io.StringIO()

    count = audit.export("jsonl", stream)

    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert count == 3
    assert [r["id"] for r in records] == [e.seq for e in entries]
    assert records[0]["before"] == entries[0].before_id  # a sha, never the bytes
    assert records[2]["after"] is None
    assert records[0]["patch"] == entries[0].patch
    assert records[1]["hash"] == entries[1].hash


def test_export_csv_filters_by_checkpoint_and_since(samples_dir: Path) -> None:
    three_entries()
    stream = io.StringIO()

    count = audit.export("csv", stream, checkpoint=UNIFIED)

    rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert count == 2
    assert [(r["id"], r["action"]) for r in rows] == [("1", "skip"), ("3", "reset")]
    assert json.loads(rows[0]["patch"])
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    assert audit.export("jsonl", io.StringIO(), since=tomorrow.isoformat()) == 0
    assert audit.export("jsonl", io.StringIO(), since="2000-01-01") == 3
    with pytest.raises(ValueError, match="xml"):
        audit.export("xml", io.StringIO())
    with pytest.raises(ValueError, match="yesterday"):
        audit.export("jsonl", io.StringIO(), since="yesterday")


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_neutralised(samples_dir) -> None:
    actor = Actor("alice", "cli")
    reason = '=HYPERLINK("http://evil.example","INC-1")'
    services.apply(UNIFIED, "skip", {"dates": ["2025-03-06"]}, actor=actor, reason=reason)
    services.apply(MANAGED, "skip", {"items": ["item2"]}, actor=actor, reason="- see INC-2")
    stream = io.StringIO()
    audit.export("csv", stream)
    rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert [row["reason"] for row in rows] == ["'" + reason, "'- see INC-2"]
    assert rows[0]["checkpoint"] == UNIFIED  # other text as it is
    lines = io.StringIO()
    audit.export("jsonl", lines)  # the JSON lines keep the reason as written
    assert json.loads(lines.getvalue().splitlines()[0])["reason"] == reason


def test_values_the_database_rewrites_still_verify() -> None:
    # jsonb (PostgreSQL) gives 1e20 back as an integer and reorders keys; text stays text.
    patch = [
        {"op": "replace", "path": "/stats/big", "value": 1e20},
        {"value": 0.1, "path": "/ratio", "op": "replace"},
        {"op": "add", "path": "/note", "value": "straße ✓ \u0007"},
    ]
    entry = audit.append_entry(
        actor="zoë",
        source="web",
        action="edit",
        checkpoint="c",
        reason="grüße",
        summary="s",
        patch=patch,
    )

    stored = AuditEntry.objects.get(seq=entry.seq)
    assert audit.entry_hash(stored) == entry.hash
    assert audit.verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_append_entry_at_a_stale_head_hashes_again_on_the_new_one() -> None:
    """The head passed in was read before two other entries went in: the entry still follows
    the last one, and the chain verifies (on PostgreSQL the lost race is retried)."""
    fields = {"actor": "a", "source": "api", "action": "edit", "checkpoint": "c", "summary": "s"}
    first = audit.append_entry(**fields, reason="first")
    stale = (first.seq, first.hash)
    audit.append_entry(**fields, reason="second")
    third = audit.append_entry(**fields, reason="third")

    entry = audit.append_entry_at(stale, **fields, reason="fourth")

    assert (entry.seq, entry.prev_hash) == (4, third.hash)
    assert list(AuditEntry.objects.values_list("reason", flat=True)) == [
        "first",
        "second",
        "third",
        "fourth",
    ]
    assert audit.verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_append_entry_at_deletes_its_row_only_with_the_entry(samples_dir: Path) -> None:
    from checkpoints_admin.models import PendingChange

    row = PendingChange.objects.create(checkpoint=UNIFIED, action="edit", payload={})
    fields = {"actor": "a", "source": "api", "action": "edit", "checkpoint": "c", "summary": "s"}
    with pytest.raises(ValueError, match="reason"):
        audit.append_entry_at(
            None, delete=(PendingChange._meta.db_table, row.pk), **fields, reason=" "
        )
    assert PendingChange.objects.filter(pk=row.pk).exists()

    entry = audit.append_entry_at(
        None, delete=(PendingChange._meta.db_table, row.pk), relax_commit=True, **fields, reason="r"
    )

    assert entry.seq == 1
    assert not PendingChange.objects.filter(pk=row.pk).exists()
    assert audit.verify_chain().ok
