"""Interventions while a real job works on the same checkpoint (separate processes).

A job running ``CheckpointManager`` with auto-save keeps saving while an operator skips a
date through the console: the skip must survive and so must every update of the job. A job
holding the lock makes the apply refuse with "the job is holding the checkpoint, try again"
and change nothing.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from checkpoints_admin.checkpoints.store import version_of
from checkpoints_admin.models import AuditEntry
from tests.web.conftest import write_json
from tests.web.test_interventions import (
    HTMX,
    REASON,
    apply_preview,
    form_fields,
    preview,
    state,
    text,
)

ROOT = Path(__file__).resolve().parents[2]
NAME = "job"
PROCESSED = 1000

# A job: auto-saves every 0.1 s, updates its record counters all the time (each update a
# function of the current document, as a job that reads what it resumes from), and stops
# when told on stdin, printing how many updates it made.
JOB = """
import sys, threading, time
from checkpoints_admin.checkpoints import CheckpointManager

directory, name = sys.argv[1], sys.argv[2]
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
cp = CheckpointManager(name, {}, autosave_seconds=0.1, directory=directory)
cp.init()

def step(current):
    stats = dict(current["stats"])
    stats["processedRecords"] += 1
    stats["successfulRecords"] += 1
    return {"stats": stats}

count = 0
print("started", flush=True)
while not stop.is_set():
    cp.update(step)
    count += 1
    time.sleep(0.002)
cp.close()
print(count, flush=True)
"""

HOLD_LOCK = """
import sys
from filelock import FileLock
with FileLock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def unified() -> dict:
    return {
        "lastProcessedDate": "2025-03-05",
        "pendingDates": ["2025-03-06", "2025-03-07"],
        "completedDates": ["2025-03-04", "2025-03-05"],
        "startTime": 1709742856123,
        "lastUpdateTime": 1709743156789,
        "stats": {
            "totalRecords": 10_000_000,
            "processedRecords": PROCESSED,
            "successfulRecords": PROCESSED,
            "failedRecords": 0,
            "timeouts": 0,
        },
    }


def wait_for_new_version(path: Path, seen: str) -> str:
    """Block until the job saves again (a version other than ``seen``)."""
    for _ in range(10_000):
        version = version_of(path.read_bytes())
        if version != seen:
            return version
        time.sleep(0.01)
    raise AssertionError("the job never saved again")


@pytest.fixture
def operator(signed_in):
    return signed_in("operator")


@pytest.mark.slow
def test_a_skip_survives_a_job_auto_saving_the_same_checkpoint(operator, checkpoints_dir):
    path = write_json(checkpoints_dir, NAME, unified())
    job = subprocess.Popen(
        [sys.executable, "-c", JOB, str(checkpoints_dir), NAME],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    conflicts = 0
    try:
        assert job.stdout is not None and job.stdout.readline() == "started\n"
        wait_for_new_version(path, version_of(path.read_bytes()))  # the job is saving
        shown = preview(operator, NAME, "skip", {"dates": "2025-03-06"})
        while True:
            applied = apply_preview(operator, NAME, "skip", shown)
            if applied.status_code == 302:
                break
            # The job saved between the preview and the apply: the conflict page, then the
            # same skip previewed again on the current version, as the operator would.
            assert applied.status_code == 409, text(applied)
            assert "changed since your preview" in text(applied)
            conflicts += 1
            assert conflicts < 500
            again = form_fields(text(applied), after='id="again-title"')
            shown = preview(operator, NAME, "skip", again)
            assert shown.status_code == 200
        skipped = AuditEntry.objects.get()
        # The job keeps saving on top of the operator's change.
        wait_for_new_version(path, skipped.result_version)
    finally:
        assert job.stdin is not None
        job.stdin.write("stop\n")
        job.stdin.flush()
        out, err = job.communicate(timeout=60)
    assert job.returncode == 0, err
    updates = int(out.strip().splitlines()[-1])
    assert updates > 0
    data = orjson.loads(path.read_bytes())
    assert data["pendingDates"] == ["2025-03-07"]
    assert data["completedDates"] == ["2025-03-04", "2025-03-05", "2025-03-06"]
    assert data["stats"]["processedRecords"] == PROCESSED + updates
    assert data["stats"]["successfulRecords"] == PROCESSED + updates
    assert AuditEntry.objects.count() == 1
    assert skipped.summary == "2025-03-06 pendingDates → completedDates"


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_a_job_holding_the_lock_refuses_the_apply(operator, checkpoints_dir, settings, htmx):
    settings.CHECKPOINT_LOCK_TIMEOUT = 0.2
    path = write_json(checkpoints_dir, NAME, unified())
    shown = preview(operator, NAME, "skip", {"dates": "2025-03-06"})
    before = state(checkpoints_dir)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path) + ".lock"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        headers = HTMX if htmx else {}
        fields = {**form_fields(text(shown)), "reason": REASON}
        response = operator.post(f"/checkpoints/{NAME}/skip/apply", fields, headers=headers)
        assert response.status_code == 423
        page = text(response)
        assert "The job is holding the checkpoint, try again." in page
        assert ">\nupstream will never deliver this day</textarea>" in page  # kept for the retry
        if htmx:
            assert response["HX-Retarget"] == "#apply-form"
            assert '"level": "error"' in response["HX-Trigger"]
        assert state(checkpoints_dir) == before
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(30)
    # The job let go: the same form applies.
    assert operator.post(f"/checkpoints/{NAME}/skip/apply", fields).status_code == 302
    assert orjson.loads(path.read_bytes())["pendingDates"] == ["2025-03-07"]
