"""apply records what a stopped process left in the journal, whether it then applies or refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checkpoints_admin import audit, services
from checkpoints_admin.checkpoints import CheckpointNotFound, InterventionError, VersionConflict
from checkpoints_admin.models import AuditEntry, PendingChange
from checkpoints_admin.services import Actor
from tests.audit.conftest import file_bytes
from tests.audit.test_failures import journal

UNIFIED = "reconciliation_checkpoint"

pytestmark = pytest.mark.django_db


def _recorded_only_the_leftover(samples_dir: Path, original: bytes) -> None:
    assert list(AuditEntry.objects.values_list("seq", "outcome", "actor")) == [
        (1, "interrupted", "crashed")
    ]
    assert PendingChange.objects.count() == 0
    assert file_bytes(samples_dir, UNIFIED) == original
    assert audit.verify_chain().ok


def test_a_version_conflict_still_records_the_leftover(samples_dir: Path) -> None:
    original = file_bytes(samples_dir, UNIFIED)
    journal(UNIFIED, services.preview(UNIFIED, "skip", {"dates": ["2025-03-07"]}))
    with pytest.raises(VersionConflict):
        services.apply(
            UNIFIED,
            "skip",
            {"dates": ["2025-03-06"]},
            actor=Actor("bob", "web"),
            reason="r",
            expected_version="0" * 64,
        )
    _recorded_only_the_leftover(samples_dir, original)


def test_a_refused_intervention_still_records_the_leftover(samples_dir: Path) -> None:
    original = file_bytes(samples_dir, UNIFIED)
    journal(UNIFIED, services.preview(UNIFIED, "skip", {"dates": ["2025-03-07"]}))
    with pytest.raises(InterventionError):
        services.apply(UNIFIED, "skip", {"nothing": 1}, actor=Actor("bob", "web"), reason="r")
    _recorded_only_the_leftover(samples_dir, original)


def test_no_change_still_records_the_leftover(samples_dir: Path) -> None:
    original = file_bytes(samples_dir, UNIFIED)
    journal(UNIFIED, services.preview(UNIFIED, "skip", {"dates": ["2025-03-07"]}))
    timeouts = json.loads(original)["stats"]["timeouts"]
    with pytest.raises(services.NoChange):
        services.apply(
            UNIFIED,
            "edit",
            {"set": {"/stats/timeouts": timeouts}},
            actor=Actor("bob", "web"),
            reason="r",
        )
    _recorded_only_the_leftover(samples_dir, original)


def test_a_missing_checkpoint_still_records_its_leftover(samples_dir: Path) -> None:
    journal(UNIFIED, services.preview(UNIFIED, "reset", {}))
    (samples_dir / f"{UNIFIED}.json").unlink()  # the reset landed
    with pytest.raises(CheckpointNotFound):
        services.apply(
            UNIFIED, "skip", {"dates": ["2025-03-06"]}, actor=Actor("bob", "web"), reason="r"
        )
    assert list(AuditEntry.objects.values_list("outcome", "action")) == [("recovered", "reset")]
    assert PendingChange.objects.count() == 0


@pytest.mark.parametrize("transactional", [False, True])
def test_a_leftover_found_by_the_journal_insert_is_recorded_first(
    samples_dir: Path, transactional: bool, request
) -> None:
    """The second apply knows its base snapshot is stored (the first one's after side) and
    skips the query for it: the journal insert itself finds the crashed attempt, which is
    recorded before this change."""
    if transactional:
        request.getfixturevalue("transactional_db")
    bob = Actor("bob", "web")
    services.apply(UNIFIED, "skip", {"dates": ["2025-03-06"]}, actor=bob, reason="first")
    journal(UNIFIED, services.preview(UNIFIED, "reprocess", {"dates": ["2025-03-06"]}))
    second = services.preview(UNIFIED, "skip", {"dates": ["2025-03-07"]})
    assert services._remembered(second) is not None  # no query for stored snapshots

    applied = services.apply(UNIFIED, "skip", {"dates": ["2025-03-07"]}, actor=bob, reason="second")

    assert list(AuditEntry.objects.values_list("seq", "outcome", "reason")) == [
        (1, "applied", "first"),
        (2, "interrupted", "before the crash"),
        (3, "applied", "second"),
    ]
    assert applied.entry.seq == 3
    assert PendingChange.objects.count() == 0
    assert json.loads(file_bytes(samples_dir, UNIFIED))["pendingDates"] == []
    assert audit.verify_chain().ok
