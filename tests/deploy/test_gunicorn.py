"""gunicorn with gunicorn.conf.py and the production settings, driven over real HTTP.

One instance: sign in, skip a date, find it in the audit log and in /status.json. Two instances
on one database and one checkpoints directory: interventions through both at once end with one
valid audit chain, nothing lost or doubled.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.postgres import allow_connections, drop_database, drop_the_waiting_connection

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PASSWORD = "smoke-test-password-8413"

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Production settings over a fresh database and a checkpoints directory with the samples.

    On PostgreSQL the database is one of its own, dropped again after the test."""
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    for sample in SAMPLES.glob("*.json"):
        shutil.copyfile(sample, checkpoints / sample.name)
    database = os.environ.get("DATABASE_URL", "")
    if not database.startswith("postgres"):
        database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="checkpoints_admin.settings",
        DJANGO_SECRET_KEY="gunicorn-smoke-test-key-" + "Zr8w" * 12,
        DJANGO_HTTPS="false",
        DATABASE_URL=database,
        CHECKPOINTS_DIR=str(checkpoints),
        DJANGO_STATIC_ROOT=str(tmp_path / "static"),
        AUDIT_HMAC_KEY="smoke-test-audit-key",
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        PATH=f"{BIN}:{env.get('PATH', '')}",
    )
    admin, name = "", ""
    if database.startswith("postgres"):
        # A database of its own, so the chain and the sequence start empty.
        name = f"smoke_{os.getpid()}_{int(time.time() * 1000) % 10**8}"
        base = urllib.parse.urlsplit(database)
        admin = urllib.parse.urlunsplit(base._replace(path="/postgres"))
        _postgres(admin, f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = urllib.parse.urlunsplit(base._replace(path=f"/{name}"))
    try:
        for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"], ["bootstrap"]):
            subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                timeout=180,
            )
        env["_CHECKPOINTS"] = str(checkpoints)
        yield env
    finally:
        if name:
            drop_database(admin, name)


def _postgres(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(sql)


def spawn_gunicorn(
    site: dict[str, str], *, stderr: int = subprocess.PIPE, **env: str
) -> tuple[subprocess.Popen, str]:
    """gunicorn on a free port with the site's settings and ``env`` (one worker unless it
    says), once /healthz answers 200; the process and its URL."""
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "checkpoints_admin.wsgi"],
        cwd=ROOT,
        env={**site, "PORT": str(port), "WEB_CONCURRENCY": "1", **env},
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if server.poll() is not None:
            said = server.stderr.read() if server.stderr else ""
            raise AssertionError(f"gunicorn exited: {said}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return server, url
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise AssertionError("gunicorn did not answer /healthz")


@pytest.fixture
def start_gunicorn(site: dict[str, str]) -> Iterator:
    servers: list[subprocess.Popen] = []

    def start() -> str:
        server, url = spawn_gunicorn(site, WEB_CONCURRENCY="2", GUNICORN_THREADS="2")
        servers.append(server)
        return url

    yield start
    for server in servers:
        server.send_signal(signal.SIGTERM)
    for server in servers:
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


class Browser:
    """A cookie-keeping HTTP client that fills Django forms like a person without JavaScript."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def request(self, path: str, data: dict | None = None) -> tuple[int, str, str]:
        body = None
        if data is not None:
            token = next(c.value for c in self.jar if c.name == "csrftoken")
            body = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **data}, doseq=True)
        request = urllib.request.Request(
            self.base + path, data=body.encode() if body else None, headers={"Referer": self.base}
        )
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.geturl(), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.geturl(), error.read().decode()

    def sign_in(self, username: str = "admin") -> None:
        self.request("/accounts/login/")
        status, url, _ = self.request(
            "/accounts/login/", {"username": username, "password": PASSWORD}
        )
        assert status == 200 and url == f"{self.base}/", url

    def skip(self, name: str, date: str, reason: str) -> tuple[int, str, str]:
        """Preview skipping `date`, then apply the preview as shown (bound to its version)."""
        status, _, page = self.request(
            f"/checkpoints/{name}/skip/preview", {"dates": date, "reason": reason}
        )
        assert status == 200, page[:2000]
        version = re.search(r'name="base_version" value="([0-9a-f]{64})"', page)
        assert version, "the preview carries the version it was computed on"
        return self.request(
            f"/checkpoints/{name}/skip/apply",
            {"dates": date, "reason": reason, "base_version": version.group(1)},
        )


def manage(site: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=site,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_signs_in_skips_a_date_and_finds_it_in_the_log_and_the_feed(site, start_gunicorn):
    url = start_gunicorn()
    browser = Browser(url)
    assert browser.request("/")[1].startswith(f"{url}/accounts/login/")
    browser.sign_in()

    status, landed, page = browser.skip("reconciliation_checkpoint", "2025-03-06", "INC-1 smoke")
    assert status == 200, page[:2000]
    assert re.search(r"/checkpoints/reconciliation_checkpoint/applied/\d+/$", landed)

    saved = json.loads(Path(site["_CHECKPOINTS"], "reconciliation_checkpoint.json").read_text())
    assert "2025-03-06" in saved["completedDates"]
    assert "2025-03-06" not in saved["pendingDates"]

    _, _, audit = browser.request("/audit/?checkpoint=reconciliation_checkpoint")
    assert "2025-03-06" in audit and "admin" in audit

    _, _, feed = browser.request("/status.json")
    (job,) = [
        c for c in json.loads(feed)["checkpoints"] if c["name"] == "reconciliation_checkpoint"
    ]
    assert (job["done"], job["pending"]) == (5, 1)

    exported = manage(site, "export_audit", "--format", "jsonl")
    (record,) = [json.loads(line) for line in exported.stdout.splitlines()]
    assert (record["actor"], record["source"], record["action"]) == ("admin", "web", "skip")
    assert record["reason"] == "INC-1 smoke"
    assert manage(site, "verify_audit").returncode == 0


def test_signing_out_through_one_instance_ends_the_session_in_the_other(site, start_gunicorn):
    first, second = start_gunicorn(), start_gunicorn()
    browser = Browser(first)
    browser.sign_in()
    browser.base = second  # the same cookies, another set of processes
    for _ in range(4):  # through both workers of the second instance
        status, landed, _ = browser.request("/")
        assert (status, landed) == (200, f"{second}/")
    browser.base = first
    assert browser.request("/accounts/logout/", {})[0] == 200
    browser.base = second
    for _ in range(4):
        assert browser.request("/")[1].startswith(f"{second}/accounts/login/")


def test_a_password_changed_by_a_command_signs_the_sessions_out(site, start_gunicorn):
    url = start_gunicorn()
    browser = Browser(url)
    browser.sign_in()
    assert browser.request("/")[1] == f"{url}/"
    changed = manage(
        site,
        "shell",
        "-c",
        "from django.contrib.auth.models import User; u = User.objects.get(username='admin'); "
        "u.set_password('a-new-password-5170'); u.save()",
    )
    assert changed.returncode == 0, changed.stderr
    for _ in range(4):
        assert browser.request("/")[1].startswith(f"{url}/accounts/login/")


def test_two_instances_share_one_chain_without_losing_an_intervention(site, start_gunicorn):
    name = "many-dates"
    dates = [f"2025-04-{day:02d}" for day in range(1, 25)]
    Path(site["_CHECKPOINTS"], f"{name}.json").write_text(
        json.dumps(
            {
                "lastProcessedDate": None,
                "pendingDates": dates,
                "completedDates": [],
                "startTime": 1743465600000,
                "lastUpdateTime": 1743465600000,
                "stats": {
                    "totalRecords": 0,
                    "processedRecords": 0,
                    "successfulRecords": 0,
                    "failedRecords": 0,
                    "timeouts": 0,
                },
            },
            indent=2,
        )
        + "\n"
    )
    urls = [start_gunicorn(), start_gunicorn()]
    outcomes: dict[str, list[int]] = {date: [] for date in dates}

    def operator(number: int) -> None:
        browser = Browser(urls[number % 2])
        browser.sign_in()
        for date in dates[number::4]:
            # A conflict (another operator applied first) is shown, never applied: preview again.
            for _attempt in range(20):
                status, landed, _ = browser.skip(name, date, f"operator {number} skips {date}")
                outcomes[date].append(status)
                if "/applied/" in landed:
                    break

    threads = [threading.Thread(target=operator, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)

    saved = json.loads(Path(site["_CHECKPOINTS"], f"{name}.json").read_text())
    assert saved["pendingDates"] == []
    assert saved["completedDates"] == dates

    exported = manage(site, "export_audit", "--format", "jsonl", "--checkpoint", name)
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    assert sorted(r["summary"].split()[0] for r in records) == dates  # one entry per date
    everything = manage(site, "export_audit", "--format", "jsonl")
    ids = [json.loads(line)["id"] for line in everything.stdout.splitlines()]
    assert ids == list(range(1, len(ids) + 1))  # gapless, no doubles
    verified = manage(site, "verify_audit", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_access_lines_are_json_whatever_the_client_sends(site, tmp_path) -> None:
    """gunicorn's format strings left a backslash unescaped: a client could write a line no
    JSON parser reads. Every access line is a JSON object, times in ISO 8601 UTC."""
    log = tmp_path / "access.log"
    server, url = spawn_gunicorn(site, stderr=subprocess.DEVNULL, GUNICORN_ACCESSLOG=str(log))
    try:
        request = urllib.request.Request(
            f"{url}/healthz?x=1", headers={"User-Agent": 'evil"agent\\x', "X-Request-ID": "abc-1"}
        )
        with urllib.request.urlopen(request, timeout=5):
            pass
        with urllib.request.urlopen(f"{url}/accounts/login/", timeout=5) as response:
            page = response.read().decode()
        stylesheet = re.search(r'href="(/static/[^"]+[.]css)"', page)
        assert stylesheet is not None, page
        with urllib.request.urlopen(f"{url}{stylesheet[1]}", timeout=5) as response:
            served = len(response.read())  # (whitenoise hands the file to gunicorn's sendfile)
        for _ in range(100):
            if log.exists() and stylesheet[1] in log.read_text():
                break
            time.sleep(0.05)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    static = lines[-1]
    assert (static["path"], static["status"], static["bytes"]) == (stylesheet[1], 200, served)
    assert served > 1000
    last = next(line for line in lines if line["path"] == "/healthz" and line["query"])
    assert last["user_agent"] == 'evil"agent\\x'
    assert (last["method"], last["path"], last["query"], last["status"]) == (
        "GET",
        "/healthz",
        "x=1",
        200,
    )
    assert last["request_id"] == "abc-1" and isinstance(last["bytes"], int)
    assert last["time"].endswith("Z") and "T" in last["time"]


def run_gunicorn(site: dict[str, str], seconds_after_ready: float = 0.5, **env: str) -> str:
    """Start gunicorn with ``env``, wait for /healthz, stop it; its standard error."""
    server, _ = spawn_gunicorn(site, **env)
    try:
        time.sleep(seconds_after_ready)
        if "GUNICORN_CONTROL_SOCKET" in env:
            assert Path(env["GUNICORN_CONTROL_SOCKET"]).is_socket()
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
    return stderr


def test_gunicorns_own_lines_are_json_and_need_no_home(site, tmp_path) -> None:
    """Its start, workers and stop were plain text among the JSON lines; and its control
    socket, by default under $HOME (not writable in the image), was an ERROR at each start."""
    unwritable = tmp_path / "home-is-a-file"
    unwritable.write_text("")
    stderr = run_gunicorn(site, HOME=str(unwritable))
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    messages = [line["message"] for line in lines if line["logger"] == "gunicorn.error"]
    assert messages[0].startswith("Starting gunicorn") and "Shutting down: Master" in messages
    assert all({"time", "level", "pid"} <= set(line) for line in lines)
    assert not [line for line in lines if line["level"] in ("ERROR", "CRITICAL")], lines

    plain = run_gunicorn(site, LOG_FORMAT="text").splitlines()
    assert plain and all(not line.startswith("{") for line in plain)


def test_gunicorns_control_socket_is_where_it_is_asked_for(site, tmp_path) -> None:
    socket_path = tmp_path / "gunicorn.ctl"
    stderr = run_gunicorn(site, GUNICORN_CONTROL_SOCKET=str(socket_path))
    assert f"Control socket listening at {socket_path}" in stderr


def healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The container's health check, as docker runs it."""
    return subprocess.run(
        [sys.executable, "docker/healthcheck.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("bind", ["127.0.0.1:{port}", "0.0.0.0:{port}", "[::1]:{port}", "unix"])
def test_the_health_check_asks_where_gunicorn_listens(site, tmp_path, bind) -> None:
    """GUNICORN_BIND moves gunicorn; the health check follows it (it asked PORT on 127.0.0.1)."""
    port = free_port()
    bind = f"unix:{tmp_path / 'gunicorn.sock'}" if bind == "unix" else bind.format(port=port)
    env = {**site, "GUNICORN_BIND": bind, "PORT": "1", "WEB_CONCURRENCY": "1"}
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "checkpoints_admin.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            checked = healthcheck(env)
            if checked.returncode == 0 or server.poll() is not None:
                break
            time.sleep(0.1)
        assert (checked.returncode, checked.stderr) == (0, "")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    gone = healthcheck(env)
    assert gone.returncode == 1
    assert gone.stderr.startswith("unhealthy: ")


def test_the_master_reads_the_checkpoints_before_the_workers_start(site) -> None:
    """Each worker (and each one replacing a recycled worker) starts with the directory read
    (forked from the master), not reading thousands of files at its first page."""
    count = len(list(Path(site["CHECKPOINTS_DIR"]).glob("*.json")))
    stderr = run_gunicorn(site, WEB_CONCURRENCY="2")
    messages = [json.loads(line)["message"] for line in stderr.splitlines() if line.strip()]
    read = messages.index(f"{count} checkpoint(s) read before the workers start")
    booted = [n for n, message in enumerate(messages) if message.startswith("Booting worker")]
    assert count > 0 and len(booted) == 2 and read < min(booted)
    # not preloaded: each worker loads the application (and reads) on its own
    stderr = run_gunicorn(site, GUNICORN_PRELOAD="false")
    assert "read before the workers start" not in stderr


LOCK_THE_LOG = """
import sys, time
import psycopg
with psycopg.connect(sys.argv[1]) as connection:  # (as a migration's CREATE INDEX does)
    connection.execute("LOCK TABLE checkpoints_admin_auditentry IN SHARE MODE")
    print("held", flush=True)
    time.sleep(30)
"""


def test_a_change_whose_recording_the_database_dropped_says_it_is_in_the_file(
    site, start_gunicorn
) -> None:
    """The database connection ends while the entry is written, after the file was: the
    page said the database was unavailable and "nothing was changed" over a file that had
    the change. It says what is so, and where to look."""

    database = site["DATABASE_URL"]
    if not database.startswith("postgres"):
        pytest.skip("a SQLite connection does not end under a process")
    url = start_gunicorn()
    browser = Browser(url)
    browser.sign_in()
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_THE_LOG, database], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    answer: list[tuple[int, str, str]] = []
    applying = threading.Thread(
        target=lambda: answer.append(
            browser.skip("reconciliation_checkpoint", "2025-03-06", "feed never arrives")
        )
    )
    admin = urllib.parse.urlunsplit(urllib.parse.urlsplit(database)._replace(path="/postgres"))
    try:
        applying.start()
        drop_the_waiting_connection(database, admin)  # (the entry's, waiting for the table)
        applying.join(60)
    finally:
        holder.kill()
        holder.wait()
        allow_connections(database, admin)
    [(status, _, page)] = answer
    assert status == 503
    assert (
        '<h1 id="not-confirmed-title" tabindex="-1" data-step-focus>Applied, not yet '
        "recorded</h1>" in page
    )
    assert "reconciliation_checkpoint.json has the change. It is recorded as soon as" in page
    assert "nothing was changed" not in page.lower()
    document = json.loads(
        (Path(site["_CHECKPOINTS"]) / "reconciliation_checkpoint.json").read_text()
    )
    assert "2025-03-06" in document["completedDates"]
