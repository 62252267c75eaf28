"""A PostgreSQL database taken away from a connection waiting for a lock, as a restart or a
failover would: the connection ends and no new one is let in, until allowed again."""

from __future__ import annotations

import time
from urllib.parse import urlsplit


def drop_the_waiting_connection(database: str, admin: str) -> None:
    """Wait for a connection to ``database`` (a URL) that waits for a lock; then refuse new
    connections to it (through ``admin``, another database's URL) and end that one."""
    import psycopg

    with psycopg.connect(database, autocommit=True) as watcher:
        for _ in range(500):
            row = watcher.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            ).fetchone()
            if row is not None:
                break
            time.sleep(0.01)
        else:
            raise AssertionError("no connection waited for a lock")
        allow_connections(database, admin, allowed=False)
        watcher.execute("SELECT pg_terminate_backend(%s)", [row[0]])


def allow_connections(database: str, admin: str, *, allowed: bool = True) -> None:
    import psycopg

    name = urlsplit(database).path.lstrip("/")
    with psycopg.connect(admin, autocommit=True) as root:
        root.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')


def drop_database(admin: str, name: str) -> None:
    """``DROP DATABASE … WITH (FORCE)`` through ``admin`` (another database's URL), again
    for a while when a server process of another role (an autovacuum worker) is in it, which
    a role without superuser rights may not end."""
    import psycopg

    for attempt in range(50):
        try:
            with psycopg.connect(admin, autocommit=True) as root:
                root.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
            if attempt == 49:
                raise
            time.sleep(0.2)
