"""The status page in Debian's Chromium: CSP holds, htmx refreshes the board, phones fit."""

from __future__ import annotations

import os
import shutil

import pytest
from playwright.sync_api import expect

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
]


@pytest.fixture
def browser(chromium):
    """The run's shared Chromium (tests/conftest.py)."""
    return chromium


@pytest.fixture
def status_url(live_server, samples_dir, settings):
    settings.STATUS_PAGE_PUBLIC = True
    return f"{live_server.url}/status/"


def test_page_refreshes_its_board_under_the_csp(browser, status_url):
    page = browser.new_page()
    problems = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    polls = []
    page.on(
        "request",
        lambda request: polls.append(request.url) if request.headers.get("hx-request") else None,
    )

    page.goto(status_url)
    page.evaluate("document.querySelector('.banner__message').textContent = 'stale text'")
    page.evaluate("document.dispatchEvent(new CustomEvent('visible-again'))")
    # Polled from Python: a wait_for_function string would be an eval the CSP refuses.
    expect(page.locator(".banner__message")).not_to_have_text("stale text", timeout=15_000)

    assert polls == [status_url]
    assert page.locator(".banner__message").text_content() == "3 of 3 jobs need attention"
    assert page.locator("#status-board").count() == 1
    assert page.locator(".job").count() == 3
    assert problems == []


def test_a_refresh_reads_out_the_overall_state_when_it_changed(browser, status_url, samples_dir):
    """The board is replaced at each refresh; the overall line goes to the page's live region
    when it reads differently, and only then."""
    page = browser.new_page()
    page.goto(status_url)
    before = page.locator(".banner__message").text_content()
    announcer = page.locator("#announcer")

    def refresh() -> None:
        generated = page.locator("#status-board").evaluate("board => (board.dataset.seen = 1)")
        assert generated == 1
        page.evaluate("document.dispatchEvent(new CustomEvent('visible-again'))")
        expect(page.locator("#status-board:not([data-seen])")).to_have_count(1, timeout=15_000)

    refresh()  # nothing changed: nothing said
    page.wait_for_timeout(200)
    assert announcer.text_content() == ""
    for path in sorted(samples_dir.glob("*.json"))[1:]:
        path.unlink()
    refresh()
    after = page.locator(".banner__message").text_content()
    assert after != before
    expect(announcer).to_have_text(after)


def test_page_without_javascript(browser, status_url):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()

    page.goto(status_url)

    assert page.locator(".banner__message").text_content() == "3 of 3 jobs need attention"
    assert page.locator(".job").count() == 3
    assert page.locator(".strip__day").count() == 60
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_page_fits_a_phone(browser, status_url, scheme):
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme=scheme)
    page = context.new_page()

    page.goto(status_url)

    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    strip = page.locator(".strip__days").first.bounding_box()
    card = page.locator(".job__card").first.bounding_box()
    assert strip["x"] + strip["width"] <= card["x"] + card["width"]
    context.close()
