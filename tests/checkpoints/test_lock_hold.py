"""A thread's hold of a checkpoint lock: nested holds, and the version known from a read in it."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path

import pytest

from checkpoints_admin.checkpoints import CheckpointLockTimeout, CheckpointStore, VersionConflict
from checkpoints_admin.checkpoints.kinds import invalid_dates
from checkpoints_admin.checkpoints.store import encode_document, version_of


def _try_lock(directory: str, name: str, queue: multiprocessing.Queue) -> None:
    store = CheckpointStore(directory)
    try:
        with store.lock(name, timeout=0.2):
            queue.put("acquired")
    except CheckpointLockTimeout:
        queue.put("busy")


def _other_process(directory: Path, name: str) -> str:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_try_lock, args=(str(directory), name, queue))
    proc.start()
    result = queue.get(timeout=60)
    proc.join(timeout=60)
    return result


def test_nested_hold_keeps_the_lock_until_the_outermost_ends(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.write("job", {"n": 1})
    with store.lock("job"):
        with store.lock("job"):
            store.write("job", {"n": 2})  # a third, nested hold
        # The inner holds ended: the lock is still held for the outer one.
        assert _other_process(tmp_path, "job") == "busy"
    assert _other_process(tmp_path, "job") == "acquired"
    assert store.read("job").data == {"n": 2}


def test_another_thread_waits_for_a_nested_hold(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    outcome: list[str] = []

    def other() -> None:
        try:
            with store.lock("job", timeout=0.2):
                outcome.append("acquired")
        except CheckpointLockTimeout:
            outcome.append("busy")

    with store.lock("job"), store.lock("job"):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert outcome == ["busy"]


def test_a_file_replaced_behind_the_lock_after_the_read_is_a_conflict(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.write("job", {"n": 1})
    path = tmp_path / "job.json"
    with store.lock("job"):
        seen = store.read("job")
        # A writer that ignores the lock replaces the file (same size, new content).
        intruder = encode_document({"n": 3})
        tmp = tmp_path / "intruder.tmp"
        tmp.write_bytes(intruder)
        os.replace(tmp, path)
        with pytest.raises(VersionConflict) as caught:
            store.write("job", {"n": 2}, expected_version=seen.version)
    assert caught.value.actual == version_of(intruder)
    assert path.read_bytes() == intruder


def test_a_read_in_an_earlier_hold_is_not_trusted(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.write("job", {"n": 1})
    with store.lock("job"):
        seen = store.read("job")
    other = CheckpointStore(tmp_path)
    other.write("job", {"n": 5})
    with store.lock("job"), pytest.raises(VersionConflict):
        store.write("job", {"n": 2}, expected_version=seen.version)
    assert store.read("job").data == {"n": 5}


def test_write_in_the_hold_of_its_read_checks_the_version(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.write("job", {"n": 1})
    with store.lock("job"):
        seen = store.read("job")
        version = store.write("job", {"n": 2}, expected_version=seen.version)
        # The read is of the file before that write: a second write with it conflicts.
        with pytest.raises(VersionConflict):
            store.write("job", {"n": 3}, expected_version=seen.version)
        assert store.write("job", {"n": 4}, expected_version=version)
    assert store.read("job").data == {"n": 4}


def test_invalid_dates_of_a_list_checked_before() -> None:
    good = [f"2025-01-{day:02d}" for day in range(1, 29)]
    assert invalid_dates(good) == set()
    assert invalid_dates(list(good)) == set()  # the same dates again
    assert invalid_dates([*good, "2025-02-30"]) == {"2025-02-30"}
    assert invalid_dates([*good[:-1], "2025-01-2x"]) == {"2025-01-2x"}
