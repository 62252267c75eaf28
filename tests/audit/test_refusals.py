"""Refusals of the write path not covered elsewhere: each names the problem, changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from checkpoints_admin import services
from checkpoints_admin.checkpoints import InterventionError, VersionConflict
from checkpoints_admin.models import AuditEntry, PendingChange, Snapshot
from checkpoints_admin.services import Actor
from tests.audit.conftest import files
from tests.tampering import tamper

pytestmark = pytest.mark.django_db

UNIFIED = "reconciliation_checkpoint"
MANAGED = "my-process"


def do(name, action, params, *, actor=None, **kwargs):
    return services.apply(
        name, action, params, actor=actor or Actor("alice", "cli"), reason="r", **kwargs
    )


@pytest.mark.parametrize(
    ("name", "action", "params", "text"),
    [
        (UNIFIED, "skip", ["2025-03-06"], "must be a JSON object"),
        (UNIFIED, "skip", {"dates": []}, "Give at least one date"),
        (UNIFIED, "skip", {"dates": [20250306]}, "Not a date: 20250306"),
        (UNIFIED, "skip", {"items": [True]}, "Not an item (text or a number): True"),
        (UNIFIED, "skip", {"items": [{"a": 1}]}, "Not an item (text or a number): {'a': 1}"),
        (UNIFIED, "skip", {"items": [1]}, "only managed checkpoints"),
        (UNIFIED, "skip", {"dates": ["2025-03-06"], "items": ["a"]}, "either dates or items"),
        (MANAGED, "edit", {}, "either set"),
        (MANAGED, "edit", {"set": {}}, "at least one JSON pointer"),
        (MANAGED, "edit", {"set": [1]}, "at least one JSON pointer"),
        (MANAGED, "edit", {"document": [1]}, "The document must be a JSON object"),
        (MANAGED, "create", {"document": {"a": 1}, "x": 1}, "Unknown parameter 'x'"),
        (MANAGED, "reset", {"force": True}, "Unknown parameter 'force'"),
        (MANAGED, "restore", {"entry": 0}, "not 0"),
        (MANAGED, "restore", {"entry": True}, "not True"),
        # str.isdigit() takes both: int() refused the first, read the second as 1
        (MANAGED, "restore", {"entry": "\u00b2"}, "not '\u00b2'"),
        (MANAGED, "restore", {"entry": "\u0661"}, "not '\u0661'"),
    ],
)
def test_malformed_parameters_are_refused_and_change_nothing(
    samples_dir: Path, name, action, params, text
) -> None:
    before = files(samples_dir)

    with pytest.raises(InterventionError) as excinfo:
        do(name, action, params)

    assert text in str(excinfo.value)
    assert files(samples_dir) == before
    assert AuditEntry.objects.count() == PendingChange.objects.count() == 0


def test_an_actor_without_a_name_is_refused(samples_dir: Path) -> None:
    before = files(samples_dir)
    with pytest.raises(InterventionError) as excinfo:
        do(UNIFIED, "skip", {"dates": ["2025-03-06"]}, actor=Actor("", "web"))
    assert "no name" in str(excinfo.value)
    assert files(samples_dir) == before
    assert AuditEntry.objects.count() == 0


def test_a_seen_version_of_a_file_deleted_since_is_a_conflict(
    samples_dir: Path,
) -> None:
    edit = do(MANAGED, "edit", {"set": {"/progress": 50}}).entry
    seen = services.preview(MANAGED, "restore", {"entry": edit.seq})
    (samples_dir / f"{MANAGED}.json").unlink()

    with pytest.raises(VersionConflict) as excinfo:
        do(MANAGED, "restore", {"entry": edit.seq}, expected_version=seen.base_version)

    assert "it has been deleted" in str(excinfo.value)
    assert excinfo.value.actual is None
    assert not (samples_dir / f"{MANAGED}.json").exists()
    assert AuditEntry.objects.count() == 1
    assert PendingChange.objects.count() == 0


def test_a_restore_whose_snapshot_is_unreadable_is_refused(samples_dir: Path) -> None:
    edit = do(MANAGED, "edit", {"set": {"/progress": 50}}).entry
    current = files(samples_dir)
    table = Snapshot._meta.db_table
    tamper(f'UPDATE "{table}" SET data = %s WHERE sha = %s', [b"garbage", edit.before_id])

    with pytest.raises(InterventionError) as excinfo:
        do(MANAGED, "restore", {"entry": edit.seq})

    assert f"before snapshot of entry #{edit.seq} cannot be read" in str(excinfo.value)
    assert files(samples_dir) == current
    assert AuditEntry.objects.count() == 1
