"""The checkpoint lock: ``flock`` on ``N.json.lock``, the lock ``filelock.FileLock`` takes.

Real processes and real lock files: a job locking with filelock and the store exclude each
other both ways; a lock file unlinked by its holder is not locked in vain; the filelock path
(where ``fcntl`` is missing) takes the same lock.
"""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from checkpoints_admin.checkpoints import CheckpointLockTimeout, CheckpointStore, locks

ROOT = Path(__file__).resolve().parents[2]

FILELOCK_TRIES = """
import sys
from filelock import FileLock, Timeout
try:
    with FileLock(sys.argv[1], timeout=0.2):
        print("acquired")
except Timeout:
    print("timed out")
"""


def filelock_in_a_process(lock_path: Path) -> str:
    """What ``filelock.FileLock(lock_path, timeout=0.2)`` gets in another process."""
    result = subprocess.run(
        [sys.executable, "-c", FILELOCK_TRIES, str(lock_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_a_job_locking_with_filelock_waits_while_the_store_holds_the_lock(tmp_path: Path):
    store = CheckpointStore(tmp_path)
    with store.lock("job"):
        assert filelock_in_a_process(tmp_path / "job.json.lock") == "timed out"
    assert filelock_in_a_process(tmp_path / "job.json.lock") == "acquired"


def test_the_store_waits_while_a_job_holds_the_lock_with_filelock(tmp_path: Path, filelock_holder):
    store = CheckpointStore(tmp_path, lock_timeout=0.1)
    release = filelock_holder(tmp_path / "job.json.lock")
    with pytest.raises(CheckpointLockTimeout), store.lock("job"):
        pass
    # A wait without a limit ends when the job lets go.
    told = threading.Event()
    letting_go = threading.Timer(0.1, lambda: (told.set(), release()))
    letting_go.start()
    with store.lock("job", timeout=-1):
        assert told.is_set()
        store.write("job", {"n": 1})
    letting_go.join()
    assert store.read("job").data == {"n": 1}


def test_a_lock_file_unlinked_by_its_holder_is_not_locked_in_vain(tmp_path: Path):
    """A holder that deletes its lock file on release: the waiter, which opened the old file,
    gets its flock on a file no longer at the path, and must lock the one there now."""
    path = tmp_path / "job.json.lock"
    first = locks.acquire_flock(str(path), 1)
    acquired: list[locks.HeldLock] = []
    waiter = threading.Thread(target=lambda: acquired.append(locks.acquire_flock(str(path), 60)))
    waiter.start()
    try:
        for _ in range(6000):  # until the waiter has the old file open
            if _opened_by_another(path):
                break
            time.sleep(0.01)
        else:
            pytest.fail("the waiter did not open the lock file")
        os.unlink(path)
        newer = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(newer, fcntl.LOCK_EX)  # another process's lock on the new file
        first.release()
        waiter.join(0.3)
        assert waiter.is_alive(), "the waiter took a lock on the unlinked file"
        fcntl.flock(newer, fcntl.LOCK_UN)
        waiter.join(60)
        assert len(acquired) == 1
        # It holds the file now at the path: another try there is refused.
        with pytest.raises(locks.LockTimeout):
            locks.acquire_flock(str(path), 0)
        acquired[0].release()
        os.close(newer)
    finally:
        waiter.join(60)


def _opened_by_another(path: Path) -> bool:
    """Whether a descriptor of this process other than the main thread's has ``path`` open."""
    target = os.stat(path)
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            st = os.stat(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        count += (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino)
    return count >= 2  # the first holder's and the waiter's


@pytest.mark.parametrize("acquire", [locks.acquire_flock, locks.acquire_filelock])
def test_each_way_of_locking_excludes_the_other_and_times_out(tmp_path: Path, acquire):
    path = str(tmp_path / "job.json.lock")
    other = locks.acquire_filelock if acquire is locks.acquire_flock else locks.acquire_flock
    held = acquire(path, 1)
    failed: list[BaseException] = []

    def try_other() -> None:  # (filelock's lock is per thread: try it from another one)
        try:
            other(path, 0.05).release()
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=try_other)
    thread.start()
    thread.join(60)
    assert len(failed) == 1 and isinstance(failed[0], locks.LockTimeout)
    held.release()
    other(path, 1).release()


@pytest.mark.parametrize("acquire", [locks.acquire_flock, locks.acquire_filelock])
def test_a_symbolic_link_in_place_of_the_lock_file_is_refused(tmp_path: Path, acquire):
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    (tmp_path / "job.json.lock").symlink_to(victim)
    with pytest.raises(OSError) as excinfo:
        acquire(str(tmp_path / "job.json.lock"), 1)
    assert excinfo.value.errno == errno.ELOOP
    assert victim.read_bytes() == b"keep"


def test_a_released_lock_releases_once(tmp_path: Path):
    path = str(tmp_path / "job.json.lock")
    held = locks.acquire_flock(path, 1)
    held.release()
    again = locks.acquire_flock(path, 0)
    held.release()  # (a second release of the first must not unlock the second)
    with pytest.raises(locks.LockTimeout):
        locks.acquire_flock(path, 0)
    again.release()
