"""CheckpointManager.update() with auto-save off (each update durable) vs a bare write loop.

Each ``update()`` takes the checkpoint's lock, checks the file is still the one it wrote, applies
the update, encodes the document and writes it durably (temp file, fsync, replace, directory
fsync). The baseline is the least any durable writer does: take a ``filelock`` lock, write the
same bytes to a temp file, fsync, ``os.replace``. Goal: the manager keeps >= 0.8x the baseline's
throughput. Also shown: the same loop locking with a bare ``flock`` (the lock filelock takes,
and the store takes it directly) instead of filelock's machinery. All run in the same
directory, interleaved, best round of each.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import tempfile
from pathlib import Path

from filelock import FileLock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Results, measure, parse_args  # noqa: E402
from checkpoints_admin.checkpoints import CheckpointManager, CheckpointStore  # noqa: E402
from checkpoints_admin.checkpoints.store import encode_document  # noqa: E402

GOAL = 0.8


def document(items: int) -> dict:
    return {
        "id": "bench-1",
        "created": "2025-03-06T09:00:00.000Z",
        "lastUpdated": "2025-03-06T09:00:00.000Z",
        "status": "running",
        "progress": 0,
        "counter": 0,
        "processedItems": [f"item-{i:07d}" for i in range(items // 2)],
        "pendingItems": [f"item-{i:07d}" for i in range(items // 2, items)],
    }


def increment(current: dict) -> dict:
    return {"counter": current["counter"] + 1}


class _Flock:
    """A bare ``flock`` on ``path`` for each hold: open, lock, and closing releases it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> None:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def bare_loop(
    directory: Path,
    raw: bytes,
    count: int,
    *,
    directory_fsync: bool = False,
    flock: bool = False,
) -> None:
    """Lock (with filelock, or a bare ``flock``), write the bytes to a temp file, fsync,
    replace (then fsync the directory when asked, as the file protocol does): ``count``
    times."""
    path = directory / "bare.json"
    lock = _Flock(f"{path}.lock") if flock else FileLock(f"{path}.lock")
    for _ in range(count):
        with lock:
            fd, temp = tempfile.mkstemp(dir=directory, prefix=".bare.", suffix=".tmp")
            try:
                os.write(fd, raw)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, path)
            if directory_fsync:
                dir_fd = os.open(directory, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)


def _size_text(size: int) -> str:
    return f"{size / 1024:.1f} KiB" if size < 1024 * 1024 else f"{size / 1024**2:.1f} MiB"


def bench(results: Results, directory: Path, items: int, count: int, rounds: int) -> None:
    doc = document(items)
    raw = encode_document(doc)
    store = CheckpointStore(directory)
    manager = CheckpointManager(f"managed-{items}", doc, None, store=store)
    manager.init()

    def managed() -> None:
        for _ in range(count):
            manager.update(increment)

    def store_writes() -> None:
        for _ in range(count):
            store.write(f"store-{items}", doc)

    runs = {
        "bare": lambda: bare_loop(directory, raw, count),
        "bare+dir": lambda: bare_loop(directory, raw, count, directory_fsync=True),
        "flock+dir": lambda: bare_loop(directory, raw, count, directory_fsync=True, flock=True),
        "store": store_writes,
        "manager": managed,
    }
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):  # interleaved: the disk's speed drifts during a run
        for label, run in runs.items():
            best[label] = min(best[label], measure(run, 1))
    manager.close()

    rate = {label: count / seconds for label, seconds in best.items()}
    ratio = rate["manager"] / rate["bare"]
    passed = ratio >= GOAL
    size_text = _size_text(len(raw))
    print(
        f"update() durable, {size_text} document ({items} items): "
        f"{rate['manager']:,.0f} updates/s vs bare lock+write+fsync+replace "
        f"{rate['bare']:,.0f}/s = {ratio:.2f}× (goal ≥ {GOAL:g}×) {'PASS' if passed else 'MISS'}",
        flush=True,
    )
    print(
        f"  vs the bare loop + directory fsync (the protocol's durability) "
        f"{rate['bare+dir']:,.0f}/s = {rate['manager'] / rate['bare+dir']:.2f}× (INFO)",
        flush=True,
    )
    print(
        f"  vs that loop locking with a bare flock {rate['flock+dir']:,.0f}/s "
        f"= {rate['manager'] / rate['flock+dir']:.2f}× (INFO)",
        flush=True,
    )
    print(
        f"  vs CheckpointStore.write() of the same document {rate['store']:,.0f}/s "
        f"= {rate['manager'] / rate['store']:.2f}× (INFO: what the manager adds)",
        flush=True,
    )
    results.add(f"update() {size_text}", passed)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    sizes = (
        [(5, 100, 3), (10_000, 40, 3)]
        if args.quick
        else [
            (5, 400, 5),
            (10_000, 200, 5),
            (200_000, 30, 3),
        ]
    )
    results = Results("manager")
    directory = Path(tempfile.mkdtemp(prefix="bench-manager-", dir=os.getcwd()))
    try:
        for items, count, rounds in sizes:
            bench(results, directory, items, count, rounds)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    results.summary()


if __name__ == "__main__":
    main()
