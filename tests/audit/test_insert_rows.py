"""insert_rows: snapshots (conflicts ignored) and a journal row in one go, on either backend."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from checkpoints_admin.models import PendingChange, Snapshot, insert_rows

pytestmark = pytest.mark.django_db


def _pending(name: str) -> PendingChange:
    return PendingChange(
        checkpoint=name, action="edit", payload={"n": 1}, base_version="a", result_version="b"
    )


def test_new_snapshots_a_delta_of_the_other_and_the_journal_row() -> None:
    before = Snapshot.build(b'{"n": 1, "dates": ["2025-01-01", "2025-01-02"]}\n' * 40)
    after = Snapshot.build(
        b'{"n": 1, "dates": ["2025-01-01", "2025-01-02"]}\n' * 39 + b'{"n": 2}\n',
        base=before,
    )
    assert after.base_id == before.sha  # built on the other new row
    pending = _pending("job")
    insert_rows([before, after], pending)
    assert pending.pk is not None
    assert PendingChange.objects.get(pk=pending.pk).checkpoint == "job"
    assert Snapshot.objects.get(pk=after.sha).raw == after.raw
    assert Snapshot.objects.get(pk=before.sha).raw == before.raw


def test_a_snapshot_stored_already_is_kept_as_it_is() -> None:
    stored = Snapshot.store(b'{"n": 1}\n')
    again = Snapshot.build(b'{"n": 1}\n')
    pending = _pending("job")
    insert_rows([again], pending)
    assert Snapshot.objects.filter(pk=stored.sha).count() == 1
    assert PendingChange.objects.filter(pk=pending.pk).exists()


def test_no_snapshots_only_the_journal_row() -> None:
    pending = _pending("job")
    insert_rows([], pending)
    assert list(PendingChange.objects.values_list("pk", flat=True)) == [pending.pk]


def test_a_failing_journal_row_stores_no_snapshot() -> None:
    snapshot = Snapshot.build(b'{"n": 3}\n')
    bad = PendingChange(checkpoint="job", action="edit", payload={}, base_version="a")
    bad.checkpoint = None  # type: ignore[assignment]  # NOT NULL column
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows([snapshot], bad)
    assert not Snapshot.objects.filter(pk=snapshot.sha).exists()
