"""``checkpoint_status``: where every checkpoint stands, as a table or JSON."""

from __future__ import annotations

import signal
import sys
import threading
import time
from argparse import ArgumentTypeError
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import CommandParser

from checkpoints_admin.audit import latest_entry
from checkpoints_admin.checkpoints import CheckpointInfo
from checkpoints_admin.checkpoints.kinds import count_findings, findings_as_of
from checkpoints_admin.conf import get_settings, get_store
from checkpoints_admin.management.cli import (
    CheckpointsCommand,
    duration,
    iso,
    not_found,
    printable,
    rate_text,
    relative,
    unlisted_note,
)
from checkpoints_admin.presenters import empty_directory_warning

HEADER = ("NAME", "KIND", "STATE", "PROGRESS", "DONE/PENDING", "RATE", "ETA", "UPDATED", "FINDINGS")
RIGHT = frozenset({3, 4, 5, 6})
CLEAR_SCREEN = "\x1b[H\x1b[2J"


@contextmanager
def _interruptible() -> Iterator[threading.Event]:
    """Ctrl-C ends a watch: the event is set and the loop stops, quietly.

    Set as well as raised: Python drops an exception raised while a finalizer runs (it only
    prints "Exception ignored"), and a Ctrl-C landing there would leave the watch running.
    """
    interrupted = threading.Event()

    def interrupt(signum: int, frame: object) -> None:
        interrupted.set()
        raise KeyboardInterrupt

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, interrupt)
    try:
        with suppress(KeyboardInterrupt):
            yield interrupted
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def positive_seconds(value: str) -> float:
    """An argparse type: a number of seconds greater than zero."""
    try:
        seconds = float(value)
    except ValueError:
        raise ArgumentTypeError(f"expected a number of seconds, not {value!r}") from None
    if not 0 < seconds <= WATCH_MAX_SECONDS:
        raise ArgumentTypeError(
            f"expected a number of seconds greater than 0 and at most {WATCH_MAX_SECONDS:,} "
            f"(a day), not {value!r}"
        )
    return seconds


WATCH_MAX_SECONDS = 86400


class Command(CheckpointsCommand):
    help = (
        "Show the status of checkpoints: kind, state, progress, done/pending, rate, ETA, last "
        "update and findings (E errors / W warnings). Corrupt files show their error. "
        "Exit 1 when a named checkpoint does not exist."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*", metavar="NAME", help="Checkpoints (default: all).")
        parser.add_argument(
            "--json",
            action="store_true",
            help="A JSON list instead of the table (one compact list per line with --watch).",
        )
        parser.add_argument(
            "--watch",
            type=positive_seconds,
            metavar="SECONDS",
            help="Redraw every SECONDS until Ctrl-C.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        names: list[str] = options["names"]
        store = get_store()
        for name in names:
            store.validate_name(name)
        infos, missing = self.entries(names)
        if missing:  # a name that is not there is refused before any output
            for name in missing:
                store.exists(name)  # a refused symbolic link says so, not "no checkpoint"
            raise not_found(missing)
        if options["watch"] is None:
            self.render(infos, as_json=options["json"], compact=False, named=bool(names))
            return
        clear = not options["json"] and sys.stdout.isatty()
        with _interruptible() as interrupted:
            while not interrupted.is_set():
                if clear:
                    self.stdout.write(CLEAR_SCREEN, ending="")
                self.render(infos, as_json=options["json"], compact=True, named=bool(names))
                if missing and not options["json"]:
                    # Reset, or not yet written again by its job: watched until it is back.
                    self.stdout.write(f"No file now: {', '.join(missing)}")
                if not options["json"]:
                    self.stdout.write("")
                self.stdout.flush()
                time.sleep(options["watch"])
                infos, missing = self.entries(names)

    def entries(self, names: list[str]) -> tuple[list[CheckpointInfo], list[str]]:
        """The infos to show (all, or the named ones in the order given) and the named ones
        that have no file."""
        infos = get_store().list()
        if not names:
            return infos, []
        by_name = {info.name: info for info in infos}
        missing = [name for name in names if name not in by_name]
        return [by_name[name] for name in names if name in by_name], missing

    def render(
        self, infos: list[CheckpointInfo], *, as_json: bool, compact: bool, named: bool = False
    ) -> None:
        """The table (or JSON) of ``infos``; ``named``: the user named the checkpoints, so an
        empty table says nothing about the directory (the caller says which have no file)."""
        now = datetime.now(UTC)
        stale_after = get_settings().stale_after_seconds
        rows = [status_row(info, now=now, stale_after=stale_after) for info in infos]
        if as_json:
            self.write_json(rows, compact=compact)
            return
        if rows:
            self.stdout.write("\n".join(format_table(rows, now=now)))
        elif not named:
            self.say(f"No checkpoints in {get_store().directory}.")
        if named:
            return
        note = unlisted_note(get_store())
        if note is None and not rows:
            # Nothing at all in it: the audit log may say it is the wrong directory.
            latest = latest_entry()
            note = empty_directory_warning(str(get_store().directory), latest, detailed=True)
        if note is not None:
            self.say(note, style=self.style.WARNING)


def status_row(info: CheckpointInfo, *, now: datetime, stale_after: float) -> dict[str, Any]:
    """One checkpoint's status as a JSON-ready dict (the ``--json`` schema)."""
    modified = iso(datetime.fromtimestamp(info.modified, UTC))
    row: dict[str, Any] = {
        "name": info.name,
        "kind": info.kind,
        "state": "corrupt",
        "progress": None,
        "done": None,
        "pending": None,
        "total": None,
        "unit": None,
        "rate": None,
        "rate_unit": None,
        "eta": None,
        "eta_seconds": None,
        "started": None,
        "last_update": modified,
        "errors": 1 if info.corrupt else 0,
        "warnings": 0,
        "error": info.error,
        "version": info.version,
        "size": info.size,
        "modified": modified,
    }
    summary = info.summary
    if info.corrupt or summary is None:
        return row
    findings = findings_as_of(info.findings, summary, now=now, stale_after=stale_after)
    errors, warnings = count_findings(findings)
    row.update(
        state=summary.state(now=now, stale_after=stale_after),
        progress=summary.progress,
        done=summary.done,
        pending=summary.pending,
        total=summary.total,
        unit=summary.unit,
        rate=summary.rate,
        rate_unit=summary.rate_unit or summary.unit,
        started=iso(summary.started),
        errors=errors,
        warnings=warnings,
    )
    if summary.last_update is not None:
        row["last_update"] = iso(summary.last_update)
    finish = summary.finish_at(row["state"])
    if finish is not None:
        # From now, as the table shows it (negative: overdue); the finish as a time too.
        row["eta"] = iso(finish)
        row["eta_seconds"] = round((finish - now).total_seconds(), 3)
    return row


def format_table(rows: list[dict[str, Any]], *, now: datetime) -> list[str]:
    """The rows as an aligned text table; a corrupt row shows its error after its state."""
    body = [row_cells(row, now=now) for row in rows]
    complete = [list(HEADER), *(cells for cells in body if len(cells) == len(HEADER))]
    widths = [max(len(cells[i]) for cells in complete) for i in range(len(HEADER))]
    for i in range(3):  # name, kind and state are aligned on every row, corrupt ones included
        widths[i] = max(len(cells[i]) for cells in [list(HEADER), *body])
    lines = []
    for cells in [list(HEADER), *body]:
        out = []
        for i, cell in enumerate(cells):
            if len(cells) < len(HEADER) and i >= 3:
                out.append(cell)
            elif i in RIGHT:
                out.append(cell.rjust(widths[i]))
            else:
                out.append(cell.ljust(widths[i]))
        lines.append("  ".join(out).rstrip())
    return lines


def row_cells(row: dict[str, Any], *, now: datetime) -> list[str]:
    """A row's table cells; a corrupt one's are name, kind, state and its error."""
    if row["state"] == "corrupt":
        return [row["name"], row["kind"] or "-", "corrupt", printable(row["error"] or "")]
    progress = row["progress"]
    errors, warnings = row["errors"], row["warnings"]
    unit = f" {row['unit']}" if row["unit"] else ""
    return [
        row["name"],
        row["kind"] or "-",
        row["state"],
        "-" if progress is None else f"{progress * 100:.1f}%",
        f"{row['done']:,}/{row['pending']:,}{unit}",
        rate_text(row["rate"], row["rate_unit"] or ""),
        eta_text(row),
        relative(parse_iso(row["last_update"]), now),
        f"{errors}E {warnings}W" if errors or warnings else "-",
    ]


def eta_text(row: dict[str, Any]) -> str:
    """The ETA cell: the time left, ``overdue`` once the expected finish has passed, ``done``
    for a completed job, ``-`` when it is not expected to go on or the rate is unknown."""
    if row["state"] == "completed":
        return "done"
    left = row["eta_seconds"]
    if left is None:
        return "-"
    return duration(left) if left >= 0 else "overdue"


def parse_iso(value: str | None) -> datetime | None:
    """Read back a time written by :func:`iso`."""
    return None if value is None else datetime.fromisoformat(value)
