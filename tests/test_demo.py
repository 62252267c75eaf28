"""The demo job (``python -m checkpoints_admin.demo``), run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROG = "python -m checkpoints_admin.demo"


def demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "checkpoints_admin.demo", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_runs_to_completion_through_the_library(tmp_path: Path) -> None:
    result = demo("--name", "demo-job", "--items", "3", "--delay", "0",
                  "--directory", str(tmp_path), cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "demo-job.json").read_text())
    assert document["status"] == "completed"
    assert document["progress"] == 100
    assert document["processedItems"] == ["item-00001", "item-00002", "item-00003"]
    assert document["pendingItems"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--items", "-1"], "argument --items: at least 1 item is needed, not -1"),
        (["--items", "many"], "argument --items: a whole number is needed, not 'many'"),
        (["--delay", "-5"], "argument --delay: 0 seconds or more are needed, not '-5'"),
        (["--delay", "nan"], "argument --delay: 0 seconds or more are needed, not 'nan'"),
    ],
)
def test_a_wrong_argument_is_a_usage_error_naming_it(tmp_path: Path, args, message) -> None:
    result = demo(*args, "--directory", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == f"{PROG}: error: {message}"
    assert list(tmp_path.iterdir()) == []


def test_a_name_with_a_path_is_refused_in_one_line(tmp_path: Path) -> None:
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    result = demo("--name", "../x", "--delay", "0", "--directory", str(directory), cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        1,
        f"{PROG}: error: invalid checkpoint name '../x': it contains a path separator or a "
        "NUL character\n",
    )
    assert list(tmp_path.iterdir()) == [directory]
    assert list(directory.iterdir()) == []
