"""``verify_audit``: recompute the audit log's hash chain and snapshot hashes."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from checkpoints_admin import audit, services
from checkpoints_admin.management.cli import CheckpointsCommand, refused


class Command(CheckpointsCommand):
    help = (
        "Verify the audit log: recompute every entry's hash and every snapshot's sha256, check "
        "the sequence has no gap. Exit 1 naming the first broken entry. Changes left half-done "
        "by a stopped process are recorded first (as recovered or interrupted entries)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--json",
            action="store_true",
            help='Print {"ok", "checked", "first_break", "message"} as JSON.',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        for entry in services.recover_pending(lock_timeout=2.0):
            self.stderr.write(
                f"Recorded #{entry.seq}: {entry.action} of {entry.checkpoint} was "
                f"{entry.outcome} after its process stopped."
            )
        result = audit.verify_chain()
        if options["json"]:
            self.write_json(result.as_dict())
        elif result.ok:
            self.say(result.message, style=self.style.SUCCESS)
        if not result.ok:
            raise refused(result.message)
