"""Playwright driving Debian's Chromium against the live test server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
SCREENS = Path(os.environ.get("CONSOLE_SCREENSHOTS", "/tmp/screens"))
PASSWORD = "browser-password-123"

# The session's Chromium is the `chromium` fixture of tests/conftest.py (one Playwright
# instance per test run: a second sync_playwright() inside the first one's loop fails).


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_user(
        username="jane.doe", password=PASSWORD, is_superuser=True, is_staff=True
    )


def new_page(chromium, *, scheme: str = "light", width: int = 1366, height: int = 900):
    context = chromium.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def sign_in(page, live_server, username: str = "jane.doe") -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def shoot(page, name: str) -> Path:
    """Save a full-page screenshot to SCREENS (default /tmp/screens)."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
