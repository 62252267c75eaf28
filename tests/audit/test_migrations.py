"""Migrations of the audit log's tables, run both ways over a log with entries in it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from checkpoints_admin import audit, services
from checkpoints_admin.models import AuditEntry, Snapshot

TABLE = AuditEntry._meta.db_table


def indexes() -> dict[str, list[str]]:
    """The audit table's indexes but its primary key: name -> columns."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TABLE)
    return {
        name: found["columns"]
        for name, found in constraints.items()
        if found["index"] and not found["primary_key"] and not name.startswith("sqlite_")
    }


@pytest.mark.django_db(transaction=True)
def test_the_audit_log_keeps_only_the_indexes_its_queries_use(samples_dir: Path) -> None:
    """0003 drops the index on the checkpoint name (the (checkpoint, seq) one serves) and
    PostgreSQL's LIKE indexes, keeps one on each snapshot reference, and changes nothing
    else: the entries, their chain and the lookups stay, both ways."""
    actor = services.Actor("alice", "cli")
    for day in ("2025-03-06", "2025-03-07"):
        services.apply(
            "reconciliation_checkpoint", "skip", {"dates": [day]}, actor=actor, reason="r"
        )
    kept = {
        "checkpoints_admin_auditentry_created_296354f6": ["created"],
        "checkpoints_admin_auditentry_restores_id_9dbb9289": ["restores_id"],
        "auditentry_checkpoint_seq": ["checkpoint", "seq"],
    }
    assert indexes() == {
        **kept,
        "auditentry_before": ["before_id"],
        "auditentry_after": ["after_id"],
    }

    call_command("migrate", "checkpoints_admin", "0002", verbosity=0)
    before = {
        "checkpoints_admin_auditentry_checkpoint_982b56a4": ["checkpoint"],
        "checkpoints_admin_auditentry_before_id_195c00d6": ["before_id"],
        "checkpoints_admin_auditentry_after_id_52fcc797": ["after_id"],
    }
    if connection.vendor == "postgresql":
        before |= {f"{name}_like": columns for name, columns in before.items()}
    assert indexes() == {**kept, **before}
    assert audit.verify_chain().ok

    call_command("migrate", "checkpoints_admin", verbosity=0)
    assert set(indexes()) == {*kept, "auditentry_before", "auditentry_after"}
    assert audit.verify_chain().checked == 2
    assert AuditEntry.objects.filter(checkpoint="reconciliation_checkpoint").count() == 2
    # An apply after the migration, and deleting a snapshot no entry refers to.
    services.apply(
        "reconciliation_checkpoint", "reprocess", {"dates": ["2025-03-06"]}, actor=actor, reason="r"
    )
    assert audit.verify_chain().ok
    Snapshot.store(b'{"unreferenced": true}\n')
    pruned = audit.prune_snapshots(older_than=timedelta(0))
    assert (pruned.removed, pruned.kept) == (1, Snapshot.objects.count())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's triggers only")
@pytest.mark.django_db(transaction=True)
def test_0005_makes_the_database_refuse_changes_to_the_log_and_goes_back(samples_dir) -> None:
    actor = services.Actor("alice", "cli")
    services.apply(
        "reconciliation_checkpoint", "skip", {"dates": ["2025-03-06"]}, actor=actor, reason="r"
    )

    def update_refused() -> bool:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"UPDATE {TABLE} SET reason = reason WHERE seq = 1")
        except DatabaseError as exc:
            assert "append-only" in str(exc)
            return True
        return False

    assert update_refused()
    call_command("migrate", "checkpoints_admin", "0004", verbosity=0)
    assert not update_refused()
    call_command("migrate", "checkpoints_admin", verbosity=0)
    assert update_refused()
    assert audit.verify_chain().checked == 1


def role_permissions(name: str) -> set[str]:
    from django.contrib.auth.models import Group

    group = Group.objects.get(name=name)
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in group.permissions.select_related("content_type")
    }


UNLOCK = {
    "axes.view_accessattempt",
    "axes.delete_accessattempt",
    "axes.view_accessfailurelog",
    "axes.delete_accessfailurelog",
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("axes_permissions", ["there", "not yet"])
def test_the_admin_role_gets_and_loses_the_right_to_unlock_accounts(axes_permissions) -> None:
    """0004 gives the admin role what axes' admin needs to read and delete failed sign-ins,
    whether axes' permissions exist already (post_migrate made them on an earlier migrate)
    or not yet (a fresh database: post_migrate runs after every migration); backwards it
    takes only those away. (Transactional tests flush the roles: 0002 makes them again.)"""
    from django.contrib.auth.models import Permission

    call_command("migrate", "checkpoints_admin", "0001", verbosity=0)
    call_command("migrate", "checkpoints_admin", "0003", verbosity=0)
    before = role_permissions("admin")
    assert not before & UNLOCK
    if axes_permissions == "not yet":
        Permission.objects.filter(content_type__app_label="axes").delete()

    call_command("migrate", "checkpoints_admin", "0004", verbosity=0)
    assert role_permissions("admin") == before | UNLOCK
    assert not {p for p in role_permissions("operator") if p.startswith("axes.")}
    assert not {p for p in role_permissions("viewer") if p.startswith("axes.")}

    call_command("migrate", "checkpoints_admin", "0003", verbosity=0)
    assert role_permissions("admin") == before
    # (the permissions themselves stay, as post_migrate would make them again)
    assert Permission.objects.filter(
        content_type__app_label="axes", codename__in=[p.split(".")[1] for p in UNLOCK]
    ).count() == len(UNLOCK)

    call_command("migrate", "checkpoints_admin", verbosity=0)
    assert role_permissions("admin") == before | UNLOCK


@pytest.mark.django_db(transaction=True)
def test_a_deleted_admin_role_is_not_brought_back() -> None:
    from django.contrib.auth.models import Group

    call_command("migrate", "checkpoints_admin", "0001", verbosity=0)
    call_command("migrate", "checkpoints_admin", "0003", verbosity=0)
    Group.objects.filter(name="admin").delete()
    call_command("migrate", "checkpoints_admin", verbosity=0)
    assert not Group.objects.filter(name="admin").exists()
    assert Group.objects.filter(name="operator").exists()
