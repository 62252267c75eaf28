"""Changing the audit log behind the console's back, as its database's owner could.

On PostgreSQL the audit tables refuse an ``UPDATE`` or ``DELETE`` of an entry and an
``UPDATE`` of a snapshot (migration 0005); their owner can switch that off with ``ALTER
TABLE``, which is what these tests' tampering does first. SQLite has no such triggers.
"""

from __future__ import annotations

from django.db import connection

APPEND_ONLY = {
    "checkpoints_admin_auditentry": "checkpoints_admin_auditentry_append_only",
    "checkpoints_admin_snapshot": "checkpoints_admin_snapshot_append_only",
}


def tamper(sql: str, params: list | None = None) -> None:
    """Run ``sql`` with the audit tables' append-only triggers switched off meanwhile."""
    with connection.cursor() as cursor:
        lifted = connection.vendor == "postgresql"
        if lifted:
            # ALTER TABLE waits for none of the test transaction's foreign key checks (Django
            # defers them): they are made now, and deferred again after.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table, trigger in APPEND_ONLY.items():
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        try:
            cursor.execute(sql, params or [])
        finally:
            if lifted:
                for table, trigger in APPEND_ONLY.items():
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
