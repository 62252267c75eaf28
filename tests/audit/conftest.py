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


def file_bytes(directory: Path, name: str) -> bytes:
    """The bytes of checkpoint ``name``'s file."""
    return (directory / f"{name}.json").read_bytes()


def files(directory: Path) -> dict[str, bytes]:
    """Every checkpoint file's bytes by file name (what a refused change must leave alone)."""
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.json"))}


def raw_sql(sql: str, params: list | None = None) -> None:
    """Run SQL straight against the database (as someone tampering with it would)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
