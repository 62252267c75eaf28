"""``export_audit``: the audit log as JSON lines or CSV, one record per intervention."""

from __future__ import annotations

import os
import stat
import tempfile
from argparse import ArgumentTypeError
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

from django.core.management.base import CommandParser

from checkpoints_admin import audit
from checkpoints_admin.conf import get_settings, get_store
from checkpoints_admin.management.cli import CheckpointsCommand, prefixed, usage_error


def since_value(value: str) -> datetime | None:
    """An argparse type: ``2025-03-06`` or an ISO 8601 time (UTC when no offset)."""
    try:
        since = audit.parse_since(value)
        if since is not None:
            since.astimezone(UTC)  # a time that is no UTC time (year 1, east of Greenwich)
        return since
    except (ValueError, OverflowError):
        raise ArgumentTypeError(f"expected YYYY-MM-DD or an ISO 8601 time, not {value!r}") from None


class _Stdout:
    """What ``audit.export`` writes to, passed through to the command's stdout unchanged."""

    def __init__(self, command: CheckpointsCommand) -> None:
        self.command = command

    def write(self, text: str) -> int:
        self.command.stdout.write(text, ending="")
        return len(text)


class Command(CheckpointsCommand):
    help = (
        "Export the audit log, one record per intervention (each with an id), as JSON lines or "
        "CSV: for backups and auditors. Snapshots are named by their sha256."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format", choices=("jsonl", "csv"), default="jsonl", help="Default: jsonl."
        )
        parser.add_argument("--checkpoint", metavar="NAME", help="Only this checkpoint's entries.")
        parser.add_argument(
            "--since",
            type=since_value,
            metavar="DATE",
            help="Only entries made on or after this date (or ISO 8601 time).",
        )
        parser.add_argument(
            "--output",
            metavar="FILE",
            help="Write to FILE (replaced whole, its mode kept) instead of stdout (-).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        checkpoint = options["checkpoint"]
        if checkpoint is not None:
            get_store().validate_name(checkpoint)
        fmt, since = options["format"], options["since"]
        output = options["output"]
        if output is None or output == "-":
            audit.export(fmt, cast(IO[str], _Stdout(self)), checkpoint=checkpoint, since=since)
            return
        if not output.strip():
            raise usage_error("--output needs a file name (or - for standard output).")
        target = Path(output)
        if target.is_dir() or output.endswith(("/", os.sep)):
            raise usage_error(f"--output {output} is a directory: give a file name in it.")
        checkpoints = Path(get_settings().checkpoints_dir).resolve()  # (may not exist here)
        if target.resolve().is_relative_to(checkpoints):
            # (my-process.json there is a job's checkpoint: replaced unlocked and unaudited)
            raise usage_error(
                f"--output {output} is in the checkpoints directory ({checkpoints}), where "
                "the export could replace a checkpoint: write it elsewhere."
            )
        count = write_atomically(
            target, lambda stream: audit.export(fmt, stream, checkpoint=checkpoint, since=since)
        )
        self.say(f"Exported {count:,} entries to {target}.")


def write_atomically(target: Path, write: Any) -> int:
    """Write through a temporary file beside ``target``, replaced only when complete."""
    directory = target.parent if str(target.parent) else Path(".")
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise usage_error(prefixed(f"--output {target}", f"{exc.strerror or exc}.")) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            count = write(stream)
        with suppress(FileNotFoundError):  # a file replaced keeps its mode (mkstemp's is 0600)
            os.chmod(temp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return count
