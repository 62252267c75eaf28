"""Four real command processes at once: every change lands, the chain never forks."""

from __future__ import annotations

import json
import subprocess

import pytest

REASON = ("--reason", "catch up after the outage")
DATES = ("2025-04-01", "2025-04-02", "2025-04-03", "2025-04-04")


def unified(pending: list[str]) -> dict:
    return {
        "lastProcessedDate": "2025-03-31",
        "pendingDates": pending,
        "completedDates": ["2025-03-30", "2025-03-31"],
        "startTime": 1709742856123,
        "lastUpdateTime": 1709743156789,
        "stats": {
            "totalRecords": 100,
            "processedRecords": 40,
            "successfulRecords": 40,
            "failedRecords": 0,
            "timeouts": 0,
        },
    }


def run_together(cli, commands: list[list[str]]) -> None:
    processes = [
        cli.popen(*args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for args in commands
    ]
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, (stdout, stderr)


@pytest.mark.slow
def test_four_processes_on_different_and_on_the_same_checkpoint(cli) -> None:
    for number in range(4):
        cli.write(f"job-{number}", unified(list(DATES)))
    cli.write("shared", unified(list(DATES)))

    run_together(
        cli,
        [["skip_dates", f"job-{n}", DATES[n], *REASON, "--yes"] for n in range(4)],
    )
    run_together(
        cli,
        [["skip_dates", "shared", date, *REASON, "--yes"] for date in DATES],
    )

    entries = cli.entries()
    assert [e["seq"] for e in entries] == list(range(1, 9))
    assert sorted(e["checkpoint"] for e in entries) == [
        "job-0",
        "job-1",
        "job-2",
        "job-3",
        "shared",
        "shared",
        "shared",
        "shared",
    ]
    for number in range(4):
        document = json.loads(cli.path(f"job-{number}").read_text())
        assert document["pendingDates"] == [d for d in DATES if d != DATES[number]]
    shared = json.loads(cli.path("shared").read_text())
    assert shared["pendingDates"] == []
    assert sorted(shared["completedDates"]) == ["2025-03-30", "2025-03-31", *DATES]
    verified = cli.run("verify_audit", "--json")
    assert verified.returncode == 0, verified.stderr
    result = json.loads(verified.stdout)
    assert result == {
        "ok": True,
        "checked": 8,
        "first_break": None,
        "message": result["message"],
        "head": {"seq": 8, "hash": result["head"]["hash"]},
    }
