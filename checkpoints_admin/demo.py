"""A small batch job that keeps its checkpoint through the library, for trying the console.

    python -m checkpoints_admin.demo --name demo-job --items 200 --delay 2

It processes made-up items one by one, saving progress through ``CheckpointManager``; killed and
started again, it resumes where its checkpoint says. Skip or reprocess its items in the console
while it runs: the job keeps the operator's change and carries on from there.
"""

from __future__ import annotations

import argparse
import logging
import math
import signal
import time
from collections.abc import Sequence
from types import FrameType

from checkpoints_admin.checkpoints import CheckpointError, CheckpointManager, CheckpointStore

log = logging.getLogger("checkpoints_admin.demo")


def run(name: str, items: int, delay: float, *, directory: str | None = None) -> dict:
    """Process ``items`` items, ``delay`` seconds each, and return the final checkpoint."""
    initial = {
        "id": f"{name}-1",
        "status": "pending",
        "progress": 0,
        "processedItems": [],
        "pendingItems": [f"item-{number:05d}" for number in range(1, items + 1)],
    }
    with CheckpointManager(name, initial, autosave_seconds=5, directory=directory) as checkpoint:
        data = checkpoint.init()
        log.info("starting with %d items pending", len(data["pendingItems"]))
        checkpoint.update({"status": "running"})
        while True:
            pending = checkpoint.data["pendingItems"]
            if not pending:
                break
            item = pending[0]
            time.sleep(delay)  # the real work would happen here

            def mark_done(current: dict, item: str = item) -> dict:
                # Re-evaluated on the file's current content when an operator changed it.
                if item not in current["pendingItems"]:
                    return {}
                done = len(current["processedItems"]) + 1
                total = done + len(current["pendingItems"]) - 1
                return {
                    "pendingItems": [i for i in current["pendingItems"] if i != item],
                    "processedItems": [*current["processedItems"], item],
                    "progress": round(100 * done / total, 2) if total else 100,
                }

            checkpoint.update(mark_done)
        checkpoint.complete(True)
        return checkpoint.data


def _items(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number is needed, not {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"at least 1 item is needed, not {count}")
    return count


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number of seconds is needed, not {text!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise argparse.ArgumentTypeError(f"0 seconds or more are needed, not {text!r}")
    return seconds


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m checkpoints_admin.demo", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--name", default="demo-job", help="checkpoint name (default demo-job)")
    parser.add_argument("--items", type=_items, default=200, help="items to process (default 200)")
    parser.add_argument("--delay", type=_seconds, default=2.0, help="seconds per item (default 2)")
    parser.add_argument("--directory", help="checkpoints directory (default: $CHECKPOINTS_DIR)")
    parser.add_argument("--forever", action="store_true", help="start over after each run")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)  # leaves the `with` block, which saves the progress

    signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            run(options.name, options.items, options.delay, directory=options.directory)
            log.info("%s completed", options.name)
            if not options.forever:
                return
            time.sleep(max(options.delay, 1) * 10)
            CheckpointStore(options.directory).delete(options.name)  # the seed's "start over"
            log.info("starting %s again", options.name)
    except CheckpointError as exc:  # a bad name, a directory it cannot write, a lock timeout
        parser.exit(1, f"{parser.prog}: error: {exc}\n")


if __name__ == "__main__":
    main()
