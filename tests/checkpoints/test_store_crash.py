"""The store under real processes: lock holders, killed writers, failing writes, racing writers."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from checkpoints_admin.checkpoints import (
    CheckpointLockTimeout,
    CheckpointStore,
    VersionConflict,
)
from checkpoints_admin.checkpoints.store import encode_document, version_of

ROOT = Path(__file__).resolve().parents[2]
SPAWN = multiprocessing.get_context("spawn")


def run_python(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# -- a second process holding the lock ---------------------------------------------------------


def _hold_lock(directory: str, name: str, held, release) -> None:  # runs in a child process
    store = CheckpointStore(directory)
    with store.lock(name):
        held.set()
        release.wait(120)


@pytest.fixture
def lock_holder(checkpoints_dir):
    """Start a process that holds the lock of checkpoint 'job'; release it on exit."""
    held, release = SPAWN.Event(), SPAWN.Event()
    process = SPAWN.Process(target=_hold_lock, args=(str(checkpoints_dir), "job", held, release))
    process.start()
    try:
        assert held.wait(60), "the lock holder did not start"
        yield release
    finally:
        release.set()
        process.join(60)


def test_lock_held_by_another_process_times_out_naming_the_checkpoint(checkpoints_dir, request):
    store = CheckpointStore(checkpoints_dir, lock_timeout=0.2)
    version = store.write("job", {"n": 1})
    before = (checkpoints_dir / "job.json").read_bytes()
    release = request.getfixturevalue("lock_holder")

    with pytest.raises(CheckpointLockTimeout) as excinfo, store.lock("job", timeout=0.1):
        pass
    assert str(excinfo.value) == "checkpoint 'job' is locked by another process (waited 0.1s)"
    assert excinfo.value.name == "job"

    for attempt in (
        lambda: store.write("job", {"n": 2}, expected_version=version),
        lambda: store.write_raw("job", b'{"n": 3}\n'),
        lambda: store.delete("job"),
    ):
        with pytest.raises(CheckpointLockTimeout) as excinfo:
            attempt()
        assert str(excinfo.value) == ("checkpoint 'job' is locked by another process (waited 0.2s)")
    assert (checkpoints_dir / "job.json").read_bytes() == before
    assert store.read("job").data == {"n": 1}  # readers need no lock
    with store.lock("other", timeout=0.1):  # other checkpoints are not blocked
        pass

    release.set()
    with store.lock("job", timeout=30):
        assert store.write("job", {"n": 4}, expected_version=version)
    assert store.read("job").data == {"n": 4}


FORKED = r"""
import os, sys
from checkpoints_admin.checkpoints import CheckpointStore

store = CheckpointStore(sys.argv[1], lock_timeout=5)
store.write("job", {"by": "parent"})
pid = os.fork()
if pid == 0:
    with store.lock("job"):
        store.write("job", {"by": "child"})
    os._exit(0)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status), store.read("job").data["by"])
"""


def test_a_forked_child_can_use_its_parents_store(checkpoints_dir):
    result = run_python(FORKED, str(checkpoints_dir))

    assert result.returncode == 0, result.stderr
    assert result.stdout == "0 child\n"


# -- writers killed mid-write ------------------------------------------------------------------

# A single-threaded spawner forks one writer per "go" line (cheaper than starting Python each
# round), prints its pid, and reaps it once the test has killed it.
SPAWNER = r"""
import os, sys
from checkpoints_admin.checkpoints.store import CheckpointStore

def document(i):
    return {"round": i, "items": [f"item-{i}-{n:06d}" for n in range(30000)], "done": i % 2 == 0}

if __name__ == "__main__":
    docs = [document(i) for i in range(3)]
    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            store = CheckpointStore(sys.argv[1])
            i = 0
            while True:
                store.write("big", docs[i % 3])
                i += 1
        print(pid, flush=True)
        os.waitpid(pid, 0)
        print("reaped", flush=True)
"""


def _writer_documents() -> list[dict]:
    namespace: dict = {}
    exec(SPAWNER.replace('if __name__ == "__main__":', "if False:"), namespace)
    return [namespace["document"](i) for i in range(3)]


@pytest.mark.slow
def test_sigkilled_writers_never_leave_a_torn_file(checkpoints_dir):
    store = CheckpointStore(checkpoints_dir)
    initial = {"round": -1, "items": [], "done": False}
    store.write("big", initial)
    allowed = {version_of(encode_document(doc)) for doc in [initial, *_writer_documents()]}
    seen: set[str] = set()
    problems: list[str] = []
    stop = threading.Event()

    def poll() -> None:
        reader = CheckpointStore(checkpoints_dir)
        while not stop.is_set():
            try:
                checkpoint = reader.read("big")
            except Exception as exc:  # any error is a torn or missing file
                problems.append(f"{type(exc).__name__}: {exc}")
                continue
            if checkpoint.version not in allowed:
                problems.append(f"unexpected content, version {checkpoint.version}")
            seen.add(checkpoint.version)

    spawner = subprocess.Popen(
        [sys.executable, "-c", SPAWNER, str(checkpoints_dir)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert spawner.stdin is not None and spawner.stdout is not None
    reader_thread = threading.Thread(target=poll)
    reader_thread.start()
    rng = random.Random()
    try:
        for _ in range(30):
            spawner.stdin.write("go\n")
            spawner.stdin.flush()
            pid = int(spawner.stdout.readline())
            threading.Event().wait(rng.uniform(0.005, 0.06))  # a random moment mid-write
            os.kill(pid, signal.SIGKILL)
            assert spawner.stdout.readline() == "reaped\n"
    finally:
        stop.set()
        reader_thread.join(60)
        spawner.stdin.close()
        spawner.wait(30)
        spawner.stdout.close()

    assert problems == []
    assert len(seen) >= 2  # the reader saw the writers' documents, not only the initial one
    final = store.read("big")
    assert final.version in allowed
    leftovers = sorted(p.name for p in checkpoints_dir.iterdir() if p.name.endswith(".tmp"))
    assert leftovers, "no writer was killed mid-write"
    assert all(name.startswith(".big.json.") for name in leftovers)
    assert sorted(p.name for p in store.sweep_temp_files(older_than=0)) == leftovers
    assert sorted(os.listdir(checkpoints_dir)) == ["big.json", "big.json.lock"]
    # Every killed holder released the lock: it can be taken at once.
    with store.lock("big", timeout=5):
        pass


# -- a write that really fails -----------------------------------------------------------------

FAILING_WRITE = r"""
import json, resource, signal, sys
from checkpoints_admin.checkpoints import CheckpointStore, CheckpointWriteError

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # let write() fail with EFBIG instead
store = CheckpointStore(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
try:
    store.write(sys.argv[2], {"items": ["x" * 100] * 5000})
except CheckpointWriteError as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc), "name": exc.name}))
else:
    print(json.dumps({"error": None}))
"""


def test_write_beyond_the_file_size_limit_fails_cleanly(checkpoints_dir):
    store = CheckpointStore(checkpoints_dir)
    store.write("job", {"items": ["a", "b"], "status": "running"})
    os.chmod(checkpoints_dir / "job.json", 0o640)
    before = (checkpoints_dir / "job.json").read_bytes()

    result = run_python(FAILING_WRITE, str(checkpoints_dir), "job")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "error": "CheckpointWriteError",
        "message": "could not write checkpoint 'job': the file is larger than the file size "
        "limit; the previous file is unchanged",
        "name": "job",
    }
    assert (checkpoints_dir / "job.json").read_bytes() == before
    assert oct(os.stat(checkpoints_dir / "job.json").st_mode & 0o777) == oct(0o640)
    assert sorted(os.listdir(checkpoints_dir)) == ["job.json", "job.json.lock"]


def test_failed_creation_leaves_nothing_behind(checkpoints_dir):
    result = run_python(FAILING_WRITE, str(checkpoints_dir), "new")

    assert result.returncode == 0, result.stderr
    failure = json.loads(result.stdout)
    assert failure["error"] == "CheckpointWriteError"
    assert failure["message"] == (
        "could not write checkpoint 'new': the file is larger than the file size limit; "
        "no file was created"
    )
    assert sorted(os.listdir(checkpoints_dir)) == ["new.json.lock"]


# -- writers racing on one checkpoint ----------------------------------------------------------


def _bump(directory: str, count: int, conflicts) -> None:  # runs in a child process
    store = CheckpointStore(directory, lock_timeout=60)
    done = 0
    while done < count:
        current = store.read("counter")
        try:
            store.write("counter", {"n": current.data["n"] + 1}, expected_version=current.version)
        except VersionConflict:
            with conflicts.get_lock():
                conflicts.value += 1
            continue
        done += 1


@pytest.mark.slow
def test_compare_and_swap_across_processes_loses_no_update(checkpoints_dir):
    store = CheckpointStore(checkpoints_dir)
    store.write("counter", {"n": 0})
    conflicts = SPAWN.Value("i", 0)
    processes = [
        SPAWN.Process(target=_bump, args=(str(checkpoints_dir), 25, conflicts)) for _ in range(3)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)

    assert [process.exitcode for process in processes] == [0, 0, 0]
    assert store.read("counter").data == {"n": 75}
    assert sorted(os.listdir(checkpoints_dir)) == ["counter.json", "counter.json.lock"]
