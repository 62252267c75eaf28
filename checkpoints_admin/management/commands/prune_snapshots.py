"""``prune_snapshots``: remove stored checkpoint versions no audit entry needs."""

from __future__ import annotations

from argparse import ArgumentTypeError
from datetime import timedelta
from typing import Any

from django.core.management.base import CommandParser

from checkpoints_admin import audit
from checkpoints_admin.checkpoints.store import size_text
from checkpoints_admin.management.cli import CheckpointsCommand, plural


def days_value(value: str) -> float:
    """An argparse type: a number of days, zero or more."""
    try:
        days = float(value)
    except ValueError:
        raise ArgumentTypeError(f"expected a number of days, not {value!r}") from None
    if not 0 <= days <= MAX_DAYS:
        raise ArgumentTypeError(
            f"expected a number of days from 0 to {MAX_DAYS:,} (a century), not {value!r}"
        )
    return days


MAX_DAYS = 36500


class Command(CheckpointsCommand):
    help = (
        "Remove snapshots (stored checkpoint versions) that no audit entry refers to and that "
        "were stored before the cutoff: versions kept by previews that were never applied, and "
        "by attempts that failed. Every entry's before and after stay restorable."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=days_value,
            default=7.0,
            metavar="DAYS",
            help="Only snapshots stored more than DAYS days ago (default 7: a preview shown "
            "within that time can still say what changed on disk since).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only say what would be removed."
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help='Print {"removed", "freed_bytes", "kept", "dry_run"} as JSON.',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        result = audit.prune_snapshots(
            older_than=timedelta(days=options["older_than"]), dry_run=options["dry_run"]
        )
        if options["json"]:
            self.write_json(result.as_dict())
            return
        verb = "Would remove" if result.dry_run else "Removed"
        self.say(
            f"{verb} {plural(result.removed, 'unreferenced snapshot')}, "
            f"{size_text(result.freed_bytes)} stored; {result.kept:,} kept.",
            style=self.style.SUCCESS if not result.dry_run else None,
        )
