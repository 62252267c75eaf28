"""The README's library example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import orjson

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, re.S)


def test_the_job_example_runs_and_completes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CHECKPOINTS_DIR", str(tmp_path))
    exported: list[str] = []
    job = python_blocks()[0]
    assert "CheckpointManager(" in job
    exec(compile(job, "README.md", "exec"), {"export": exported.append})  # noqa: S102
    assert exported == ["customers", "orders", "invoices"]
    saved = orjson.loads((tmp_path / "nightly-export.json").read_bytes())
    assert saved["status"] == "completed"
    assert saved["progress"] == 100
    assert saved["processedItems"] == ["customers", "orders", "invoices"]
    assert saved["pendingItems"] == []


def test_the_job_example_takes_an_operators_skip_made_while_it_runs(
    tmp_path: Path, monkeypatch
) -> None:
    """It looped over a copy of the list taken at the start: an item an operator skipped was
    exported all the same, and one sent back to be reprocessed was not."""
    from checkpoints_admin.checkpoints import CheckpointStore, interventions

    monkeypatch.setenv("CHECKPOINTS_DIR", str(tmp_path))
    store = CheckpointStore(tmp_path)
    exported: list[str] = []
    namespace: dict = {}

    def export(item: str) -> None:
        exported.append(item)
        if item == "customers":  # meanwhile an operator skips invoices; then an autosave
            document = store.read("nightly-export").data
            store.write("nightly-export", interventions.skip_items(document, ["invoices"]))
            namespace["checkpoint"].save()

    namespace["export"] = export
    exec(compile(python_blocks()[0], "README.md", "exec"), namespace)  # noqa: S102
    assert exported == ["customers", "orders"]
    saved = store.read("nightly-export").data
    assert (saved["status"], saved["pendingItems"]) == ("completed", [])
    assert sorted(saved["processedItems"]) == ["customers", "invoices", "orders"]


def test_the_store_example_runs(tmp_path: Path) -> None:
    from checkpoints_admin.checkpoints import CheckpointStore

    store = CheckpointStore(tmp_path)
    store.write("nightly-export", {"id": "x", "status": "running", "progress": 5})
    block = python_blocks()[1].replace('"/var/lib/checkpoints"', repr(str(tmp_path)))
    exec(compile(block, "README.md", "exec"), {"print": lambda *args: None})  # noqa: S102
    assert store.read("nightly-export").data["note"] == "x"
