"""``reset_checkpoints``: delete checkpoints so their jobs start afresh, audited and restorable."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import CommandParser

from checkpoints_admin.conf import get_store
from checkpoints_admin.management.cli import WriteCommand, refused, usage_error


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
            store = get_store()
            names = []
            aliases: list[str] = []
            for info in store.list():
                # A symbolic link to another checkpoint: resetting that one resets it.
                (aliases if store.alias_of(info.name) else names).append(info.name)
            if aliases:
                self.say(
                    f"Left as they are (symbolic links to other checkpoints): {', '.join(aliases)}."
                )
            if not names:  # (a change that changes nothing: exit 1, as every command's)
                raise refused("No checkpoints to reset. Nothing was changed or recorded.")
        twice = sorted(name for name, times in Counter(names).items() if times > 1)
        if twice:
            raise usage_error(f"A checkpoint is named twice: {', '.join(twice)}.")
        return [(name, {}) for name in names]
