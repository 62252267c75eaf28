"""Failures on the write path: a busy lock, a failed commit, changes a crash left journaled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import IntegrityError, connection

from checkpoints_admin import audit, services
from checkpoints_admin.checkpoints import CheckpointLockTimeout, CheckpointStore
from checkpoints_admin.models import AuditEntry, PendingChange, Snapshot
from checkpoints_admin.services import Actor
from tests.audit.conftest import file_bytes, raw_sql

ROOT = Path(__file__).resolve().parents[2]
UNIFIED = "reconciliation_checkpoint"
MANAGED = "my-process"


def hold_lock(directory: Path, name: str) -> subprocess.Popen:
    """Another real process holding the checkpoint's lock, as a running job would."""
    env = {**os.environ, "CHECKPOINTS_DIR": str(directory)}
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.audit.worker", "hold", name, "60"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert json.loads(holder.stdout.readline()) == {"locked": name}
    return holder


def journal(name: str, preview: services.Preview) -> PendingChange:
    """The journal row apply() commits before touching the file (what a crash leaves)."""
    before = Snapshot.store(preview.before_raw) if preview.before_raw is not None else None
    after = Snapshot.store(preview.after_raw) if preview.after_raw is not None else None
    payload = {
        "actor": "crashed",
        "source": "cli",
        "address": "",
        "action": preview.action,
        "checkpoint": name,
        "reason": "before the crash",
        "base_version": preview.base_version,
        "result_version": preview.result_version,
        "before": before.pk if before else None,
        "after": after.pk if after else None,
        "patch": preview.patch,
        "summary": preview.summary,
        "findings": [],
        "restores": None,
    }
    payload["seal"] = audit.journal_seal(
        name, preview.action, preview.base_version, preview.result_version, payload
    )
    return PendingChange.objects.create(
        checkpoint=name,
        action=preview.action,
        payload=payload,
        base_version=preview.base_version,
        result_version=preview.result_version,
    )


@pytest.mark.django_db
def test_a_lock_held_by_another_process_times_out_and_changes_nothing(samples_dir: Path) -> None:
    original = file_bytes(samples_dir, UNIFIED)
    holder = hold_lock(samples_dir, UNIFIED)
    try:
        store = CheckpointStore(samples_dir, lock_timeout=0.3)
        with pytest.raises(CheckpointLockTimeout) as excinfo:
            services.apply(
                UNIFIED,
                "skip",
                {"dates": ["2025-03-06"]},
                actor=Actor("alice", "cli"),
                reason="r",
                store=store,
            )
    finally:
        holder.kill()
        holder.communicate()
    assert UNIFIED in str(excinfo.value)
    assert file_bytes(samples_dir, UNIFIED) == original
    assert AuditEntry.objects.count() == PendingChange.objects.count() == 0


@pytest.fixture
def failing_commit():
    """A trigger that makes the next commit fail: it removes the new entry's snapshots,
    so the deferred foreign key check refuses the COMMIT after the file was written."""
    entry, snapshot = (connection.ops.quote_name(m._meta.db_table) for m in (AuditEntry, Snapshot))
    if connection.vendor == "postgresql":
        raw_sql(
            "CREATE FUNCTION audit_test_drop_after() RETURNS trigger AS $$ BEGIN "
            f"DELETE FROM {snapshot} WHERE sha IN (NEW.before_id, NEW.after_id); "
            "RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        raw_sql(
            f"CREATE TRIGGER audit_test_drop_after AFTER INSERT ON {entry} "
            "FOR EACH ROW EXECUTE FUNCTION audit_test_drop_after()"
        )
    else:
        raw_sql(
            f"CREATE TRIGGER audit_test_drop_after AFTER INSERT ON {entry} "
            f"BEGIN DELETE FROM {snapshot} WHERE sha IN (NEW.before_id, NEW.after_id); END"
        )
    yield
    if connection.vendor == "postgresql":
        raw_sql(f"DROP TRIGGER audit_test_drop_after ON {entry}")
        raw_sql("DROP FUNCTION audit_test_drop_after()")
    else:
        raw_sql("DROP TRIGGER audit_test_drop_after")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("name", "action", "params"),
    [
        (UNIFIED, "skip", {"dates": ["2025-03-06"]}),
        (UNIFIED, "reset", {}),
        ("new-one", "create", {"document": {"a": 1}}),
    ],
)
def test_when_the_commit_fails_the_old_bytes_go_back(
    samples_dir: Path, failing_commit, name, action, params
) -> None:
    path = samples_dir / f"{name}.json"
    original = path.read_bytes() if path.exists() else None

    with pytest.raises(IntegrityError):
        services.apply(name, action, params, actor=Actor("alice", "cli"), reason="r")

    assert (path.read_bytes() if path.exists() else None) == original
    assert AuditEntry.objects.count() == 0
    assert PendingChange.objects.count() == 0


@pytest.mark.django_db
def test_recovery_records_a_journaled_change_that_landed(samples_dir: Path) -> None:
    preview = services.preview(UNIFIED, "skip", {"dates": ["2025-03-06"]})
    journal(UNIFIED, preview)
    (samples_dir / f"{UNIFIED}.json").write_bytes(preview.after_raw)  # the write happened

    [entry] = services.recover_pending()

    assert (entry.seq, entry.outcome, entry.actor, entry.reason) == (
        1,
        "recovered",
        "crashed",
        "before the crash",
    )
    assert entry.result_version == preview.result_version
    assert entry.summary.startswith("2025-03-06 pendingDates → completedDates [recovered")
    assert file_bytes(samples_dir, UNIFIED) == preview.after_raw
    assert PendingChange.objects.count() == 0
    assert audit.verify_chain().ok


@pytest.mark.django_db
def test_recovery_records_a_journaled_change_that_did_not_land(samples_dir: Path) -> None:
    original = file_bytes(samples_dir, MANAGED)
    journal(MANAGED, services.preview(MANAGED, "reset", {}))

    [entry] = services.recover_pending()

    assert (entry.outcome, entry.action) == ("interrupted", "reset")
    assert "did not land" in entry.summary
    assert file_bytes(samples_dir, MANAGED) == original
    assert PendingChange.objects.count() == 0


@pytest.mark.django_db
def test_apply_first_records_what_a_crash_left_on_that_checkpoint(samples_dir: Path) -> None:
    journal(UNIFIED, services.preview(UNIFIED, "skip", {"dates": ["2025-03-07"]}))

    applied = services.apply(
        UNIFIED, "skip", {"dates": ["2025-03-06"]}, actor=Actor("bob", "web"), reason="r"
    )

    assert list(AuditEntry.objects.values_list("seq", "outcome", "actor")) == [
        (1, "interrupted", "crashed"),
        (2, "applied", "bob"),
    ]
    assert applied.entry.seq == 2
    assert json.loads(file_bytes(samples_dir, UNIFIED))["pendingDates"] == ["2025-03-07"]


@pytest.mark.django_db
def test_recovery_leaves_a_checkpoint_whose_lock_is_busy(samples_dir: Path) -> None:
    journal(UNIFIED, services.preview(UNIFIED, "reset", {}))
    holder = hold_lock(samples_dir, UNIFIED)
    try:
        assert services.recover_pending(lock_timeout=0.2) == []
        with pytest.raises(CheckpointLockTimeout):
            services.recover_pending(UNIFIED, lock_timeout=0.2)
    finally:
        holder.kill()
        holder.communicate()
    assert PendingChange.objects.count() == 1
    assert [e.outcome for e in services.recover_pending()] == ["interrupted"]


@pytest.mark.django_db
def test_verify_audit_first_records_what_a_stopped_process_left(samples_dir: Path) -> None:
    from io import StringIO

    from django.core.management import call_command

    preview = services.preview(UNIFIED, "skip", {"dates": ["2025-03-06"]})
    journal(UNIFIED, preview)
    (samples_dir / f"{UNIFIED}.json").write_bytes(preview.after_raw)  # the write happened

    out, err = StringIO(), StringIO()
    call_command("verify_audit", "--json", stdout=out, stderr=err)

    assert json.loads(out.getvalue())["ok"] is True
    assert json.loads(out.getvalue())["checked"] == 1
    assert "Recorded #1: skip of reconciliation_checkpoint was recovered" in err.getvalue()
    assert PendingChange.objects.count() == 0
    assert AuditEntry.objects.get().outcome == "recovered"


def refuse_entries_of(name: str) -> None:
    """Make the database itself refuse audit entries of checkpoint ``name`` (a trigger)."""
    table = AuditEntry._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                f"CREATE TEMP TRIGGER refuse BEFORE INSERT ON {table} "
                f"WHEN NEW.checkpoint = '{name}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        else:
            cursor.execute(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN IF NEW.checkpoint = '{name}' THEN RAISE EXCEPTION 'refused'; "
                "END IF; RETURN NEW; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER refuse BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )


@pytest.mark.django_db
def test_verify_audit_stopped_by_the_database_names_what_it_recorded(samples_dir: Path) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    journal(MANAGED, services.preview(MANAGED, "reset", {}))  # recovered first (by name)
    journal(UNIFIED, services.preview(UNIFIED, "skip", {"dates": ["2025-03-06"]}))
    refuse_entries_of(UNIFIED)

    err = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("verify_audit", stdout=StringIO(), stderr=err)

    assert "Recorded #1: reset of my-process was interrupted" in err.getvalue()
    said = str(refused.value)
    assert said.startswith("Database error: refused")
    assert "The entry above was recorded; the rest of the journal waits for the next run" in said
    assert "Nothing was changed" not in said
    assert list(AuditEntry.objects.values_list("checkpoint", flat=True)) == [MANAGED]
    assert list(PendingChange.objects.values_list("checkpoint", flat=True)) == [UNIFIED]


def _job_saves_on_top(samples_dir: Path, raw: bytes) -> None:
    """The file as ``raw`` has it, then a job's save over it (its progress and a new date)."""
    document = json.loads(raw)
    document["stats"]["processedRecords"] += 100
    document["pendingDates"].append("2025-03-08")
    CheckpointStore(samples_dir).write(UNIFIED, document)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("landed", "outcome", "note"),
    [
        (True, "recovered", "landed; the file changed since"),
        (False, "interrupted", "the file changed since, without it"),
    ],
)
def test_recovery_tells_from_the_file_whether_a_change_overwritten_since_landed(
    samples_dir: Path, landed: bool, outcome: str, note: str
) -> None:
    """A job saved on top of the file after the process stopped: the entry said
    "interrupted", which means not landed, even when the change was in the file."""
    preview = services.preview(UNIFIED, "skip", {"dates": ["2025-03-06"]})
    journal(UNIFIED, preview)
    _job_saves_on_top(samples_dir, preview.after_raw if landed else preview.before_raw)

    [entry] = services.recover_pending()

    assert entry.outcome == outcome
    assert entry.summary == f"2025-03-06 pendingDates → completedDates [{outcome}: {note}]"
    assert audit.verify_chain().ok


@pytest.mark.django_db
def test_recovery_says_landing_unknown_when_the_file_has_part_of_the_change(
    samples_dir: Path,
) -> None:
    preview = services.preview(UNIFIED, "skip", {"dates": ["2025-03-06", "2025-03-07"]})
    journal(UNIFIED, preview)
    partly = services.preview(UNIFIED, "skip", {"dates": ["2025-03-06"]})
    _job_saves_on_top(samples_dir, partly.after_raw)

    [entry] = services.recover_pending()

    assert entry.outcome == "interrupted"
    assert entry.summary.endswith("[interrupted: file changed since; landing unknown]")


@pytest.mark.parametrize(
    ("in_file", "heading", "state", "may_be_applied"),
    [
        (True, "Applied, not yet recorded", "job.json has the change", True),
        (None, "The change may have been applied", "job.json may have the change", True),
        (False, "Not applied", "job.json is as it was", False),
    ],
)
def test_a_change_not_confirmed_says_what_the_file_has(in_file, heading, state, may_be_applied):
    """What the command line and the console's page say when the database failed while the
    change was recorded, by what the file holds then."""
    failure = services.ChangeNotConfirmed("job", "connection lost", in_file=in_file)
    assert (failure.heading, failure.may_be_applied) == (heading, may_be_applied)
    assert failure.message == (
        f"The database failed while recording this change (connection lost); {state}. It is "
        "recorded as soon as the database answers (at the next change of this checkpoint, or "
        "by verify_audit). Check the checkpoint before trying again."
    )
