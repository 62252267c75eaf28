"""``reprocess_dates``: send dates (or items) back to be processed again, audited."""

from __future__ import annotations

from checkpoints_admin.management.cli import DatesCommand


class Command(DatesCommand):
    help = (
        "Reprocess dates: move them from completedDates back to pendingDates (unified), or "
        "remove them from processedDates (daily); with --items, move items of a managed "
        "checkpoint from processedItems back to pendingItems. Previews, asks, and records the "
        "change in the audit log."
    )
    action = "reprocess"
