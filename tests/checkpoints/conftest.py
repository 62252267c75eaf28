"""The seed's sample checkpoints as documents, fresh for each test."""

from __future__ import annotations

import orjson
import pytest

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
