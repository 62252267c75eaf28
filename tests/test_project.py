"""The project's foundation: settings refuse unsafe starts, the library stands alone, first run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tests.conftest import SAMPLE_NAMES, SAMPLES

ROOT = Path(__file__).resolve().parent.parent


def run(
    args: list[str], env: dict[str, str], *, cwd_override: Path | None = None, **kwargs
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    if "DATABASE_URL" not in env:  # (production settings need one; a test that omits it: "")
        env = {**env, "DATABASE_URL": f"sqlite:///{tempfile.mkdtemp(prefix='db-')}/db.sqlite3"}
    cwd = cwd_override or ROOT
    return subprocess.run(
        args, cwd=cwd, env={**clean, **env}, capture_output=True, text=True, timeout=120, **kwargs
    )


def production_env(tmp_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The production settings with a key and a checkpoints directory, and ``extra``."""
    return {
        "DJANGO_SETTINGS_MODULE": "checkpoints_admin.settings",
        "DJANGO_SECRET_KEY": "x" * 60,
        "CHECKPOINTS_DIR": str(tmp_path),
        **(extra or {}),
    }


@pytest.mark.parametrize("command", ["check", "checkpoint_status", "migrate"])
def test_without_secret_key_every_command_refuses_naming_it(tmp_path: Path, command) -> None:
    result = run(
        [sys.executable, "manage.py", command],
        {"DJANGO_SETTINGS_MODULE": "checkpoints_admin.settings", "CHECKPOINTS_DIR": str(tmp_path)},
    )
    assert result.returncode == 2
    # one line that names the setting, no traceback
    assert result.stderr.startswith("error: DJANGO_SECRET_KEY is not set")
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""


def test_deploy_check_passes_with_only_the_secret_key(tmp_path: Path) -> None:
    result = run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        {
            "DJANGO_SETTINGS_MODULE": "checkpoints_admin.settings",
            "DJANGO_SECRET_KEY": "a-long-random-production-key-" + "x7Qp" * 12,
            "CHECKPOINTS_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("DJANGO_DEBUG", "maybe", "DJANGO_DEBUG must be true or false, not 'maybe'."),
        ("STALE_AFTER_SECONDS", "abc", "STALE_AFTER_SECONDS must be a number, not 'abc'."),
        (
            "LOG_LEVEL",
            "LOUD",
            "LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not 'LOUD'.",
        ),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be json or text, not 'xml'."),
        # values that would break things quietly: a lock waited for forever, every file
        # "too large", every job stalled at once
        ("CHECKPOINT_LOCK_TIMEOUT", "-5", "CHECKPOINT_LOCK_TIMEOUT must be at least 0, not '-5'."),
        ("CHECKPOINT_MAX_BYTES", "0", "CHECKPOINT_MAX_BYTES must be at least 1024, not '0'."),
        ("STALE_AFTER_SECONDS", "-100", "STALE_AFTER_SECONDS must be at least 1, not '-100'."),
        (
            "HEALTH_MIN_FREE_BYTES",
            "1.5",
            "HEALTH_MIN_FREE_BYTES must be a whole number, not '1.5'.",
        ),
        (
            "DATABASE_CONN_MAX_AGE",
            "1.9",
            "DATABASE_CONN_MAX_AGE must be a whole number, not '1.9'.",
        ),
        ("STALE_AFTER_SECONDS", "nan", "STALE_AFTER_SECONDS must be a finite number, not 'nan'."),
        (
            "DATABASE_URL",
            "bogus://x",
            "DATABASE_URL must be a postgres:// or sqlite:/// address, not a bogus:// address.",
        ),
        (
            "DATABASE_URL",
            "mysql://u:secret@db/audit",
            "DATABASE_URL must be a postgres:// or sqlite:/// address, not a mysql:// address.",
        ),
        (
            "DATABASE_URL",
            "app:secret@db/app",
            "DATABASE_URL must be a postgres:// or sqlite:/// address, not an address without "
            "a scheme.",
        ),
        (
            "DATABASE_URL",
            "postgres://app:secret@db:notaport/app",
            "DATABASE_URL is not a valid postgres:// address: its port is not a number from 0 "
            "to 65535.",
        ),
        ("AXES_COOLOFF_MINUTES", "0", "AXES_COOLOFF_MINUTES must be at least 1, not '0'."),
        (
            "DJANGO_PROXY_ADDRESSES",
            "10.0.0.0/8, proxy.internal",
            "DJANGO_PROXY_ADDRESSES must list IP addresses or networks (10.0.0.0/8), or be *, "
            "not 'proxy.internal'.",
        ),
        (
            "DATABASE_URL",
            "mysql://app:s3cr?t/pass@db/app?password=secret",
            "DATABASE_URL must be a postgres:// or sqlite:/// address, not a mysql:// address.",
        ),
    ],
)
def test_a_bad_setting_is_named_in_one_line(tmp_path: Path, setting, value, message) -> None:
    result = run(
        [sys.executable, "manage.py", "checkpoint_status"],
        production_env(tmp_path, {setting: value}),
    )
    assert (result.returncode, result.stderr) == (2, f"error: {message}\n")


@pytest.mark.parametrize(("value", "named"), [(None, "True"), ("false", "False"), ("on", "True")])
def test_prepared_statements_on_postgresql_follow_their_setting(
    tmp_path: Path, value, named
) -> None:
    """models.prepared_rows prepares the audited change's statements (named by their text,
    safe behind any pooler) unless DATABASE_PREPARED_STATEMENTS is false; psycopg's own
    preparing, whose names a pooler may hand to another client, stays off."""
    extra = {"DATABASE_URL": "postgres://user:pass@db.invalid:5432/audit"}
    if value is not None:
        extra["DATABASE_PREPARED_STATEMENTS"] = value
    result = run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", PRINT_PREPARED],
        production_env(tmp_path, extra),
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{named} None\n", "")


PRINT_PREPARED = (
    "from django.conf import settings; "
    "print(settings.DATABASE_PREPARED_STATEMENTS, "
    "settings.DATABASES['default'].get('OPTIONS', {}).get('prepare_threshold'))"
)


@pytest.mark.parametrize(
    "setting", ["LOG_LEVEL", "LOG_FORMAT", "DJANGO_DEBUG", "DJANGO_ALLOWED_HOSTS"]
)
def test_an_empty_setting_means_its_default(tmp_path: Path, setting) -> None:
    """An env file's ``LOG_FORMAT=`` is no value, as with the other settings."""
    result = run(
        [sys.executable, "manage.py", "checkpoint_status"],
        production_env(tmp_path, {setting: ""}),
    )
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert result.stdout == f"No checkpoints in {tmp_path}.\n"


def test_an_empty_static_root_is_the_default_never_the_current_directory(tmp_path: Path) -> None:
    """``DJANGO_STATIC_ROOT=`` must not make collectstatic write into wherever it runs."""
    result = run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c",
         "from django.conf import settings; print(settings.STATIC_ROOT)"],
        production_env(tmp_path, {"DJANGO_STATIC_ROOT": ""}),
    )  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"{ROOT / 'staticfiles'}\n",
        "",
    )


def test_an_empty_checkpoints_dir_is_the_default_never_the_current_directory(
    tmp_path: Path,
) -> None:
    """``CHECKPOINTS_DIR=`` (an env file's empty line) must not make a command act on the
    .json files of wherever it runs."""
    (tmp_path / "config.json").write_text('{"db": 1}')
    result = run(
        [sys.executable, str(ROOT / "manage.py"), "reset_checkpoints", "--all", "--reason", "r",
         "--dry-run"],
        {
            "DJANGO_SETTINGS_MODULE": "checkpoints_admin.settings",
            "DJANGO_SECRET_KEY": "x" * 60,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "CHECKPOINTS_DIR": "",
        },
        cwd_override=tmp_path,
    )  # fmt: skip
    assert "config" not in result.stdout + result.stderr
    if not (ROOT / "checkpoints").exists():  # (a clean checkout: the default is said missing)
        assert str(ROOT / "checkpoints") in result.stderr
    assert (tmp_path / "config.json").exists()


def test_the_library_imports_without_django() -> None:
    code = (
        "import sys, checkpoints_admin.checkpoints as c; "
        "assert c.CheckpointManager and c.CheckpointStore; "
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')); "
        "sys.exit(', '.join(bad) or None)"
    )
    result = run([sys.executable, "-c", code], {})
    assert result.returncode == 0, result.stderr


def test_every_error_the_library_raises_is_importable_from_the_library() -> None:
    """The README lists the errors as the library's: a job catches them from the package."""
    import checkpoints_admin.checkpoints as library
    from checkpoints_admin.checkpoints import errors

    raised = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.CheckpointError)
    }
    assert raised - set(library.__all__) == set()
    assert all(getattr(library, name) is getattr(errors, name) for name in raised)


def test_makefile_names_what_to_install_without_a_recent_python(tmp_path: Path) -> None:
    result = run(
        ["make", "-s", "venv", f"VENV={tmp_path / 'venv'}"],
        {"PATH": "/usr/bin:/bin", "PYTHON": ""},
    )
    if Path("/usr/bin/python3.12").exists() or Path("/usr/bin/python3.13").exists():
        pytest.skip("this machine has a system Python >= 3.12")
    assert result.returncode != 0
    assert "needs Python 3.12 or newer" in result.stderr
    assert not (tmp_path / "venv").exists()


@pytest.mark.django_db
def test_bootstrap_fills_an_empty_directory_and_creates_the_first_admin(
    checkpoints_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    call_command("bootstrap")
    out = capsys.readouterr().out
    assert sorted(p.stem for p in checkpoints_dir.glob("*.json")) == sorted(SAMPLE_NAMES)
    for name in SAMPLE_NAMES:  # byte for byte, so their versions are the samples' own
        assert (checkpoints_dir / f"{name}.json").read_bytes() == (
            SAMPLES / f"{name}.json"
        ).read_bytes()
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    password = out.split("admin / ", 1)[1].split()[0]
    assert admin.check_password(password)
    # letters and digits: a double-click in a terminal selects all of it
    assert password.isalnum() and password.isascii() and len(password) == 20

    # Run again: nothing is copied over edits, no second account, no password printed.
    (checkpoints_dir / "my-process.json").write_text('{"edited": true}\n')
    call_command("bootstrap")
    assert "admin /" not in capsys.readouterr().out
    assert (checkpoints_dir / "my-process.json").read_text() == '{"edited": true}\n'
    assert get_user_model().objects.count() == 1


@pytest.mark.django_db
def test_bootstrap_with_an_empty_username_setting_creates_admin(
    checkpoints_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``DJANGO_SUPERUSER_USERNAME=`` (an env file's empty line) is no value: the default."""
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-chosen-password-42")
    call_command("bootstrap", "--no-samples")
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["admin"]


@pytest.mark.django_db
def test_bootstrap_leaves_a_directory_with_checkpoints_alone(
    checkpoints_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-chosen-password-42")
    (checkpoints_dir / "job.json").write_text("{}\n")
    call_command("bootstrap")
    assert [p.name for p in checkpoints_dir.iterdir()] == ["job.json"]
    assert get_user_model().objects.get(username="admin").check_password("a-chosen-password-42")


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        (
            "WEB_CONCURRENCY",
            "abc",
            "WEB_CONCURRENCY must be a whole number of at least 1, not 'abc'.",
        ),
        ("GUNICORN_PRELOAD", "maybe", "GUNICORN_PRELOAD must be true or false, not 'maybe'."),
        ("PORT", "0", "PORT must be a whole number from 1 to 65535, not '0'."),
        ("PORT", "99999", "PORT must be a whole number from 1 to 65535, not '99999'."),
    ],
)
def test_a_bad_gunicorn_setting_is_named(setting, value, message) -> None:
    result = run(
        [sys.executable, "-c", "import runpy; runpy.run_path('gunicorn.conf.py')"],
        {setting: value},
    )
    assert (result.returncode, result.stderr) == (1, f"error: {message}\n")


@pytest.mark.parametrize(
    ("setting", "name", "default"),
    [
        ("GUNICORN_ACCESSLOG", "accesslog", "-"),
        ("FORWARDED_ALLOW_IPS", "forwarded_allow_ips", "127.0.0.1"),
        ("LOG_LEVEL", "loglevel", "info"),
        # (as the container's health check reads it, to ask where gunicorn listens)
        ("GUNICORN_BIND", "bind", "0.0.0.0:8000"),
    ],
)
def test_an_empty_gunicorn_setting_means_its_default(setting, name, default) -> None:
    for blank in ("", "  "):
        result = run(
            [sys.executable, "-c",
             f"import runpy; print(runpy.run_path('gunicorn.conf.py')[{name!r}])"],
            {setting: blank, "PORT": ""},
        )  # fmt: skip
        assert (result.returncode, result.stdout, result.stderr) == (0, f"{default}\n", "")


DATABASE_DOWN = r"""
import django, json
django.setup()
from django.test import Client
client = Client(raise_request_exception=False)
client.cookies["sessionid"] = "a-session-the-database-would-know"
out = {}
for path in ("/", "/status.json", "/metrics", "/checkpoints/x/"):
    response = client.get(path)
    out[path] = [response.status_code, response["Content-Type"], response.get("Retry-After"),
                 response.content.decode()[:2000]]
htmx = {"HX-Request": "true"}
step = client.post("/checkpoints/x/skip/apply", {"dates": "2025-03-06"}, headers=htmx)
out["htmx"] = [step.status_code, step.get("HX-Reswap"), step.get("HX-Trigger"),
               step.content.decode()]
poll = client.get("/checkpoints/x/?part=overview", headers=htmx)
out["poll"] = [poll.status_code, poll.get("HX-Trigger")]
print(json.dumps(out))
"""


def test_an_unreachable_database_is_a_503_that_says_so(tmp_path: Path) -> None:
    """A real PostgreSQL address where nothing listens: pages, the feed and /metrics answer
    503 with Retry-After in their own formats, not a 500 page."""
    import json

    result = run(
        [sys.executable, "-c", DATABASE_DOWN],
        {
            "DJANGO_SETTINGS_MODULE": "tests.settings",  # (static files without collectstatic)
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "CHECKPOINTS_DIR": str(tmp_path),
            "DATABASE_URL": "postgres://nobody:nothing@127.0.0.1:9/none",
        },
    )
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    page, feed, metrics, detail = (
        answers[p] for p in ("/", "/status.json", "/metrics", "/checkpoints/x/")
    )
    assert page[:3] == [503, "text/html; charset=utf-8", "30"]
    assert "The database is unavailable" in page[3]
    assert feed[:3] == [503, "application/json", "30"]
    assert json.loads(feed[3]) == {"error": "The database is unavailable; try again in a moment."}
    assert metrics[:3] == [503, "text/plain", "30"]
    assert detail[0] == 503
    # A step's button (htmx): the page stays, reason typed and all, and a message says why.
    status, swap, trigger, body = answers["htmx"]
    assert (status, swap, body) == (503, "none", "")
    assert json.loads(trigger) == {
        "console:message": {
            "level": "error",
            "text": "The database is unavailable; try again in a moment: nothing was changed.",
        }
    }
    # a page's live poll (a GET) adds no message each time it asks
    assert answers["poll"] == [503, None]


def test_status_of_an_empty_directory_needs_no_database(tmp_path: Path) -> None:
    """An empty directory asks the audit log whether it should be (a wrong directory); with
    the database down the status says what it knows, without a traceback."""
    result = run(
        [sys.executable, "manage.py", "checkpoint_status"],
        production_env(tmp_path, {"DATABASE_URL": "postgres://nobody:nothing@127.0.0.1:9/none"}),
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"No checkpoints in {tmp_path}.\n",
        "",
    )


def test_without_a_database_url_production_settings_refuse_to_start(tmp_path: Path) -> None:
    """A command run without the deployment's environment audited into a db.sqlite3 of its
    own, beside the code, while it changed the real checkpoints."""
    result = run(
        [sys.executable, "manage.py", "checkpoint_status"],
        production_env(tmp_path, {"DATABASE_URL": ""}),
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: DATABASE_URL is not set.")


SCANNER = r"""
import django
django.setup()
from django.conf import settings
from django.test import Client, override_settings
plain = {**settings.STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # (no collectstatic)
with override_settings(STORAGES=plain):
    response = Client(raise_request_exception=False).get("/", HTTP_HOST="10.1.2.3:8000")
print(response.status_code)
"""


def test_a_host_not_allowed_is_one_warning_line_not_an_error_with_a_traceback(
    tmp_path: Path,
) -> None:
    import json

    result = run(
        [sys.executable, "-c", SCANNER],
        {
            "DJANGO_SETTINGS_MODULE": "checkpoints_admin.settings",
            "DJANGO_SECRET_KEY": "x" * 60,
            "DJANGO_HTTPS": "false",
            "CHECKPOINTS_DIR": str(tmp_path),
        },
    )
    assert (result.returncode, result.stdout) == (0, "400\n"), result.stderr
    (line,) = [json.loads(text) for text in result.stderr.splitlines() if text.startswith("{")]
    assert (line["level"], line["logger"]) == ("WARNING", "django.security.DisallowedHost")
    assert "10.1.2.3:8000" in line["message"] and "Traceback" not in result.stderr
    assert "exc_info" not in line
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", line["time"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        (
            "bad user!/<script>",
            "a-chosen-password-42",
            "Cannot create the first admin account. Username 'bad user!/<script>': Enter a "
            "valid username. This value may contain only letters, numbers, and @/./+/-/_ "
            "characters. Nothing was changed.",
        ),
        (
            "admin",
            "123",
            "Cannot create the first admin account. DJANGO_SUPERUSER_PASSWORD: This password is "
            "too short. It must contain at least 8 characters. This password is too common. "
            "This password is entirely numeric. Nothing was changed.",
        ),
    ],
)
def test_bootstrap_refuses_an_account_the_console_would_refuse(
    checkpoints_dir: Path, monkeypatch: pytest.MonkeyPatch, username, password, message
) -> None:
    """The first admin of a container is made from its environment: a name the sign-in form
    cannot take, or a password the validators refuse, was created as given."""
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", username)
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", password)
    with pytest.raises(CommandError) as refused:
        call_command("bootstrap")
    assert (refused.value.returncode, str(refused.value)) == (2, message)
    assert not get_user_model().objects.exists()
    assert list(checkpoints_dir.iterdir()) == []  # (the samples neither)


def test_bootstrap_on_a_database_not_migrated_says_so(tmp_path: Path) -> None:
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        "CHECKPOINTS_DIR": str(checkpoints),
    }
    result = run([sys.executable, "manage.py", "bootstrap"], env)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "CommandError: Database error: no such table: auth_user. Run `manage.py migrate` "
        "first; nothing was changed.\n"
    )
    assert list(checkpoints.iterdir()) == []
