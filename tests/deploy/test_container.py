"""The container's parts, each run for real: Dockerfile facts, entrypoint, gunicorn config."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="checkpoints_admin.settings",
        DJANGO_SECRET_KEY="container-test-key-" + "k3Yq" * 12,
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CHECKPOINTS_DIR=str(tmp_path / "checkpoints"),
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
    )
    env.update(extra)
    (tmp_path / "checkpoints").mkdir(exist_ok=True)
    return env


def run_entrypoint(
    tmp_path: Path, command: str | list[str], **env: str
) -> subprocess.CompletedProcess[str]:
    """``docker/entrypoint.sh python -c COMMAND`` (or the command given as a list) with the
    production settings and ``env`` (``_PARENT_UMASK``: the umask it is started with)."""
    parent = env.pop("_PARENT_UMASK", None)
    argv = command if isinstance(command, list) else ["python", "-c", command]
    return subprocess.run(
        ["sh", "docker/entrypoint.sh", *argv],
        preexec_fn=(lambda: os.umask(int(parent, 8))) if parent else None,
        cwd=ROOT,
        env=production_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def instructions(name: str) -> list[str]:
    return [line for line in DOCKERFILE.splitlines() if line.startswith(f"{name} ")]


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = instructions("USER")
    assert users, "the final stage must switch to a non-root user"
    assert users[-1].split()[1] not in {"root", "0"}
    final_stage = DOCKERFILE.rsplit("\nFROM ", 1)[1]
    assert "USER app" in final_stage


def test_dockerfile_health_check_needs_no_extra_tools() -> None:
    (healthcheck,) = [line for line in DOCKERFILE.splitlines() if "HEALTHCHECK" in line]
    check = DOCKERFILE.split("HEALTHCHECK", 1)[1].split("\n\n", 1)[0]
    assert '"python", "/app/docker/healthcheck.py"' in check
    assert not re.search(r"\b(curl|wget)\b", check)


def test_compose_lets_gunicorn_finish_the_requests_in_flight_before_docker_kills_it() -> None:
    """gunicorn waits up to GUNICORN_GRACEFUL_TIMEOUT (30 s) for requests in flight; a stop
    that kills it sooner (Docker's default: 10 s) cuts an intervention off."""
    compose = (ROOT / "compose.yaml").read_text()
    console = compose.split("\n  console:\n", 1)[1].split("\n  job:\n", 1)[0]
    grace = re.search(r"^    stop_grace_period: (\d+)s$", console, re.M)
    assert grace is not None and int(grace.group(1)) > 30


def test_dockerfile_is_multi_stage_on_slim_python_with_pinned_requirements() -> None:
    stages = instructions("FROM")
    assert len(stages) >= 2
    assert all(stage.split()[1].startswith("python:3.13-slim") for stage in stages)
    assert "pip install --require-virtualenv -r requirements.lock" in DOCKERFILE
    assert "collectstatic --noinput" in DOCKERFILE
    assert "EXPOSE 8000" in DOCKERFILE
    assert re.search(r'^VOLUME \["/data/checkpoints"\]', DOCKERFILE, re.M)
    pinned = [
        line
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert pinned and all("==" in line for line in pinned)
    names = {line.split("==")[0].lower().replace("_", "-") for line in pinned}
    assert {"django", "filelock", "gunicorn", "whitenoise", "psycopg"} <= names


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "db.sqlite3*", "checkpoints", ".local-secret-key"} <= ignored


def test_entrypoint_waits_migrates_and_execs_the_command(tmp_path: Path) -> None:
    result = run_entrypoint(
        tmp_path,
        "import os; print('served', os.environ.get('DJANGO_SUPERUSER_PASSWORD'))",
        DJANGO_SUPERUSER_PASSWORD="first-admin-password-1",
    )
    assert result.returncode == 0, result.stderr
    assert "The database is ready." in result.stdout
    # (the server does not keep the first admin's password in its environment)
    assert "served None" in result.stdout
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        applied = {row[0] for row in db.execute("SELECT app FROM django_migrations")}
        admins = db.execute("SELECT username FROM auth_user WHERE is_superuser").fetchall()
    assert {"auth", "checkpoints_admin"} <= applied
    assert admins == [("admin",)]
    assert not list((tmp_path / "checkpoints").glob("*.json")), "no samples in production"


def test_a_one_off_command_neither_migrates_nor_creates_accounts(tmp_path: Path) -> None:
    """`docker run IMAGE python manage.py …` runs the command alone: a newer image's one-off
    must not migrate the database the running console uses."""
    result = run_entrypoint(
        tmp_path,
        ["python", "manage.py", "checkpoint_status"],
        DJANGO_SUPERUSER_PASSWORD="first-admin-password-1",
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"No checkpoints in {tmp_path / 'checkpoints'}.\n"
    assert "The database is ready." not in result.stdout
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert tables == []  # not migrated, so no account either


@pytest.mark.parametrize(
    ("value", "migrated"), [("No", False), ("0", False), ("YES", True), (" on ", True)]
)
def test_entrypoint_reads_migrate_on_start_as_every_boolean(tmp_path, value, migrated) -> None:
    result = run_entrypoint(tmp_path, "print('served')", MIGRATE_ON_START=value)
    assert result.returncode == 0, result.stderr
    assert "served" in result.stdout
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        tables = db.execute("SELECT name FROM sqlite_master WHERE name = 'django_migrations'")
        assert bool(tables.fetchall()) is migrated


def test_entrypoint_refuses_a_migrate_on_start_it_cannot_read(tmp_path: Path) -> None:
    # (said before the wait for a database that never answers)
    result = run_entrypoint(
        tmp_path,
        "print('served')",
        MIGRATE_ON_START="sometimes",
        DATABASE_URL="postgres://nobody:wrong@127.0.0.1:9/none",
        DATABASE_WAIT_SECONDS="30",
    )
    assert result.returncode == 2
    assert result.stderr == "error: MIGRATE_ON_START must be true or false, not 'sometimes'.\n"
    assert "served" not in result.stdout


@pytest.mark.parametrize(
    ("value", "mask"), [(None, "0007"), ("", "0007"), ("0002", "0002"), (" 027 ", "0027")]
)
def test_entrypoint_sets_the_umask_of_the_files_it_creates(tmp_path, value, mask) -> None:
    """UMASK when given; else the one it was started with (here 0007, as a runtime's
    --umask would set)."""
    env = {"_PARENT_UMASK": "0007"} if value is None else {"UMASK": value, "_PARENT_UMASK": "0007"}
    result = run_entrypoint(tmp_path, "import os; m = os.umask(0); print(f'umask {m:04o}')", **env)
    assert result.returncode == 0, result.stderr
    assert f"umask {mask}" in result.stdout


@pytest.mark.parametrize("value", ["0999", "rw-", "00022"])
def test_entrypoint_refuses_a_umask_it_cannot_read(tmp_path: Path, value) -> None:
    result = run_entrypoint(tmp_path, "print('served')", UMASK=value)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: UMASK must be an octal mask such as 0002 or 0022, not '{value}'.\n"
    )
    assert "served" not in result.stdout


@pytest.mark.parametrize("value", ["abc", "0", "00", "2.5", "1 2"])
def test_entrypoint_refuses_a_web_concurrency_gunicorn_cannot_read(tmp_path, value) -> None:
    """gunicorn reads it before gunicorn.conf.py can check it, and stops with a traceback."""
    result = run_entrypoint(tmp_path, "print('served')", WEB_CONCURRENCY=value)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: WEB_CONCURRENCY must be a whole number of at least 1, not '{value}'.\n"
    )
    assert "served" not in result.stdout


@pytest.mark.parametrize("value", [" 3 ", "08"])
def test_entrypoint_takes_a_web_concurrency_gunicorn_conf_takes(tmp_path, value) -> None:
    result = run_entrypoint(tmp_path, "print('served')", WEB_CONCURRENCY=value)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert "served" in result.stdout


def test_entrypoint_stops_when_the_database_never_answers(tmp_path: Path) -> None:
    result = run_entrypoint(
        tmp_path,
        "print('served')",
        DATABASE_URL="postgres://nobody:wrong@127.0.0.1:9/none",
        DATABASE_WAIT_SECONDS="1",
    )
    assert result.returncode != 0
    assert "The database did not answer within 1 s" in result.stderr
    assert "served" not in result.stdout


def test_gunicorn_config_reads_the_environment(tmp_path: Path) -> None:
    code = (
        "import runpy, json; c = runpy.run_path('gunicorn.conf.py'); "
        "print(json.dumps({k: c[k] for k in ('bind', 'workers', 'timeout', "
        "'graceful_timeout', 'accesslog')}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=production_env(tmp_path, PORT="9123", WEB_CONCURRENCY="3"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        '{"bind": "0.0.0.0:9123", "workers": 3, "timeout": 60, '
        '"graceful_timeout": 30, "accesslog": "-"}'
    )
