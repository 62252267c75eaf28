"""``reset_checkpoints``: delete checkpoints so their jobs start afresh, audited and restorable."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from checkpoints_admin.conf import get_store
from checkpoints_admin.management.cli import WriteCommand, usage_error


class Command(WriteCommand):
    help = (
        "Reset checkpoints: delete the files so their jobs start from scratch. Each file gets "
        "its own audit entry keeping its last content (restore_checkpoint brings it back). "
        "--all resets every checkpoint in the directory; the preview lists them all."
    )
    action = "reset"

    def add_target_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*", metavar="NAME", help="Checkpoints to reset.")
        parser.add_argument("--all", action="store_true", help="Reset every checkpoint.")

    def plan(self, options: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        names: list[str] = options["names"]
        if options["all"] and names:
            raise usage_error("Give checkpoint names or --all, not both.")
        if not options["all"] and not names:
            raise usage_error("Name the checkpoints to reset, or pass --all.")
        if options["all"]:
            names = [info.name for info in get_store().list()]
            if not names:
                self.say("No checkpoints to reset.")
        if len(set(names)) != len(names):
            raise usage_error("A checkpoint is named twice.")
        return [(name, {}) for name in names]
