"""CheckpointManager: the seed's flow, saving without losing updates, resets, errors, threads."""

from __future__ import annotations

import datetime
import json
import logging
import math
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from checkpoints_admin.checkpoints import (
    CheckpointError,
    CheckpointLockTimeout,
    CheckpointManager,
    CheckpointStore,
    CorruptCheckpoint,
    InvalidCheckpointName,
    InvalidDocument,
    VersionConflict,
)

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ROOT = Path(__file__).resolve().parents[2]
SEED_INITIAL = {
    "id": "my-process-1",
    "status": "pending",
    "progress": 0,
    "processedItems": [],
    "pendingItems": ["item1", "item2", "item3"],
}
COUNTER_INITIAL = {"id": "counter-1", "status": "running", "progress": 0, "counter": 0}


def increment(current: dict) -> dict:
    return {"counter": current["counter"] + 1}


def read_json(directory: Path, name: str) -> dict:
    return json.loads((directory / f"{name}.json").read_bytes())


@pytest.fixture
def store(checkpoints_dir: Path) -> CheckpointStore:
    return CheckpointStore(checkpoints_dir)


@pytest.fixture
def fast_dir() -> Iterator[Path]:
    """A directory on tmpfs when there is one: the many-process tests save a thousand times and
    what they check is that no update is lost, not how long the disk takes to fsync."""
    parent = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    directory = Path(tempfile.mkdtemp(prefix="checkpoints-manager-", dir=parent))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def manager_log() -> Iterator[list[logging.LogRecord]]:
    """Records logged by the library's logger (attached directly: it may not propagate)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(level=logging.DEBUG)
    log = logging.getLogger("checkpoints_admin.checkpoints")
    old_level = log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    yield records
    log.removeHandler(handler)
    log.setLevel(old_level)


# -- the seed's flow ---------------------------------------------------------------------------


def test_seed_example_flow(checkpoints_dir: Path, store: CheckpointStore) -> None:
    cp = CheckpointManager("my-process", SEED_INITIAL, 10, directory=checkpoints_dir)
    data = cp.init()
    assert data["status"] == "pending"
    assert ISO_MS.match(data["created"])
    assert ISO_MS.match(data["lastUpdated"])
    assert read_json(checkpoints_dir, "my-process") == data

    cp.update(
        lambda cur: {
            "progress": 33,
            "pendingItems": cur["pendingItems"][1:],
            "processedItems": cur["processedItems"] + cur["pendingItems"][:1],
        }
    )
    cp.complete(True)

    on_disk = store.read("my-process").data
    assert on_disk["id"] == "my-process-1"
    assert on_disk["status"] == "completed"
    assert on_disk["progress"] == 100
    assert on_disk["processedItems"] == ["item1"]
    assert on_disk["pendingItems"] == ["item2", "item3"]
    assert on_disk["created"] == data["created"]
    assert ISO_MS.match(on_disk["lastUpdated"])
    assert on_disk["lastUpdated"] >= data["lastUpdated"]
    assert cp.data == on_disk
    assert cp.version == store.read("my-process").version
    assert not cp.dirty
    cp.close()


def test_init_loads_existing_without_writing(samples_dir: Path) -> None:
    path = samples_dir / "my-process.json"
    before = path.read_bytes()
    cp = CheckpointManager("my-process", SEED_INITIAL, directory=samples_dir)
    data = cp.init()
    assert data == json.loads(before)
    assert data["processedItems"] == ["item1"]
    assert path.read_bytes() == before
    # init() again returns the current document; the copy given out is the caller's own.
    data["processedItems"].append("changed")
    assert cp.init() == json.loads(before)
    cp.close()
    assert path.read_bytes() == before


def test_every_update_sets_last_updated(samples_dir: Path, store: CheckpointStore) -> None:
    cp = CheckpointManager("my-process", SEED_INITIAL, directory=samples_dir)
    assert cp.init()["lastUpdated"] == "2025-03-06T09:05:00.000Z"
    cp.update({"progress": 50, "lastUpdated": "not a time"})
    data = store.read("my-process").data
    assert ISO_MS.match(data["lastUpdated"])
    assert data["lastUpdated"] > "2025-03-06T09:05:00.000Z"
    assert data["created"] == "2025-03-06T09:00:00.000Z"
    assert data["progress"] == 50


def test_create_keeps_the_callers_created_and_sets_last_updated(checkpoints_dir: Path) -> None:
    initial = {**SEED_INITIAL, "created": "2025-03-06T09:00:00.000Z", "lastUpdated": "old"}
    cp = CheckpointManager("job", initial, directory=checkpoints_dir)
    data = cp.init()
    assert data["created"] == "2025-03-06T09:00:00.000Z"
    assert ISO_MS.match(data["lastUpdated"])
    assert list(data) == ["id", "status", "progress", "processedItems", "pendingItems",
                          "created", "lastUpdated"]  # fmt: skip
    assert initial["lastUpdated"] == "old"  # the caller's mapping is not touched


def test_update_mapping_merges_top_level_and_keeps_a_private_copy(checkpoints_dir: Path) -> None:
    cp = CheckpointManager("job", SEED_INITIAL, directory=checkpoints_dir)
    cp.init()
    items = ["x"]
    cp.update({"processedItems": items, "extra": {"a": 1}})
    items.append("changed later")  # the caller's list is not the document's
    data = read_json(checkpoints_dir, "job")
    assert data["processedItems"] == ["x"]
    assert data["extra"] == {"a": 1}
    assert data["pendingItems"] == ["item1", "item2", "item3"]
    assert cp.data == data
    cp.data["processedItems"].append("not kept")  # data is a copy
    assert cp.data["processedItems"] == ["x"]


def test_default_directory_is_checkpoints_dir_then_dot_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_dir = tmp_path / "from-env"
    monkeypatch.setenv("CHECKPOINTS_DIR", str(env_dir))
    CheckpointManager("job", SEED_INITIAL).init()
    assert (env_dir / "job.json").is_file()

    monkeypatch.delenv("CHECKPOINTS_DIR")
    monkeypatch.chdir(tmp_path)
    CheckpointManager("job", SEED_INITIAL).init()
    assert (tmp_path / "checkpoints" / "job.json").is_file()


# -- processes and threads lose no update ------------------------------------------------------


def count_in_process(directory: str, autosave: float | None, updates: int) -> None:
    cp = CheckpointManager("counter", COUNTER_INITIAL, autosave, directory=directory)
    cp.init()
    for _ in range(updates):
        cp.update(increment)
    cp.save()
    cp.close()


def run_processes(target, args_list: list[tuple]) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=target, args=args) for args in args_list]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    for process in processes:
        if process.is_alive():
            process.kill()
    assert [process.exitcode for process in processes] == [0] * len(processes)


@pytest.mark.slow
@pytest.mark.parametrize("autosave", [None, 0.05], ids=["autosave-off", "autosave-on"])
def test_four_processes_lose_no_update(fast_dir: Path, autosave: float | None) -> None:
    run_processes(count_in_process, [(str(fast_dir), autosave, 250)] * 4)
    data = read_json(fast_dir, "counter")
    assert data["counter"] == 1000
    assert data["id"] == "counter-1"
    assert ISO_MS.match(data["lastUpdated"])


def _fork_and_wait(child) -> int:
    """Run ``child()`` in a process made by ``os.fork()``; its exit code."""
    from checkpoints_admin.checkpoints import manager

    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        code = 1
        try:
            child()
            manager._flush_all()  # what the interpreter's exit runs (os._exit skips it)
            code = 0
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@pytest.mark.parametrize("saves", [False, True], ids=["child-exits", "child-updates-and-saves"])
def test_a_forked_child_does_not_write_its_parents_unsaved_updates(
    checkpoints_dir: Path, saves: bool
) -> None:
    """A child made by fork() (multiprocessing's default on Linux) inherited the unsaved
    updates and wrote them too, at its exit or its next save: each then counted twice. The
    child's own updates count once, over the file as it is then."""
    cp = CheckpointManager("counter", COUNTER_INITIAL, 60, directory=checkpoints_dir)
    cp.init()
    cp.update(increment)  # unsaved: the auto-save is a minute away

    def child() -> None:
        if not saves:
            return  # it exits: the atexit flush had the parent's update to write
        cp.update(increment)  # its own update, and a save
        cp.save()

    assert _fork_and_wait(child) == 0
    expected_after_child = 1 if saves else 0
    assert read_json(checkpoints_dir, "counter")["counter"] == expected_after_child
    cp.close()  # the parent saves its own update, over the child's
    assert read_json(checkpoints_dir, "counter")["counter"] == expected_after_child + 1


def updates_and_returns(directory: str, count: int) -> None:
    """A multiprocessing child's work: updates kept for an auto-save a minute away, then it
    returns (multiprocessing ends the process with os._exit(), without atexit)."""
    cp = CheckpointManager("counter", COUNTER_INITIAL, 60, directory=directory)
    for _ in range(count):
        cp.update(increment)


def test_a_multiprocessing_child_saves_its_updates_when_it_ends(checkpoints_dir: Path) -> None:
    """Updates a forked multiprocessing child made and left to the auto-save were lost when
    it returned: it ends with os._exit(), which skips the interpreter's exit and its flush."""
    context = multiprocessing.get_context("fork")
    child = context.Process(target=updates_and_returns, args=(str(checkpoints_dir), 10))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert read_json(checkpoints_dir, "counter")["counter"] == 10


def count_once(directory: str) -> None:
    """A pool task: one update, left to an auto-save a minute away."""
    CheckpointManager("counter", COUNTER_INITIAL, 60, directory=directory).update(increment)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_the_workers_of_a_pool_left_by_its_with_block_save_their_updates(
    checkpoints_dir: Path, method: str
) -> None:
    """Leaving ``with Pool()`` terminates its workers with SIGTERM, which killed them on the
    spot: every update they had left to the auto-save was lost (0 of 40 on disk)."""
    with multiprocessing.get_context(method).Pool(4) as pool:
        pool.map(count_once, [str(checkpoints_dir)] * 40)
    assert read_json(checkpoints_dir, "counter")["counter"] == 40


def terminated_when_ready(method: str, target: Any, directory: Path) -> int | None:
    """Start ``target(directory, ready)`` in a child, terminate it (SIGTERM) once it set
    ``ready``, and give its exit status."""
    context = multiprocessing.get_context(method)
    ready = context.Event()
    child = context.Process(target=target, args=(str(directory), ready))
    child.start()
    assert ready.wait(60)
    child.terminate()
    child.join(60)
    return child.exitcode


def update_and_wait(directory: str, ready: Any) -> None:
    """A child's long task: one update left to the auto-save, then it works on (sleeps)."""
    CheckpointManager("counter", COUNTER_INITIAL, 60, directory=directory).update(increment)
    ready.set()
    time.sleep(60)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_child_terminated_while_it_works_saves_its_updates(
    checkpoints_dir: Path, method: str
) -> None:
    """``Process.terminate()`` (SIGTERM) mid-task: the child saves what it left to the
    auto-save and ends with status 143, where it was killed with all of it."""
    assert terminated_when_ready(method, update_and_wait, checkpoints_dir) == 143
    assert read_json(checkpoints_dir, "counter")["counter"] == 1


def stops_its_own_way(directory: str, ready: Any) -> None:
    """A child that sets a SIGTERM handler of its own after its manager started: it finishes
    its step, saves and returns when told to stop."""
    cp = CheckpointManager("counter", COUNTER_INITIAL, 60, directory=directory)
    cp.update(increment)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ready.set()
    stop.wait(60)
    time.sleep(0.2)  # the rest of its step
    cp.update(increment)
    cp.close()


def runs_an_asyncio_loop(directory: str, ready: Any) -> None:
    """A child whose asyncio loop handles a signal: the loop takes the wakeup fd (and
    drops SIGTERM, which it has no handler for); the child then waits."""
    import asyncio

    CheckpointManager("counter", COUNTER_INITIAL, 60, directory=directory).update(increment)

    async def main() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, lambda: None)
        ready.set()
        await asyncio.sleep(60)

    asyncio.run(main())


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_sigterm_handler_a_child_sets_itself_is_the_one_that_runs(
    checkpoints_dir: Path, method: str
) -> None:
    """Its handler ran, but the manager's thread ended the process (143) in the middle of
    the child's own shutdown: its last step and the rest of its cleanup were lost."""
    assert terminated_when_ready(method, stops_its_own_way, checkpoints_dir) == 0
    assert read_json(checkpoints_dir, "counter")["counter"] == 2


def test_a_child_whose_asyncio_loop_took_the_wakeup_fd_still_ends_and_saves(
    checkpoints_dir: Path,
) -> None:
    """SIGTERM's handler did nothing once asyncio had the wakeup fd: the child was left
    running after terminate(), its update unsaved."""
    assert terminated_when_ready("fork", runs_an_asyncio_loop, checkpoints_dir) == 143
    assert read_json(checkpoints_dir, "counter")["counter"] == 1


def test_a_forked_multiprocessing_child_of_a_job_saves_its_own_updates(
    checkpoints_dir: Path,
) -> None:
    """The job's manager, inherited by a forked child that updates through it and returns:
    the child's updates are saved when it ends, the parent's once, by the parent."""
    cp = CheckpointManager("counter", COUNTER_INITIAL, 60, directory=checkpoints_dir)
    cp.update(increment)  # the parent's, unsaved
    child = multiprocessing.get_context("fork").Process(target=_update_times, args=(cp, 10))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert read_json(checkpoints_dir, "counter")["counter"] == 10
    cp.close()
    assert read_json(checkpoints_dir, "counter")["counter"] == 11


def _update_times(cp: CheckpointManager, count: int) -> None:
    for _ in range(count):
        cp.update(increment)


def test_a_fork_in_the_middle_of_an_update_does_not_carry_it_to_the_child(
    checkpoints_dir: Path,
) -> None:
    """Another thread forked after an update had changed the document but before it was
    queued as unsaved: the child kept the document with the parent's update in it, and its
    own save wrote it too. The child now reads the file again."""
    cp = CheckpointManager("counter", COUNTER_INITIAL, 60, directory=checkpoints_dir)
    cp.init()
    codes = []

    def child() -> None:
        cp.update(increment)
        cp.save()

    class ForkWhenQueued(list):
        def append(self, entry) -> None:
            codes.append(_fork_and_wait(child))
            super().append(entry)

    cp._pending = ForkWhenQueued()
    cp.update(increment)
    assert codes == [0]
    assert read_json(checkpoints_dir, "counter")["counter"] == 1  # the child's, once
    cp.close()
    assert read_json(checkpoints_dir, "counter")["counter"] == 2


def job_around_operator_edit(directory: str, started, edited) -> None:
    cp = CheckpointManager("dates", DATES_INITIAL, 0.02, directory=directory)
    cp.init()
    for _ in range(100):
        cp.update(increment)
    store = CheckpointStore(directory)
    deadline = time.monotonic() + 60
    # The timer, not this code, saves: wait until it has.
    while store.read("dates").data["counter"] < 100 and time.monotonic() < deadline:
        time.sleep(0.01)
    started.set()
    for _ in range(100):
        cp.update(increment)
        time.sleep(0.001)
    edited.wait(60)
    for _ in range(100):
        cp.update(increment)
    cp.complete(True)


DATES_INITIAL = {
    "id": "dates-1",
    "status": "running",
    "progress": 0,
    "counter": 0,
    "pendingDates": ["2025-03-06", "2025-03-07"],
    "completedDates": ["2025-03-05"],
}


@pytest.mark.slow
def test_operator_compare_and_swap_edit_survives_a_job_auto_saving(checkpoints_dir: Path) -> None:
    context = multiprocessing.get_context("spawn")
    started, edited = context.Event(), context.Event()
    job = context.Process(
        target=job_around_operator_edit, args=(str(checkpoints_dir), started, edited)
    )
    job.start()
    try:
        assert started.wait(60)
        store = CheckpointStore(checkpoints_dir)
        conflicts = 0
        while True:
            current = store.read("dates")
            edit = dict(current.data)
            edit["pendingDates"] = ["2025-03-07"]
            edit["completedDates"] = ["2025-03-05", "2025-03-06"]
            edit["operatorNote"] = "skipped 2025-03-06"
            try:
                store.write("dates", edit, expected_version=current.version)
                break
            except VersionConflict:
                conflicts += 1
                assert conflicts < 1000
        edited.set()
    finally:
        job.join(120)
        if job.is_alive():
            job.kill()
    assert job.exitcode == 0
    data = store.read("dates").data
    assert data["counter"] == 300
    assert data["operatorNote"] == "skipped 2025-03-06"
    assert data["pendingDates"] == ["2025-03-07"]
    assert data["completedDates"] == ["2025-03-05", "2025-03-06"]
    assert data["status"] == "completed"
    assert data["progress"] == 100


def test_unsaved_updates_are_reapplied_over_an_operators_edit(
    checkpoints_dir: Path, store: CheckpointStore
) -> None:
    cp = CheckpointManager("dates", DATES_INITIAL, 3600, directory=checkpoints_dir)
    cp.init()
    cp.update(increment)
    cp.update(increment)
    # The job's next update works on the first pending date; the operator skips that date
    # before the update is saved, so the function must be called again on the new content.
    cp.update(lambda cur: {"working": cur["pendingDates"][0]})
    assert cp.data["working"] == "2025-03-06"
    assert cp.dirty

    current = store.read("dates")
    edit = {**current.data, "pendingDates": ["2025-03-07"], "completedDates": ["2025-03-05",
            "2025-03-06"], "counter": 40}  # fmt: skip
    store.write("dates", edit, expected_version=current.version)

    version = cp.save()
    on_disk = store.read("dates")
    assert version == on_disk.version
    assert on_disk.data["counter"] == 42
    assert on_disk.data["working"] == "2025-03-07"
    assert on_disk.data["completedDates"] == ["2025-03-05", "2025-03-06"]
    assert cp.data == on_disk.data
    assert not cp.dirty


@pytest.mark.parametrize(
    ("items", "store_timeout"),
    [(10, 10.0), (10, 5.0), (20_000, 10.0), (20_000, 5.0)],
    ids=["small", "small-other-timeout", "big", "big-other-timeout"],
)
def test_each_save_path_follows_edits_and_resets(
    checkpoints_dir: Path, items: int, store_timeout: float
) -> None:
    # Small documents are saved with one compare-and-swap write, big ones (and any with a
    # store whose lock timeout is not the manager's) under the lock after comparing the bytes.
    store = CheckpointStore(checkpoints_dir, lock_timeout=store_timeout)
    initial = {**COUNTER_INITIAL, "items": [f"item-{i:06d}" for i in range(items)]}
    cp = CheckpointManager("counter", initial, store=store)
    cp.init()
    cp.update(increment)
    current = store.read("counter")
    store.write(
        "counter", {**current.data, "operator": "was here"}, expected_version=current.version
    )
    cp.update(increment)
    cp.update(increment)
    on_disk = store.read("counter")
    assert on_disk.data["counter"] == 3
    assert on_disk.data["operator"] == "was here"
    assert on_disk.data["items"] == initial["items"]
    assert cp.version == on_disk.version
    assert cp.data == on_disk.data

    store.delete("counter")
    cp.update(increment)
    assert store.read("counter").data == {**cp.data, "counter": 1}
    assert "operator" not in cp.data
    cp.update({"note": "x"})
    assert store.read("counter").data == cp.data


def test_a_refused_update_of_a_big_checkpoint_names_it_and_writes_nothing(
    checkpoints_dir: Path,
) -> None:
    # Big documents are encoded by the store alone, under the lock: its refusal is the one seen.
    initial = {**COUNTER_INITIAL, "items": [f"item-{i:06d}" for i in range(20_000)]}
    cp = CheckpointManager("counter", initial, directory=checkpoints_dir)
    cp.init()
    cp.update(increment)
    before_bytes = (checkpoints_dir / "counter.json").read_bytes()
    before = cp.data
    assert len(before_bytes) > 64 * 1024

    with pytest.raises(InvalidDocument) as excinfo:
        cp.update(lambda cur: {"counter": math.nan})

    assert excinfo.value.name == "counter"
    assert str(excinfo.value).startswith("checkpoint 'counter': ")
    assert "NaN" in str(excinfo.value)
    assert cp.data == before
    assert not cp.dirty
    assert (checkpoints_dir / "counter.json").read_bytes() == before_bytes
    cp.close()


def test_save_without_pending_updates_picks_up_the_file_and_writes_nothing(
    checkpoints_dir: Path, store: CheckpointStore
) -> None:
    cp = CheckpointManager("job", SEED_INITIAL, directory=checkpoints_dir)
    cp.init()
    current = store.read("job")
    store.write("job", {**current.data, "status": "running"}, expected_version=current.version)
    edited = (checkpoints_dir / "job.json").read_bytes()
    assert cp.save() == store.read("job").version
    assert cp.data["status"] == "running"
    assert (checkpoints_dir / "job.json").read_bytes() == edited


def test_a_function_failing_on_the_new_content_is_dropped_the_others_kept(
    checkpoints_dir: Path, store: CheckpointStore, manager_log: list[logging.LogRecord]
) -> None:
    cp = CheckpointManager("job", SEED_INITIAL, 3600, directory=checkpoints_dir)
    cp.init()
    cp.update({"status": "running"})
    cp.update(lambda cur: {"next": cur["pendingItems"][0]})
    cp.update({"progress": 10})
    current = store.read("job")
    store.write("job", {**current.data, "pendingItems": []}, expected_version=current.version)

    cp.save()
    data = store.read("job").data
    assert data["status"] == "running"
    assert data["progress"] == 10
    assert "next" not in data
    assert data["pendingItems"] == []
    assert any(r.levelno == logging.ERROR and "dropped" in r.getMessage() for r in manager_log)


def test_a_function_failing_on_the_new_content_raises_when_saved_at_once(
    checkpoints_dir: Path, store: CheckpointStore
) -> None:
    """Without auto-save the caller waits for the save: it hears that its update failed over
    what an operator wrote meanwhile, and nothing of it is written."""
    cp = CheckpointManager("job", SEED_INITIAL, directory=checkpoints_dir)
    cp.init()
    current = store.read("job")
    store.write("job", {**current.data, "pendingItems": []}, expected_version=current.version)
    operators = (checkpoints_dir / "job.json").read_bytes()

    with pytest.raises(IndexError):
        cp.update(lambda cur: {"next": cur["pendingItems"][0]})
    assert (checkpoints_dir / "job.json").read_bytes() == operators
    assert not cp.dirty
    assert cp.data["pendingItems"] == [] and "next" not in cp.data
    cp.update({"progress": 10})  # the manager goes on from the operator's content
    assert store.read("job").data["progress"] == 10
    assert store.read("job").data["pendingItems"] == []


DROPPED_SCRIPT = """
import gc, sys, time
from checkpoints_admin.checkpoints import CheckpointManager

def work(name, autosave):
    cp = CheckpointManager(name, {"status": "running", "progress": 0}, autosave,
                           directory=sys.argv[1])
    cp.init()
    cp.update({"progress": 42})

work("timer", 0.05)  # dropped: its timer still saves it
work("exit", 3600)  # dropped: saved when the interpreter exits
gc.collect()
deadline = time.monotonic() + 30
while '"progress": 42' not in open(sys.argv[1] + "/timer.json").read():
    assert time.monotonic() < deadline, "the dropped manager's update was never saved"
    time.sleep(0.02)
print("saved by the timer", flush=True)
"""


def run_job(code: str, directory: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as a job's interpreter would, with the checkpoints directory as its
    argument; it must end within a minute (a live timer thread would keep it an hour)."""
    return subprocess.run(
        [sys.executable, "-c", code, str(directory)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_manager_dropped_with_unsaved_updates_still_saves_them(checkpoints_dir: Path) -> None:
    result = run_job(DROPPED_SCRIPT, checkpoints_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "saved by the timer\n"
    assert read_json(checkpoints_dir, "timer")["progress"] == 42
    assert read_json(checkpoints_dir, "exit")["progress"] == 42


def test_a_saved_manager_is_not_held(checkpoints_dir: Path) -> None:
    """Only unsaved updates keep a dropped manager alive: a clean one can be collected."""
    import gc
    import weakref

    cp = CheckpointManager("job", SEED_INITIAL, 3600, directory=checkpoints_dir)
    cp.init()
    cp.update({"progress": 3})
    ref = weakref.ref(cp)
    del cp
    gc.collect()
    assert ref() is not None  # unsaved: held until saved
    ref().save()
    gc.collect()
    assert ref() is None


def test_starting_a_manager_sweeps_temp_files_left_by_killed_runs(checkpoints_dir: Path) -> None:
    old = checkpoints_dir / ".job.json.abc123.tmp"
    old.write_bytes(b'{"half": ')
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    fresh = checkpoints_dir / ".job.json.def456.tmp"  # a writer may be using it
    fresh.write_bytes(b"{")

    CheckpointManager("job", SEED_INITIAL, directory=checkpoints_dir).init()
    assert not old.exists()
    assert fresh.exists()


@pytest.mark.slow
def test_threads_share_one_manager(checkpoints_dir: Path, store: CheckpointStore) -> None:
    cp = CheckpointManager("counter", COUNTER_INITIAL, 0.01, directory=checkpoints_dir)
    cp.init()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(100):
                cp.update(increment)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert cp.data["counter"] == 800
    cp.close()
    assert store.read("counter").data["counter"] == 800


def test_threads_with_immediate_saves(fast_dir: Path) -> None:
    cp = CheckpointManager("counter", COUNTER_INITIAL, directory=fast_dir)
    cp.init()
    threads = [
        threading.Thread(target=lambda: [cp.update(increment) for _ in range(25)]) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert read_json(fast_dir, "counter")["counter"] == 200


# -- resets ------------------------------------------------------------------------------------


def test_deleted_while_held_is_a_reset(
    checkpoints_dir: Path, store: CheckpointStore, manager_log: list[logging.LogRecord]
) -> None:
    cp = CheckpointManager("counter", COUNTER_INITIAL, directory=checkpoints_dir)
    cp.init()
    for _ in range(5):
        cp.update(increment)
    cp.update({"note": "before the reset"})
    store.delete("counter")

    cp.update(increment)
    data = store.read("counter").data
    assert data["counter"] == 1
    assert "note" not in data
    assert cp.data == data
    warnings = [r for r in manager_log if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "counter" in warnings[0].getMessage()
    assert "deleted" in warnings[0].getMessage()


def test_deleted_while_held_keeps_only_the_unsaved_updates(
    checkpoints_dir: Path, store: CheckpointStore, manager_log: list[logging.LogRecord]
) -> None:
    cp = CheckpointManager("counter", COUNTER_INITIAL, 3600, directory=checkpoints_dir)
    cp.init()
    for _ in range(3):
        cp.update(increment)
    cp.save()
    cp.update(increment)
    cp.update({"phase": 2})
    store.delete("counter")

    cp.save()
    data = store.read("counter").data
    assert data["counter"] == 1
    assert data["phase"] == 2
    assert ISO_MS.match(data["created"])
    assert any("deleted" in r.getMessage() for r in manager_log)


def test_deleted_and_nothing_pending_is_not_recreated_by_save(
    checkpoints_dir: Path, store: CheckpointStore
) -> None:
    cp = CheckpointManager("counter", COUNTER_INITIAL, directory=checkpoints_dir)
    cp.init()
    cp.update(increment)
    store.delete("counter")
    assert cp.save() is None
    assert not store.exists("counter")
    assert cp.data["counter"] == 0
    cp.close()
    assert not store.exists("counter")


# -- context manager, completion, auto-save ----------------------------------------------------


def test_context_manager_saves_on_exit(checkpoints_dir: Path) -> None:
    with CheckpointManager("job", SEED_INITIAL, 3600, directory=checkpoints_dir) as cp:
        cp.update({"progress": 50})
        assert read_json(checkpoints_dir, "job")["progress"] == 0
    assert read_json(checkpoints_dir, "job")["progress"] == 50
    with pytest.raises(CheckpointError, match="closed"):
        cp.update({"progress": 60})


def test_context_manager_saves_progress_on_error_without_completing(
    checkpoints_dir: Path,
) -> None:
    with (
        pytest.raises(RuntimeError, match="job failed"),
        CheckpointManager("job", SEED_INITIAL, 3600, directory=checkpoints_dir) as cp,
    ):
        cp.update({"progress": 70, "status": "running"})
        raise RuntimeError("job failed")
    data = read_json(checkpoints_dir, "job")
    assert data["progress"] == 70
    assert data["status"] == "running"


def test_complete_false_marks_failed_and_keeps_progress(checkpoints_dir: Path) -> None:
    cp = CheckpointManager("job", SEED_INITIAL, 3600, directory=checkpoints_dir)
    cp.init()
    cp.update({"progress": 40})
    cp.complete(False)
    data = read_json(checkpoints_dir, "job")
    assert data["status"] == "failed"
    assert data["progress"] == 40
    # Auto-save is over: later updates are saved at once.
    cp.update({"note": "after"})
    assert read_json(checkpoints_dir, "job")["note"] == "after"


def test_autosave_saves_in_the_background(checkpoints_dir: Path) -> None:
    cp = CheckpointManager("job", SEED_INITIAL, 0.02, directory=checkpoints_dir)
    cp.init()
    cp.update({"progress": 5})
    deadline = time.monotonic() + 30
    while read_json(checkpoints_dir, "job")["progress"] != 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert read_json(checkpoints_dir, "job")["progress"] == 5
    assert not cp.dirty
    cp.close()


EXIT_SCRIPT = """
import sys
from checkpoints_admin.checkpoints import CheckpointManager
cp = CheckpointManager("job", {"status": "running", "progress": 0}, 3600, directory=sys.argv[1])
cp.init()
cp.update({"progress": 12})
print("updated", flush=True)
"""


def test_autosave_timer_does_not_keep_the_interpreter_alive(checkpoints_dir: Path) -> None:
    # A hang check: with a live timer thread the child would wait an hour.
    result = run_job(EXIT_SCRIPT, checkpoints_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "updated\n"
    # The pending update was flushed when the interpreter exited.
    assert read_json(checkpoints_dir, "job")["progress"] == 12


# -- refusals leave the file and the document as they were -----------------------------------


def saved_job(
    checkpoints_dir: Path, autosave: float | None
) -> tuple[CheckpointManager, dict, bytes]:
    """A manager of "job" with one saved update; its document and the file's bytes then."""
    cp = CheckpointManager("job", SEED_INITIAL, autosave, directory=checkpoints_dir)
    cp.init()
    cp.update({"progress": 1})
    cp.save()
    return cp, cp.data, (checkpoints_dir / "job.json").read_bytes()


@pytest.mark.parametrize("autosave", [None, 3600], ids=["autosave-off", "autosave-on"])
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda cur: ["not", "a", "mapping"], "must give a mapping"),
        (lambda cur: None, "must give a mapping"),
        (lambda cur: {"progress": math.nan}, "NaN"),
        (lambda cur: {"progress": math.inf}, "Infinity"),
        (lambda cur: {1: "x"}, "not a string"),
        ({"progress": math.nan}, "NaN"),
        ({"nested": {"deep": [1, math.inf]}}, "Infinity"),
        ({2: "x"}, "not a string"),
        (["progress", 1], "must be a mapping or a function"),
        (7, "must be a mapping or a function"),
        # A naive datetime would be read back as UTC: times are strings the job chooses.
        ({"lastRun": datetime.datetime(2025, 3, 6, 10, 15)}, "/lastRun is a datetime"),
        (lambda cur: {"day": datetime.date(2025, 3, 6)}, "/day is a date, which is not JSON"),
    ],
    ids=[
        "list",
        "none",
        "nan",
        "inf",
        "int-key",
        "map-nan",
        "map-inf",
        "map-int-key",
        "list-arg",
        "int-arg",
        "datetime",
        "date",
    ],  # fmt: skip
)
def test_invalid_update_is_refused_and_nothing_changes(
    checkpoints_dir: Path, autosave: float | None, change: object, message: str
) -> None:
    cp, before, before_bytes = saved_job(checkpoints_dir, autosave)
    with pytest.raises(InvalidDocument) as excinfo:
        cp.update(change)  # type: ignore[arg-type]
    assert message in str(excinfo.value)
    assert excinfo.value.name == "job" or "job" in str(excinfo.value)
    assert cp.data == before
    assert not cp.dirty
    cp.close()
    assert (checkpoints_dir / "job.json").read_bytes() == before_bytes


@pytest.mark.parametrize("autosave", [None, 3600], ids=["autosave-off", "autosave-on"])
def test_a_raising_function_is_not_kept_even_after_changing_the_document(
    checkpoints_dir: Path, autosave: float | None
) -> None:
    cp, before, before_bytes = saved_job(checkpoints_dir, autosave)

    def bad(cur: dict) -> dict:
        cur["pendingItems"].append("half-done")
        cur["status"] = "broken"
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):
        cp.update(bad)
    assert cp.data == before
    cp.update(increment_progress)
    cp.close()
    data = read_json(checkpoints_dir, "job")
    assert data["progress"] == 2
    assert data["pendingItems"] == ["item1", "item2", "item3"]
    assert data["status"] == "pending"
    assert before_bytes != (checkpoints_dir / "job.json").read_bytes()


def test_a_refused_update_keeps_the_earlier_unsaved_ones(checkpoints_dir: Path) -> None:
    cp = CheckpointManager("counter", COUNTER_INITIAL, 3600, directory=checkpoints_dir)
    cp.init()
    cp.update(increment)
    cp.update(increment)
    with pytest.raises(InvalidDocument):
        cp.update(lambda cur: {"counter": cur["counter"] + math.nan})
    with pytest.raises(ZeroDivisionError):
        cp.update(lambda cur: {"counter": cur["counter"] / 0})
    assert cp.data["counter"] == 2
    assert cp.dirty
    assert read_json(checkpoints_dir, "counter")["counter"] == 0
    cp.close()
    assert read_json(checkpoints_dir, "counter")["counter"] == 2


def increment_progress(cur: dict) -> dict:
    return {"progress": cur["progress"] + 1}


def test_invalid_initial_document_and_arguments(checkpoints_dir: Path) -> None:
    with pytest.raises(InvalidDocument, match="NaN"):
        CheckpointManager("job", {"progress": math.nan}, directory=checkpoints_dir)
    with pytest.raises(InvalidDocument, match="mapping"):
        CheckpointManager("job", ["x"], directory=checkpoints_dir)  # type: ignore[arg-type]
    with pytest.raises(InvalidCheckpointName):
        CheckpointManager("../escape", SEED_INITIAL, directory=checkpoints_dir)
    for bad in (-1, math.nan, math.inf, "10", True):
        with pytest.raises(ValueError, match="autosave_seconds"):
            CheckpointManager("job", SEED_INITIAL, bad, directory=checkpoints_dir)  # type: ignore[arg-type]
    assert list(checkpoints_dir.iterdir()) == []


def test_init_on_a_corrupt_file_raises_and_leaves_it(checkpoints_dir: Path) -> None:
    path = checkpoints_dir / "job.json"
    path.write_bytes(b'{"status": "running",\n  "progress": }\n')
    cp = CheckpointManager("job", SEED_INITIAL, directory=checkpoints_dir)
    with pytest.raises(CorruptCheckpoint) as excinfo:
        cp.init()
    assert excinfo.value.line == 2
    assert path.read_bytes() == b'{"status": "running",\n  "progress": }\n'


WIDE = b'{"id": "job-1", "progress": 1, "n": 123456789012345678901234567890}\n'
WIDE_REFUSAL = (
    "checkpoint 'job' has the integer 123456789012345678901234567890 at /n, which does not fit "
    "in 64 bits: the job would read it as 1.2345678901234568e+29 and save that instead. Nothing "
    "was changed; correct the file first (the console's field editor, or edit_checkpoint)."
)


def test_init_on_a_file_with_an_integer_beyond_64_bits_raises_and_leaves_it(
    checkpoints_dir: Path,
) -> None:
    """Saving wrote 1.2345678901234568e+29 in its place, without a word."""
    path = checkpoints_dir / "job.json"
    path.write_bytes(WIDE)
    cp = CheckpointManager("job", SEED_INITIAL, directory=checkpoints_dir)
    with pytest.raises(InvalidDocument) as excinfo:
        cp.init()
    assert str(excinfo.value) == WIDE_REFUSAL
    assert path.read_bytes() == WIDE


@pytest.mark.parametrize(
    ("written", "refused", "said"),
    [
        (b"{not json", CorruptCheckpoint, None),
        # Saving wrote 1.2345678901234568e+29 over it, without a word.
        (WIDE, InvalidDocument, WIDE_REFUSAL),
    ],
    ids=["corrupt", "integer-beyond-64-bits"],
)
def test_a_file_the_manager_cannot_read_exactly_is_not_saved_over(
    checkpoints_dir: Path, store: CheckpointStore, written: bytes, refused: type, said: str | None
) -> None:
    cp = CheckpointManager("job", SEED_INITIAL, 3600, directory=checkpoints_dir)
    cp.init()
    cp.update({"progress": 10})
    path = checkpoints_dir / "job.json"
    path.write_bytes(written)
    with pytest.raises(refused) as excinfo:
        cp.save()
    if said is not None:
        assert str(excinfo.value) == said
    assert path.read_bytes() == written
    assert cp.dirty
    # Once someone repairs the file, the kept update lands on the repaired content.
    store.write("job", {"id": "repaired", "progress": 0})
    cp.save()
    data = store.read("job").data
    assert data["id"] == "repaired"
    assert data["progress"] == 10


@pytest.mark.parametrize("autosave", [None, 3600], ids=["autosave-off", "autosave-on"])
def test_lock_timeout_surfaces_and_nothing_is_written(
    checkpoints_dir: Path, autosave: float | None, filelock_holder
) -> None:
    cp = CheckpointManager(
        "job", SEED_INITIAL, autosave, directory=checkpoints_dir, lock_timeout=0.2
    )
    cp.init()
    before_bytes = (checkpoints_dir / "job.json").read_bytes()
    release = filelock_holder(checkpoints_dir / "job.json.lock")
    if autosave is None:
        with pytest.raises(CheckpointLockTimeout) as excinfo:
            cp.update({"progress": 5})
        assert cp.data["progress"] == 0  # not kept: the caller saw it fail
    else:
        cp.update({"progress": 5})
        with pytest.raises(CheckpointLockTimeout) as excinfo:
            cp.save()
        assert cp.dirty  # kept for the next save
        with pytest.raises(CheckpointLockTimeout):
            cp.close()  # stays open, so it can be retried
    assert "job" in str(excinfo.value)
    assert (checkpoints_dir / "job.json").read_bytes() == before_bytes
    release()
    cp.close()
    assert read_json(checkpoints_dir, "job")["progress"] == (0 if autosave is None else 5)
