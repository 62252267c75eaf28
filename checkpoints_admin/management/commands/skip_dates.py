"""``skip_dates``: mark dates (or items) done without processing them, audited."""

from __future__ import annotations

from checkpoints_admin.management.cli import DatesCommand


class Command(DatesCommand):
    help = (
        "Skip dates: move them from pendingDates to completedDates (unified), or add them to "
        "processedDates (daily); with --items, move items of a managed checkpoint from "
        "pendingItems to processedItems. Previews, asks, and records the change in the audit log."
    )
    action = "skip"
