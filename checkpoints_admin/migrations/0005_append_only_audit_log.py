"""On PostgreSQL, the database itself keeps the audit log append-only.

Triggers refuse an ``UPDATE`` or ``DELETE`` of an audit entry and an ``UPDATE`` of a
snapshot, whoever sends it: the console never does (its models refuse it in Python), so
such a statement is someone changing the record by hand, with the console's credentials or
psql. Deleting a snapshot stays possible: ``prune_snapshots`` removes those no entry refers
to, and the foreign keys refuse the others. The hash chain still proves what the log was;
this keeps it from being changed without first switching the triggers off (``ALTER TABLE``,
which only the tables' owner may do). ``TRUNCATE`` fires no row trigger and needs the owner
too; the chain's head kept elsewhere (``verify_audit --expect-head``) tells it.

SQLite has no users: whoever can write its file can drop a trigger as easily, so there the
chain alone is the check.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

ENTRIES = "checkpoints_admin_auditentry"
SNAPSHOTS = "checkpoints_admin_snapshot"
#: The trigger of each table, and the statements it refuses.
TRIGGERS = {
    ENTRIES: ("checkpoints_admin_auditentry_append_only", "UPDATE OR DELETE"),
    SNAPSHOTS: ("checkpoints_admin_snapshot_append_only", "UPDATE"),
}
FUNCTION = "checkpoints_admin_refuse_change"

CREATE_FUNCTION = f"""
CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% of %: the audit log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Its entries and snapshots are never changed or deleted; '
                     'verify_audit checks them.';
END
$$
"""


def forwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(CREATE_FUNCTION, params=None)  # (its % are not placeholders)
    for table, (trigger, events) in TRIGGERS.items():
        schema_editor.execute(
            f"CREATE TRIGGER {trigger} BEFORE {events} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
        )


def backwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, (trigger, _events) in TRIGGERS.items():
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")


class Migration(migrations.Migration):
    dependencies = [("checkpoints_admin", "0004_admin_unlocks_accounts")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
