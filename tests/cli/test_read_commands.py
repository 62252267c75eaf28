"""``checkpoint_status`` and ``validate_checkpoints``: tables, JSON, exit codes, corrupt files."""

from __future__ import annotations

import json
import signal
import subprocess
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.conftest import running_unified

UNIFIED = "reconciliation_checkpoint"
BROKEN = b'{"id": "x",\n  "status": }\n'
STATUS_KEYS = {
    "name", "kind", "state", "progress", "done", "pending", "total", "unit", "rate",
    "rate_unit", "eta", "eta_seconds", "started", "last_update", "errors", "warnings", "error",
    "version", "size", "modified",
}  # fmt: skip


def run(*args):
    stdout, stderr = StringIO(), StringIO()
    call_command(*args, stdout=stdout, stderr=stderr)
    return stdout.getvalue()


def test_status_json_lists_every_checkpoint_with_the_same_fields(samples_dir) -> None:
    (samples_dir / "broken.json").write_bytes(BROKEN)
    rows = json.loads(run("checkpoint_status", "--json"))
    assert [row["name"] for row in rows] == [
        "broken",
        "daily_reconciliation_checkpoint",
        "my-process",
        UNIFIED,
    ]
    assert all(set(row) == STATUS_KEYS for row in rows)
    broken, daily, managed, unified = rows
    assert (broken["state"], broken["kind"], broken["errors"]) == ("corrupt", None, 1)
    assert "line 2, column 13" in broken["error"]
    assert broken["version"] is not None
    assert (daily["kind"], daily["done"], daily["pending"], daily["unit"]) == (
        "daily-reconciliation", 1, 1, "dates"
    )  # fmt: skip
    assert daily["progress"] == 0.5
    assert (managed["kind"], managed["progress"], managed["unit"]) == ("managed", 0.33, "items")
    assert unified["kind"] == "unified-reconciliation"
    assert unified["progress"] == pytest.approx(7231 / 8564)
    assert (unified["done"], unified["pending"]) == (4, 2)
    assert unified["last_update"] == "2024-03-06T16:39:16.789Z"
    # Last updated long ago while running: stalled, with the stale warning counted.
    assert {row["state"] for row in rows[1:]} == {"stalled"}
    assert (unified["errors"], unified["warnings"]) == (0, 2)


def test_status_table_shows_progress_counts_and_corrupt_errors(samples_dir) -> None:
    (samples_dir / "broken.json").write_bytes(BROKEN)
    lines = run("checkpoint_status").splitlines()
    assert lines[0].split() == [
        "NAME", "KIND", "STATE", "PROGRESS", "DONE/PENDING", "RATE", "ETA", "UPDATED", "FINDINGS"
    ]  # fmt: skip
    assert len(lines) == 5
    assert lines[1].split()[:3] == ["broken", "-", "corrupt"]
    assert "line 2, column 13" in lines[1]
    unified = lines[4].split()
    assert unified[:5] == [UNIFIED, "unified-reconciliation", "stalled", "84.4%", "4/2"]
    assert lines[4].endswith("0E 2W")
    assert "24.0 rec/s" in lines[4]
    assert lines[3].split()[:5] == ["my-process", "managed", "stalled", "33.0%", "1/2"]
    # A stalled job will not finish on its own: no ETA, though its last rate would give one.
    row = json.loads(run("checkpoint_status", UNIFIED, "--json"))[0]
    assert (row["eta"], row["eta_seconds"]) == (None, None)
    assert unified[8] == "-"  # the ETA column (done/pending and the rate are two words each)


def test_the_eta_counts_from_now_and_says_overdue(samples_dir, settings) -> None:
    """The finish expected at the last update, counted from now: not from the last update."""
    settings.STALE_AFTER_SECONDS = 3600
    # 200 records in 20 min: 800 left take 80 min from the update 10 min ago, 70 from now
    (samples_dir / "ahead.json").write_text(json.dumps(running_unified(200, minutes_ago=10)))
    # 950 in 20 min: 50 left took 63 s from the update 10 min ago: overdue by about 9 min
    (samples_dir / "late.json").write_text(json.dumps(running_unified(950, minutes_ago=10)))
    rows = {row["name"]: row for row in json.loads(run("checkpoint_status", "--json"))}
    ahead, late = rows["ahead"], rows["late"]
    assert (ahead["state"], late["state"]) == ("running", "running")
    assert 69 * 60 < ahead["eta_seconds"] <= 70 * 60
    finish = datetime.fromisoformat(ahead["eta"])
    assert abs((finish - datetime.now(UTC)).total_seconds() - ahead["eta_seconds"]) < 60
    assert -550 < late["eta_seconds"] < -530
    table = {line.split()[0]: line for line in run("checkpoint_status").splitlines()[1:]}
    assert " 1h 9m " in table["ahead"] or " 1h 10m " in table["ahead"]
    assert " overdue " in table["late"]


def test_status_of_named_checkpoints_keeps_their_order(samples_dir) -> None:
    rows = json.loads(run("checkpoint_status", "my-process", UNIFIED, "--json"))
    assert [row["name"] for row in rows] == ["my-process", UNIFIED]
    with pytest.raises(CommandError) as excinfo:
        run("checkpoint_status", "my-process", "nope")
    assert (excinfo.value.returncode, str(excinfo.value)) == (1, "No checkpoint named 'nope'.")
    with pytest.raises(CommandError) as excinfo:
        run("checkpoint_status", "../x")
    assert excinfo.value.returncode == 2


def test_a_name_whose_file_is_a_link_to_a_missing_file_says_so(samples_dir) -> None:
    """An alias whose target was reset: "No checkpoint named 'alias'" alone left one
    looking at a file that is there."""
    (samples_dir / "alias.json").symlink_to("reset-meanwhile.json")
    for command in ("validate_checkpoints", "checkpoint_status"):
        with pytest.raises(CommandError) as excinfo:
            run(command, "alias")
        assert (excinfo.value.returncode, str(excinfo.value)) == (
            1,
            "No checkpoint named 'alias'. alias.json is a symbolic link to a missing file.",
        )


def test_validate_refuses_missing_and_invalid_names(samples_dir) -> None:
    with pytest.raises(CommandError) as excinfo:
        run("validate_checkpoints", "my-process", "nope", "gone")
    assert (excinfo.value.returncode, str(excinfo.value)) == (
        1,
        "No checkpoint named 'nope', 'gone'.",
    )
    with pytest.raises(CommandError) as excinfo:
        run("validate_checkpoints", "../x")
    assert excinfo.value.returncode == 2
    assert "../x" in str(excinfo.value)


def test_a_symbolic_link_leading_outside_is_a_refusal_not_a_usage_error(
    samples_dir, tmp_path
) -> None:
    """The name is fine, its file is refused: exit 1, and validation reports the others."""
    secret = tmp_path / "secret.json"
    secret.write_text('{"secret": true}')
    (samples_dir / "evil.json").symlink_to(secret)
    (samples_dir / "broken.json").write_bytes(BROKEN)
    out = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("validate_checkpoints", "broken", "evil", "my-process", "--json", stdout=out)
    assert (excinfo.value.returncode, str(excinfo.value)) == (1, "2 checkpoints with errors.")
    results = {result["name"]: result for result in json.loads(out.getvalue())}
    assert list(results) == ["broken", "evil", "my-process"]
    assert "symbolic link that leads outside" in results["evil"]["corrupt"]["message"]
    assert results["broken"]["corrupt"]["line"] == 2
    for command in (
        ["checkpoint_status", "evil"],
        ["skip_dates", "evil", "2025-03-06", "--reason", "r", "--yes"],
    ):
        with pytest.raises(CommandError) as excinfo:
            run(*command)
        assert excinfo.value.returncode == 1, command
        assert "symbolic link that leads outside the checkpoints directory" in str(excinfo.value)
    assert secret.read_text() == '{"secret": true}'
    # Validating them all reports it too (the list leaves it out), beside the others.
    out = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("validate_checkpoints", "--json", stdout=out)
    assert (excinfo.value.returncode, str(excinfo.value)) == (1, "2 checkpoints with errors.")
    results = {result["name"]: result for result in json.loads(out.getvalue())}
    assert "symbolic link that leads outside" in results["evil"]["corrupt"]["message"]
    assert results["my-process"]["errors"] == 0


@pytest.mark.django_db
def test_status_of_an_empty_directory(checkpoints_dir) -> None:
    assert run("checkpoint_status") == f"No checkpoints in {checkpoints_dir}.\n"
    assert json.loads(run("checkpoint_status", "--json")) == []


@pytest.mark.django_db
def test_status_of_an_empty_directory_the_audit_log_knows_checkpoints_of(checkpoints_dir):
    from checkpoints_admin import services

    (checkpoints_dir / "daily.json").write_text(
        '{"completedDates": [], "pendingDates": ["2025-03-06"]}\n'
    )
    services.apply(
        "daily", "skip", {"dates": ["2025-03-06"]}, actor=services.Actor("ops", "cli"), reason="r"
    )
    (checkpoints_dir / "daily.json").unlink()
    said = run("checkpoint_status").splitlines()
    assert len(said) == 2
    assert said[0] == f"No checkpoints in {checkpoints_dir}."
    assert said[1].startswith(
        f"The checkpoints directory {checkpoints_dir} is empty, yet the audit log's latest "
        "entry, #1 (skip of 'daily', "
    )
    assert said[1].endswith(
        "Check that CHECKPOINTS_DIR is the directory the jobs write to, and in a container "
        "that its volume is mounted."
    )
    # A file left out of the list: the directory is not empty, and the note says why.
    (checkpoints_dir / "da ily.json").write_text("{}")
    said = run("checkpoint_status").splitlines()
    assert said[0] == f"No checkpoints in {checkpoints_dir}."
    assert said[1].startswith("Not listed: da ily.json (") and len(said) == 2


def test_validate_json_reports_findings_with_pointers(samples_dir) -> None:
    results = json.loads(run("validate_checkpoints", "--json"))
    assert [r["name"] for r in results] == [
        "daily_reconciliation_checkpoint",
        "my-process",
        UNIFIED,
    ]
    assert all(r["errors"] == 0 and r["corrupt"] is None for r in results)
    unified = results[2]
    assert unified["kind"] == "unified-reconciliation"
    assert set(unified) == {"name", "kind", "version", "corrupt", "errors", "warnings", "findings"}
    gap = unified["findings"][0]
    assert (gap["severity"], gap["pointer"]) == ("warning", "/pendingDates")
    assert "2025-03-05" in gap["message"]
    assert unified["warnings"] == len(unified["findings"])


def test_validate_strict_fails_on_warnings(samples_dir) -> None:
    stdout = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("validate_checkpoints", UNIFIED, "--strict", stdout=stdout)
    assert (excinfo.value.returncode, str(excinfo.value)) == (
        1,
        "1 checkpoint with errors or warnings.",
    )
    assert "warning  /pendingDates  2025-03-05" in stdout.getvalue()


def test_validate_fails_on_errors_listing_each_with_its_pointer(checkpoints_dir) -> None:
    document = {
        "lastProcessedDate": "2025-03-02",
        "pendingDates": ["2025-03-02", "2025-03-03"],
        "completedDates": ["2025-03-01", "2025-03-02"],
        "startTime": 1709742856123,
        "lastUpdateTime": 1709743156789,
        "stats": {"totalRecords": 10, "processedRecords": 20, "successfulRecords": 20,
                  "failedRecords": 0, "timeouts": 0},
    }  # fmt: skip
    (checkpoints_dir / "bad.json").write_text(json.dumps(document))
    stdout = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("validate_checkpoints", "--json", stdout=stdout)
    assert (excinfo.value.returncode, str(excinfo.value)) == (1, "1 checkpoint with errors.")
    (result,) = json.loads(stdout.getvalue())
    errors = [f for f in result["findings"] if f["severity"] == "error"]
    assert result["errors"] == len(errors) >= 2
    assert {"/stats/processedRecords"} <= {f["pointer"] for f in errors}
    assert any("2025-03-02" in f["message"] for f in errors)


def test_an_integer_beyond_64_bits_is_an_error_the_job_would_meet(checkpoints_dir) -> None:
    """A job's manager refuses such a file (InvalidDocument), and skips and field edits
    refuse to write it back; the validator and the status table called it fine."""
    wide = "123456789012345678901234567890"
    (checkpoints_dir / "big.json").write_text(
        f'{{"id": "b-1", "status": "running", "progress": 0, "big": {wide}}}\n'
    )
    stdout = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("validate_checkpoints", "big", stdout=stdout)
    assert (excinfo.value.returncode, str(excinfo.value)) == (1, "1 checkpoint with errors.")
    assert f"error    /big  the integer {wide} does not fit in 64 bits" in stdout.getvalue()
    (row,) = json.loads(run("checkpoint_status", "big", "--json"))
    assert (row["errors"], row["state"]) == (1, "running")


def test_corrupt_files_from_the_command_line_never_show_a_traceback(cli) -> None:
    cli.path("broken").write_bytes(BROKEN)
    validate = cli.popen(
        "validate_checkpoints", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    status = cli.popen(
        "checkpoint_status", "broken", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out, err = validate.communicate(timeout=120)
    assert validate.returncode == 1
    assert "broken" in out and "line 2, column 13" in out
    assert err.strip().splitlines() == ["CommandError: 1 checkpoint with errors."]
    out, err = status.communicate(timeout=120)
    assert (status.returncode, err) == (0, "")
    assert out.splitlines()[1].split()[:3] == ["broken", "-", "corrupt"]
    assert "Traceback" not in out + err


def test_watch_redraws_until_interrupted(cli) -> None:
    process = cli.popen(
        "checkpoint_status", "--json", "--watch", "0.05",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    first = json.loads(process.stdout.readline())
    second = json.loads(process.stdout.readline())
    process.send_signal(signal.SIGINT)
    rest, stderr = process.communicate(timeout=60)
    assert process.returncode == 0
    assert stderr == ""
    assert [row["name"] for row in first] == [row["name"] for row in second]
    assert len(first) == 3
    for seconds in ("0", "1e20"):  # (a sleep that long was a traceback)
        refused = cli.run("checkpoint_status", "--watch", seconds)
        assert refused.returncode == 2
        assert refused.stderr.strip().splitlines() == [
            "manage.py checkpoint_status: error: argument --watch: expected a number of seconds "
            f"greater than 0 and at most 86,400 (a day), not {seconds!r} (see --help)"
        ]


def test_a_ctrl_c_that_python_drops_in_a_finalizer_still_ends_the_watch(
    samples_dir, monkeypatch
) -> None:
    """Python only prints "Exception ignored" for an exception raised while a finalizer runs:
    a Ctrl-C landing there must end the watch all the same, not leave it running."""
    from checkpoints_admin.management.commands.checkpoint_status import Command

    class Finalized:
        def __del__(self) -> None:
            signal.raise_signal(signal.SIGINT)

    dropped = []
    monkeypatch.setattr("sys.unraisablehook", lambda unraisable: dropped.append(unraisable))
    entries = Command.entries
    rounds = []

    def entries_then_interrupt(self, names):
        rounds.append(names)
        assert len(rounds) <= 3, "the watch went on after Ctrl-C"
        if len(rounds) == 2:
            Finalized()  # dropped at once: the Ctrl-C is raised in its __del__
        return entries(self, names)

    monkeypatch.setattr(Command, "entries", entries_then_interrupt)
    out = run("checkpoint_status", "--json", "--watch", "0.01")
    assert [type(d.exc_value) for d in dropped] == [KeyboardInterrupt]
    assert len(rounds) == 2
    assert len(out.splitlines()) == 1  # the first frame; the Ctrl-C came while reading the next
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize(
    "command",
    [("checkpoint_status",), ("checkpoint_status", "--json"), ("validate_checkpoints", "--json")],
)
def test_a_reader_that_stops_early_on_a_big_output_ends_it_with_exit_1(cli, command) -> None:
    """One big write into a pipe whose reader left writes part of it and returns: the rest
    must not be dropped in silence with exit 0 (the README promises exit 1)."""
    sample = cli.path("my-process").read_bytes()
    for n in range(1500):
        (cli.directory / f"job-{n:04}.json").write_bytes(sample)
    process = cli.popen(*command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.read(100)
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 1
    assert stderr == b""


def test_watch_keeps_watching_a_checkpoint_whose_file_went_away(cli) -> None:
    """A reset deletes the file and its job writes it again: the watch says so meanwhile."""
    path = cli.directory / "my-process.json"
    original = path.read_bytes()
    process = cli.popen(
        "checkpoint_status", "my-process", UNIFIED, "--watch", "0.05",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    def frame() -> list[str]:
        lines = []
        while (line := process.stdout.readline()) not in ("", "\n"):
            lines.append(line.rstrip("\n"))
        assert line, "the watch ended"
        return lines

    def names_in(lines: list[str]) -> list[str]:
        return [line.split()[0] for line in lines[1:] if not line.startswith("No file")]

    try:
        assert names_in(frame()) == ["my-process", UNIFIED]
        path.unlink()
        while "No file now: my-process" not in (shown := frame()):
            pass
        assert names_in(shown) == [UNIFIED]
        (cli.directory / f"{UNIFIED}.json").rename(cli.directory / "aside.json")
        # neither named checkpoint has a file: the directory is not "empty" for all that
        while "No file now: my-process, reconciliation_checkpoint" not in (shown := frame()):
            pass
        assert shown == ["No file now: my-process, reconciliation_checkpoint"]
        (cli.directory / "aside.json").rename(cli.directory / f"{UNIFIED}.json")
        path.write_bytes(original)
        while names_in(shown := frame()) != ["my-process", UNIFIED]:
            pass
        assert not any(line.startswith("No file") for line in shown)
    finally:
        process.send_signal(signal.SIGINT)
        rest, stderr = process.communicate(timeout=60)
    assert (process.returncode, stderr) == (0, "")


def test_validate_warns_of_a_key_given_twice(samples_dir) -> None:
    """A job (or a hand edit) that wrote a key twice: parsers keep the last value silently,
    and the next write drops the first."""
    (samples_dir / "dupkey.json").write_text('{"id": "x", "status": "running", "progress": 1,\n'
                                             ' "progress": 2}\n')  # fmt: skip
    (result,) = json.loads(run("validate_checkpoints", "dupkey", "--json"))
    assert result["warnings"] == 1 and result["errors"] == 0
    assert result["findings"][-1] == {
        "severity": "warning",
        "pointer": "",
        "message": "the key 'progress' is given twice in one object: the last value counts, "
        "and the next write keeps only that one",
    }
    # The status table counts it as the listing does (it said no findings).
    (row,) = json.loads(run("checkpoint_status", "dupkey", "--json"))
    assert (row["errors"], row["warnings"], row["progress"]) == (0, 1, 0.02)


def test_validate_quotes_an_integer_beyond_64_bits_as_the_file_has_it(samples_dir) -> None:
    """It said "totalRecords must be a whole number, not 1e+23", the float it is read as."""
    path = samples_dir / f"{UNIFIED}.json"
    path.write_bytes(
        path.read_bytes().replace(
            b'"totalRecords": 8564', b'"totalRecords": 99999999999999999999999'
        )
    )
    stdout = StringIO()
    with pytest.raises(CommandError):
        call_command("validate_checkpoints", UNIFIED, "--json", stdout=stdout)
    (result,) = json.loads(stdout.getvalue())
    assert {
        "severity": "error",
        "pointer": "/stats/totalRecords",
        "message": "totalRecords must be a whole number, not 99999999999999999999999",
    } in result["findings"]


def test_status_names_the_files_it_leaves_out(samples_dir) -> None:
    (samples_dir / "café.json").write_text("{}")
    (samples_dir / "folder.json").mkdir()
    table = run("checkpoint_status")
    assert table.rstrip().splitlines()[-1] == (
        "Not listed: café.json (not a checkpoint name), folder.json (not a regular file)."
    )
    assert "Not listed" not in run("checkpoint_status", "my-process")  # (named: not asked)
    assert [row["name"] for row in json.loads(run("checkpoint_status", "--json"))] == [
        "daily_reconciliation_checkpoint",
        "my-process",
        "reconciliation_checkpoint",
    ]
