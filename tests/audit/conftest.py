"""Fixtures of the audit tests: a store over the test's directory, an actor, raw SQL helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from checkpoints_admin.checkpoints import CheckpointStore
from checkpoints_admin.services import Actor


@pytest.fixture
def store(checkpoints_dir: Path) -> CheckpointStore:
    return CheckpointStore(checkpoints_dir, lock_timeout=5)


@pytest.fixture
def actor() -> Actor:
    return Actor(name="alice", source="cli")


def raw_sql(sql: str, params: list | None = None) -> None:
    """Run SQL straight against the database (as someone tampering with it would)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
