"""Snapshots: content-addressed, compressed, stored as line deltas of a close version."""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from checkpoints_admin import audit, services
from checkpoints_admin.models import (
    MAX_DELTA_DEPTH,
    Snapshot,
    SnapshotCorrupt,
    apply_delta,
    make_delta,
)
from checkpoints_admin.services import Actor
from tests.tampering import tamper

lines = st.lists(
    st.sampled_from([b"a\n", b"b\n", b"  ],\n", b"x", b"\r\n", b"\r", b"\xc3\xa9\n", b""]),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(old=lines, new=lines)
def test_a_delta_rebuilds_exactly_the_new_bytes(old, new) -> None:
    old_raw, new_raw = b"".join(old), b"".join(new)

    assert apply_delta(old_raw, make_delta(old_raw, new_raw)) == new_raw


def test_a_delta_of_a_small_change_to_a_big_file_is_small() -> None:
    old = b"".join(b'    "%d",\n' % i for i in range(100_000))
    new = old.replace(b'    "500",\n', b"").replace(b'    "90000",\n', b'    "90000",\n    "x",\n')

    delta = make_delta(old, new)

    assert apply_delta(old, delta) == new
    assert len(delta) < 100


def test_a_long_run_of_items_moved_to_another_list_is_a_small_delta() -> None:
    """100,000 items (1.7 MB) skipped at once from a list of 300,000: the run removed is
    longer than the near searches reach; it is found further on (the line by line way
    took a minute, then gave a full copy)."""
    items = [b'    "item-%07d"' % n for n in range(300_000)]
    old = b'{\n  "pendingItems": [\n' + b",\n".join(items) + b'\n  ],\n  "processedItems": []\n}\n'
    new = (
        b'{\n  "pendingItems": [\n' + b",\n".join(items[:100_000] + items[200_000:])
        + b'\n  ],\n  "processedItems": [\n' + b",\n".join(items[100_000:200_000]) + b"\n  ]\n}\n"
    )  # fmt: skip

    delta = make_delta(old, new, len(new) // 4)

    assert delta is not None
    assert apply_delta(old, delta) == new
    assert len(delta) < 2_000  # copies of the old bytes only: no item is written out


def test_scattered_changed_lines_of_a_big_file_are_a_small_delta() -> None:
    """Each changed line is replaced as it is, without a search through the document (which
    would spend the search budget on 200 changes and give a full copy instead)."""
    lines = [b'    "item-%07d-%s",\n' % (n, b"x" * 30) for n in range(100_000)]
    old = b"".join(lines)
    for n in range(0, 100_000, 500):
        lines[n] = b'    "changed-%07d",\n' % n
    new = b"".join(lines)

    delta = make_delta(old, new, len(new) // 4)

    assert delta is not None and len(delta) < 12_000
    assert apply_delta(old, delta) == new


def test_a_document_rewritten_throughout_gets_no_delta() -> None:
    """Every line changed: finding each change would read the document once per line; the
    searches stop at a budget and the snapshot is a full copy."""
    old = b"".join(b'    "item-%07d",\n' % n for n in range(200_000))

    assert make_delta(old, old.upper()) is None
    assert make_delta(old, old.replace(b"\n", b"\r\n")) is None


BIG = b"".join(b'    "2025-%06d",\n' % i for i in range(12_000))  # about 200 KB


@pytest.mark.parametrize(
    "new",
    [
        BIG,
        b"",
        BIG[:-1],  # no trailing newline
        BIG + b"tail",
        b"head\n" + BIG,
        BIG[:65536] + b"X" + BIG[65537:],  # a byte at a chunk boundary
        BIG[:65535] + BIG[65536:],
        BIG[:100] + BIG[150_000:],  # a large deletion
        BIG[:70_000] + BIG[:70_000] + BIG[70_000:],  # a duplicated block
        BIG[100_000:] + BIG[:100_000],  # a rotation
    ],
    ids=range(10),
)
def test_deltas_of_big_files_rebuild_exactly(new) -> None:
    delta = make_delta(BIG, new)
    assert apply_delta(BIG, delta) == new


@pytest.mark.parametrize(
    "delta",
    [b"nope", b"CKD2Z", b"CKD2C" + b"\x00" * 8 + b"\xff" * 8, b"CKD2I" + b"\x09" + b"\x00" * 7],
)
def test_a_broken_delta_is_refused(delta) -> None:
    with pytest.raises(ValueError):
        apply_delta(b"a\n", delta)


def big_document(days: int) -> dict:
    from datetime import date

    first = date(1990, 1, 1).toordinal()
    return {
        "id": "big-job",
        "status": "running",
        "progress": 0,
        "processedItems": [],
        "pendingItems": [date.fromordinal(first + i).isoformat() for i in range(days)],
    }


@pytest.mark.django_db
def test_many_edits_cost_a_few_full_copies_and_every_version_reads_back(checkpoints_dir) -> None:
    store = services.get_store()
    store.write("big", big_document(8_000))
    actor = Actor("alice", "cli")

    versions = []
    for i in range(1, 41):
        versions.append(
            services.apply(
                "big", "edit", {"set": {"/progress": i}}, actor=actor, reason="r"
            ).preview.after_raw
        )

    full = Snapshot.objects.filter(base=None)
    # 41 versions: a full copy, then deltas up to the depth limit, then a full copy again…
    assert Snapshot.objects.count() == 41
    assert full.count() == 3
    assert max(Snapshot.objects.values_list("depth", flat=True)) == MAX_DELTA_DEPTH
    for raw in versions:
        snapshot = Snapshot.objects.get(pk=hashlib.sha256(raw).hexdigest())
        assert snapshot.raw == raw
    stored = sum(len(bytes(d)) for d in Snapshot.objects.values_list("data", flat=True))
    assert stored < len(zlib.compress(versions[0], 6)) * 4
    assert audit.verify_chain().ok


@pytest.mark.django_db
def test_a_file_changed_by_a_job_is_stored_as_a_delta_of_the_last_version(checkpoints_dir):
    store = services.get_store()
    store.write("big", big_document(5_000))
    actor = Actor("alice", "cli")
    first = services.apply("big", "edit", {"set": {"/progress": 1}}, actor=actor, reason="r")
    data = store.read("big").data
    moved = {
        **data,
        "processedItems": data["pendingItems"][:1],
        "pendingItems": data["pendingItems"][1:],
    }
    store.write("big", moved)  # the job moves on
    job_version = store.read_raw("big")

    second = services.apply("big", "edit", {"set": {"/progress": 2}}, actor=actor, reason="r")

    before = second.entry.before
    assert before.base_id == first.entry.after_id
    assert before.raw == job_version
    assert before.size > len(bytes(before.data)) * 50


@pytest.mark.django_db
def test_a_tampered_base_breaks_the_deltas_built_on_it(checkpoints_dir: Path) -> None:
    store = services.get_store()
    store.write("big", big_document(5_000))
    actor = Actor("alice", "cli")
    entries = [
        services.apply("big", "edit", {"set": {"/progress": i}}, actor=actor, reason="r").entry
        for i in (1, 2, 3)
    ]
    base = entries[0].before
    assert entries[0].after.base_id == base.sha
    table = connection.ops.quote_name(Snapshot._meta.db_table)

    tamper(
        f"UPDATE {table} SET data = %s WHERE sha = %s",
        [zlib.compress(base.raw.replace(b'"big-job"', b'"bad-job"')), base.sha],
    )

    result = audit.verify_chain()
    assert (result.ok, result.first_break) == (False, 1)
    assert base.sha in result.message
    with pytest.raises(SnapshotCorrupt):
        _ = Snapshot.objects.get(pk=entries[2].after_id).raw


@pytest.mark.django_db
def test_a_broken_last_version_is_never_used_as_a_base(checkpoints_dir: Path) -> None:
    store = services.get_store()
    store.write("big", big_document(3_000))
    actor = Actor("alice", "cli")
    first = services.apply("big", "edit", {"set": {"/progress": 1}}, actor=actor, reason="r")
    table = connection.ops.quote_name(Snapshot._meta.db_table)
    tamper(f"UPDATE {table} SET data = %s WHERE sha = %s", [b"junk", first.entry.after_id])
    data = store.read("big").data
    store.write("big", {**data, "status": "completed", "progress": 100})  # the job finishes

    second = services.apply("big", "edit", {"set": {"/progress": 99}}, actor=actor, reason="r")

    assert second.entry.before.base_id is None
    assert second.entry.before.raw == second.preview.before_raw
    assert second.entry.after.raw == store.read_raw("big")
