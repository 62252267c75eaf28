"""Snapshot retention: unreferenced versions go, everything an entry needs stays restorable."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from checkpoints_admin import audit, services
from checkpoints_admin.audit import append_entry, prune_snapshots, verify_chain
from checkpoints_admin.checkpoints.store import encode_document, version_of
from checkpoints_admin.models import AuditEntry, PendingChange, Snapshot, insert_row

pytestmark = pytest.mark.django_db

UNIFIED = "reconciliation_checkpoint"
REASON = "upstream never delivers"
LATER = timedelta(days=30)


def shas() -> set[str]:
    return set(Snapshot.objects.values_list("sha", flat=True))


def job_writes(store, name: str, **changes) -> None:
    """The job moves on: the file changes outside the audit log."""
    document = store.read(name).data
    document.update(changes)
    store.write(name, document)


@pytest.fixture
def history(samples_dir, store, actor):
    """One applied skip, then a job write, a preview of it that was never applied, and
    another job write (the previewed version is on disk no more)."""
    applied = services.apply(
        UNIFIED, "skip", {"dates": ["2025-03-06"]}, actor=actor, reason=REASON, store=store
    )
    job_writes(store, UNIFIED, lastUpdateTime=1709743999999)
    preview = services.preview(
        UNIFIED, "skip", {"dates": ["2025-03-07"]}, store=store, keep_base=True
    )
    assert preview.base_version in shas()
    job_writes(store, UNIFIED, lastUpdateTime=1709744999999)
    return applied, preview


def test_the_version_on_disk_is_kept_however_old(samples_dir, store) -> None:
    """An apply may be taking the file's current version as its base right now."""
    preview = services.preview(
        UNIFIED, "skip", {"dates": ["2025-03-07"]}, store=store, keep_base=True
    )
    result = prune_snapshots(now=timezone.now() + LATER, store=store)
    assert (result.removed, result.kept) == (0, 1)
    assert shas() == {preview.base_version}
    job_writes(store, UNIFIED, lastUpdateTime=1)
    assert prune_snapshots(now=timezone.now() + LATER, store=store).removed == 1


def test_an_unapplied_preview_version_is_removed_and_entries_stay_restorable(
    history, store, actor
) -> None:
    applied, preview = history
    entry = applied.entry
    result = prune_snapshots(now=timezone.now() + LATER)

    assert result.removed == 1 and not result.dry_run
    assert result.freed_bytes > 0
    assert shas() == {entry.before_id, entry.after_id}
    assert result.kept == 2
    assert verify_chain().ok
    undo = services.apply(
        UNIFIED, "restore", {"entry": entry.seq}, actor=actor, reason="undo", store=store
    )
    assert store.read_raw(UNIFIED) == Snapshot.objects.get(pk=entry.before_id).raw
    assert undo.entry.outcome == AuditEntry.APPLIED


def test_recent_snapshots_are_kept(history) -> None:
    before = shas()
    result = prune_snapshots()  # the preview was stored moments ago: within the 7 days
    assert (result.removed, result.freed_bytes) == (0, 0)
    assert shas() == before
    assert prune_snapshots(older_than=timedelta(0), now=timezone.now() + LATER).removed == 1


def test_a_dry_run_counts_and_removes_nothing(history) -> None:
    before = shas()
    result = prune_snapshots(dry_run=True, now=timezone.now() + LATER)
    assert (result.removed, result.kept, result.dry_run) == (1, 2, True)
    assert shas() == before


def test_the_base_of_a_kept_delta_is_kept(samples_dir, store) -> None:
    """An unreferenced snapshot that a referenced delta is built on cannot go."""
    document = store.read(UNIFIED).data
    old = encode_document(document)
    base = Snapshot.build(old, sha=version_of(old))
    insert_row(base)
    new = encode_document({**document, "lastUpdateTime": 1})
    delta = Snapshot.build(new, sha=version_of(new), base=base, base_raw=old)
    assert delta.base_id == base.sha  # a delta, not a full copy
    insert_row(delta)
    orphan_raw = encode_document({**document, "lastUpdateTime": 2})
    insert_row(Snapshot.build(orphan_raw, sha=version_of(orphan_raw)))
    append_entry(
        actor="alice",
        source="cli",
        action="edit",
        checkpoint=UNIFIED,
        reason=REASON,
        summary="stats edited",
        base_version=base.sha,
        result_version=delta.sha,
        after=delta,
    )

    result = prune_snapshots(now=timezone.now() + LATER)

    assert result.removed == 1
    assert shas() == {base.sha, delta.sha}
    assert Snapshot.objects.get(pk=delta.sha).raw == new
    assert verify_chain().ok


def test_snapshots_of_a_journaled_attempt_are_kept(samples_dir, store) -> None:
    """A stopped process's attempt is recorded later from its journal row: its sides stay."""
    raw = store.read_raw(UNIFIED)
    snapshot = Snapshot.build(raw, sha=version_of(raw))
    insert_row(snapshot)
    insert_row(
        PendingChange(
            checkpoint=UNIFIED,
            action="skip",
            payload={"before": snapshot.sha, "after": None},
            base_version=snapshot.sha,
            result_version=None,
        )
    )
    assert prune_snapshots(now=timezone.now() + LATER).removed == 0
    assert snapshot.sha in shas()


def test_a_negative_age_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        prune_snapshots(older_than=timedelta(days=-1))


def run(*args: str) -> str:
    stdout = StringIO()
    call_command("prune_snapshots", *args, stdout=stdout, stderr=StringIO())
    return stdout.getvalue()


def test_the_command_reports_and_prunes(history, settings) -> None:
    before = shas()
    # Everything is minutes old: with the default 7 days nothing goes.
    assert run().startswith("Removed 0 unreferenced snapshots, 0 bytes stored; 3 kept.")
    report = json.loads(run("--older-than", "0", "--dry-run", "--json"))
    assert report["freed_bytes"] > 0
    assert report | {"freed_bytes": 0} == {
        "removed": 1,
        "freed_bytes": 0,
        "kept": 2,
        "dry_run": True,
    }
    assert shas() == before
    assert run("--older-than", "0").startswith("Removed 1 unreferenced snapshot, ")
    assert len(shas()) == 2
    assert audit.verify_chain().ok


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "inf"])
def test_the_command_refuses_a_bad_age(history, value) -> None:
    before = shas()
    with pytest.raises(CommandError, match="number of days"):
        run("--older-than", value)
    assert shas() == before


def test_the_command_dry_run_says_what_it_would_remove(history) -> None:
    before = shas()
    assert run("--older-than", "0", "--dry-run").startswith(
        "Would remove 1 unreferenced snapshot, "
    )
    assert shas() == before
