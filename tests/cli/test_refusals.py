"""Every refusal of the write commands, in-process: one clear line, the right exit code, and
neither the file nor the audit log changed."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection

from checkpoints_admin import services
from checkpoints_admin.models import AuditEntry, Snapshot
from tests.tampering import tamper

pytestmark = pytest.mark.django_db

REASON = "feed for 2025-03-06 will never arrive"
UNIFIED = "reconciliation_checkpoint"


def files(directory):
    return {path.name: path.read_bytes() for path in sorted(directory.glob("*.json"))}


@pytest.fixture
def bad_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"id": 1,\n  "status": }\n')
    return path


CASES = [
    pytest.param(
        ["skip_dates", UNIFIED, "2025-03-06", "--reason", "  "],
        2,
        "--reason must say",
        id="blank-reason",
    ),
    pytest.param(
        ["skip_dates", UNIFIED, "2025-03-06", "--reason", "ok \x1b[31mRED\x1b[0m"],
        2,
        "--reason: the reason contains a control character (U+001B, character 4)",
        id="escape-in-reason",
    ),
    pytest.param(
        ["skip_dates", UNIFIED, "2025-03-06", "--reason", "approved by alice\rrejected"],
        2,
        "--reason: the reason contains a control character (U+000D, character 18)",
        id="carriage-return-in-reason",  # (on a terminal it writes over what it follows)
    ),
    pytest.param(
        # (bytes that are not UTF-8 in an argument, as Python's command line decodes them)
        ["skip_dates", UNIFIED, "2025-03-06", "--reason", "INC-4211 \udcff\udcfe"],
        2,
        "--reason: the reason is not valid UTF-8 text (character 10 is a byte that is not "
        "UTF-8); write it as plain text.",
        id="reason-not-utf8",
    ),
    pytest.param(
        ["skip_dates", UNIFIED, "2025-03-06", "--reason", "\u200b\u200b"],
        2,
        "--reason: the reason has no visible character (only blanks and invisible characters, "
        "such as U+200B ZERO WIDTH SPACE, character 1); write why the change is made.",
        id="invisible-reason",
    ),
    pytest.param(
        ["skip_dates", UNIFIED, "2025-03-06", "--reason", "INC \u202e1234"],
        2,
        "--reason: the reason contains a bidirectional control character (U+202E "
        "RIGHT-TO-LEFT OVERRIDE, character 5)",
        id="bidi-in-reason",
    ),
    pytest.param(
        ["skip_dates", UNIFIED, "2025-03-06", "--reason", "x" * 2001],
        2,
        "--reason: the reason is 2,001 characters long; the audit log takes at most 2,000.",
        id="reason-too-long",
    ),
    pytest.param(["skip_dates", UNIFIED, "2025-03-01"], 1, "2025-03-01", id="date-not-pending"),
    pytest.param(["skip_dates", UNIFIED, "2025-13-45"], 2, "2025-13-45", id="impossible-date"),
    pytest.param(
        ["reprocess_dates", UNIFIED, "2025-03-07..2025-03-01"],
        2,
        "2025-03-07",
        id="backwards-range",
    ),
    pytest.param(
        ["reprocess_dates", UNIFIED, "2025-03-06"], 1, "2025-03-06", id="date-not-completed"
    ),
    pytest.param(["skip_dates", "../x", "2025-03-06"], 2, "../x", id="bad-name"),
    pytest.param(["skip_dates", "nope", "2025-03-06"], 1, "nope", id="missing"),
    pytest.param(
        ["skip_dates", "my-process", "2025-03-06"], 1, "my-process", id="dates-of-managed"
    ),
    pytest.param(["skip_dates", UNIFIED, "item1", "--items"], 1, UNIFIED, id="items-of-unified"),
    pytest.param(
        ["reprocess_dates", UNIFIED, "x", "--items"],
        1,
        "cannot reprocess items of a unified-reconciliation checkpoint: only managed",
        id="items-of-unified-article",
    ),
    pytest.param(
        ["skip_dates", "my-process", "item1", " ", "--items"],
        2,
        "must not be blank",
        id="blank-item",
    ),
    pytest.param(
        ["skip_dates", UNIFIED, "2025-03-06", "--expect-version", "0" * 64],
        1,
        "changed since version 000000000000 was shown",
        id="stale-version",
    ),
    pytest.param(
        ["skip_dates", UNIFIED, "2025-03-06", "--expect-version", "xyz"], 2, "xyz", id="bad-version"
    ),
    pytest.param(
        ["edit_checkpoint", UNIFIED, "--set", "/stats/timeouts=three"],
        2,
        "strings need quotes",
        id="set-not-json",
    ),
    pytest.param(
        ["edit_checkpoint", UNIFIED, "--set", "/stats/timeouts"],
        2,
        "/json/pointer=JSON",
        id="set-without-value",
    ),
    pytest.param(
        ["edit_checkpoint", UNIFIED, "--set", "stats/timeouts=3"],
        2,
        "starts with '/'",
        id="set-pointer-without-slash",
    ),
    pytest.param(
        ["edit_checkpoint", UNIFIED, "--set", "/stats/timeouts=NaN"],
        2,
        "--set /stats/timeouts: the value holds NaN, which JSON does not have (a checkpoint's "
        "numbers are finite) at line 1, column 1; strings need quotes",
        id="set-nan",
    ),
    pytest.param(
        ["edit_checkpoint", UNIFIED, "--set", "/stats/timeouts=[1, 1e400]"],
        2,
        "--set /stats/timeouts: the value holds the number 1e400, which is too large for JSON "
        "(it would read as infinity) at line 1, column 5.",
        id="set-beyond-a-double",
    ),
    pytest.param(
        ["edit_checkpoint", UNIFIED, "--add", "--set", "/new=" + "[" * 60_000 + "]" * 60_000],
        2,
        "--set /new: the value is nested too deeply (more than 1024 levels) at line 1, "
        "column 1026.",
        id="set-too-deep-to-parse",
    ),
    pytest.param(
        ["edit_checkpoint", UNIFIED, "--add", "--set", "/new=" + "[" * 500 + "]" * 500],
        1,
        "/new: the value is nested more than 63 levels deep; a checkpoint is at most 64",
        id="set-too-deep",
    ),
    pytest.param(
        ["edit_checkpoint", UNIFIED, "--add", "--set", '/x={"a":1,"a":2}'],
        2,
        "--set /x: the value gives the key 'a' twice in one object; only the last would be "
        "kept. Keep one.",
        id="set-duplicate-key",
    ),
    pytest.param(
        ["edit_checkpoint", UNIFIED, "--set", '/stats={"n":{"b":[{"c":1,"c":1}]}}'],
        2,
        "--set /stats: the value gives the key 'c' twice",
        id="set-nested-duplicate-key",
    ),
    pytest.param(
        ["edit_checkpoint", UNIFIED, "--add", "--set", '/x={"a":99999999999999999999999}'],
        2,
        "--set /x: the value has the integer 99999999999999999999999 at /a, which does not fit "
        "in 64 bits (it would be kept only approximately); write it as a string (a field that "
        "holds a number now keeps its type in a field edit: write the document with it as a "
        "string, in the raw editor or with edit_checkpoint --from-file).",
        id="set-integer-beyond-64-bits",  # (as the field editor says it)
    ),
    pytest.param(
        ["reset_checkpoints", "--all", UNIFIED, "my-process"],
        2,
        "not both",
        id="reset-all-and-names",
    ),
    pytest.param(
        ["edit_checkpoint", UNIFIED, "--set", "/stats/timeouts=1", "--set", "/stats/timeouts=2"],
        2,
        "twice",
        id="set-twice",
    ),
    pytest.param(
        ["edit_checkpoint", UNIFIED, "--set", "/stats/totalRecords=-5"],
        1,
        "Refused",
        id="result-invalid",
    ),
    pytest.param(
        ["edit_checkpoint", UNIFIED, "--set", '/stats/timeouts="3"'], 1, "timeouts", id="wrong-type"
    ),
    pytest.param(
        ["edit_checkpoint", UNIFIED, "--set", "/stats=[1]"],
        1,
        "/stats is an object; refusing [1] (a list)",
        id="wrong-type-article",
    ),
    pytest.param(
        ["edit_checkpoint", UNIFIED, "--from-file", "BAD_JSON"], 2, "line 2", id="file-not-json"
    ),
    pytest.param(
        ["edit_checkpoint", UNIFIED, "--from-file", "MISSING"], 2, "--from-file", id="file-missing"
    ),
    pytest.param(["restore_checkpoint", UNIFIED, "--entry", "99"], 1, "#99", id="no-such-entry"),
    pytest.param(["reset_checkpoints"], 2, "--all", id="reset-nothing"),
    pytest.param(["reset_checkpoints", UNIFIED, "--all"], 2, "not both", id="reset-names-and-all"),
    pytest.param(
        ["reset_checkpoints", "my-process", "my-process"],
        2,
        "A checkpoint is named twice: my-process.",
        id="reset-twice",
    ),
    pytest.param(["reset_checkpoints", "my-process", "nope"], 1, "nope", id="reset-one-missing"),
    pytest.param(
        ["reset_checkpoints", UNIFIED, "my-process", "--expect-version", "a" * 64],
        2,
        "exactly one",
        id="version-of-many",
    ),
]


@pytest.mark.parametrize(("args", "code", "fragment"), CASES)
def test_refusal(samples_dir, bad_json, tmp_path, args, code, fragment) -> None:
    args = [
        str(bad_json)
        if arg == "BAD_JSON"
        else str(tmp_path / "missing.json")
        if arg == "MISSING"
        else arg
        for arg in args
    ]
    if "--reason" not in args:
        args += ["--reason", REASON]
    before = files(samples_dir)
    stdout = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command(*args, "--yes", stdout=stdout, stderr=StringIO())
    message = str(excinfo.value)
    assert excinfo.value.returncode == code, message
    assert fragment in message
    assert "\n" not in message
    assert files(samples_dir) == before
    assert AuditEntry.objects.count() == 0


@pytest.mark.parametrize(
    "args",
    [
        ["checkpoint_status"],
        ["validate_checkpoints", "--strict"],
        ["skip_dates", UNIFIED, "2025-03-06", "--reason", REASON, "--yes"],
        ["reset_checkpoints", "--all", "--reason", REASON, "--yes"],
    ],
    ids=["status", "validate", "skip", "reset-all"],
)
def test_a_missing_directory_is_refused_and_never_created(tmp_path, settings, args) -> None:
    """A wrong CHECKPOINTS_DIR (or a volume not mounted) must not read as "no checkpoints"."""
    missing = tmp_path / "not-mounted" / "checkpoints"
    settings.CHECKPOINTS_DIR = missing
    with pytest.raises(CommandError) as excinfo:
        call_command(*args, stdout=StringIO(), stderr=StringIO())
    assert excinfo.value.returncode == 1
    assert str(excinfo.value) == (
        f"the checkpoints directory {str(missing)!r} does not exist: check CHECKPOINTS_DIR "
        "(nothing was read or changed)."
    )
    assert not missing.parent.exists()
    assert AuditEntry.objects.count() == 0


@pytest.mark.parametrize(
    ("raised", "fragment"),
    [
        (DatabaseError("disk I/O error"), "Database error: disk I/O error. Nothing was changed."),
        (KeyboardInterrupt(), "Interrupted."),
    ],
    ids=["database-error", "interrupted"],
)
def test_a_failure_inside_the_command_is_one_refused_line(
    samples_dir, monkeypatch, raised, fragment
) -> None:
    def fail(*args, **kwargs):
        raise raised

    monkeypatch.setattr(services, "preview", fail)
    before = files(samples_dir)
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "skip_dates", UNIFIED, "2025-03-06", "--reason", REASON, "--yes",
            stdout=StringIO(), stderr=StringIO(),
        )  # fmt: skip
    assert (excinfo.value.returncode, str(excinfo.value)) == (1, fragment)
    assert files(samples_dir) == before
    assert AuditEntry.objects.count() == 0


def test_without_a_terminal_and_without_yes_it_refuses_after_the_preview(samples_dir) -> None:
    before = files(samples_dir)
    stdout = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("skip_dates", UNIFIED, "2025-03-06", reason=REASON, stdout=stdout)
    assert excinfo.value.returncode == 1
    assert str(excinfo.value) == (
        "Not applied: stdin is not a terminal, so nobody can confirm. Pass --yes to apply "
        "(or --dry-run to only preview)."
    )
    assert "2025-03-06 pendingDates → completedDates" in stdout.getvalue()
    assert files(samples_dir) == before
    assert AuditEntry.objects.count() == 0


def test_a_change_that_changes_nothing_is_refused(samples_dir) -> None:
    """Exit 1, as every refusal (and as the console's apply of no change)."""
    before = files(samples_dir)
    with pytest.raises(CommandError) as refused:
        call_command("edit_checkpoint", "my-process", "--set", "/progress=33", reason=REASON,
                     yes=True, stdout=StringIO())  # fmt: skip
    assert refused.value.returncode == 1
    assert str(refused.value) == (
        "No change: this edit leaves 'my-process' as it is. Nothing was changed or recorded."
    )
    assert files(samples_dir) == before
    assert AuditEntry.objects.count() == 0


def test_reset_all_of_an_empty_directory_says_so(checkpoints_dir) -> None:
    """A change that changes nothing exits 1, as every command's does (it exited 0)."""
    with pytest.raises(CommandError) as refused:
        call_command("reset_checkpoints", "--all", reason=REASON, yes=True, stdout=StringIO())
    assert refused.value.returncode == 1
    assert str(refused.value) == "No checkpoints to reset. Nothing was changed or recorded."
    assert AuditEntry.objects.count() == 0


def test_a_corrupt_checkpoint_can_be_reset_keeping_its_bytes(checkpoints_dir) -> None:
    broken = b'{"id": "x",\n  "status": \n'
    (checkpoints_dir / "broken.json").write_bytes(broken)
    stdout = StringIO()
    call_command("reset_checkpoints", "broken", reason=REASON, yes=True, stdout=stdout)
    assert not (checkpoints_dir / "broken.json").exists()
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.checkpoint, entry.source) == ("reset", "broken", "cli")
    assert entry.before.raw == broken
    assert "Applied reset to broken: audit entry #1, file removed." in stdout.getvalue()


@pytest.fixture
def skipped(samples_dir) -> AuditEntry:
    """Entry #1: a skip of the unified sample."""
    call_command("skip_dates", UNIFIED, "2025-03-06", reason=REASON, yes=True, stdout=StringIO())
    return AuditEntry.objects.get()


def refusal_of(*args: str) -> CommandError:
    with pytest.raises(CommandError) as excinfo:
        call_command(*args, "--reason", REASON, "--yes", stdout=StringIO(), stderr=StringIO())
    assert "\n" not in str(excinfo.value)
    return excinfo.value


def test_restore_refuses_an_entry_of_another_checkpoint(samples_dir, skipped) -> None:
    before = files(samples_dir)
    error = refusal_of("restore_checkpoint", "my-process", "--entry", str(skipped.seq))
    assert error.returncode == 1
    assert f"Audit entry #1 is about checkpoint '{UNIFIED}', not 'my-process'" in str(error)
    assert files(samples_dir) == before
    assert AuditEntry.objects.count() == 1


def test_restore_refuses_an_entry_whose_snapshot_cannot_be_read(samples_dir, skipped) -> None:
    tamper(
        f"UPDATE {connection.ops.quote_name(Snapshot._meta.db_table)} SET data = %s WHERE sha = %s",
        [b"garbage", skipped.before_id],
    )
    before = files(samples_dir)
    error = refusal_of("restore_checkpoint", UNIFIED, "--entry", str(skipped.seq))
    assert error.returncode == 1
    assert f"{UNIFIED}: the before snapshot of entry #1 cannot be read" in str(error)
    assert files(samples_dir) == before
    assert AuditEntry.objects.count() == 1


@pytest.mark.parametrize(
    "args",
    [
        ["skip_dates", "broken", "2025-03-06"],
        ["reprocess_dates", "broken", "2025-03-06"],
        ["edit_checkpoint", "broken", "--set", '/status="failed"'],
    ],
    ids=["skip", "reprocess", "edit-set"],
)
def test_a_corrupt_checkpoint_refuses_all_but_reset_restore_and_whole_edit(
    checkpoints_dir, args
) -> None:
    (checkpoints_dir / "broken.json").write_bytes(b'{"id": "x",\n  "status": \n')
    before = files(checkpoints_dir)
    error = refusal_of(*args)
    assert error.returncode == 1
    assert str(error).startswith("checkpoint 'broken' is not valid JSON")
    assert "line 3, column 1" in str(error)
    assert files(checkpoints_dir) == before
    assert AuditEntry.objects.count() == 0


def test_set_of_a_field_the_document_lacks_needs_add(samples_dir) -> None:
    """``--set /Progress=50`` is most often a typo of /progress: refused, with the near name."""
    before = files(samples_dir)
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "edit_checkpoint", "my-process", "--set", "/Progress=50", "--reason", REASON,
            "--yes", stdout=StringIO(),
        )  # fmt: skip
    assert excinfo.value.returncode == 1
    assert str(excinfo.value) == (
        "my-process: /Progress: there is no field 'Progress' at the top (did you mean "
        "/progress?); it would be added as a new field: pass --add to add it; nothing was "
        "changed."
    )
    assert files(samples_dir) == before and AuditEntry.objects.count() == 0
    call_command(
        "edit_checkpoint", "my-process", "--set", '/note="checked"', "--add", "--reason", REASON,
        "--yes", stdout=StringIO(),
    )  # fmt: skip
    assert json.loads((samples_dir / "my-process.json").read_text())["note"] == "checked"


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        pytest.param(
            '{"id": "job", "status": "running", "status": "failed"}',
            "the document gives the key 'status' twice in one object; only the last would be "
            "kept. Keep one.",
            id="key-given-twice",  # JSON parsers keep the last: not what the person meant
        ),
        pytest.param(
            '{"id": "job", "status": "running", "rows": 99999999999999999999999}',
            "the document has the integer 99999999999999999999999 at /rows, which does not fit "
            "in 64 bits (it would be kept only approximately); write it as a string",
            id="integer-beyond-64-bits",  # it would have been written as the float 1e+23
        ),
    ],
)
def test_a_file_that_would_not_be_written_as_given_is_refused(
    samples_dir, tmp_path, document, problem
) -> None:
    replacement = tmp_path / "replacement.json"
    replacement.write_text(document)
    before = files(samples_dir)
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "edit_checkpoint", "my-process", "--from-file", str(replacement), "--reason", REASON,
            "--yes", stdout=StringIO(),
        )  # fmt: skip
    assert excinfo.value.returncode == 2
    assert str(excinfo.value) == f"--from-file {replacement}: {problem}"
    assert files(samples_dir) == before
    assert AuditEntry.objects.count() == 0


def test_a_file_larger_than_a_checkpoint_may_be_is_refused_unread(
    samples_dir, tmp_path, settings
) -> None:
    """It was read whole into memory first: /dev/zero or a large log, named by mistake,
    exhausted the memory before anything was said. Only one byte past the limit is read."""
    settings.CHECKPOINT_MAX_BYTES = 4096
    source = tmp_path / "export.log"
    source.write_bytes(b'{"id": "job", "log": "' + b"x" * 5000 + b'"}')
    before = files(samples_dir)
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "edit_checkpoint", "my-process", "--from-file", str(source), "--reason", REASON,
            "--yes", stdout=StringIO(),
        )  # fmt: skip
    assert excinfo.value.returncode == 2
    assert str(excinfo.value) == (
        f"--from-file {source}: larger than 4.0 KiB, the largest checkpoint "
        "CHECKPOINT_MAX_BYTES allows."
    )
    assert files(samples_dir) == before
    assert AuditEntry.objects.count() == 0


@pytest.mark.parametrize("mode", ["--dry-run", "--yes"])
def test_a_result_larger_than_a_checkpoint_may_be_is_refused_by_a_dry_run_too(
    samples_dir, settings, mode
) -> None:
    """The dry run said it would apply what the real run then refused for its size."""
    settings.CHECKPOINT_MAX_BYTES = 2048
    before = files(samples_dir)
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "edit_checkpoint", "my-process", "--set", f'/id="{"x" * 3000}"', "--reason", REASON,
            mode, stdout=StringIO(),
        )  # fmt: skip
    assert excinfo.value.returncode == 1
    assert str(excinfo.value).startswith(
        "Refused: my-process would have 1 error after this change (first: (document): the "
        "result would be 3."
    )
    assert "larger than the limit of 2.0 KiB (CHECKPOINT_MAX_BYTES)" in str(excinfo.value)
    assert files(samples_dir) == before
    assert AuditEntry.objects.count() == 0


def test_a_symbolic_link_to_a_checkpoint_is_changed_through_its_target(samples_dir) -> None:
    """A change through ``alias.json`` → ``my-process.json`` is refused before any preview,
    naming the checkpoint to change; a reset would only have removed the link."""
    (samples_dir / "alias.json").symlink_to("my-process.json")
    before = files(samples_dir)
    for args in (
        ["skip_dates", "alias", "item2", "--items"],
        ["reset_checkpoints", "alias"],
        ["edit_checkpoint", "alias", "--set", "/progress=50"],
    ):
        stdout = StringIO()
        with pytest.raises(CommandError) as excinfo:
            call_command(*args, "--reason", REASON, "--yes", stdout=stdout, stderr=StringIO())
        assert excinfo.value.returncode == 2, args
        assert "is a symbolic link to 'my-process'" in str(excinfo.value), args
        assert stdout.getvalue() == "", args  # no preview it could never apply
    assert files(samples_dir) == before
    assert (samples_dir / "alias.json").is_symlink()
    assert AuditEntry.objects.count() == 0
    # Resetting them all resets the checkpoint once, and says the link was left.
    stdout = StringIO()
    call_command("reset_checkpoints", "--all", "--reason", REASON, "--yes", stdout=stdout)
    assert "Left as they are (symbolic links to other checkpoints): alias." in stdout.getvalue()
    assert AuditEntry.objects.count() == 3
    assert not (samples_dir / "my-process.json").exists()


def test_a_mistyped_name_is_answered_with_the_one_meant(samples_dir) -> None:
    for args in (
        ["checkpoint_status", "reconciliation_checkpont"],
        ["skip_dates", "reconciliation_checkpont", "2025-03-06", "--reason", REASON, "--yes"],
    ):
        with pytest.raises(CommandError) as excinfo:
            call_command(*args, stdout=StringIO(), stderr=StringIO())
        assert (excinfo.value.returncode, str(excinfo.value)) == (
            1,
            "No checkpoint named 'reconciliation_checkpont'. "
            "Did you mean 'reconciliation_checkpoint'?",
        ), args
    with pytest.raises(CommandError) as excinfo:
        call_command("checkpoint_status", "zzz", stdout=StringIO())
    assert str(excinfo.value) == "No checkpoint named 'zzz'."


def test_a_name_in_the_wrong_case_is_answered_with_the_one_meant_and_not_acted_on(
    samples_dir,
) -> None:
    before = files(samples_dir)
    for args in (
        ["checkpoint_status", "RECONCILIATION_CHECKPOINT"],
        ["skip_dates", "RECONCILIATION_CHECKPOINT", "2025-03-06", "--reason", REASON, "--yes"],
        ["reset_checkpoints", "My-Process", "--reason", REASON, "--yes"],
    ):
        with pytest.raises(CommandError) as excinfo:
            call_command(*args, stdout=StringIO(), stderr=StringIO())
        meant = "my-process" if "My-Process" in args else UNIFIED
        assert (excinfo.value.returncode, str(excinfo.value)) == (
            1,
            f"No checkpoint named {args[1]!r}. Did you mean {meant!r}?",
        ), args
    assert files(samples_dir) == before
    assert AuditEntry.objects.count() == 0


def test_messages_after_the_checkpoint_name_go_on_in_lower_case(samples_dir) -> None:
    """They read "NAME: There is no audit entry #999." next to "NAME: /x: there is no field"."""
    before = files(samples_dir)
    for args, message in (
        (
            ["restore_checkpoint", "my-process", "--entry", "999"],
            "my-process: there is no audit entry #999.",
        ),
        (
            ["edit_checkpoint", "my-process", "--set", "/progres=3"],
            "my-process: /progres: there is no field 'progres' at the top (did you mean "
            "/progress?); it would be added as a new field: pass --add to add it; nothing was "
            "changed.",
        ),
    ):
        with pytest.raises(CommandError) as excinfo:
            call_command(*args, "--reason", REASON, "--yes", stdout=StringIO())
        assert (excinfo.value.returncode, str(excinfo.value)) == (1, message)
    assert files(samples_dir) == before
    assert AuditEntry.objects.count() == 0


def test_a_checkpoint_name_after_a_prefix_keeps_its_capitals(samples_dir) -> None:
    """Names are case-sensitive: "Nightly" lowered to "nightly" names another checkpoint."""
    from checkpoints_admin.management.cli import prefixed

    assert prefixed("Nightly: not changed", "Nightly has the integer 1e30 at /rows.") == (
        "Nightly: not changed: Nightly has the integer 1e30 at /rows."
    )
    assert prefixed("Nightly", "There is no audit entry #9.") == (
        "Nightly: there is no audit entry #9."
    )
    assert prefixed("Nightly", "JSON is not valid.") == "Nightly: JSON is not valid."


def test_items_given_as_dates_are_answered_with_items(samples_dir) -> None:
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "skip_dates", "my-process", "item2", "--reason", REASON, "--yes", stdout=StringIO()
        )
    assert excinfo.value.returncode == 2
    assert str(excinfo.value).endswith(
        "(my-process is a managed checkpoint: give its items with --items)"
    )
    assert AuditEntry.objects.count() == 0
