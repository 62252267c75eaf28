"""Run the real ``manage.py`` commands in subprocesses against a real, migrated database.

The database is migrated once per session into a template; each test gets its own copy
(a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL when the suite runs
with ``DATABASE_URL=postgres://…``), so sequence numbers start at 1 in every test.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import SAMPLE_NAMES, SAMPLES
from tests.postgres import drop_database

ROOT = Path(__file__).resolve().parents[2]
ENTRY_COLUMNS = ("seq", "action", "checkpoint", "actor", "source", "reason", "outcome")
_numbers = itertools.count(1)


def base_env() -> dict[str, str]:
    """The environment without the caller's Django, database and checkpoint settings."""
    prefixes = ("DJANGO_", "DATABASE_URL", "CHECKPOINT", "AUDIT_", "STALE_", "LOG_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)} | {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def manage(args: list[str], env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


class Database:
    """A per-session template database and per-test copies of it."""

    def __init__(self, workdir: Path) -> None:
        outer = os.environ.get("DATABASE_URL", "")
        self.postgres = outer.startswith(("postgres://", "postgresql://"))
        self.outer = outer
        self.workdir = workdir
        if self.postgres:
            self.template = f"cli_tpl_{os.getpid()}"
            self._execute(f'CREATE DATABASE "{self.template}"')
            self.template_url = self._url(self.template)
        else:
            self.template = str(workdir / "template.sqlite3")
            self.template_url = f"sqlite:///{self.template}"
        env = base_env() | {
            "DATABASE_URL": self.template_url,
            "CHECKPOINTS_DIR": str(workdir),
        }
        result = manage(["migrate", "--noinput", "-v", "0"], env)
        assert result.returncode == 0, result.stderr

    def _url(self, name: str) -> str:
        parts = urlsplit(self.outer)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def _execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.outer, autocommit=True) as connection:
            connection.execute(sql)

    def copy(self) -> str:
        """A fresh migrated database; its URL."""
        number = next(_numbers)
        if self.postgres:
            name = f"cli_{os.getpid()}_{number}"
            self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            return self._url(name)
        path = self.workdir / f"test-{number}.sqlite3"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"

    def drop(self, url: str) -> None:
        if self.postgres:
            drop_database(self.outer, urlsplit(url).path[1:])

    def close(self) -> None:
        if self.postgres:
            drop_database(self.outer, self.template)

    def rows(self, url: str, sql: str) -> list[tuple[Any, ...]]:
        if self.postgres:
            import psycopg

            with psycopg.connect(url) as connection:
                return list(connection.execute(sql).fetchall())
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            return list(connection.execute(sql).fetchall())


@pytest.fixture(scope="session")
def cli_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    database = Database(tmp_path_factory.mktemp("cli-db"))
    yield database
    database.close()


@dataclass
class Cli:
    """The checkpoints directory, the database and a way to run ``manage.py`` on them."""

    directory: Path
    database: Database
    url: str
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return (
            base_env()
            | {
                "CHECKPOINTS_DIR": str(self.directory),
                "DATABASE_URL": self.url,
                "CHECKPOINT_LOCK_TIMEOUT": "5",
                "STALE_AFTER_SECONDS": "3600",
            }
            | self.extra_env
        )

    def run(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess:
        return manage(list(args), self.env, **kwargs)

    def popen(self, *args: str, **kwargs: Any) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, **kwargs
        )

    def entries(self) -> list[dict[str, Any]]:
        """The audit entries, as stored, in seq order."""
        rows = self.database.rows(
            self.url,
            f"SELECT {', '.join(ENTRY_COLUMNS)} FROM checkpoints_admin_auditentry ORDER BY seq",
        )
        return [dict(zip(ENTRY_COLUMNS, row, strict=True)) for row in rows]

    def files(self) -> dict[str, bytes]:
        """Every checkpoint file's bytes, by file name."""
        return {path.name: path.read_bytes() for path in sorted(self.directory.glob("*.json"))}

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.json"

    def write(self, name: str, document: Any) -> None:
        text = document if isinstance(document, str) else json.dumps(document, indent=2) + "\n"
        self.path(name).write_text(text, encoding="utf-8")

    def version(self, name: str) -> str:
        import hashlib

        return hashlib.sha256(self.path(name).read_bytes()).hexdigest()


@pytest.fixture
def cli(tmp_path: Path, cli_database: Database) -> Iterator[Cli]:
    """A checkpoints directory holding the seed samples, and a fresh migrated database."""
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    for name in SAMPLE_NAMES:
        shutil.copyfile(SAMPLES / f"{name}.json", directory / f"{name}.json")
    url = cli_database.copy()
    yield Cli(directory, cli_database, url)
    cli_database.drop(url)
