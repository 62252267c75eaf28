"""``edit_checkpoint``: set fields by JSON pointer, or replace the whole document, audited."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from checkpoints_admin.checkpoints import CorruptCheckpoint, InvalidDocument
from checkpoints_admin.checkpoints.errors import UnknownField
from checkpoints_admin.checkpoints.store import (
    decode_written_document,
    decode_written_value,
    size_text,
)
from checkpoints_admin.conf import get_settings
from checkpoints_admin.management.cli import (
    WriteCommand,
    describe_corrupt,
    prefixed,
    refused,
    usage_error,
)


def parse_assignment(text: str) -> tuple[str, Any]:
    """``/stats/failedRecords=40`` -> ``("/stats/failedRecords", 40)``; the value is JSON."""
    pointer, sep, raw = text.partition("=")
    if not sep:
        raise usage_error(
            f"--set {text!r}: expected /json/pointer=JSON, e.g. --set /status='\"completed\"'."
        )
    if pointer and not pointer.startswith("/"):
        raise usage_error(f"--set {text!r}: a JSON pointer starts with '/' (e.g. /stats/timeouts).")
    try:
        value = decode_written_value(raw)
    except CorruptCheckpoint as exc:
        hint = ""
        if not exc.too_deep and not raw.lstrip().startswith(("[", "{", '"')):
            hint = f"; strings need quotes, e.g. --set {pointer}='\"{raw}\"'"
        raise usage_error(f"--set {pointer}: {exc.message}{hint}.") from None
    except InvalidDocument as exc:  # (as --from-file and the console's field editor refuse it)
        raise usage_error(f"--set {pointer}: {exc.message}") from None
    return pointer, value


class Command(WriteCommand):
    help = (
        "Edit a checkpoint: set values by JSON pointer (--set /stats/failedRecords=40, the value "
        "is JSON: strings need quotes), or replace the whole document (--from-file FILE). The "
        "result is validated; previews, asks, and records the change in the audit log."
    )
    action = "edit"

    def add_target_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", metavar="NAME", help="The checkpoint.")
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument(
            "--set",
            action="append",
            dest="assignments",
            metavar="/POINTER=JSON",
            help="Set the value at a JSON pointer (repeatable).",
        )
        what.add_argument(
            "--from-file",
            metavar="FILE",
            help=(
                "Replace the whole document with this JSON file's (- reads standard input). "
                "Pass --expect-version with "
                "the version the file was made from, so that what a job saved since is not put "
                "back."
            ),
        )
        parser.add_argument(
            "--add",
            action="store_true",
            help="Let --set add a field the document does not have (else refused as a typo).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            super().handle(*args, **options)
        except CorruptCheckpoint as exc:
            # Fields of a file that does not parse cannot be set: it is replaced whole.
            raise refused(
                f"{describe_corrupt(exc)}. Replace it whole with --from-file FILE (the "
                "console's raw editor shows its bytes); nothing was changed."
            ) from None
        except UnknownField as exc:
            # The library says the field would be new; the option that allows it is ours.
            raise refused(
                prefixed(
                    f"{exc.name}", f"{exc.message}: pass --add to add it; nothing was changed."
                )
            ) from None

    def plan(self, options: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        name = options["name"]
        if options["from_file"] is not None:
            document = read_document(options["from_file"])  # (refused first, when it is)
            if options["expect_version"] is None:
                self.say(
                    "Note: --from-file replaces the whole document; without --expect-version "
                    "it is not bound to the version it was made from. Check the preview for "
                    "what it would put back."
                )
            return [(name, {"document": document})]
        values: dict[str, Any] = {}
        for text in options["assignments"]:
            pointer, value = parse_assignment(text)
            if pointer in values:
                raise usage_error(f"--set {pointer} is given twice.")
            values[pointer] = value
        return [(name, {"set": values, "add": options["add"]})]


def read_document(path: str) -> dict[str, Any]:
    """Read the replacement document (``-``: standard input), refusing what is not a JSON
    object."""
    limit = get_settings().max_bytes
    try:
        # At most one byte past the limit: /dev/zero or a log file named by mistake must not
        # be read whole into memory.
        if path == "-":
            raw = sys.stdin.buffer.read(limit + 1)
        else:
            with Path(path).open("rb") as file:
                raw = file.read(limit + 1)
    except OSError as exc:
        raise usage_error(prefixed(f"--from-file {path}", f"{exc.strerror or exc}.")) from None
    if len(raw) > limit:
        raise usage_error(
            f"--from-file {path}: larger than {size_text(limit)}, the largest checkpoint "
            "CHECKPOINT_MAX_BYTES allows."
        )
    try:
        return decode_written_document(raw)
    except CorruptCheckpoint as exc:
        raise usage_error(prefixed(f"--from-file {path}", describe_corrupt(exc))) from None
    except InvalidDocument as exc:
        raise usage_error(prefixed(f"--from-file {path}", exc.message)) from None
