"""Benchmark of the checkpoint store: listing, reading and writing against bare baselines.

    .venv/bin/python benchmarks/bench_store.py [--quick]

- list() warm (every file cached) vs an os.scandir + stat loop (goal ≤ 1.5×);
- list() cold (a new store) vs reading and orjson-parsing every file (goal ≤ 1.2×), plus, for
  information, cold list() followed by every row's summary and findings;
- read() of a checkpoint with 1,000,000 dates vs a bare orjson.loads of its bytes;
- write() durable vs a bare tempfile + write + fsync + os.replace (for information: the store
  also fsyncs the directory, as durability needs), and vs the same plus the directory fsync
  (goal ≤ 1.25×, i.e. at least 0.8× the throughput).

The files are seed-shaped checkpoints (the three kinds, realistic sizes) last modified a minute
ago, as in a directory of running jobs; ``--quick`` uses 1,000 files and 100,000 dates.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import orjson

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Results, compare, measure, parse_args, report
from checkpoints_admin.checkpoints.store import CheckpointStore, encode_document


def _dates(start: date, count: int) -> list[str]:
    return [(start + timedelta(days=i)).isoformat() for i in range(count)]


def seed_documents(index: int) -> dict:
    """One of the seed's three shapes, varied by ``index``."""
    start = date(2025, 1, 1) + timedelta(days=index % 300)
    shape = index % 3
    if shape == 0:
        dates = _dates(start, 7)
        return {
            "lastProcessedDate": dates[4],
            "pendingDates": dates[5:],
            "completedDates": dates[:5],
            "startTime": 1709742856123 + index,
            "lastUpdateTime": 1709743156789 + index,
            "stats": {
                "totalRecords": 8564 + index,
                "processedRecords": 7231,
                "successfulRecords": 7189,
                "failedRecords": 42,
                "timeouts": 3,
            },
        }
    if shape == 1:
        dates = _dates(start, 2)
        return {
            "lastRun": "2025-03-06T10:15:23.456Z",
            "dates": dates,
            "processedDates": dates[:1],
            "lastProcessedDate": dates[0],
            "status": "running",
            "startTime": "2025-03-06T10:15:23.456Z",
            "endTime": None,
        }
    return {
        "id": f"job-{index}",
        "created": "2025-03-06T09:00:00.000Z",
        "lastUpdated": "2025-03-06T09:05:00.000Z",
        "status": "running",
        "progress": 33,
        "processedItems": ["item1"],
        "pendingItems": ["item2", "item3"],
    }


def make_directory(root: Path, count: int) -> Path:
    directory = root / f"list-{count}"
    directory.mkdir()
    minute_ago = time.time() - 60
    for index in range(count):
        path = directory / f"job-{index:05d}.json"
        path.write_bytes(encode_document(seed_documents(index)))
        os.utime(path, (minute_ago, minute_ago))
        (directory / f"job-{index:05d}.json.lock").touch()
    return directory


def scandir_stat(directory: Path) -> int:
    """The floor of a stat-only listing: stat every ``*.json`` entry."""
    count = 0
    for entry in os.scandir(directory):
        if entry.name.endswith(".json"):
            entry.stat()
            count += 1
    return count


def read_and_parse(directory: Path) -> int:
    count = 0
    for entry in os.scandir(directory):
        if entry.name.endswith(".json"):
            with open(entry.path, "rb") as file:
                orjson.loads(file.read())
            count += 1
    return count


def bench_list(root: Path, count: int, results: Results, repeat: int) -> None:
    directory = make_directory(root, count)
    store = CheckpointStore(directory)
    assert len(store.list()) == count
    warm, floor = compare(store.list, lambda: scandir_stat(directory), 2 * repeat)
    results.add(
        "list warm", report(f"list() warm, {count:,} files vs scandir+stat", warm, floor, 1.5)
    )

    def cold() -> None:
        CheckpointStore(directory).list()

    def cold_all() -> None:
        for info in CheckpointStore(directory).list():
            info.summary  # noqa: B018 - computed on first access
            info.findings  # noqa: B018

    cold_time, parse_time = compare(cold, lambda: read_and_parse(directory), repeat)
    results.add(
        "list cold",
        report(f"list() cold, {count:,} files vs read+orjson.loads", cold_time, parse_time, 1.2),
    )
    report(
        "list() cold + every summary and findings vs read+orjson.loads",
        measure(cold_all, 3),
        parse_time,
    )


def bench_read(root: Path, dates: int, results: Results, repeat: int) -> None:
    directory = root / "read"
    store = CheckpointStore(directory)
    all_dates = _dates(date(1000, 1, 1), dates)
    store.write(
        "big",
        {
            "lastProcessedDate": all_dates[dates // 2],
            "pendingDates": all_dates[dates // 2 + 1 :],
            "completedDates": all_dates[: dates // 2 + 1],
            "startTime": 1709742856123,
            "lastUpdateTime": 1709743156789,
            "stats": {"totalRecords": 0, "processedRecords": 0},
        },
    )
    raw = (directory / "big.json").read_bytes()
    document = orjson.loads(raw)
    document["endTime"] = None  # a null makes encode_document look for NaN/Infinity
    encode_time, dumps_time = compare(
        lambda: encode_document(document),
        lambda: orjson.dumps(document, option=orjson.OPT_INDENT_2),
        7,
    )
    report(f"encode_document() of {dates:,} dates vs orjson.dumps", encode_time, dumps_time)
    read_time, loads_time = compare(lambda: store.read("big"), lambda: orjson.loads(raw), repeat)
    results.add(
        "read",
        report(
            f"read() of {dates:,} dates ({len(raw) / 1e6:.1f} MB) vs orjson.loads",
            read_time,
            loads_time,
            1.5,
        ),
    )


def bench_write(root: Path, results: Results) -> None:
    directory = root / "write"
    store = CheckpointStore(directory)
    document = seed_documents(0)
    store.write("w", document)
    target = str(directory / "bare.json")
    lock_path = str(directory / "bare.json.lock")

    def bare(*, sync_directory: bool = False, flock: bool = False) -> None:
        lock_fd = -1
        if flock:
            lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
        raw = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(fd, "wb") as file:
            file.write(raw)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, target)
        if sync_directory:
            dir_fd = os.open(directory, os.O_RDONLY)
            os.fsync(dir_fd)
            os.close(dir_fd)
        if flock:
            os.close(lock_fd)  # closing releases the flock

    def lock_cycle() -> None:
        with store.lock("w"):
            pass

    # fsync times on shared disks jump around: interleave them all and compare medians.
    steps = {
        "store": lambda: store.write("w", document),
        "bare": lambda: bare(),
        "durable": lambda: bare(sync_directory=True),
        "protocol": lambda: bare(sync_directory=True, flock=True),
        "lock": lock_cycle,
    }
    timings: dict[str, list[float]] = {label: [] for label in steps}
    for _ in range(60):
        for label, step in steps.items():
            start = time.perf_counter()
            step()
            timings[label].append(time.perf_counter() - start)
    median = {label: statistics.median(values) for label, values in timings.items()}
    report("write() durable vs tempfile+write+fsync+replace", median["store"], median["bare"])
    report("write() durable vs the same + directory fsync", median["store"], median["durable"])
    results.add(
        "write",
        report(
            "write() vs the same protocol by hand (flock, temp file, fsyncs, replace)",
            median["store"],
            median["protocol"],
            1.25,
        ),
    )
    print(f"  (of which the lock's acquire and release: {median['lock'] * 1e6:.0f} µs)")


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    files = 1_000 if args.quick else 10_000
    dates = 100_000 if args.quick else 1_000_000
    repeat = 15 if args.quick else 7  # small sizes: more rounds against a busy machine
    results = Results("store")
    root = Path(tempfile.mkdtemp(prefix="bench-store-"))
    try:
        bench_list(root, files, results, repeat)
        bench_read(root, dates, results, repeat)
        bench_write(root, results)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    results.summary()


if __name__ == "__main__":
    main()
