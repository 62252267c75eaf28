"""The seed's sample checkpoints as documents, fresh for each test, and a store in a tmp dir."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from checkpoints_admin.checkpoints import CheckpointStore
from tests.conftest import SAMPLES


def load_sample(name: str) -> dict:
    """The sample checkpoint ``name`` (a file of checkpoints_admin/samples) as a document."""
    return orjson.loads((SAMPLES / f"{name}.json").read_bytes())


@pytest.fixture
def unified() -> dict:
    return load_sample("reconciliation_checkpoint")


@pytest.fixture
def daily() -> dict:
    return load_sample("daily_reconciliation_checkpoint")


@pytest.fixture
def managed() -> dict:
    return load_sample("my-process")


@pytest.fixture
def store(checkpoints_dir: Path) -> CheckpointStore:
    """A store over the test's empty checkpoints directory (test_manager has its own)."""
    return CheckpointStore(checkpoints_dir, lock_timeout=5)


HOLD_WITH_FILELOCK = """
import sys
from filelock import FileLock
with FileLock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.readline()
"""


@pytest.fixture
def filelock_holder() -> Iterator[Callable[[Path], Callable[[], None]]]:
    """Hold a lock file with ``filelock.FileLock`` in another process, as a job locking its
    checkpoint with filelock does: ``release = hold(path)`` returns once it is held, and
    ``release()`` lets go (the end of the test does in any case)."""
    holders: list[subprocess.Popen[str]] = []

    def hold(lock_path: Path) -> Callable[[], None]:
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_WITH_FILELOCK, str(lock_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        holders.append(holder)
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"

        def release() -> None:
            assert holder.stdin is not None
            if not holder.stdin.closed:
                holder.stdin.write("\n")
                holder.stdin.close()
            holder.wait(30)

        return release

    yield hold
    for holder in holders:
        holder.kill()
        holder.wait(60)
        for pipe in (holder.stdin, holder.stdout):
            if pipe is not None:
                pipe.close()
