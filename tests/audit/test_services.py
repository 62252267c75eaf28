"""The one write path, end to end on the seed's samples: each action, each refusal."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jsonpatch
import pytest

from checkpoints_admin import services
from checkpoints_admin.audit import verify_chain
from checkpoints_admin.checkpoints import (
    CheckpointExists,
    CheckpointNotFound,
    CorruptCheckpoint,
    InterventionError,
    InvalidCheckpointName,
    VersionConflict,
)
from checkpoints_admin.models import AuditEntry, PendingChange, Snapshot
from checkpoints_admin.services import Actor, ReasonRequired, ValidationFailed
from tests.audit.conftest import file_bytes, files, raw_sql

pytestmark = pytest.mark.django_db

UNIFIED = "reconciliation_checkpoint"
DAILY = "daily_reconciliation_checkpoint"
MANAGED = "my-process"
NOW = datetime(2025, 3, 6, 10, 20, tzinfo=UTC)


def sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def assert_nothing_recorded() -> None:
    assert AuditEntry.objects.count() == 0
    assert PendingChange.objects.count() == 0
    assert Snapshot.objects.count() == 0


def do(name, action, params, *, actor=None, reason="operator request", **kwargs):
    return services.apply(
        name,
        action,
        params,
        actor=actor or Actor("alice", "cli"),
        reason=reason,
        now=kwargs.pop("now", NOW),
        **kwargs,
    )


# --- each action ---------------------------------------------------------------------------


def test_skip_a_date_moves_it_and_records_everything(samples_dir: Path) -> None:
    original = file_bytes(samples_dir, UNIFIED)

    applied = do(
        UNIFIED,
        "skip",
        {"dates": ["2025-03-06"]},
        actor=Actor("alice", "web", "10.1.2.3"),
        reason="upstream data for 6 March is lost",
    )

    written = file_bytes(samples_dir, UNIFIED)
    data = json.loads(written)
    assert data["pendingDates"] == ["2025-03-07"]
    assert data["completedDates"][-1] == "2025-03-06"
    entry = AuditEntry.objects.get()
    assert entry == applied.entry
    assert applied.version == sha(written) == entry.result_version
    assert (entry.seq, entry.actor, entry.source, entry.address) == (1, "alice", "web", "10.1.2.3")
    assert (entry.action, entry.checkpoint, entry.outcome) == ("skip", UNIFIED, "applied")
    assert entry.reason == "upstream data for 6 March is lost"
    assert entry.base_version == sha(original)
    assert entry.summary == "2025-03-06 pendingDates → completedDates"
    assert entry.before.raw == original
    assert entry.after.raw == written
    assert jsonpatch.apply_patch(json.loads(original), entry.patch) == data
    assert entry.prev_hash == "0" * 64
    # The seed sample's real gap is a warning: recorded, not refused.
    assert any(f["severity"] == "warning" and "2025-03-05" in f["message"] for f in entry.findings)
    assert verify_chain().ok


def test_reprocess_dates_range_on_the_unified_sample(samples_dir: Path) -> None:
    applied = do(UNIFIED, "reprocess", {"dates": ["2025-03-03..2025-03-04"]})

    data = json.loads(file_bytes(samples_dir, UNIFIED))
    assert data["completedDates"] == ["2025-03-01", "2025-03-02"]
    assert set(data["pendingDates"]) == {"2025-03-03", "2025-03-04", "2025-03-06", "2025-03-07"}
    assert applied.entry.action == "reprocess"
    assert "completedDates → pendingDates" in applied.entry.summary


def test_skip_on_the_daily_sample(samples_dir: Path) -> None:
    do(DAILY, "skip", {"dates": ["2025-03-05"]})

    data = json.loads(file_bytes(samples_dir, DAILY))
    assert data["processedDates"] == ["2025-03-04", "2025-03-05"]


def test_skip_and_reprocess_items_on_the_managed_sample(samples_dir: Path) -> None:
    do(MANAGED, "skip", {"items": ["item2"]})
    assert json.loads(file_bytes(samples_dir, MANAGED))["processedItems"] == ["item1", "item2"]

    do(MANAGED, "reprocess", {"items": ["item1"]})
    data = json.loads(file_bytes(samples_dir, MANAGED))
    assert data["processedItems"] == ["item2"]
    assert "item1" in data["pendingItems"]
    assert list(AuditEntry.objects.values_list("seq", "action")) == [(1, "skip"), (2, "reprocess")]


def test_edit_sets_several_pointers_in_one_entry(samples_dir: Path) -> None:
    applied = do(UNIFIED, "edit", {"set": {"/stats/failedRecords": 40, "/stats/timeouts": 5}})

    stats = json.loads(file_bytes(samples_dir, UNIFIED))["stats"]
    assert (stats["failedRecords"], stats["timeouts"]) == (40, 5)
    assert sorted(op["path"] for op in applied.entry.patch) == [
        "/stats/failedRecords",
        "/stats/timeouts",
    ]


def test_edit_replaces_the_whole_document(samples_dir: Path) -> None:
    document = json.loads(file_bytes(samples_dir, MANAGED))
    document["status"] = "completed"
    document["progress"] = 100

    applied = do(MANAGED, "edit", {"document": document})

    assert json.loads(file_bytes(samples_dir, MANAGED)) == document
    assert applied.entry.after.raw == file_bytes(samples_dir, MANAGED)


def test_create_writes_a_new_checkpoint_and_refuses_an_existing_one(samples_dir: Path) -> None:
    document = {"id": "job-2", "status": "pending", "progress": 0, "pendingItems": ["a"]}

    applied = do("job-2", "create", {"document": document})

    assert json.loads(file_bytes(samples_dir, "job-2")) == document
    assert applied.entry.base_version is None
    assert applied.entry.before is None
    assert applied.entry.after.raw == file_bytes(samples_dir, "job-2")
    with pytest.raises(CheckpointExists):
        do("job-2", "create", {"document": document})
    assert AuditEntry.objects.count() == 1


def test_reset_deletes_the_file_and_keeps_its_bytes(samples_dir: Path) -> None:
    original = file_bytes(samples_dir, DAILY)

    applied = do(DAILY, "reset", {})

    assert not (samples_dir / f"{DAILY}.json").exists()
    entry = applied.entry
    assert (entry.action, entry.result_version, entry.after) == ("reset", None, None)
    assert entry.before.raw == original
    # the action is the entry's own field: the summary does not say "reset" again
    assert entry.summary == (
        f"deleted file {DAILY}.json ({len(original):,} bytes kept in the before snapshot)"
    )
    assert applied.version is None
    assert applied.written is None


def test_a_reset_preview_says_when_the_job_looks_to_be_running(samples_dir: Path) -> None:
    """Reset while the job runs: its next save starts from its initial document, and what the
    job does then depends on its loop (a reviewer's job ended "completed" with half its items
    pending; one written as the README's example did all its work again, which the note had
    said would not happen)."""
    now = datetime(2025, 3, 6, 10, 0, 30, tzinfo=UTC)
    document = json.loads(file_bytes(samples_dir, MANAGED))
    document.update(status="running", lastUpdated="2025-03-06T10:00:00.000Z")
    (samples_dir / f"{MANAGED}.json").write_text(json.dumps(document))
    pv = services.preview(MANAGED, "reset", {}, now=now)
    assert pv.notes == (
        "The job looks to be running: it updated this checkpoint 30 s ago. At its next save "
        "its manager starts again from the initial document. A job that takes its next date "
        "or item from the checkpoint then does its work again; one that keeps its own loop "
        "goes on from where it is, and its checkpoint no longer says what it did. For a "
        "clean start from scratch, stop the job first.",
    )
    just = services.preview(MANAGED, "reset", {}, now=datetime(2025, 3, 6, 10, 0, 4, tzinfo=UTC))
    assert just.notes[0].startswith(
        "The job looks to be running: it updated this checkpoint just now."
    )
    # a job stopped long ago (stalled), or finished: nothing to say
    later = datetime(2025, 3, 7, tzinfo=UTC)
    assert services.preview(MANAGED, "reset", {}, now=later).notes == ()
    document.update(status="completed", progress=100)
    (samples_dir / f"{MANAGED}.json").write_text(json.dumps(document))
    assert services.preview(MANAGED, "reset", {}, now=now).notes == ()


def test_applied_says_what_was_written(samples_dir: Path) -> None:
    applied = do(UNIFIED, "skip", {"dates": ["2025-03-06"]})
    written = applied.written
    assert written is not None
    assert (written.name, written.version) == (UNIFIED, applied.version)
    assert written.raw == file_bytes(samples_dir, UNIFIED)
    assert written.data == json.loads(written.raw)


def test_restore_brings_back_a_reset_checkpoint_byte_for_byte(samples_dir: Path) -> None:
    original = file_bytes(samples_dir, UNIFIED)
    reset = do(UNIFIED, "reset", {}).entry

    restored = do(UNIFIED, "restore", {"entry": reset.seq, "side": "before"}).entry

    assert file_bytes(samples_dir, UNIFIED) == original
    assert restored.restores == reset
    assert restored.base_version is None
    assert restored.result_version == sha(original)
    assert restored.summary == f"restore to before #{reset.seq}: re-created {UNIFIED}.json"


def test_a_restore_previewed_on_no_file_is_refused_once_the_job_recreated_it(
    samples_dir: Path,
) -> None:
    reset = do(UNIFIED, "reset", {}).entry
    preview = services.preview(UNIFIED, "restore", {"entry": reset.seq, "side": "before"})
    assert preview.base_version is None
    (samples_dir / f"{UNIFIED}.json").write_bytes(b'{"pendingDates": [], "completedDates": []}\n')
    recreated = file_bytes(samples_dir, UNIFIED)

    with pytest.raises(VersionConflict) as excinfo:
        services.apply(
            UNIFIED,
            "restore",
            {"entry": reset.seq, "side": "before"},
            actor=Actor("alice", "web"),
            reason="undo the reset",
            expect_absent=True,
        )

    assert "did not exist when this was previewed" in str(excinfo.value)
    assert (excinfo.value.expected, excinfo.value.actual) == (None, sha(recreated))
    assert file_bytes(samples_dir, UNIFIED) == recreated
    assert AuditEntry.objects.count() == 1


def test_restore_before_of_a_create_deletes_and_after_of_an_edit_rewrites(
    samples_dir: Path,
) -> None:
    created = do("fresh", "create", {"document": {"a": 1}}).entry
    undone = do("fresh", "restore", {"entry": created.seq, "side": "before"}).entry
    assert not (samples_dir / "fresh.json").exists()
    assert undone.result_version is None

    edit = do(MANAGED, "edit", {"set": {"/progress": 50}}).entry
    do(MANAGED, "edit", {"set": {"/progress": 60}})
    do(MANAGED, "restore", {"entry": edit.seq, "side": "after"})
    assert json.loads(file_bytes(samples_dir, MANAGED))["progress"] == 50
    assert verify_chain().ok


def test_restore_refuses_an_entry_of_another_checkpoint_or_none(samples_dir: Path) -> None:
    entry = do(MANAGED, "edit", {"set": {"/progress": 50}}).entry
    before = files(samples_dir)

    with pytest.raises(InterventionError) as excinfo:
        do(UNIFIED, "restore", {"entry": entry.seq})
    assert "is about checkpoint 'my-process'" in str(excinfo.value)
    with pytest.raises(InterventionError) as excinfo:
        do(UNIFIED, "restore", {"entry": 99})
    assert "no audit entry #99" in str(excinfo.value)
    assert files(samples_dir) == before
    assert AuditEntry.objects.count() == 1


def test_reset_and_replace_work_on_a_corrupt_file(checkpoints_dir: Path) -> None:
    (checkpoints_dir / "broken.json").write_bytes(b'{"a": 1,,}')

    with pytest.raises(CorruptCheckpoint):
        do("broken", "edit", {"set": {"/a": 2}})
    replaced = do("broken", "edit", {"document": {"a": 2}}).entry
    assert replaced.before.raw == b'{"a": 1,,}'
    assert replaced.summary == "replaced the corrupt file"
    (checkpoints_dir / "broken.json").write_bytes(b"not json")
    reset = do("broken", "reset", {}).entry
    assert reset.before.raw == b"not json"
    assert reset.summary == "deleted corrupt file broken.json (8 bytes kept in the before snapshot)"
    assert not (checkpoints_dir / "broken.json").exists()


# --- preview, dry run ----------------------------------------------------------------------


def test_preview_computes_everything_and_records_nothing(samples_dir: Path) -> None:
    before = files(samples_dir)

    preview = services.preview(UNIFIED, "skip", {"dates": ["2025-03-06..2025-03-07"]}, now=NOW)

    assert files(samples_dir) == before
    assert_nothing_recorded()
    assert preview.base_version == sha(before[f"{UNIFIED}.json"])
    assert preview.after["pendingDates"] == []
    assert preview.summary.startswith("2 dates pendingDates → completedDates")
    assert jsonpatch.apply_patch(preview.before, preview.patch) == preview.after
    assert preview.ok
    assert preview.errors == []
    assert [w.severity for w in preview.warnings] == ["warning"] * len(preview.warnings)


def test_preview_with_keep_base_lets_changes_since_say_what_changed(samples_dir: Path) -> None:
    seen = services.preview(UNIFIED, "skip", {"dates": ["2025-03-06"]}, keep_base=True)
    assert Snapshot.objects.filter(pk=seen.base_version).exists()
    assert services.changes_since(UNIFIED, seen.base_version).empty

    do(UNIFIED, "reprocess", {"dates": ["2025-03-01"]})

    delta = services.changes_since(UNIFIED, seen.base_version)
    assert delta.summary() == "2025-03-01 completedDates → pendingDates"
    assert services.changes_since(UNIFIED, "0" * 64) is None


# --- refusals: nothing written, nothing recorded -------------------------------------------


def test_a_stale_version_is_a_conflict_that_says_what_changed(samples_dir: Path) -> None:
    seen = services.preview(UNIFIED, "skip", {"dates": ["2025-03-06"]}, keep_base=True)
    # A job moves on in the meantime (straight through the store, as jobs do).
    store = services.get_store()
    data = json.loads(file_bytes(samples_dir, UNIFIED))
    data["stats"]["processedRecords"] = 7300
    store.write(UNIFIED, data)
    current = file_bytes(samples_dir, UNIFIED)

    with pytest.raises(VersionConflict) as excinfo:
        do(UNIFIED, "skip", {"dates": ["2025-03-06"]}, expected_version=seen.base_version)

    assert excinfo.value.expected == seen.base_version
    assert excinfo.value.actual == sha(current)
    assert "/stats/processedRecords" in str(excinfo.value) or "processedRecords" in str(
        excinfo.value
    )
    assert file_bytes(samples_dir, UNIFIED) == current
    assert AuditEntry.objects.count() == 0
    assert PendingChange.objects.count() == 0


def test_the_seen_version_binds_and_passes(samples_dir: Path) -> None:
    seen = services.preview(UNIFIED, "skip", {"dates": ["2025-03-06"]})
    applied = do(UNIFIED, "skip", {"dates": ["2025-03-06"]}, expected_version=seen.base_version)
    assert applied.entry.base_version == seen.base_version


def test_a_result_with_errors_is_refused_with_its_findings(samples_dir: Path) -> None:
    before = files(samples_dir)

    with pytest.raises(ValidationFailed) as excinfo:
        do(UNIFIED, "edit", {"set": {"/stats/processedRecords": 999999}})

    assert [f.pointer for f in excinfo.value.findings] == ["/stats/processedRecords"]
    assert all(f.severity == "error" for f in excinfo.value.findings)
    assert "/stats/processedRecords" in str(excinfo.value)
    assert files(samples_dir) == before
    assert_nothing_recorded()


@pytest.mark.parametrize("reason", ["vendor\x1b]0;pwned\x07 outage", "a\x00b", "x\x9b2J"])
def test_a_reason_with_control_characters_is_refused(samples_dir: Path, reason) -> None:
    """Escapes would act on the terminal of whoever reads the log or its export."""
    before = files(samples_dir)
    with pytest.raises(ReasonRequired) as excinfo:
        do(UNIFIED, "skip", {"dates": ["2025-03-06"]}, reason=reason)
    assert "The reason contains a control character" in str(excinfo.value)
    assert files(samples_dir) == before
    assert_nothing_recorded()
    # Line breaks and tabs are plain text.
    applied = do(UNIFIED, "skip", {"dates": ["2025-03-06"]}, reason="two lines:\r\n\tINC-1\nINC-2")
    # recorded with LF, as the console records a textarea's CRLF, from any source
    assert applied.entry.reason == "two lines:\n\tINC-1\nINC-2"


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        pytest.param(
            "INC-1 \u202eevil\u202c",
            "The reason contains a bidirectional control character (U+202E RIGHT-TO-LEFT "
            "OVERRIDE, character 7), which makes it display differently from what is "
            "recorded; write it without.",
            id="override",
        ),
        pytest.param(
            "ok\u2066x\u2069",
            "The reason contains a bidirectional control character (U+2066 LEFT-TO-RIGHT "
            "ISOLATE, character 3), which makes it display differently from what is "
            "recorded; write it without.",
            id="isolate",
        ),
        pytest.param(
            "\u200b\u200b",
            "The reason has no visible character (only blanks and invisible characters, such "
            "as U+200B ZERO WIDTH SPACE, character 1); write why the change is made.",
            id="zero-width-spaces",
        ),
        pytest.param(
            " \u00a0\u2060\ufeff\u3000 ",
            "The reason has no visible character (only blanks and invisible characters, such "
            "as U+2060 WORD JOINER, character 3); write why the change is made.",
            id="blanks-and-joiners",
        ),
        pytest.param(
            "x" * 2001,
            "The reason is 2,001 characters long; the audit log takes at most 2,000.",
            id="too-long",
        ),
    ],
)
def test_a_reason_that_reads_back_differently_or_not_at_all_is_refused(
    samples_dir: Path, reason, message
) -> None:
    """The audit log's reason is read back by people: what they see must be what it says."""
    before = files(samples_dir)
    with pytest.raises(ReasonRequired) as excinfo:
        do(UNIFIED, "skip", {"dates": ["2025-03-06"]}, reason=reason)
    assert str(excinfo.value) == f"{message} Nothing was changed."
    assert files(samples_dir) == before
    assert_nothing_recorded()


def test_a_reason_of_the_longest_length_in_another_script_is_recorded(samples_dir: Path) -> None:
    # A right-to-left mark (U+200F) keeps the ticket number after the Arabic words: text.
    reason = "  " + "تأخر المورد " * 166 + "\u200fINC-123  "
    assert len(reason.strip()) == services.REASON_MAX_LENGTH
    applied = do(UNIFIED, "skip", {"dates": ["2025-03-06"]}, reason=reason)
    assert applied.entry.reason == reason.strip()


def test_a_reason_that_is_not_utf8_text_is_refused_before_anything_is_written(
    samples_dir: Path,
) -> None:
    """A lone surrogate could not be hashed into the chain: the change was written, then
    rolled back with a traceback."""
    before = files(samples_dir)
    with pytest.raises(ReasonRequired) as excinfo:
        do(UNIFIED, "skip", {"dates": ["2025-03-06"]}, reason="outage \udcff")
    assert str(excinfo.value) == (
        "The reason is not valid UTF-8 text (character 8 is a byte that is not UTF-8); write "
        "it as plain text. Nothing was changed."
    )
    assert files(samples_dir) == before
    assert_nothing_recorded()


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("skip", {"items": ["item2"]}),
        ("reprocess", {"items": ["item1"]}),
        ("edit", {"set": {"/progress": 40}}),
    ],
)
def test_a_change_keeping_an_integer_beyond_64_bits_is_refused(
    samples_dir: Path, action, params
) -> None:
    """Read as the nearest float, the job's integer was written back as 1e+23 by a change
    of another field, and the diff did not show it."""
    path = samples_dir / f"{MANAGED}.json"
    raw = path.read_bytes().replace(
        b'"progress": 33', b'"rows": 99999999999999999999999, "progress": 33'
    )
    path.write_bytes(raw)
    message = (
        "my-process has the integer 99999999999999999999999 at /rows, which does not fit in "
        f"64 bits: this {action} would write it back as 1e+23. Nothing was changed; set it "
        "to a number that fits first (Edit a field, edit_checkpoint --set), or have it written "
        "as a string (Edit raw JSON, edit_checkpoint --from-file, or the job)."
    )
    with pytest.raises(InterventionError) as excinfo:
        services.preview(MANAGED, action, params)
    assert str(excinfo.value) == message
    with pytest.raises(InterventionError) as excinfo:
        do(MANAGED, action, params)
    assert str(excinfo.value) == message
    assert path.read_bytes() == raw
    assert_nothing_recorded()
    # What replaces the whole document keeps nothing of it: a reset, a whole edit.
    replaced = {"id": "x", "status": "running", "progress": 1, "rows": "99999999999999999999999"}
    do(MANAGED, "edit", {"document": replaced})
    assert json.loads(path.read_bytes()) == replaced


def test_an_edit_setting_the_integer_beyond_64_bits_itself_is_applied(samples_dir: Path) -> None:
    """Setting the field to a number that fits (or its object to another) is how the field
    editor and --set correct such an integer; the edit was refused as if it wrote the integer
    back."""
    path = samples_dir / f"{MANAGED}.json"
    raw = path.read_bytes().replace(
        b'"progress": 33', b'"rows": {"n": 99999999999999999999999}, "progress": 33'
    )
    path.write_bytes(raw)
    do(MANAGED, "edit", {"set": {"/rows/n": 2**63 - 1}})
    assert json.loads(path.read_bytes())["rows"] == {"n": 2**63 - 1}

    path.write_bytes(raw)
    do(MANAGED, "edit", {"set": {"/rows": {"n": 7}, "/progress": 40}})
    assert json.loads(path.read_bytes())["rows"] == {"n": 7}

    # Its float, the same in the diff as what was read, still changes the file unseen.
    path.write_bytes(raw)
    with pytest.raises(InterventionError) as excinfo:
        do(MANAGED, "edit", {"set": {"/rows/n": 1e23}})
    assert "would write it as 1e+23, a change the diff cannot show" in str(excinfo.value)
    assert path.read_bytes() == raw
    with pytest.raises(InterventionError) as excinfo:
        services.preview(MANAGED, "edit", {"set": 5})
    assert str(excinfo.value).startswith("my-process has the integer 99999999999999999999999")


@pytest.mark.parametrize(("version", "error"), [("zz", ValueError), (7, TypeError)])
def test_a_version_that_is_no_version_is_refused_as_an_argument(
    samples_dir: Path, version, error
) -> None:
    before = files(samples_dir)
    rule = (
        "must be a checkpoint version: 64 lowercase hex digits, the sha256 of the file's bytes "
        "(Checkpoint.version, or what write() returned), not "
    )
    with pytest.raises(error) as excinfo:
        do(UNIFIED, "skip", {"dates": ["2025-03-06"]}, expected_version=version)
    assert str(excinfo.value).startswith(f"expected_version {rule}")
    for call in (
        lambda: services.changes_since(UNIFIED, version),
        lambda: services.keep_version(
            UNIFIED, (samples_dir / f"{UNIFIED}.json").read_bytes(), version
        ),
    ):
        with pytest.raises(error) as excinfo:
            call()
        assert str(excinfo.value).startswith(f"version {rule}")
    assert files(samples_dir) == before
    assert_nothing_recorded()


def test_a_whole_document_that_would_change_an_integer_beyond_64_bits_unseen_is_refused(
    samples_dir: Path,
) -> None:
    """The float the integer is read as (1e+23), given back in a whole document, made no
    difference in the diff but rewrote the file's integer."""
    path = samples_dir / f"{MANAGED}.json"
    raw = path.read_bytes().replace(
        b'"progress": 33', b'"rows": 99999999999999999999999, "progress": 33'
    )
    path.write_bytes(raw)
    document = json.loads(raw)  # (rows: the integer, read back by Python as it is)
    unchanged = {**document, "rows": float(document["rows"]), "note": "checked"}
    with pytest.raises(InterventionError) as excinfo:
        do(MANAGED, "edit", {"document": unchanged})
    assert str(excinfo.value) == (
        "my-process has the integer 99999999999999999999999 at /rows, which does not fit in 64 "
        "bits: this edit would write it as 1e+23, a change the diff cannot show. Nothing was "
        'changed; give it as a string ("99999999999999999999999") or another value.'
    )
    assert path.read_bytes() == raw
    assert_nothing_recorded()
    # A reset and a restore of the bytes that have it keep the integer as written.
    reset = do(MANAGED, "reset", {})
    do(MANAGED, "restore", {"entry": reset.entry.seq, "side": "before"})
    assert path.read_bytes() == raw


@pytest.mark.parametrize("reason", ["", "   \n\t", None])
def test_a_blank_reason_is_refused(samples_dir: Path, reason) -> None:
    before = files(samples_dir)

    with pytest.raises(ReasonRequired) as excinfo:
        do(UNIFIED, "skip", {"dates": ["2025-03-06"]}, reason=reason)

    assert "reason is required" in str(excinfo.value)
    assert files(samples_dir) == before
    assert_nothing_recorded()


@pytest.mark.parametrize(
    ("name", "action", "params", "error", "text"),
    [
        (UNIFIED, "skip", {"dates": ["2025-03-01"]}, InterventionError, "2025-03-01"),
        (UNIFIED, "skip", {"dates": ["2025-13-45"]}, InterventionError, "2025-13-45"),
        (UNIFIED, "skip", {}, InterventionError, "either dates or items"),
        (UNIFIED, "skip", {"dates": [], "x": 1}, InterventionError, "'x'"),
        (UNIFIED, "frobnicate", {}, InterventionError, "frobnicate"),
        (UNIFIED, "edit", {"set": {"/nope/deeper": 1}}, InterventionError, "/nope"),
        (UNIFIED, "restore", {"entry": "x"}, InterventionError, "'x'"),
        (UNIFIED, "restore", {"entry": 1, "side": "middle"}, InterventionError, "middle"),
        ("../etc/passwd", "reset", {}, InvalidCheckpointName, "passwd"),
        ("absent", "reset", {}, CheckpointNotFound, "absent"),
        (MANAGED, "edit", {"set": {"/progress": 33}}, services.NoChange, "as it is"),
    ],
)
def test_refusals_name_the_problem_and_change_nothing(
    samples_dir: Path, name, action, params, error, text
) -> None:
    before = files(samples_dir)

    with pytest.raises(error) as excinfo:
        do(name, action, params)

    assert text in str(excinfo.value)
    assert files(samples_dir) == before
    assert_nothing_recorded()


def test_an_unknown_source_is_refused(samples_dir: Path) -> None:
    with pytest.raises(InterventionError) as excinfo:
        do(UNIFIED, "skip", {"dates": ["2025-03-06"]}, actor=Actor("bob", "email"))
    assert "email" in str(excinfo.value)
    assert_nothing_recorded()


# --- the actor, the log line, snapshots ----------------------------------------------------


def test_actor_for_cli_is_the_os_user_and_for_request_the_signed_in_user(rf, django_user_model):
    assert Actor.for_cli().source == "cli"
    assert Actor.for_cli().name

    request = rf.get("/", REMOTE_ADDR="192.0.2.7")
    request.user = django_user_model.objects.create_user("carol", password="pw-1234567")
    assert Actor.for_request(request) == Actor("carol", "web", "192.0.2.7")
    assert Actor.for_request(request, source="api").source == "api"


def test_each_applied_intervention_is_logged_with_its_fields(samples_dir: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="checkpoints_admin.audit")

    do(UNIFIED, "skip", {"dates": ["2025-03-06"]})

    [record] = [r for r in caplog.records if r.name == "checkpoints_admin.audit"]
    assert (record.actor, record.checkpoint, record.action, record.seq) == (
        "alice",
        UNIFIED,
        "skip",
        1,
    )


def test_a_hundred_edits_of_a_big_checkpoint_store_each_content_once(
    checkpoints_dir: Path,
) -> None:
    store = services.get_store()
    first = date(1990, 1, 1).toordinal()
    completed = [date.fromordinal(first + i).isoformat() for i in range(5000)]
    document = {
        "lastProcessedDate": completed[-1],
        "pendingDates": [],
        "completedDates": completed,
        "startTime": 1709742856123,
        "lastUpdateTime": 1709743156789,
        "stats": {
            "totalRecords": 100,
            "processedRecords": 50,
            "successfulRecords": 50,
            "failedRecords": 0,
            "timeouts": 0,
        },
    }
    store.write("big", document)
    versions = {sha(file_bytes(checkpoints_dir, "big"))}

    for i in range(1, 101):
        applied = do("big", "edit", {"set": {"/stats/timeouts": i % 10}})
        versions.add(applied.version)

    assert AuditEntry.objects.count() == 100
    # Ten distinct contents (timeouts 0..9); timeouts 0 is the original file's bytes again.
    assert len(versions) == 10
    assert Snapshot.objects.count() == len(versions)
    assert Snapshot.objects.filter(base=None).count() == 1  # the others are small deltas
    raw_size = len(file_bytes(checkpoints_dir, "big"))
    stored = sum(len(bytes(data)) for data in Snapshot.objects.values_list("data", flat=True))
    assert stored < raw_size * len(versions) / 5
    assert verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_sqlite_commits_stay_fully_durable_after_an_apply(samples_dir: Path) -> None:
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's synchronous level")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone()[0] == 2  # FULL, from the settings' init_command
    do(UNIFIED, "skip", {"dates": ["2025-03-06"]})
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone()[0] == 2


@pytest.mark.django_db(transaction=True)
def test_postgresql_relaxes_only_the_entry_commit(samples_dir: Path) -> None:
    """The entry's statement deletes the journal row and turns off the wait for the WAL flush
    for its own commit only: the journal row's commit (and every later one) stays synchronous.
    Triggers record the level each insert's transaction has."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's synchronous_commit")
    entries, journal = (
        connection.ops.quote_name(m._meta.db_table) for m in (AuditEntry, PendingChange)
    )
    raw_sql("CREATE TABLE sync_probe (tbl text, level text)")
    raw_sql(
        "CREATE FUNCTION sync_probe_record() RETURNS trigger AS $$ BEGIN "
        "INSERT INTO sync_probe VALUES (TG_TABLE_NAME, current_setting('synchronous_commit')); "
        "RETURN NEW; END $$ LANGUAGE plpgsql"
    )
    for table in (entries, journal):
        raw_sql(
            f"CREATE TRIGGER sync_probe AFTER INSERT ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION sync_probe_record()"
        )
    try:
        do(UNIFIED, "skip", {"dates": ["2025-03-06"]})
        with connection.cursor() as cursor:
            cursor.execute("SELECT tbl, level FROM sync_probe ORDER BY tbl")
            levels = dict(cursor.fetchall())
            cursor.execute("SHOW synchronous_commit")
            after = cursor.fetchone()[0]
    finally:
        for table in (entries, journal):
            raw_sql(f"DROP TRIGGER sync_probe ON {table}")
        raw_sql("DROP FUNCTION sync_probe_record()")
        raw_sql("DROP TABLE sync_probe")
    assert levels == {
        AuditEntry._meta.db_table: "off",
        PendingChange._meta.db_table: "on",
    }
    assert after == "on"
    assert not PendingChange.objects.exists()
    assert verify_chain().ok


def _named_statements() -> dict[str, str]:
    """The statements this session holds under a name of this project's, by name."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 'ckpt\\_%%'"
        )
        return dict(cursor.fetchall())


def _tables(statements: dict[str, str]) -> list[str]:
    """The table each statement inserts into first."""
    tables = (Snapshot, PendingChange, AuditEntry)
    return sorted(
        next(m._meta.db_table for m in tables if f'INTO "{m._meta.db_table}"' in statement)
        for statement in statements.values()
    )


@pytest.fixture
def session(samples_dir: Path, monkeypatch) -> Iterator[Any]:
    """A PostgreSQL session of its own, this process remembering nothing prepared and no
    statement lost; closed after."""
    from django.db import connection

    from checkpoints_admin import models

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's prepared statements")
    monkeypatch.setattr(models, "_losses", 0)
    connection.close()
    connection.ensure_connection()
    try:
        yield connection
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_postgresql_prepares_the_statements_of_an_apply_once_named_by_their_text(
    session,
) -> None:
    """The journal's statement and the entry's are parsed and planned once per session;
    later applies run them again, prepared, and the chain they write verifies. The name is
    the sha256 of the text: a session can hold no other statement under it."""
    from checkpoints_admin import models

    do(UNIFIED, "skip", {"dates": ["2025-03-06"]})
    do(UNIFIED, "skip", {"dates": ["2025-03-07"]})
    do(UNIFIED, "reprocess", {"dates": ["2025-03-06"]})
    held = _named_statements()
    # Three statements for three applies: the entry's, and the journal's with two snapshots
    # (the first apply's before and after) and with one (the after only, later).
    assert _tables(held) == [
        AuditEntry._meta.db_table,
        Snapshot._meta.db_table,
        Snapshot._meta.db_table,
    ]
    for name, statement in held.items():
        body = statement.split(" AS ", 1)[1]
        text = re.sub(r"\$[0-9]+", "%s", body)
        assert models._named(text)[0] == name
        assert name == "ckpt_" + hashlib.sha256(text.encode()).hexdigest()[:40]
    do(UNIFIED, "edit", {"set": {"/stats/timeouts": 99}})  # (again one new snapshot)
    assert _named_statements() == held
    assert AuditEntry.objects.count() == 4
    assert verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_with_prepared_statements_off_nothing_is_prepared(session, settings) -> None:
    settings.DATABASE_PREPARED_STATEMENTS = False
    for day in ("2025-03-06", "2025-03-07"):
        do(UNIFIED, "skip", {"dates": [day]})
    assert _named_statements() == {}
    assert AuditEntry.objects.count() == 2
    assert verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_a_statement_prepared_in_the_session_by_another_process_is_the_same_one(
    session,
) -> None:
    """Behind a pooler, a session may hold what another process prepared: under the same
    name, the same text. This process prepares it again, is told it exists, and runs it."""
    from checkpoints_admin import models

    do(UNIFIED, "skip", {"dates": ["2025-03-06"]})
    held = _named_statements()
    models._SESSIONS.clear()  # (as another process would be: knowing of none)
    do(UNIFIED, "skip", {"dates": ["2025-03-07"]})
    assert set(_named_statements()) >= set(held)
    assert models._losses == 0
    assert AuditEntry.objects.count() == 2
    assert verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_statements_the_session_lost_run_unnamed_and_the_process_stops_naming_them(
    session, samples_dir: Path, caplog
) -> None:
    """What a pooler in transaction mode does (hands the process a session without them), or
    a session reset: the statement is refused before it runs and runs again unnamed. After a
    few such losses the process stops preparing, saying which setting turns it off."""
    from checkpoints_admin import models

    def edit(value: int) -> None:  # (each the same two statements: one new snapshot)
        do(UNIFIED, "edit", {"set": {"/stats/timeouts": value}})

    with caplog.at_level("WARNING", logger="checkpoints_admin.models"):
        edit(10)
        edit(11)
        raw_sql("DEALLOCATE ALL")
        edit(12)  # both statements lost (run unnamed): 2
        assert models._losses == 2
        assert _named_statements() == {}
        edit(13)  # prepared again
        assert len(_named_statements()) == 2
        assert caplog.records == []
        raw_sql("DEALLOCATE ALL")
        edit(14)  # the third: no more naming
        edit(15)
    warnings = [r.getMessage() for r in caplog.records if r.name == "checkpoints_admin.models"]
    assert len(warnings) == 1 and "DATABASE_PREPARED_STATEMENTS=false" in warnings[0]
    assert _named_statements() == {}  # nothing prepared since
    assert json.loads((samples_dir / f"{UNIFIED}.json").read_bytes())["stats"]["timeouts"] == 15
    assert AuditEntry.objects.count() == 6
    assert verify_chain().ok
    assert not PendingChange.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_statement_planned_before_a_migration_is_prepared_again(session) -> None:
    """A migration that changes a column the statement returns makes the session refuse its
    plan ("cached plan must not change result type"): it runs unnamed once, then is
    prepared again."""
    from checkpoints_admin import models

    def edit(value: int) -> None:  # (each the same two statements: one new snapshot)
        do(UNIFIED, "edit", {"set": {"/stats/timeouts": value}})

    table = AuditEntry._meta.db_table
    edit(10)
    edit(11)
    before = set(_named_statements())
    raw_sql(f'ALTER TABLE "{table}" ALTER COLUMN "hash" TYPE text')
    try:
        # Both statements of an edit return the chain's head hash: refused, deallocated and
        # run unnamed. (Left: the first apply's journal statement, with two snapshots.)
        edit(12)
        left = _named_statements()
        assert len(left) == 1 and all("snapshot1 AS" in text for text in left.values())
        edit(13)  # prepared again
    finally:
        raw_sql(f'ALTER TABLE "{table}" ALTER COLUMN "hash" TYPE varchar(64)')
    assert models._losses == 0
    assert set(_named_statements()) == before
    assert AuditEntry.objects.count() == 4
    assert verify_chain().ok


def test_the_same_change_applied_again_is_found_as_already_applied(samples_dir: Path) -> None:
    """A second Apply of one preview finds the file at that preview's result: its entry, for
    the same person, action and values only (anything else is a conflict)."""
    params = {"dates": ["2025-03-06"]}
    entry = do(UNIFIED, "skip", params).entry
    alice, bob = Actor("alice", "cli"), Actor("bob", "cli")
    found = {"base": entry.base_version, "actual": entry.result_version}
    assert services.applied_already(UNIFIED, "skip", params, actor=alice, **found) == entry
    assert services.applied_already(UNIFIED, "skip", params, actor=bob, **found) is None
    other = {"dates": ["2025-03-06..2025-03-07"]}
    assert services.applied_already(UNIFIED, "skip", other, actor=alice, **found) is None
    assert services.applied_already(UNIFIED, "reprocess", params, actor=alice, **found) is None
    moved = {"base": entry.base_version, "actual": "0" * 64}
    assert services.applied_already(UNIFIED, "skip", params, actor=alice, **moved) is None


@pytest.mark.parametrize(
    ("text", "number"),
    [("7", 7), (" 12 ", 12), ("-3", -3), ("1_0", None), ("١", None), ("²", None), ("1.0", None)],
)
def test_an_entry_number_is_read_in_ascii_digits_only(samples_dir: Path, text, number) -> None:
    """int() reads "1_0" as 10 and "١" as 1: a restore of entry "1_0" restored entry 10."""
    from checkpoints_admin import audit

    if number is None:
        with pytest.raises(ValueError, match="not an audit entry number"):
            audit.entry_number(text)
        with pytest.raises(InterventionError) as excinfo:
            services.preview(UNIFIED, "restore", {"entry": text})
        assert str(excinfo.value) == f"Restore needs an audit entry number, not {text!r}."
    else:
        assert audit.entry_number(text) == number


def test_an_apply_gives_the_connection_its_own_busy_timeout_back(samples_dir: Path) -> None:
    """The wait for SQLite is bounded only while the checkpoint's lock is held."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's busy timeout")

    def busy_timeout() -> int:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout")
            return int(cursor.fetchone()[0])

    usual = busy_timeout()
    services.apply(
        UNIFIED, "skip", {"dates": ["2025-03-06"]}, actor=services.Actor("bob", "cli"), reason="r"
    )
    assert usual == 30_000  # (the settings' 30 s, as Django opened the connection)
    assert busy_timeout() == usual


@pytest.mark.django_db(transaction=True)
def test_an_apply_leaves_no_lock_timeout_on_a_postgresql_session(samples_dir: Path) -> None:
    """The wait for the audit chain's lock is bounded for the apply's own statements only
    (set for their transaction): the session, which a pooler may hand to another client,
    keeps its own ``lock_timeout``."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's lock_timeout")

    def lock_timeout() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW lock_timeout")
            return cursor.fetchone()[0]

    usual = lock_timeout()
    applied = services.apply(
        UNIFIED, "skip", {"dates": ["2025-03-06"]}, actor=services.Actor("bob", "cli"), reason="r"
    )
    assert applied.entry.seq == 1
    assert (usual, lock_timeout()) == ("0", "0")


def test_a_reprocess_names_the_dates_it_leaves_ten_runs_at_most(store) -> None:
    """The preview's note on the dates a range takes but leaves: the ones not done yet, as
    runs, the first ten named and the rest counted."""
    days = [f"2025-01-{d:02d}" for d in range(1, 32)]
    store.write(
        "alternate",
        {
            "lastProcessedDate": "2025-01-31",
            "completedDates": days[0::2],
            "pendingDates": days[1::2],
            "startTime": 1735689600000,
            "lastUpdateTime": 1735776000000,
        },
    )
    pv = services.preview("alternate", "reprocess", {"dates": ["2025-01-01..2025-01-31"]})
    assert pv.summary.startswith("16 dates completedDates → pendingDates")
    assert (
        "15 of the 31 dates asked for are left as they are (not done yet, or outside this "
        "checkpoint's dates): 2025-01-02, 2025-01-04, 2025-01-06, 2025-01-08, 2025-01-10, "
        "2025-01-12, 2025-01-14, 2025-01-16, 2025-01-18, 2025-01-20 and 5 more."
    ) in pv.notes
