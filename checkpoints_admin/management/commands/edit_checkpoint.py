"""``edit_checkpoint``: set fields by JSON pointer, or replace the whole document, audited."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from checkpoints_admin.checkpoints import CorruptCheckpoint, InvalidDocument
from checkpoints_admin.checkpoints.store import decode_written_document
from checkpoints_admin.conf import get_store
from checkpoints_admin.management.cli import (
    WriteCommand,
    describe_corrupt,
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
        value = json.loads(raw, parse_constant=_refuse_constant)
    except ValueError as exc:
        raise usage_error(
            f"--set {pointer}: {raw!r} is not JSON ({exc}); strings need quotes, "
            f"e.g. --set {pointer}='\"{raw}\"'."
        ) from None
    return pointer, value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


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
                "Replace the whole document with this JSON file's. Pass --expect-version with "
                "the version the file was made from, so that what a job saved since is not put "
                "back."
            ),
        )
        parser.add_argument(
            "--add",
            action="store_true",
            help="Let --set add a field the document does not have (else refused as a typo).",
        )

    def plan(self, options: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        name = options["name"]
        if options["from_file"] is not None:
            if options["expect_version"] is None:
                self.say(
                    "Note: --from-file replaces the whole document; without --expect-version "
                    "it is not bound to the version it was made from. Check the preview for "
                    "what it would put back."
                )
            return [(name, {"document": read_document(options["from_file"])})]
        values: dict[str, Any] = {}
        for text in options["assignments"]:
            pointer, value = parse_assignment(text)
            if pointer in values:
                raise usage_error(f"--set {pointer} is given twice.")
            values[pointer] = value
        if not options["add"]:
            self.refuse_new_fields(name, list(values))
        return [(name, {"set": values})]

    def refuse_new_fields(self, name: str, pointers: list[str]) -> None:
        """A pointer to a field the document does not have is most often a typo (/Progress):
        refused, with the near names, unless --add says a new field is meant."""
        try:
            document = get_store().read(name).data
        except CorruptCheckpoint:
            return  # the edit is refused later, saying the file does not parse
        for pointer in pointers:
            missing = missing_field(document, pointer)
            if missing is None:
                continue
            known, token = missing
            near = difflib.get_close_matches(token, known, n=1, cutoff=0.6)
            hint = f" Did you mean {pointer.rsplit('/', 1)[0]}/{near[0]}?" if near else ""
            raise refused(
                f"--set {pointer}: {name} has no field {token!r} there, so it would be added."
                f"{hint} Pass --add to add it; nothing was changed."
            )


def missing_field(document: Any, pointer: str) -> tuple[list[str], str] | None:
    """When ``pointer`` names a new key of an object the document has: the object's keys
    and that key; else None (an existing field, or a path the edit refuses itself)."""
    container = document
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]
    for position, token in enumerate(tokens):
        if not isinstance(container, dict):
            return None
        if token not in container:
            return (list(container), token) if position == len(tokens) - 1 else None
        container = container[token]
    return None


def read_document(path: str) -> dict[str, Any]:
    """Read the replacement document, refusing what is not a JSON object."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise usage_error(f"--from-file {path}: {exc.strerror or exc}.") from None
    try:
        return decode_written_document(raw)
    except CorruptCheckpoint as exc:
        raise usage_error(f"--from-file {path}: {describe_corrupt(exc)}") from None
    except InvalidDocument as exc:
        raise usage_error(f"--from-file {path}: {exc.message}") from None
