"""The commands that change checkpoints, run as real ``manage.py`` processes.

Each change goes through the one write path and leaves an audit entry; each refusal prints
one line on stderr, exits 1 or 2, and leaves the files and the audit log as they were.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess

from checkpoints_admin.checkpoints import CheckpointStore
from tests.cli.conftest import manage

REASON = ("--reason", "feed for 2025-03-06 will never arrive (INC-4211)")
UNIFIED = "reconciliation_checkpoint"


def assert_one_line_refusal(result: subprocess.CompletedProcess, code: int, fragment: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == code, (result.args, result.stdout, result.stderr)
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_skip_then_reprocess_are_applied_recorded_and_verifiable(cli) -> None:
    before_version = cli.version(UNIFIED)
    skipped = cli.run("skip_dates", UNIFIED, "2025-03-06", *REASON, "--yes")
    assert skipped.returncode == 0, skipped.stderr
    assert f"{UNIFIED}: 2025-03-06 pendingDates → completedDates" in skipped.stdout
    assert f"base version: {before_version}" in skipped.stdout
    assert f"Applied skip to {UNIFIED}: audit entry #1, now at version {cli.version(UNIFIED)}." in (
        skipped.stdout
    )
    document = json.loads(cli.path(UNIFIED).read_text())
    assert document["pendingDates"] == ["2025-03-07"]
    assert "2025-03-06" in document["completedDates"]

    reprocessed = cli.run("reprocess_dates", UNIFIED, "2025-03-06..2025-03-06", *REASON, "-y")
    assert reprocessed.returncode == 0, reprocessed.stderr
    assert sorted(json.loads(cli.path(UNIFIED).read_text())["pendingDates"]) == [
        "2025-03-06",
        "2025-03-07",
    ]
    assert cli.entries() == [
        {
            "seq": seq,
            "action": action,
            "checkpoint": UNIFIED,
            "actor": pwd.getpwuid(os.geteuid()).pw_name,
            "source": "cli",
            "reason": REASON[1],
            "outcome": "applied",
        }
        for seq, action in ((1, "skip"), (2, "reprocess"))
    ]
    verified = cli.run("verify_audit")
    assert (verified.returncode, verified.stderr) == (0, "")
    assert "2 entries" in verified.stdout
    exported = cli.run("export_audit", "--format", "jsonl")
    assert exported.returncode == 0, exported.stderr
    assert [json.loads(line)["id"] for line in exported.stdout.splitlines()] == [1, 2]


def test_the_actor_recorded_is_the_account_running_the_command_not_what_user_says(cli) -> None:
    """$USER and $LOGNAME are anyone's to set; the account of the user id is not."""
    account = pwd.getpwuid(os.geteuid()).pw_name
    claimed = {"USER": "ceo", "LOGNAME": "ceo", "LNAME": "ceo", "USERNAME": "ceo"}
    done = manage(["skip_dates", UNIFIED, "2025-03-06", *REASON, "--yes"], cli.env | claimed)
    assert done.returncode == 0, done.stderr
    actors = [account]
    if os.geteuid() == 0:  # through sudo: the person sudo let in (sudo sets both)
        other = pwd.getpwnam("nobody")
        sudo = {"SUDO_USER": other.pw_name, "SUDO_UID": str(other.pw_uid)}
        done = manage(["reprocess_dates", UNIFIED, "2025-03-06", *REASON, "--yes"], cli.env | sudo)
        assert done.returncode == 0, done.stderr
        # a SUDO_USER that is not the SUDO_UID's account is not believed
        forged = {"SUDO_USER": "ceo", "SUDO_UID": str(other.pw_uid)}
        done = manage(["skip_dates", UNIFIED, "2025-03-06", *REASON, "--yes"], cli.env | forged)
        assert done.returncode == 0, done.stderr
        actors += [f"{other.pw_name} (sudo)", account]
    assert [entry["actor"] for entry in cli.entries()] == actors


def test_items_of_a_managed_checkpoint(cli) -> None:
    result = cli.run("skip_dates", "my-process", "item2", "--items", *REASON, "--yes")
    assert result.returncode == 0, result.stderr
    document = json.loads(cli.path("my-process").read_text())
    assert (document["pendingItems"], document["processedItems"]) == (["item3"], ["item1", "item2"])
    result = cli.run("reprocess_dates", "my-process", "item1", "--items", *REASON, "--yes")
    assert result.returncode == 0, result.stderr
    document = json.loads(cli.path("my-process").read_text())
    assert sorted(document["pendingItems"]) == ["item1", "item3"]
    assert [e["action"] for e in cli.entries()] == ["skip", "reprocess"]


def test_edit_sets_values_by_pointer_or_replaces_the_document(cli, tmp_path) -> None:
    result = cli.run(
        "edit_checkpoint",
        UNIFIED,
        "--set",
        "/stats/failedRecords=40",
        "--set",
        "/stats/successfulRecords=7191",
        *REASON,
        "--yes",
    )
    assert result.returncode == 0, result.stderr
    stats = json.loads(cli.path(UNIFIED).read_text())["stats"]
    assert (stats["failedRecords"], stats["successfulRecords"]) == (40, 7191)

    replacement = tmp_path / "replacement.json"
    replacement.write_text(json.dumps({"id": "my-process-1", "status": "pending", "progress": 0}))
    result = cli.run(
        "edit_checkpoint", "my-process", "--from-file", str(replacement), *REASON, "-y"
    )
    assert result.returncode == 0, result.stderr
    assert "without --expect-version it is not bound to the version" in result.stdout
    assert json.loads(cli.path("my-process").read_text()) == {
        "id": "my-process-1",
        "status": "pending",
        "progress": 0,
    }
    assert [(e["seq"], e["action"]) for e in cli.entries()] == [(1, "edit"), (2, "edit")]
    # bound to the version it was made from: no note
    made_from = cli.version("my-process")
    bound = cli.run(
        "edit_checkpoint", "my-process", "--from-file", str(replacement),
        "--expect-version", made_from, *REASON, "-y",
    )  # fmt: skip
    assert "not bound" not in bound.stdout


def test_a_file_that_does_not_parse_is_repaired_from_standard_input(cli, tmp_path) -> None:
    cli.write("broken", '{"id": "x",\n')
    refused = cli.run("edit_checkpoint", "broken", "--set", '/id="y"', *REASON, "--yes")
    assert refused.returncode == 1
    assert refused.stderr.strip().endswith(
        "Replace it whole with --from-file FILE (the console's raw editor shows its bytes); "
        "nothing was changed."
    )
    missing = cli.run("edit_checkpoint", "broken", "--from-file", str(tmp_path / "nope"), *REASON)
    assert missing.returncode == 2 and "Note:" not in missing.stdout  # refused before any note
    document = '{"id": "x", "status": "running", "progress": 3}'
    repaired = cli.run(
        "edit_checkpoint", "broken", "--from-file", "-", *REASON, "--yes", input=document
    )
    assert repaired.returncode == 0, repaired.stderr
    assert "replaces the 12 bytes there now, which do not parse" in repaired.stdout
    assert json.loads(cli.path("broken").read_text()) == json.loads(document)


def test_dry_run_previews_without_a_terminal_and_records_nothing(cli) -> None:
    files = cli.files()
    skip = cli.run("skip_dates", UNIFIED, "2025-03-06..2025-03-07", *REASON, "--dry-run")
    reset = cli.run("reset_checkpoints", "--all", *REASON, "--dry-run")
    edit = cli.run("edit_checkpoint", "my-process", "--set", "/progress=50", *REASON, "--dry-run")
    for result in (skip, reset, edit):
        assert (result.returncode, result.stderr) == (0, "")
        assert "Dry run: nothing was changed or recorded." in result.stdout
    assert "2 dates pendingDates → completedDates" in skip.stdout
    assert f"base version: {cli.version(UNIFIED)}" in skip.stdout
    for name in ("daily_reconciliation_checkpoint", "my-process", UNIFIED):
        assert f"{name}: deleted file {name}.json (" in reset.stdout
    assert "my-process: progress 33 → 50" in edit.stdout
    assert cli.files() == files
    assert cli.entries() == []


def test_a_preview_shows_an_integer_beyond_64_bits_as_the_file_writes_it(cli) -> None:
    """Corrected to a number that fits, it read "rows: 1e+23 → 5" (the float it is read as)."""
    path = cli.path("my-process")
    path.write_bytes(
        path.read_bytes().replace(
            b'"progress": 33', b'"rows": 99999999999999999999999, "progress": 33'
        )
    )
    edit = cli.run("edit_checkpoint", "my-process", "--set", "/rows=5", *REASON, "--dry-run")
    assert (edit.returncode, edit.stderr) == (0, "")
    assert "my-process: rows 99,999,999,999,999,999,999,999 → 5" in edit.stdout
    assert "rows: 99999999999999999999999 → 5" in edit.stdout
    assert "e+23" not in edit.stdout and "e23" not in edit.stdout


def test_refusals_from_the_command_line_are_one_line_and_change_nothing(cli) -> None:
    cases = [
        (["skip_dates", UNIFIED, "2025-03-06"], 2, "required: --reason"),
        (["skip_dates", UNIFIED, "2025-13-45", *REASON, "--yes"], 2, "2025-13-45"),
        (["skip_dates", UNIFIED, "2025-03-01", *REASON, "--yes"], 1, "2025-03-01"),
        (["skip_dates", "../x", "2025-03-06", *REASON, "--yes"], 2, "../x"),
        (["skip_dates", "nope", "2025-03-06", *REASON, "--yes"], 1, "nope"),
        (["skip_dates", UNIFIED, "2025-03-06", *REASON], 1, "Pass --yes"),
        (["edit_checkpoint", UNIFIED, *REASON, "-y"], 2, "--set"),
        (["restore_checkpoint", UNIFIED, "--entry", "0", *REASON, "--yes"], 2, "--entry"),
        (["restore_checkpoint", UNIFIED, "--entry", "two", *REASON, "--yes"], 2, "'two'"),
        # int() reads these as 10 and 1
        (["restore_checkpoint", UNIFIED, "--entry", "1_0", *REASON, "--yes"], 2, "'1_0'"),
        (["restore_checkpoint", UNIFIED, "--entry", "\u0661", *REASON, "--yes"], 2, "'\u0661'"),
        (["restore_checkpoint", UNIFIED, "--entry", "1", "--side", "during", *REASON], 2, "during"),
        (
            ["edit_checkpoint", UNIFIED, "--set", "/progress=1", "--from-file", "x.json", *REASON],
            2,
            "not allowed with",
        ),
        (["prune_snapshots", "--older-than", "soon"], 2, "expected a number of days"),
    ]
    files = cli.files()
    processes = [
        cli.popen(
            *args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args, _code, _fragment in cases
    ]
    for process, (args, code, fragment) in zip(processes, cases, strict=True):
        stdout, stderr = process.communicate(timeout=120)
        result = subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
        assert_one_line_refusal(result, code, fragment)
    assert cli.files() == files
    assert cli.entries() == []


def test_a_lock_held_by_a_job_refuses_with_try_again(cli) -> None:
    cli.extra_env["CHECKPOINT_LOCK_TIMEOUT"] = "0.2"
    files = cli.files()
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    with CheckpointStore(cli.directory).lock(UNIFIED):
        skip = cli.popen("skip_dates", UNIFIED, "2025-03-06", *REASON, "--yes", **pipes)
        reset = cli.popen("reset_checkpoints", "--all", *REASON, "--yes", **pipes)
        skip_out, skip_err = skip.communicate(timeout=120)
        reset_out, reset_err = reset.communicate(timeout=120)
    result = subprocess.CompletedProcess("skip", skip.returncode, skip_out, skip_err)
    assert_one_line_refusal(result, 1, f"Checkpoint '{UNIFIED}' is locked: a job is holding it")
    assert "try again" in skip_err
    # Resetting all: the two free checkpoints are reset, the held one is left as it was.
    assert reset.returncode == 1, reset_err
    assert reset_err.splitlines() == [
        f"{UNIFIED}: not changed: checkpoint '{UNIFIED}' is locked: a job is holding it. "
        "Nothing was changed; try again in a moment.",
        "CommandError: 1 checkpoint not changed, 2 changed (see the lines above).",
    ]
    assert cli.files() == {f"{UNIFIED}.json": files[f"{UNIFIED}.json"]}
    assert sorted(e["checkpoint"] for e in cli.entries()) == [
        "daily_reconciliation_checkpoint",
        "my-process",
    ]


def test_expect_version_binds_to_the_version_seen(cli) -> None:
    seen = cli.version(UNIFIED)
    result = cli.run(
        "skip_dates", UNIFIED, "2025-03-06", *REASON, "--yes", "--expect-version", seen[:12]
    )
    assert result.returncode == 0, result.stderr
    # The same version again is now stale: the file moved on.
    stale = cli.run("skip_dates", UNIFIED, "2025-03-07", *REASON, "--yes", "--expect-version", seen)
    # in the console's words: what changed since (the skip, which kept the version it saw)
    assert_one_line_refusal(
        stale,
        1,
        f"Checkpoint {UNIFIED!r} changed since version {seen[:12]} was shown (now: 2025-03-06 "
        "pendingDates → completedDates); nothing was written.",
    )
    assert [e["seq"] for e in cli.entries()] == [1]


def test_reset_all_then_restore_brings_back_the_exact_bytes(cli) -> None:
    original = cli.files()
    reset = cli.run("reset_checkpoints", "--all", *REASON, "--yes")
    assert reset.returncode == 0, reset.stderr
    assert cli.files() == {}
    entries = cli.entries()
    assert [(e["action"], e["checkpoint"]) for e in entries] == [
        ("reset", "daily_reconciliation_checkpoint"),
        ("reset", "my-process"),
        ("reset", UNIFIED),
    ]
    assert reset.stdout.count("file removed") == 3

    restored = cli.run("restore_checkpoint", UNIFIED, "--entry", "3", *REASON, "--yes")
    assert restored.returncode == 0, restored.stderr
    assert "base version: none (no file)" in restored.stdout
    assert cli.path(UNIFIED).read_bytes() == original[f"{UNIFIED}.json"]

    # Undoing the restore (its before side is "no file") resets it again.
    undo = cli.run("restore_checkpoint", UNIFIED, "--entry", "4", *REASON, "--yes")
    assert undo.returncode == 0, undo.stderr
    assert not cli.path(UNIFIED).exists()
    again = cli.run("restore_checkpoint", UNIFIED, "--entry", "4", "--side", "after", *REASON, "-y")
    assert again.returncode == 0, again.stderr
    assert cli.path(UNIFIED).read_bytes() == original[f"{UNIFIED}.json"]
    assert [e["action"] for e in cli.entries()][3:] == ["restore", "restore", "restore"]
    assert cli.run("verify_audit").returncode == 0


def test_prune_snapshots_keeps_what_entries_need_and_refuses_a_bad_age(cli) -> None:
    assert cli.run("skip_dates", UNIFIED, "2025-03-06", *REASON, "--yes").returncode == 0
    refused = cli.run("prune_snapshots", "--older-than", "-2")
    assert refused.returncode == 2
    assert "expected a number of days from 0 to 36,500 (a century), not '-2'" in refused.stderr
    for age in ("1000000", "1e9", "inf", "nan"):  # before year 1: said, not a traceback
        refused = cli.run("prune_snapshots", "--older-than", age, "--dry-run")
        assert refused.returncode == 2, age
        assert "Traceback" not in refused.stderr and "a century" in refused.stderr, age
    pruned = cli.run("prune_snapshots", "--older-than", "0", "--json")
    assert pruned.returncode == 0, pruned.stderr
    assert json.loads(pruned.stdout) | {"freed_bytes": 0} == {
        "removed": 0,
        "freed_bytes": 0,
        "kept": 2,
        "dry_run": False,
    }
    undo = cli.run("restore_checkpoint", UNIFIED, "--entry", "1", *REASON, "--yes")
    assert undo.returncode == 0, undo.stderr
    assert cli.run("verify_audit").returncode == 0


def test_the_samples_gap_is_queued_by_reprocess_dates(cli) -> None:
    warned = cli.run("validate_checkpoints", UNIFIED, "--strict")
    assert warned.returncode == 1 and "2025-03-05" in warned.stdout
    result = cli.run("reprocess_dates", UNIFIED, "2025-03-05", *REASON, "--yes")
    assert result.returncode == 0, result.stderr
    assert "2025-03-05" in result.stdout
    document = json.loads(cli.path(UNIFIED).read_text())
    assert document["pendingDates"] == ["2025-03-05", "2025-03-06", "2025-03-07"]
    assert "2025-03-05" not in cli.run("validate_checkpoints", UNIFIED).stdout


def test_a_command_logs_only_warnings_unless_asked(cli) -> None:
    """With the production settings: the command prints what it did, and its INFO log line
    (which says the same) goes to stderr only when LOG_LEVEL asks for it."""
    cli.extra_env |= {
        "DJANGO_SETTINGS_MODULE": "checkpoints_admin.settings",
        "DJANGO_SECRET_KEY": "a-long-random-production-key-" + "x7Qp" * 12,
    }
    skipped = cli.run("skip_dates", UNIFIED, "2025-03-06", *REASON, "--yes")
    assert skipped.returncode == 0, skipped.stderr
    assert "Applied skip" in skipped.stdout
    assert skipped.stderr == ""
    cli.extra_env["LOG_LEVEL"] = "INFO"
    reprocessed = cli.run("reprocess_dates", UNIFIED, "2025-03-06", *REASON, "--yes")
    assert reprocessed.returncode == 0, reprocessed.stderr
    assert "checkpoint intervention applied: reprocess" in reprocessed.stderr
    assert "checkpoint intervention applied" not in reprocessed.stdout


def test_a_restore_says_what_else_it_undoes(cli) -> None:
    cli.run("skip_dates", UNIFIED, "2025-03-06", *REASON, "--yes")
    cli.run("skip_dates", UNIFIED, "2025-03-07", *REASON, "--yes")
    shown = cli.run("restore_checkpoint", UNIFIED, "--entry", "1", *REASON, "--dry-run")
    assert shown.returncode == 0, shown.stderr
    assert (
        "note: the file changed since entry #1: a restore puts back the whole document, so it "
        "also undoes the later changes (#2) and anything the job saved since."
    ) in shown.stdout


def test_a_restore_that_changes_nothing_is_refused_without_saying_it_undoes_anything(cli) -> None:
    cli.run("skip_dates", UNIFIED, "2025-03-06", *REASON, "--yes")
    cli.run("skip_dates", UNIFIED, "2025-03-07", *REASON, "--yes")
    undone = cli.run("restore_checkpoint", UNIFIED, "--entry", "2", *REASON, "--yes")
    assert undone.returncode == 0, undone.stderr
    before = cli.path(UNIFIED).read_bytes()
    again = cli.run("restore_checkpoint", UNIFIED, "--entry", "2", *REASON, "--yes")
    assert (again.returncode, again.stderr) == (
        1,
        f"CommandError: No change: this restore leaves {UNIFIED!r} as it is. "
        "Nothing was changed or recorded.\n",
    )
    assert "undoes" not in again.stdout
    assert cli.path(UNIFIED).read_bytes() == before
    assert "#4" not in cli.run("export_audit").stdout  # (entries 1-3 only)


ESCAPES = "\x1b]0;PWNED\x07\x1b[2J"  # retitles the terminal's window, then clears its screen


def managed(*pending: object) -> dict[str, object]:
    return {
        "id": "job-1",
        "created": "2025-03-06T09:00:00.000Z",
        "lastUpdated": "2025-03-06T09:00:00.000Z",
        "status": "running",
        "progress": 0,
        "processedItems": [],
        "pendingItems": list(pending),
    }


def test_what_a_terminal_would_act_on_is_printed_escaped(cli) -> None:
    """Items and fields are anyone's bytes: previews, diff lines and refusals quote them."""
    cli.write("esc-items", managed(ESCAPES, "ok"))
    skip = cli.run("skip_dates", "esc-items", ESCAPES, "--items", *REASON, "--dry-run")
    assert (skip.returncode, skip.stderr) == (0, "")
    assert "esc-items: \\x1b]0;PWNED\\x07\\x1b[2J pendingItems → processedItems;" in skip.stdout
    assert "    \\x1b]0;PWNED\\x07\\x1b[2J: pendingItems → processedItems\n" in skip.stdout
    edit = cli.run("edit_checkpoint", "esc-items", "--set", '/id="a\\u0000\\u0007b"', *REASON,
                   "--dry-run")  # fmt: skip
    assert (edit.returncode, edit.stderr) == (0, "")
    assert "esc-items: id job-1 → a\\x00\\x07b\n" in edit.stdout
    missing = cli.run("skip_dates", "esc-items", "\x1b[31mred\u202e", "--items", *REASON, "-y")
    assert (missing.returncode, missing.stderr) == (
        1,
        "CommandError: esc-items: item \\x1b[31mred\\u202e is not in pendingItems\n",
    )
    for result in (skip, edit, missing):
        printed = result.stdout + result.stderr
        assert not [c for c in printed if c < " " and c != "\n" or "\x7f" <= c <= "\x9f"]
    assert cli.entries() == []


def test_a_line_break_quoted_from_a_checkpoint_prints_no_line_of_its_own(cli) -> None:
    """An item could print a line that looked like the command's own ("Applied skip …")."""
    fake = "x\nApplied skip to spoof: audit entry #999, now at version 0000.\nDry run"
    cli.write("spoof", managed(fake, "ok"))
    skip = cli.run("skip_dates", "spoof", fake, "--items", *REASON, "--dry-run")
    assert (skip.returncode, skip.stderr) == (0, "")
    lines = skip.stdout.splitlines()
    assert [line for line in lines if line.startswith(("Applied", "Dry run"))] == [
        "Dry run: nothing was changed or recorded."
    ]
    assert lines[0].startswith("spoof: x\\nApplied skip to spoof: audit entry #999")
    assert lines[-1] == "Dry run: nothing was changed or recorded."
    assert cli.entries() == []


def test_items_are_taken_by_their_exact_value_or_the_number_they_write(cli) -> None:
    """ " padded" was taken as padded, which no list has; a number only as an integer."""
    cli.write("ws-items", managed(" padded", "tab\t", 1.5, "ok"))
    skip = cli.run("skip_dates", "ws-items", " padded", "tab\t", "1.5", "--items", *REASON, "-y")
    assert skip.returncode == 0, skip.stderr
    document = json.loads(cli.path("ws-items").read_text())
    assert (document["pendingItems"], document["processedItems"]) == (
        ["ok"],
        [" padded", "tab\t", 1.5],
    )
    back = cli.run("reprocess_dates", "ws-items", "1.5", "--items", *REASON, "-y")
    assert back.returncode == 0, back.stderr
    assert json.loads(cli.path("ws-items").read_text())["pendingItems"] == ["ok", 1.5]


def test_a_change_whose_output_stops_being_read_says_on_stderr_what_it_did(cli) -> None:
    """``skip_dates … --yes | head -1``: the change was applied and audited, yet the command
    ended quietly with exit 1, as a refused one does (retried, it was "already" done)."""
    store = CheckpointStore(cli.directory)
    with store.lock(UNIFIED):  # the apply waits for it: the preview is out before it
        process = cli.popen(
            "skip_dates", UNIFIED, "2025-03-06", "--reason", "pipe closed", "--yes",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        while "/lastUpdateTime" not in process.stdout.readline():
            pass  # the preview's last line
        process.stdout.close()  # the reader goes away before "Applied …"
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 0, stderr
    assert stderr == (
        f"Applied skip to {UNIFIED}: audit entry #1 (the output stopped being read).\n"
    )
    assert [entry["action"] for entry in cli.entries()] == ["skip"]


def test_a_change_whose_output_is_never_read_is_not_applied_and_says_so(cli) -> None:
    before = cli.files()
    process = cli.popen(
        "skip_dates", UNIFIED, "2025-03-06", "--reason", "pipe closed", "--yes",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 1
    assert stderr == (
        "Nothing was changed: the output stopped being read before the change was applied.\n"
    )
    assert cli.files() == before and cli.entries() == []
