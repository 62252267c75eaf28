"""Safe by default: error pages without internals, expiring sessions, built static files."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def admin_client(db, django_user_model, samples_dir) -> Client:
    django_user_model.objects.create_superuser("root", password="a-long-password-123")
    client = Client(raise_request_exception=False)
    client.force_login(django_user_model.objects.get(username="root"))
    return client


def test_a_server_error_shows_the_styled_page_without_internals(admin_client, settings) -> None:
    settings.DEBUG = False
    settings.ROOT_URLCONF = "tests.deploy.urls_failing"
    response = admin_client.get("/failing/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body
    assert "secret internal detail" not in body
    assert "Traceback" not in body and "SECRET_KEY" not in body


def test_an_unknown_page_is_the_styled_404(admin_client, settings) -> None:
    settings.DEBUG = False
    response = admin_client.get("/no/such/page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Checkpoints Admin" in body
    assert "URLconf" not in body and "Traceback" not in body


def test_a_session_ends_when_it_expires(admin_client) -> None:
    assert admin_client.get("/").status_code == 200
    Session.objects.update(expire_date=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    response = admin_client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_production_static_files_are_hashed_and_compressed(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="checkpoints_admin.settings",
        DJANGO_SECRET_KEY="collectstatic-test-key-" + "p9Lm" * 12,
        DJANGO_STATIC_ROOT=str(tmp_path / "static"),
        CHECKPOINTS_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'never-opened.sqlite3'}",  # as the image's build
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
    hashed = manifest["css/console.css"]
    assert hashed != "css/console.css" and hashed.startswith("css/console.")
    assert (tmp_path / "static" / hashed).exists()
    assert (tmp_path / "static" / f"{hashed}.gz").exists()
    assert any(name.startswith("js/") and name.endswith(".js") for name in manifest)
