"""Real processes on a shared database: concurrent writers, writers killed with SIGKILL, a
file write refused by the kernel. Each test gets its own database (a migrated SQLite file, or
a PostgreSQL database copied from a migrated template when DATABASE_URL names a server)."""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from checkpoints_admin.audit import ADVISORY_LOCK_KEY
from checkpoints_admin.checkpoints import CheckpointLockTimeout, CheckpointStore
from checkpoints_admin.checkpoints.store import version_of
from tests.postgres import allow_connections, drop_database, drop_the_waiting_connection

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("DATABASE_URL", "")
HAS_PG = PG_URL.startswith(("postgres://", "postgresql://"))
_numbers = itertools.count()


def worker(env: dict[str, str], *args: str, timeout: float = 120) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "tests.audit.worker", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def start_worker(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.audit.worker", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def base_env(database_url: str, directory: Path) -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "AUDIT_HMAC_KEY"))
    }
    return {
        **clean,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url,
        "CHECKPOINTS_DIR": str(directory),
    }


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(sql)


def pg_url(database: str) -> str:
    parts = urlsplit(PG_URL)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def migrated(tmp_path_factory) -> Iterator[dict[str, str]]:
    """One migrated database per backend, copied for each test."""
    templates: dict[str, str] = {}
    directory = tmp_path_factory.mktemp("audit-template")
    sqlite_path = directory / "template.sqlite3"
    worker(base_env(f"sqlite:///{sqlite_path}", directory), "migrate")
    templates["sqlite"] = str(sqlite_path)
    if HAS_PG:
        name = f"ckpt_audit_tpl_{os.getpid()}"
        pg_admin(f"DROP DATABASE IF EXISTS {name}")
        pg_admin(f"CREATE DATABASE {name}")
        worker(base_env(pg_url(name), directory), "migrate")
        templates["postgresql"] = name
    yield templates
    if HAS_PG:
        drop_database(PG_URL, templates["postgresql"])


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(
                not HAS_PG,
                reason="PostgreSQL runs only when DATABASE_URL names a PostgreSQL server "
                "(make test sets it on CI)",
            ),
        ),
    ]
)
def env(request, migrated, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for worker processes: a fresh migrated database and checkpoints dir."""
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    if request.param == "sqlite":
        database = tmp_path / "db.sqlite3"
        shutil.copyfile(migrated["sqlite"], database)
        yield base_env(f"sqlite:///{database}", directory)
        return
    name = f"ckpt_audit_{os.getpid()}_{next(_numbers)}"
    pg_admin(f"CREATE DATABASE {name} TEMPLATE {migrated['postgresql']}")
    try:
        yield base_env(pg_url(name), directory)
    finally:
        drop_database(PG_URL, name)


def replay(entries: list, checkpoint: str, initial: str | None) -> str | None:
    """Walk one checkpoint's entries in order and check each starts where the last landed.

    Returns the version the file must have now. Applied and recovered entries moved the file
    from their base to their result; interrupted ones found it at their base and left it.
    """
    state = initial
    for seq, name, action, outcome, base, result in entries:
        if name != checkpoint:
            continue
        assert base == state, f"entry {seq} ({action}, {outcome}) starts from another version"
        if outcome in {"applied", "recovered"}:
            state = result
        else:
            assert outcome == "interrupted", outcome
    return state


def assert_consistent(state: dict, initial: dict[str, str | None]) -> None:
    assert state["verify"]["ok"], state["verify"]["message"]
    seqs = [row[0] for row in state["entries"]]
    assert seqs == list(range(1, len(seqs) + 1))
    assert state["pending"] == 0
    for checkpoint, version in initial.items():
        assert replay(state["entries"], checkpoint, version) == state["versions"].get(checkpoint)


UNIFIED_DOC = {
    "lastProcessedDate": "2029-12-31",
    "pendingDates": [f"2030-01-{d:02d}" for d in range(1, 21)],
    "completedDates": ["2029-12-31"],
    "startTime": 1709742856123,
    "lastUpdateTime": 1709743156789,
    "stats": {
        "totalRecords": 10,
        "processedRecords": 5,
        "successfulRecords": 5,
        "failedRecords": 0,
        "timeouts": 0,
    },
}
MANAGED_DOC = {
    "id": "job-1",
    "created": "2025-03-06T09:00:00.000Z",
    "lastUpdated": "2025-03-06T09:05:00.000Z",
    "status": "running",
    "progress": 0,
    "processedItems": [],
    "pendingItems": ["x"],
}


def four_writers(
    env: dict[str, str], *, edits: int
) -> tuple[CheckpointStore, dict[str, str | None], list[dict]]:
    """Four processes at once: two skipping dates of one unified checkpoint (distinct dates),
    one making ``edits`` edits of a managed one, one cycling another through create, edit,
    reset and restore. The store, each checkpoint's version before, each process's output."""
    store = CheckpointStore(env["CHECKPOINTS_DIR"])
    initial = {
        "shared": store.write("shared", UNIFIED_DOC),
        "solo": store.write("solo", MANAGED_DOC),
        "cycled": None,
    }
    jobs = [
        start_worker(env, "work", "shared", "skip", "6", "a"),
        start_worker(env, "work", "shared", "skip", "6", "b"),
        start_worker(env, "work", "solo", "edit", str(edits), "c"),
        start_worker(env, "work", "cycled", "cycle", "6", "d"),
    ]
    outputs = []
    for job in jobs:
        stdout, stderr = job.communicate(timeout=180)
        assert job.returncode == 0, stderr[-3000:]
        outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    return store, initial, outputs


@pytest.mark.slow
def test_four_processes_at_once_lose_no_entry_and_keep_the_chain(env) -> None:
    store, initial, outputs = four_writers(env, edits=6)

    state = worker(env, "state")
    assert_consistent(state, initial)
    assert len(state["entries"]) == 24
    assert sorted(itertools.chain.from_iterable(o["seqs"] for o in outputs)) == list(range(1, 25))
    assert {row[3] for row in state["entries"]} == {"applied"}
    shared = store.read("shared").data
    skipped = [f"2030-01-{d:02d}" for d in range(1, 13)]
    assert shared["pendingDates"] == UNIFIED_DOC["pendingDates"][12:]
    assert sorted(shared["completedDates"]) == ["2029-12-31", *skipped]
    assert store.read("solo").data["progress"] == 6


@pytest.mark.slow
def test_writers_killed_at_random_moments_leave_every_change_with_its_entry(env) -> None:
    store = CheckpointStore(env["CHECKPOINTS_DIR"])
    initial = {"looped": store.write("looped", MANAGED_DOC)}

    killed = worker(env, "killloop", "looped", "12", str(random.randrange(1 << 30)))
    assert killed == {"kills": 12}
    worker(env, "recover")

    state = worker(env, "state")
    assert_consistent(state, initial)
    outcomes = [row[3] for row in state["entries"]]
    assert "applied" in outcomes
    assert set(outcomes) <= {"applied", "recovered", "interrupted"}


def test_a_file_write_refused_by_the_kernel_leaves_no_entry(env) -> None:
    store = CheckpointStore(env["CHECKPOINTS_DIR"])
    # A large, very compressible file: its snapshots keep the database far below the limit.
    items = [f"{'queue-item-' * 10}{i:07d}" for i in range(12_000)]
    store.write("limited", {**MANAGED_DOC, "pendingItems": items})
    original = (Path(env["CHECKPOINTS_DIR"]) / "limited.json").read_bytes()
    limit = len(original) + 1000  # the file may not grow past this; the database stays below

    result = worker(env, "limited", "limited", str(limit))

    assert result["error"] == "CheckpointWriteError", result
    assert "limited" in result["message"]
    state = worker(env, "state")
    assert state["entries"] == []
    assert state["pending"] == 0
    assert state["versions"] == {"limited": version_of(original)}
    assert (Path(env["CHECKPOINTS_DIR"]) / "limited.json").read_bytes() == original


@pytest.mark.slow
def test_four_real_commands_at_once_keep_every_entry_and_verify_audit_passes(env) -> None:
    store = CheckpointStore(env["CHECKPOINTS_DIR"])
    initial = {
        "shared": store.write("shared", UNIFIED_DOC),
        "solo": store.write("solo", MANAGED_DOC),
        "other": store.write("other", UNIFIED_DOC),
    }
    manage = f"{sys.executable} manage.py"
    skip = f"{manage} skip_dates shared 2030-01-$d --yes --reason"
    loops = [
        f"for d in 01 03; do {skip} a || exit 1; done",
        f"for d in 02 04; do {skip} b || exit 1; done",
        f"for n in 1 2; do {manage} edit_checkpoint solo --set /progress=$n --yes --reason c "
        "|| exit 1; done",
        f"{manage} reprocess_dates other 2029-12-31 --yes --reason d && "
        f"{manage} skip_dates other 2029-12-31 --yes --reason d",
    ]
    jobs = [
        subprocess.Popen(
            ["bash", "-c", loop],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for loop in loops
    ]
    for job in jobs:
        _, stderr = job.communicate(timeout=300)
        assert job.returncode == 0, stderr[-3000:]

    verified = subprocess.run(
        [sys.executable, "manage.py", "verify_audit", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    state = worker(env, "state")
    assert_consistent(state, initial)
    assert len(state["entries"]) == 8
    shared = store.read("shared").data
    assert shared["pendingDates"] == [f"2030-01-{d:02d}" for d in range(5, 21)]
    assert store.read("solo").data["progress"] == 2
    assert store.read("other").data == UNIFIED_DOC


HOLD_SQLITE_WRITE_LOCK = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("ROLLBACK")
"""

JOB_SAVES = """
import json, sys, time
from checkpoints_admin.checkpoints import CheckpointError, CheckpointManager
start = time.monotonic()
manager = CheckpointManager("stalled", {"id": "s"}, lock_timeout=6.0)
try:
    manager.init()
    manager.update({"progress": 3})
    print(json.dumps({"saved": True, "after": time.monotonic() - start}))
except CheckpointError as exc:
    print(json.dumps({"saved": False, "error": str(exc)}))
"""


HOLD_CHAIN_LOCK = """
import sys, time
import psycopg
# What prune_snapshots does for as long as it works: hold the audit chain's lock.
with psycopg.connect(sys.argv[1], autocommit=True) as connection:
    connection.execute("SELECT pg_advisory_lock(%s)", [int(sys.argv[2])])
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
"""


HOLD_TABLE_LOCK = """
import sys, time
import psycopg
# What a migration's CREATE INDEX on the audit log does for as long as it builds the index.
with psycopg.connect(sys.argv[1]) as connection:
    connection.execute("LOCK TABLE checkpoints_admin_auditentry IN SHARE MODE")
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold_the_database(
    env: dict[str, str], seconds: float, what: str = "chain"
) -> tuple[subprocess.Popen, str]:
    """A process that holds SQLite's write lock, or on PostgreSQL the audit chain's lock (as
    ``prune_snapshots`` does; ``what="table"``: the audit log's table, as a migration does),
    for ``seconds``; and what a command refused for it says."""
    url = env["DATABASE_URL"]
    if url.startswith("sqlite:///"):
        hold = [HOLD_SQLITE_WRITE_LOCK, url.removeprefix("sqlite:///")]
        said = "Database error: database is locked."
    else:
        hold = (
            [HOLD_TABLE_LOCK, url]
            if what == "table"
            else [HOLD_CHAIN_LOCK, url, str(ADVISORY_LOCK_KEY)]
        )
        said = "Database error: canceling statement due to lock timeout."
    holder = subprocess.Popen(
        [sys.executable, "-c", *hold, str(seconds)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder, said


def job_saves_behind(env: dict[str, str], command: list[str]) -> tuple[dict, int, str]:
    """Run the console's ``command``; once it holds the checkpoint's lock, a job saves (its
    result), and the command's exit code and stderr."""
    running = subprocess.Popen(
        [sys.executable, "manage.py", *command], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    # The job starts once the command has the checkpoint's lock.
    for _ in range(600):
        if worker_cannot_lock(env, "stalled"):
            break
        time.sleep(0.02)
    else:
        raise AssertionError(f"{command[0]} never took the checkpoint's lock")
    job = subprocess.run(
        [sys.executable, "-c", JOB_SAVES], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    _, said = running.communicate(timeout=60)
    return json.loads(job.stdout or "{}") | {"stderr": job.stderr}, running.returncode, said


def test_a_busy_audit_database_fails_the_operators_change_not_the_jobs_save(env) -> None:
    """Another process holds SQLite's write lock, or the audit chain's lock on PostgreSQL
    (as ``prune_snapshots`` does): the operator's change waited for it while holding the
    checkpoint's lock (30 s on SQLite; on PostgreSQL for as long as it was held), and the
    job's save timed out behind it."""
    store = CheckpointStore(env["CHECKPOINTS_DIR"])
    store.write("stalled", {"id": "s", "status": "running", "progress": 1})
    holder, refused = hold_the_database(env, 9)
    try:
        job, code, said = job_saves_behind(
            env,
            ["edit_checkpoint", "stalled", "--set", "/progress=2", "--yes", "--reason", "stall"],
        )
    finally:
        holder.kill()
        holder.wait()
    assert job["saved"] is True, job
    assert code == 1
    assert said.strip().endswith(f"{refused} Nothing was changed."), said
    assert store.read("stalled").data["progress"] == 3
    state = worker(env, "state")
    assert (state["entries"], state["pending"]) == ([], 0)


def test_a_connection_lost_after_the_file_was_written_says_the_change_may_be_there(env) -> None:
    """The database connection ends (a restart, a failover) while the entry is written, after
    the file was: the command said "Nothing was changed" over a file that had the change.
    It says so now, and the journal row is recorded as landed once the database answers."""
    url = env["DATABASE_URL"]
    if url.startswith("sqlite:"):
        pytest.skip("a SQLite connection does not end under a process")
    store = CheckpointStore(env["CHECKPOINTS_DIR"])
    store.write("stalled", UNIFIED_DOC)
    holder, _ = hold_the_database(env, 30, "table")  # the entry waits for the table
    try:
        running = subprocess.Popen(
            [sys.executable, "manage.py", "skip_dates", "stalled", "2030-01-05", "--yes",
             "--reason", "upstream never delivers"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            drop_the_waiting_connection(url, PG_URL)  # (the entry's, waiting for the table)
        except AssertionError:
            running.kill()
            raise
        _, said = running.communicate(timeout=60)
    finally:
        holder.kill()
        holder.wait()
        allow_connections(url, PG_URL)
    assert running.returncode == 1
    assert "Nothing was changed" not in said, said
    assert said.strip().endswith(
        "stalled.json has the change. It is recorded as soon as the database answers (at the "
        "next change of this checkpoint, or by verify_audit). Check the checkpoint before "
        "trying again."
    ), said
    assert "2030-01-05" in store.read("stalled").data["completedDates"]
    assert (worker(env, "state")["entries"], worker(env, "state")["pending"]) == ([], 1)

    verify_audit_says(env, "Recorded #1: skip of stalled was recovered after its process stopped.")


@pytest.mark.parametrize("hours_later", [0, 2])
def test_a_change_that_never_landed_is_not_credited_with_the_jobs_own_move(
    env, hours_later: int
) -> None:
    """A process stopped after its journal row, before its new file was put in place; the
    job then made the same move itself (it processed that date) and saved. Recovery judged
    by the file's content alone and recorded the operator's skip as landed. Also when it
    comes hours later: the temp file that tells it outlives the sweep of the job's restart
    (which removed every temp file an hour old)."""
    store = CheckpointStore(env["CHECKPOINTS_DIR"])
    store.write("stalled", UNIFIED_DOC)
    subprocess.run(
        [sys.executable, "-m", "tests.audit.worker", "stopped", "stalled"],
        cwd=ROOT, env=env, check=True, timeout=120,
    )  # fmt: skip
    temps = list(Path(env["CHECKPOINTS_DIR"]).glob(".stalled.json.*.tmp"))
    assert len(temps) == 1  # its new bytes, never renamed into place
    then = time.time() - hours_later * 3600
    os.utime(temps[0], (then, then))
    job = CheckpointStore(env["CHECKPOINTS_DIR"])
    job.sweep_if_due()  # as a job's manager does when it starts
    assert temps[0].exists()
    document = job.read("stalled").data
    day = document["pendingDates"].pop(0)  # the job's own work on that date
    document["completedDates"].append(day)
    document["stats"]["processedRecords"] += 1
    job.write("stalled", document)

    verify_audit_says(
        env, "Recorded #1: skip of stalled was interrupted after its process stopped."
    )
    exported = subprocess.run(
        [sys.executable, "manage.py", "export_audit"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=120, check=True,
    )  # fmt: skip
    [entry] = [json.loads(line) for line in exported.stdout.splitlines()]
    assert entry["summary"].endswith(
        "[interrupted: did not land: its new file was never put in place]"
    ), entry
    assert not temps[0].exists()  # an orphan, removed


def test_a_busy_audit_database_fails_verify_audits_recovery_not_the_jobs_save(env) -> None:
    """``verify_audit`` records the journal row of a stopped process under the checkpoint's
    lock: with the database busy it gives up after a while, and the row stays for the next
    run, which records it once the database is free."""
    store = CheckpointStore(env["CHECKPOINTS_DIR"])
    store.write("stalled", UNIFIED_DOC)
    before = store.read("stalled").version
    subprocess.run(
        [sys.executable, "-m", "tests.audit.worker", "stopped", "stalled"],
        cwd=ROOT, env=env, check=True, timeout=120,
    )  # fmt: skip
    assert (store.read("stalled").version, worker(env, "state")["pending"]) == (before, 1)
    holder, refused = hold_the_database(env, 9)
    try:
        job, code, said = job_saves_behind(env, ["verify_audit"])
    finally:
        holder.kill()
        holder.wait()
    assert job["saved"] is True, job
    assert code == 1
    assert refused in said, said
    assert store.read("stalled").data["progress"] == 3
    state = worker(env, "state")
    assert (state["entries"], state["pending"]) == ([], 1)

    verify_audit_says(
        env, "Recorded #1: skip of stalled was interrupted after its process stopped."
    )
    assert worker(env, "state")["pending"] == 0


def verify_audit_says(env: dict[str, str], line: str) -> None:
    """``verify_audit`` records what the journal holds, says ``line`` of it, and exits 0."""
    again = subprocess.run(
        [sys.executable, "manage.py", "verify_audit"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert line in again.stderr, again.stderr


def worker_cannot_lock(env: dict[str, str], name: str) -> bool:
    """Whether another process holds the checkpoint's lock now."""
    try:
        with CheckpointStore(env["CHECKPOINTS_DIR"], lock_timeout=0).lock(name):
            return False
    except CheckpointLockTimeout:
        return True


@pytest.mark.skipif(not HAS_PG, reason="PostgreSQL runs only when DATABASE_URL names a server")
def test_instances_starting_at_once_migrate_one_after_the_other(tmp_path) -> None:
    """Three `migrate`s on a fresh PostgreSQL database at once (what containers starting
    together do): without the advisory lock, all but one failed on a type created twice."""
    import psycopg

    name = f"migrate_race_{os.getpid()}"
    url = urlunsplit(urlsplit(PG_URL)._replace(path=f"/{name}"))
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": url,
            "CHECKPOINTS_DIR": str(tmp_path),
        }
        runs = [
            subprocess.Popen(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for _ in range(3)
        ]
        outcomes = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
        assert [code for code, _ in outcomes] == [0, 0, 0], outcomes
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


PGBOUNCER = shutil.which("pgbouncer", path=f"{os.environ.get('PATH', '')}:/usr/sbin")


@pytest.fixture
def pgbouncer_env(migrated, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Worker environment on a fresh database reached through PgBouncer in transaction mode,
    two server connections for every client: each transaction may land on either."""
    import socket
    import time

    name = f"ckpt_pgb_{os.getpid()}_{next(_numbers)}"
    pg_admin(f"CREATE DATABASE {name} TEMPLATE {migrated['postgresql']}")
    server = urlsplit(PG_URL)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "users.txt").write_text(f'"{server.username}" "{server.password}"\n')
    (tmp_path / "pgbouncer.ini").write_text(
        f"[databases]\n{name} = host={server.hostname} port={server.port or 5432}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {tmp_path / 'users.txt'}\npool_mode = transaction\n"
        "default_pool_size = 2\nignore_startup_parameters = extra_float_digits,options\n"
    )
    # (it refuses to run as root: it reads its files, then becomes nobody)
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    assert PGBOUNCER is not None
    bouncer = subprocess.Popen(
        [PGBOUNCER, *user, str(tmp_path / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(100):
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        url = urlunsplit(server._replace(netloc=f"{server.netloc.rsplit(':', 1)[0]}:{port}"))
        directory = tmp_path / "checkpoints"
        directory.mkdir()
        yield {
            **base_env(urlunsplit(urlsplit(url)._replace(path=f"/{name}")), directory),
            "DATABASE_CONN_MAX_AGE": "0",
        }
    finally:
        bouncer.terminate()
        bouncer.wait(timeout=30)
        drop_database(PG_URL, name)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_PG, reason="PostgreSQL runs only when DATABASE_URL names a server")
@pytest.mark.skipif(PGBOUNCER is None, reason="needs pgbouncer (.ci/run installs it)")
def test_behind_pgbouncer_in_transaction_mode(pgbouncer_env):
    """The default (the audited change's statements prepared, named by their text) behind a
    pooler that moves every transaction to any of its server connections, where a session
    may hold statements another process prepared and lack this one's: four processes
    making different kinds of change at once lose none, and the chain and the files agree."""
    store, initial, _ = four_writers(pgbouncer_env, edits=8)
    state = worker(pgbouncer_env, "state")
    assert_consistent(state, initial)
    assert len(state["entries"]) == 26
    assert store.read("solo").data["progress"] == 8
    assert len(store.read("shared").data["pendingDates"]) == len(UNIFIED_DOC["pendingDates"]) - 12
    # A change's lock timeout is its transaction's: set for a session, the pooler would hand
    # it on to other clients' statements (a migration's, failing after 3 s).
    import psycopg

    with psycopg.connect(pgbouncer_env["DATABASE_URL"], autocommit=True) as client:
        seen = {client.execute("SHOW lock_timeout").fetchone()[0] for _ in range(20)}
    assert seen == {"0"}
