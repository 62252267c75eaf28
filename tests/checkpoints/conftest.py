"""The seed's sample checkpoints as documents, fresh for each test, and a store in a tmp dir."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from checkpoints_admin.checkpoints import CheckpointStore
from tests.conftest import SAMPLES


def load_sample(name: str) -> dict:
    """The sample checkpoint ``name`` (a file of checkpoints_admin/samples) as a document."""
    return orjson.loads((SAMPLES / f"{name}.json").read_bytes())


@pytest.fixture
def unified() -> dict:
    return load_sample("reconciliation_checkpoint")


@pytest.fixture
def daily() -> dict:
    return load_sample("daily_reconciliation_checkpoint")


@pytest.fixture
def managed() -> dict:
    return load_sample("my-process")


@pytest.fixture
def store(checkpoints_dir: Path) -> CheckpointStore:
    """A store over the test's empty checkpoints directory (test_manager has its own)."""
    return CheckpointStore(checkpoints_dir, lock_timeout=5)
