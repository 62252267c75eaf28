"""Fixtures shared by the whole suite: a fresh checkpoints directory per test, the seed samples."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "checkpoints_admin" / "samples"
SAMPLE_NAMES = ("daily_reconciliation_checkpoint", "my-process", "reconciliation_checkpoint")


def running_unified(processed: int, *, minutes_ago: float) -> dict:
    """A unified job of 1,000 records that started 20 minutes before its last update, made
    ``minutes_ago``: its ETA is worked out from ``processed`` at that update."""
    updated = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return {
        "lastProcessedDate": "2025-03-01",
        "pendingDates": ["2025-03-02"],
        "completedDates": ["2025-03-01"],
        "startTime": int((updated - timedelta(minutes=20)).timestamp() * 1000),
        "lastUpdateTime": int(updated.timestamp() * 1000),
        "stats": {"totalRecords": 1000, "processedRecords": processed},
    }


@pytest.fixture
def checkpoints_dir(tmp_path: Path, settings) -> Iterator[Path]:
    """An empty checkpoints directory, wired into the Django settings for this test."""
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    settings.CHECKPOINTS_DIR = directory
    yield directory


@pytest.fixture
def samples_dir(checkpoints_dir: Path) -> Path:
    """The checkpoints directory filled with the seed's sample checkpoints."""
    for name in SAMPLE_NAMES:
        shutil.copyfile(SAMPLES / f"{name}.json", checkpoints_dir / f"{name}.json")
    return checkpoints_dir


@pytest.fixture(autouse=True)
def _fresh_snapshot_cache() -> Iterator[None]:
    """The write path remembers which snapshots audit entries refer to, as entries are never
    deleted; the test database is emptied between tests, so that memory is too."""

    def forget() -> None:
        services = sys.modules.get("checkpoints_admin.services")  # (library tests: no Django)
        if services is not None:
            services._forget_snapshots()
        audit = sys.modules.get("checkpoints_admin.audit")
        if audit is not None:  # (the latest verification of the chain)
            audit._verification = None

    forget()
    yield
    forget()


CHROMIUM = "/usr/bin/chromium"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests get two more tries: a real Chromium on a loaded 2-core machine sometimes
    misses a swap by its timeout. A test that fails three times still fails the run."""
    for item in items:
        if item.get_closest_marker("browser") and not item.get_closest_marker("flaky"):
            item.add_marker(pytest.mark.flaky(reruns=2))


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """Debian's Chromium driven by Playwright, one instance for the whole run."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in the test's thread; the ORM calls tests make
    # between browser steps are still plain synchronous calls.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--disable-background-networking", "--disable-component-update"],
        )
        yield browser
        browser.close()
