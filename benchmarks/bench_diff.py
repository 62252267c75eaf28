"""Diff of two big checkpoint versions against the bare set-difference floor.

Scenarios (N items, 1,000,000 by default, 100,000 with ``--quick``):

- ``progress``: a unified checkpoint whose N dates are split between pendingDates and
  completedDates; in the new version a job completed 1% of them (moves) and 0.1% new dates
  were queued (additions).
- ``items``: one list of N item names, 0.5% removed and 0.5% added.
- ``bulk``: all pending dates (half of N) moved to completedDates at once.

The floor is what a bare comparison of the same lists costs: ``set(a) - set(b)`` and
``set(b) - set(a)`` for each list. ``diff`` must stay within 1.5× of it. The times of
``json_patch`` and of ``skip_dates`` (100 dates of the progress scenario's old version) are
reported against the same floor for information.

``audited skip``: the library work of one audited intervention skipping one date of the
progress scenario's old version (``validate`` of the result, ``diff``, ``json_patch`` given
the delta, the delta's summary), against reading the document (``orjson.loads``), for
information. Each run skips another date of a freshly read document.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Results, measure, parse_args, report  # noqa: E402
from checkpoints_admin.checkpoints.diff import diff, json_patch  # noqa: E402
from checkpoints_admin.checkpoints.interventions import skip_dates  # noqa: E402
from checkpoints_admin.checkpoints.kinds import validate  # noqa: E402

GOAL = 1.5


def _dates(count: int) -> list[str]:
    start = date(1800, 1, 1)
    return [(start + timedelta(days=n)).isoformat() for n in range(count)]


def _reparse(doc: dict[str, Any]) -> dict[str, Any]:
    """A document as a job's file gives it: fresh string objects, as after reading it."""
    return orjson.loads(orjson.dumps(doc))


def progress(n: int) -> tuple[dict[str, Any], dict[str, Any], list[tuple[list, list]]]:
    dates = _dates(n + n // 1000)
    half = n // 2
    old = {
        "lastProcessedDate": dates[half - 1],
        "pendingDates": dates[half:n],
        "completedDates": dates[:half],
        "startTime": 1709742856123,
        "lastUpdateTime": 1709743156789,
        "stats": {"totalRecords": n, "processedRecords": half},
    }
    done = n // 100
    new = {
        **old,
        "lastProcessedDate": dates[half + done - 1],
        "pendingDates": dates[half + done : n + n // 1000],
        "completedDates": dates[: half + done],
        "lastUpdateTime": 1709743256789,
        "stats": {"totalRecords": n, "processedRecords": half + done},
    }
    old, new = _reparse(old), _reparse(new)
    pairs = [
        (old["pendingDates"], new["pendingDates"]),
        (old["completedDates"], new["completedDates"]),
    ]
    return old, new, pairs


def items(n: int) -> tuple[dict[str, Any], dict[str, Any], list[tuple[list, list]]]:
    names = [f"item-{i:09d}" for i in range(n + n // 200)]
    old = {"id": "job", "status": "running", "progress": 10, "pendingItems": names[:n]}
    kept = [name for i, name in enumerate(names[:n]) if i % 200 != 7]
    new = {**old, "progress": 11, "pendingItems": kept + names[n:]}
    old, new = _reparse(old), _reparse(new)
    return old, new, [(old["pendingItems"], new["pendingItems"])]


def bulk(n: int) -> tuple[dict[str, Any], dict[str, Any], list[tuple[list, list]]]:
    dates = _dates(n)
    half = n // 2
    old = {"pendingDates": dates[half:], "completedDates": dates[:half], "lastUpdateTime": 1}
    new = {"pendingDates": [], "completedDates": dates, "lastUpdateTime": 2}
    old, new = _reparse(old), _reparse(new)
    pairs = [
        (old["pendingDates"], new["pendingDates"]),
        (old["completedDates"], new["completedDates"]),
    ]
    return old, new, pairs


def floor(pairs: list[tuple[list, list]]) -> None:
    for a, b in pairs:
        set(a) - set(b)
        set(b) - set(a)


def paired(
    baseline: Callable[[], object], fn: Callable[[], object], repeat: int
) -> tuple[float, float]:
    """Best times of the baseline and ``fn``, measured in alternation so that load from other
    processes hits both alike."""
    base = taken = float("inf")
    for _ in range(repeat):
        base = min(base, measure(baseline, 1))
        taken = min(taken, measure(fn, 1))
    return base, taken


def audited_skip(n: int, repeat: int) -> None:
    """One date skipped as an audited intervention checks it, against reading the file."""
    old, _, _ = progress(n)
    raw = orjson.dumps(old)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    runs = iter(range(1, 10 * repeat + 10))
    state: dict[str, Any] = {}

    def setup() -> None:
        before = orjson.loads(raw)
        pending = before["pendingDates"]
        state["before"] = before
        state["after"] = skip_dates(before, [pending[next(runs) * 7919 % len(pending)]])

    def work() -> None:
        before, after = state["before"], state["after"]
        validate(after, now=now, stale_after=3600.0)
        delta = diff(before, after)
        json_patch(before, after, delta=delta)
        delta.summary()

    taken = measure(work, repeat, setup=setup)
    base = measure(lambda: orjson.loads(raw), repeat)
    report(
        "audited skip: validate + diff + json_patch of a one-date skip vs orjson.loads",
        taken,
        base,
    )


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    n = 100_000 if args.quick else 1_000_000
    repeat = 9 if args.quick else 5
    results = Results("diff")
    print(f"diff of two versions, n = {n:,}", flush=True)
    for name, build in (("progress", progress), ("items", items), ("bulk", bulk)):
        old, new, pairs = build(n)
        base, taken = paired(
            lambda pairs=pairs: floor(pairs), lambda old=old, new=new: diff(old, new), repeat
        )
        passed = report(f"{name}: diff vs set-difference floor", taken, base, GOAL)
        results.add(f"{name} diff", passed)
        patch_time = measure(lambda old=old, new=new: json_patch(old, new), repeat)
        report(f"{name}: json_patch vs set-difference floor", patch_time, base)
        if name == "progress":
            pending = old["pendingDates"]
            chosen = pending[:: max(1, len(pending) // 100)][:100]
            skip_time = measure(lambda old=old, chosen=chosen: skip_dates(old, chosen), repeat)
            report(f"{name}: skip_dates of 100 vs set-difference floor", skip_time, base)
        delta = diff(old, new)
        print(f"  {name}: {delta.summary()}  ({len(json_patch(old, new)):,} patch ops)")
    audited_skip(n, repeat)
    results.summary()


if __name__ == "__main__":
    main()
