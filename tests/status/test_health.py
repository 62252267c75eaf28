"""``/healthz``: open to anyone; 503 naming the failed check, on failures root cannot skip."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_ok_for_anyone(client, checkpoints_dir, private):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]
    assert list(checkpoints_dir.iterdir()) == []  # the write probe cleaned up


@pytest.mark.django_db
def test_missing_directory(client, tmp_path, settings):
    settings.CHECKPOINTS_DIR = tmp_path / "does-not-exist"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "failing",
        "failed": ["checkpoints_dir_readable", "checkpoints_dir_writable"],
    }
    assert not (tmp_path / "does-not-exist").exists()


@pytest.mark.django_db
def test_directory_is_a_regular_file(client, tmp_path, settings):
    regular = tmp_path / "checkpoints"
    regular.write_text("not a directory")
    settings.CHECKPOINTS_DIR = regular

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "failing",
        "failed": ["checkpoints_dir_readable", "checkpoints_dir_writable"],
    }
    assert regular.read_text() == "not a directory"


@contextmanager
def tmpfs(mount_point: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted at ``mount_point`` with ``options`` (the test is skipped where mounting
    is not allowed), unmounted afterwards."""
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs ({options}) here: " + result.stderr.decode().strip())
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


@pytest.fixture
def read_only_dir(tmp_path):
    """A read-only tmpfs mount: unwritable even for root."""
    with tmpfs(tmp_path / "readonly", "ro,size=1m") as mount_point:
        yield mount_point


@pytest.mark.django_db
def test_read_only_directory(client, read_only_dir, settings):
    settings.CHECKPOINTS_DIR = read_only_dir

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "failing", "failed": ["checkpoints_dir_writable"]}


@pytest.fixture
def small_dir(tmp_path):
    """A 2 MiB tmpfs mount, a disk that can really be filled."""
    with tmpfs(tmp_path / "small", "size=2m") as mount_point:
        yield mount_point


def fill(path, *, leave=0):
    """Write zeros to ``path`` until the disk is full, then give back ``leave`` bytes."""
    with path.open("wb", buffering=0) as file:
        try:
            while True:
                file.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
        file.truncate(max(0, file.tell() - leave))


@pytest.mark.django_db
def test_a_full_disk_is_failing(client, small_dir, settings):
    """Creating the empty probe file still succeeds on a full disk: it takes no block."""
    settings.CHECKPOINTS_DIR = small_dir
    assert client.get("/healthz").json() == {"status": "ok"}

    fill(small_dir / "filler")
    full = client.get("/healthz")
    fill(small_dir / "filler", leave=64 * 1024)  # a byte would fit; a checkpoint's save not
    nearly_full = client.get("/healthz")
    (small_dir / "filler").unlink()
    freed = client.get("/healthz")

    for response in (full, nearly_full):
        assert response.status_code == 503
        assert response.json() == {"status": "failing", "failed": ["checkpoints_dir_space"]}
    assert (freed.status_code, freed.json()) == (200, {"status": "ok"})
    assert list(small_dir.iterdir()) == []  # the write probes cleaned up


@pytest.mark.django_db
def test_the_free_space_wanted_is_a_setting(client, small_dir, settings):
    """A deployment whose checkpoints are larger than 1 MiB wants room for its largest."""
    settings.CHECKPOINTS_DIR = small_dir
    settings.HEALTH_MIN_FREE_BYTES = 3 * 1024 * 1024  # more than the 2 MiB disk holds
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (
        503,
        {"status": "failing", "failed": ["checkpoints_dir_space"]},
    )
    settings.HEALTH_MIN_FREE_BYTES = 0  # never failing for space, even when full
    fill(small_dir / "filler")
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_database_down(tmp_path):
    """A real server that refuses connections, in a child process with its own settings."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": "postgres://nobody:nothing@127.0.0.1:1/none",
        "CHECKPOINTS_DIR": str(tmp_path),
    }
    code = (
        "import django, json; django.setup()\n"
        "from django.test import Client\n"
        "r = Client().get('/healthz')\n"
        "print(json.dumps([r.status_code, r.json()]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        503,
        {"status": "failing", "failed": ["database"]},
    ]


@pytest.mark.django_db
def test_only_get_and_head(client, checkpoints_dir):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405
