"""``verify_audit``: recompute the audit log's hash chain and snapshot hashes."""

from __future__ import annotations

import logging
import re
from argparse import ArgumentTypeError
from typing import Any

from django.core.management.base import CommandParser
from django.db import DatabaseError

from checkpoints_admin import audit, services
from checkpoints_admin.management.cli import (
    CheckpointsCommand,
    plural,
    refused,
)

logger = logging.getLogger("checkpoints_admin.audit")


def head_value(value: str) -> tuple[int, str]:
    """An argparse type: ``SEQ:HASH`` as ``verify_audit`` prints the head."""
    seq, _, digest = value.partition(":")
    if not (seq.isdigit() and int(seq) > 0 and re.fullmatch(r"[0-9a-fA-F]{64}", digest)):
        raise ArgumentTypeError(f"expected SEQ:HASH (42:<64 hex digits>), not {value!r}")
    return int(seq), digest.lower()


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
            help='Print {"ok", "checked", "first_break", "message", "head"} as JSON (and '
            '"unrecorded": the journal rows it cannot record, when there are).',
        )
        parser.add_argument(
            "--expect-head",
            type=head_value,
            metavar="SEQ:HASH",
            help="The head an earlier run printed: the log must still hold that entry with "
            "that hash (deleting the newest entries leaves a shorter chain that verifies).",
        )
        parser.add_argument(
            "--discard-unsealed",
            action="store_true",
            help="Delete the journal rows recovery will not record (not written by the "
            "console: without its seal); each is named first.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        recorded = 0
        try:
            for entry in services.recovering(lock_timeout=2.0):
                recorded += 1
                self.stderr.write(
                    f"Recorded #{entry.seq}: {entry.action} of {entry.checkpoint} was "
                    f"{entry.outcome} after its process stopped."
                )
        except DatabaseError as exc:
            if not recorded:
                raise  # "Nothing was changed", as for any command
            these = (
                "The entry above was" if recorded == 1 else f"The {recorded:,} entries above were"
            )
            problem = services.database_problem(exc)
            raise refused(
                f"Database error: {problem}. {these} recorded; the rest of the journal waits "
                "for the next run, and the chain was not verified."
            ) from exc
        unsealed: list[str] = []
        for pending, problem in services.unrecorded_journal():
            claimed = pending.payload.get("actor") if isinstance(pending.payload, dict) else None
            said = (
                f"Journal row {pending.pk} ({pending.action} of {pending.checkpoint}"
                f"{f', claimed by {claimed!r}' if isinstance(claimed, str) else ''}) is not "
                f"recorded: {problem}."
            )
            if options["discard_unsealed"]:
                services.discard_unrecorded(pending)
                logger.warning("discarded a journal row: %s", said)
                self.stderr.write(f"Discarded: {said}")
            else:
                unsealed.append(said)
        result = audit.verify_chain(expect_head=options["expect_head"])
        if options["json"]:
            shown = result.as_dict()
            if unsealed:  # (only then: the shape stays the documented one otherwise)
                shown.update(ok=False, unrecorded=unsealed)
            self.write_json(shown)
        elif result.ok and not unsealed:
            self.say(result.message, style=self.style.SUCCESS)
        if not result.ok:
            raise refused(result.message)
        if unsealed:
            for said in unsealed:
                self.stderr.write(said)
            them = "it" if len(unsealed) == 1 else "them"
            raise refused(
                f"{result.message.rstrip('.')}. But {plural(len(unsealed), 'journal row')} "
                f"cannot be recorded (above): check {them}, then remove {them} with "
                "--discard-unsealed."
            )
