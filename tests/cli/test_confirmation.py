"""Confirmation on a real terminal: a pseudo-terminal answers the question."""

from __future__ import annotations

import json
import os
import select
import time

from checkpoints_admin.checkpoints import CheckpointStore

REASON = ("--reason", "the upstream feed was replayed")
UNIFIED = "reconciliation_checkpoint"


def run_in_terminal(
    cli, args: list[str], answer: str | list[str], before_answer=None
) -> tuple[int, str]:
    """Run ``manage.py`` on a pty, answer each ``[y/N]`` in turn with ``answer`` (one, or a
    list); ``before_answer`` runs before the first. Its exit code and output."""
    answers = [answer] if isinstance(answer, str) else list(answer)
    master, slave = os.openpty()
    process = cli.popen(*args, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    output = b""
    asked = 0
    deadline = time.monotonic() + 120  # a guard against a hang, not a timing assertion
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if output.count(b"[y/N]") > asked and asked < len(answers):
                if asked == 0 and before_answer is not None:
                    before_answer()
                os.write(master, answers[asked].encode() + b"\n")
                asked += 1
        code = process.wait(timeout=60)
    finally:
        os.close(master)
    assert asked == len(answers), output.decode(errors="replace")
    return code, output.decode(errors="replace")


def test_answering_yes_on_a_terminal_applies(cli) -> None:
    code, output = run_in_terminal(cli, ["skip_dates", UNIFIED, "2025-03-06", *REASON], "y")
    assert code == 0, output
    assert "2025-03-06 pendingDates → completedDates" in output
    assert "Apply? [y/N]" in output
    assert "audit entry #1" in output
    assert json.loads(cli.path(UNIFIED).read_text())["pendingDates"] == ["2025-03-07"]
    assert [e["action"] for e in cli.entries()] == ["skip"]


def test_answering_no_on_a_terminal_changes_nothing(cli) -> None:
    files = cli.files()
    code, output = run_in_terminal(cli, ["reset_checkpoints", "--all", *REASON], "N")
    assert code == 1, output
    assert "Apply to 3 checkpoints? [y/N]" in output
    assert "Not applied: nothing was changed." in output
    assert "Traceback" not in output
    assert cli.files() == files
    assert cli.entries() == []


def job_moves_on(cli):
    store = CheckpointStore(cli.directory)

    def save() -> None:
        document = store.read(UNIFIED).data
        store.write(UNIFIED, {**document, "lastUpdateTime": document["lastUpdateTime"] + 1000})

    return save


def test_a_job_writing_while_the_question_is_open_asks_again_on_the_new_preview(cli) -> None:
    """The answered change is not applied blind: what changed, the new preview, the question
    again; yes then applies it on top of the job's save."""
    code, output = run_in_terminal(
        cli, ["skip_dates", UNIFIED, "2025-03-06", *REASON], ["y", "y"],
        before_answer=job_moves_on(cli),
    )  # fmt: skip
    assert code == 0, output
    assert f"Checkpoint {UNIFIED!r} changed since version" in output
    assert "(now: lastUpdateTime 1709743156789 → 1709743157789)" in output
    assert "The same change on the file as it is now:" in output
    assert "Review the current content and try again" not in output  # (it is shown at once)
    assert "Apply the change as previewed now? [y/N]" in output
    after = CheckpointStore(cli.directory).read(UNIFIED).data
    assert after["pendingDates"] == ["2025-03-07"]
    assert after["lastUpdateTime"] == 1709743157789  # the job's save is kept
    assert [e["action"] for e in cli.entries()] == ["skip"]


def test_no_to_the_new_preview_changes_nothing(cli) -> None:
    code, output = run_in_terminal(
        cli, ["skip_dates", UNIFIED, "2025-03-06", *REASON], ["y", "n"],
        before_answer=job_moves_on(cli),
    )  # fmt: skip
    assert code == 1, output
    assert "Not applied: nothing was changed." in output
    assert "Traceback" not in output
    after = CheckpointStore(cli.directory).read(UNIFIED).data
    assert after["pendingDates"] == ["2025-03-06", "2025-03-07"]
    assert after["lastUpdateTime"] == 1709743157789
    assert cli.entries() == []


def test_a_job_that_did_the_change_meanwhile_ends_the_question(cli) -> None:
    """The job processed the date while the question was open: the new preview refuses."""
    store = CheckpointStore(cli.directory)

    def job_does_it() -> None:
        document = store.read(UNIFIED).data
        completed = [*document["completedDates"], "2025-03-06"]
        store.write(
            UNIFIED, {**document, "pendingDates": ["2025-03-07"], "completedDates": completed}
        )

    code, output = run_in_terminal(
        cli, ["skip_dates", UNIFIED, "2025-03-06", *REASON], "y", before_answer=job_does_it
    )
    assert code == 1, output
    assert f"Checkpoint {UNIFIED!r} changed since version" in output
    assert "2025-03-06 is already in completedDates" in output
    assert "Traceback" not in output
    assert cli.entries() == []
