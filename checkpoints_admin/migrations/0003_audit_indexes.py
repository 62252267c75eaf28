"""Fewer indexes on the audit log, its largest table: only the ones its queries use.

Dropped: the index on ``checkpoint`` (the ``(checkpoint, seq)`` index serves every lookup by
name) and, on PostgreSQL, the ``LIKE`` indexes Django adds beside a character column's index
(nothing searches the log by prefix of a name or of a sha). ``before`` and ``after`` keep a
plain index (deleting a snapshot looks for entries referring to it), now named in ``Meta``.

Only indexes change in the database: letting Django alter the fields would rebuild the whole
table on SQLite, three times.
"""

from __future__ import annotations

from typing import Any

import django.db.models.deletion
from django.db import migrations, models

TABLE = "checkpoints_admin_auditentry"
# The names Django gave these indexes in 0001 (they derive from the table and column names).
OLD = {
    "checkpoint": "checkpoints_admin_auditentry_checkpoint_982b56a4",
    "before_id": "checkpoints_admin_auditentry_before_id_195c00d6",
    "after_id": "checkpoints_admin_auditentry_after_id_52fcc797",
}
NEW = {"before_id": "auditentry_before", "after_id": "auditentry_after"}


def _run(schema_editor: Any, statements: list[str]) -> None:
    for statement in statements:
        schema_editor.execute(statement)


def forwards(apps: Any, schema_editor: Any) -> None:
    quote = schema_editor.quote_name
    drops = [*OLD.values()]
    if schema_editor.connection.vendor == "postgresql":
        drops += [f"{name}_like" for name in OLD.values()]
    _run(schema_editor, [f"DROP INDEX IF EXISTS {quote(name)}" for name in drops])
    _run(
        schema_editor,
        [
            f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(TABLE)} ({quote(column)})"
            for column, name in NEW.items()
        ],
    )


def backwards(apps: Any, schema_editor: Any) -> None:
    quote = schema_editor.quote_name
    _run(schema_editor, [f"DROP INDEX IF EXISTS {quote(name)}" for name in NEW.values()])
    statements = [
        f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(TABLE)} ({quote(column)})"
        for column, name in OLD.items()
    ]
    if schema_editor.connection.vendor == "postgresql":
        statements += [
            f"CREATE INDEX IF NOT EXISTS {quote(name + '_like')} ON {quote(TABLE)} "
            f"({quote(column)} varchar_pattern_ops)"
            for column, name in OLD.items()
        ]
    _run(schema_editor, statements)


def _snapshot_reference() -> models.ForeignKey:
    """AuditEntry.before and .after as they are now: no index of their own (see Meta)."""
    return models.ForeignKey(
        blank=True,
        db_index=False,
        editable=False,
        null=True,
        on_delete=django.db.models.deletion.PROTECT,
        related_name="+",
        to="checkpoints_admin.snapshot",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("checkpoints_admin", "0002_roles"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards)],
            state_operations=[
                *(
                    migrations.AlterField(
                        model_name="auditentry", name=side, field=_snapshot_reference()
                    )
                    for side in ("after", "before")
                ),
                migrations.AlterField(
                    model_name="auditentry",
                    name="checkpoint",
                    field=models.CharField(editable=False, max_length=128),
                ),
                *(
                    migrations.AddIndex(
                        model_name="auditentry",
                        index=models.Index(fields=[side], name=f"auditentry_{side}"),
                    )
                    for side in ("before", "after")
                ),
            ],
        ),
    ]
