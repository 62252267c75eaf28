"""``restore_checkpoint``: write back a checkpoint as an audit entry saw it, audited."""

from __future__ import annotations

from argparse import ArgumentTypeError
from typing import Any

from django.core.management.base import CommandParser

from checkpoints_admin import audit
from checkpoints_admin.management.cli import WriteCommand


def entry_number(value: str) -> int:
    """An argparse type: an audit entry's sequence number."""
    try:
        number = audit.entry_number(value)
    except ValueError:
        raise ArgumentTypeError(f"expected an audit entry number, not {value!r}") from None
    if number < 1:
        raise ArgumentTypeError(f"expected an audit entry number (1 or more), not {value!r}")
    return number


class Command(WriteCommand):
    help = (
        "Restore a checkpoint to the content before (default: undo the entry, a reset "
        "included) or after an audit entry, as a new audited change referring to it."
    )
    action = "restore"

    def add_target_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", metavar="NAME", help="The checkpoint.")
        parser.add_argument(
            "--entry", required=True, type=entry_number, metavar="ID", help="Audit entry number."
        )
        parser.add_argument(
            "--side",
            choices=("before", "after"),
            default="before",
            help="The entry's content before it (undo, the default) or after it.",
        )

    def plan(self, options: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        return [(options["name"], {"entry": options["entry"], "side": options["side"]})]
