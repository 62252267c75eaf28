"""The console in a real browser: sign in, list, search, live refresh, detail, calendar,
diff, audit, hostile content. Screenshots of each page go to /tmp/screens."""

from __future__ import annotations

import re

import orjson
import pytest
from playwright.sync_api import expect

from checkpoints_admin import services
from tests.browser.conftest import new_page, shoot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def rows(page) -> list[str]:
    return page.locator("#checkpoint-table td.name a").all_inner_texts()


def test_sign_in_search_and_open_a_checkpoint(chromium, live_server, samples_dir, operator):
    page = new_page(chromium)
    page.goto(live_server.url + "/")
    assert "/accounts/login/" in page.url
    shoot(page, "login")
    sign_in(page, live_server)
    assert rows(page) == [
        "daily_reconciliation_checkpoint",
        "my-process",
        "reconciliation_checkpoint",
    ]
    assert page.locator(".user__name").inner_text() == "jane.doe"
    shoot(page, "list")

    page.fill("#id_q", "recon")
    page.wait_for_url(re.compile(r"\?q=recon"))
    page.locator("#checkpoint-table").get_by_text("my-process").wait_for(state="detached")
    assert rows(page) == ["daily_reconciliation_checkpoint", "reconciliation_checkpoint"]
    # a screen reader hears how many the search left (the live region says it after the swap)
    expect(page.locator("#announcer[aria-live=polite]")).to_have_text("1–2 of 2 matching")

    page.locator("th a", has_text="Progress").click()
    page.wait_for_url(re.compile(r"sort=progress"))
    page.locator("th a", has_text="Progress").click()
    page.wait_for_url(re.compile(r"order=desc"))
    assert rows(page) == ["reconciliation_checkpoint", "daily_reconciliation_checkpoint"]
    assert page.input_value("#id_q") == "recon"  # the swap left the form alone

    page.locator("tr[data-href] td.kind", has_text="unified").click()  # a row opens it
    page.wait_for_url(re.compile(r"/checkpoints/reconciliation_checkpoint/$"))
    assert page.locator("h1").inner_text() == "reconciliation_checkpoint"
    gap = page.locator('[data-date="2025-03-05"]')
    assert gap.get_attribute("data-state") == "gap"
    assert "gap" in gap.get_attribute("title")
    shoot(page, "detail")

    page.locator(".calnav a[rel=next]").click()
    page.wait_for_url(re.compile(r"month=2025-04"))
    assert page.locator(".calnav h3").inner_text() == "April 2025"
    page.get_by_role("link", name="Jump to first gap").click()
    page.wait_for_url(re.compile(r"month=first-gap"))
    assert "day--target" in page.locator('[data-date="2025-03-05"]').get_attribute("class")

    views = page.get_by_role("navigation", name="Views of the checkpoint")
    views.get_by_role("link", name="Dates").click()
    page.wait_for_url(re.compile(r"tab=lists"))
    # the current view is marked as such and named by the heading its content sits under
    expect(views.get_by_role("link", name="Dates")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", name="Dates", level=2)).to_be_attached()
    page.get_by_role("link", name=re.compile("Completed dates")).click()
    page.wait_for_load_state("networkidle")  # the list's swap is in before typing
    page.fill("#id_list_q", "03-02")
    page.press("#id_list_q", "Enter")
    page.locator("#list-results li").filter(has_text="2025-03-01").wait_for(state="detached")
    assert page.locator("#list-results li").all_inner_texts() == ["2025-03-02"]
    shoot(page, "detail-lists")

    page.get_by_role("navigation", name="Views of the checkpoint").get_by_role(
        "link", name="Raw JSON"
    ).click()
    page.locator("pre.code").wait_for()
    assert '"totalRecords": 8564' in page.locator("pre.code").inner_text()
    shoot(page, "detail-raw")


def test_the_list_shows_a_new_file_without_reload(
    chromium, live_server, samples_dir, operator, monkeypatch
):
    # The list asks again every second rather than every REFRESH_SECONDS: the same polling,
    # sooner.
    monkeypatch.setattr("checkpoints_admin.views.checkpoints.REFRESH_SECONDS", 1)
    page = new_page(chromium)
    sign_in(page, live_server)
    page.evaluate("window.__sameDocument = true")
    document = {
        "id": "nightly",
        "created": "2025-03-06T09:00:00.000Z",
        "lastUpdated": "2025-03-06T09:05:00.000Z",
        "status": "running",
        "progress": 40,
        "processedItems": ["a", "b"],
        "pendingItems": ["c", "d", "e"],
    }
    (samples_dir / "nightly-export.json").write_bytes(orjson.dumps(document))
    page.locator("#checkpoint-table td.name a", has_text="nightly-export").wait_for()
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    (samples_dir / "nightly-export.json").unlink()
    page.locator("#checkpoint-table td.name a", has_text="nightly-export").wait_for(
        state="detached"
    )
    assert page.evaluate("window.__sameDocument") is True


def refresh_overview(page) -> None:
    """One live refresh of the checkpoint page's summary, as its polling asks for it; back
    once the new summary has settled (console.js's own afterSettle handlers have run)."""
    page.evaluate("""
        if (window.__settled === undefined) {
            window.__settled = 0;
            document.addEventListener("htmx:afterSettle", (event) => {
                if (event.detail.target.id === "overview") window.__settled += 1;
            });
        }
        window.__before = window.__settled;
    """)
    page.evaluate("document.dispatchEvent(new CustomEvent('visible-again'))")
    page.wait_for_function("() => window.__settled > window.__before")


@pytest.mark.parametrize(
    ("control", "key"),
    [
        ("#overview button[data-copy]", "copy-version"),
        ("#overview a[href*=first-gap]", "first-gap"),
    ],
)
def test_the_live_refresh_of_a_checkpoint_keeps_the_focus(
    chromium, live_server, samples_dir, operator, control, key
):
    """UI.md: live refresh never steals focus. The version's Copy button (shown by a script
    where there is a clipboard) and the Gaps link keep it while the summary is replaced,
    also when the job saved meanwhile (a new version, other counts)."""
    page = new_page(chromium)
    sign_in(page, live_server)
    page.goto(live_server.url + "/checkpoints/reconciliation_checkpoint/")
    page.locator(control).focus()
    focused = "document.activeElement.getAttribute('data-focus-key')"
    assert page.evaluate(focused) == key

    refresh_overview(page)
    assert page.evaluate(focused) == key
    expect(page.locator(control)).to_be_focused()

    path = samples_dir / "reconciliation_checkpoint.json"
    document = orjson.loads(path.read_bytes())
    document["stats"]["processedRecords"] += 20
    path.write_bytes(orjson.dumps(document))
    refresh_overview(page)
    expect(page.locator("#overview")).to_contain_text(f"{document['stats']['processedRecords']:,}")
    assert page.evaluate(focused) == key
    expect(page.locator(control)).to_be_focused()


def test_a_view_the_summary_has_moved_past_says_it_is_out_of_date(
    chromium, live_server, samples_dir, operator
):
    """The summary refreshed to the job's new progress while the calendar below still drew
    the old one (its month table, the selection bar), and a skip chosen there was refused as
    already done. The view now says it is out of date and is drawn again on request."""
    page = new_page(chromium)
    sign_in(page, live_server)
    page.goto(live_server.url + "/checkpoints/reconciliation_checkpoint/?tab=calendar")
    note = page.locator("#tabs [data-stale-note]")
    refresh_overview(page)
    expect(note).to_be_hidden()  # nothing changed

    path = samples_dir / "reconciliation_checkpoint.json"
    document = orjson.loads(path.read_bytes())
    document["completedDates"].append(document["pendingDates"].pop(0))
    path.write_bytes(orjson.dumps(document))
    refresh_overview(page)
    expect(note).to_be_visible()
    expect(note).to_contain_text("The file has changed since this view was drawn.")
    note.get_by_role("link", name="Show it as it is now").click()
    expect(page.locator("#tabs [data-stale-note]")).to_be_hidden()
    versions = page.evaluate(
        "[document.getElementById('overview').dataset.version,"
        " document.getElementById('tabs').dataset.version]"
    )
    assert versions[0] and versions[0] == versions[1]


def test_audit_log_entry_diff_and_chain(chromium, live_server, samples_dir, operator):
    web = services.Actor(name="jane.doe", source="web", address="127.0.0.1")
    services.apply(
        "reconciliation_checkpoint",
        "skip",
        {"dates": ["2025-03-06"]},
        actor=web,
        reason="Upstream data for 2025-03-06 is known bad; skip it",
    )
    services.apply(
        "reconciliation_checkpoint",
        "reprocess",
        {"dates": ["2025-03-01..2025-03-03"]},
        actor=web,
        reason="Reprocess the first days after the fix",
    )
    page = new_page(chromium)
    sign_in(page, live_server)
    page.get_by_role("link", name="Audit log").click()
    assert page.locator("#audit-log tbody tr").count() == 2
    shoot(page, "audit")
    page.locator("#audit-log tbody tr").first.locator("td.wrap").click()  # the row opens it
    page.wait_for_url(re.compile(r"/audit/2/$"))
    assert "3 dates completedDates → pendingDates" in page.locator(".diff-summary").inner_text()
    page.get_by_role("link", name="Verify the chain up to here").click()
    page.get_by_text("The chain verifies up to this entry").wait_for()
    shoot(page, "audit-entry")
    page.get_by_role("link", name="Before ↔ current file").click()
    page.wait_for_url(re.compile(r"/diff/"))
    assert page.locator(".group--moved").count() == 1
    shoot(page, "diff")


def test_the_audit_log_on_a_phone_shows_each_entry_whole(
    chromium, live_server, samples_dir, operator
):
    """At 390 px each entry is a card: every cell (the action, the checkpoint, the summary,
    the reason) inside the screen, none scrolled off to the side, and a long reason cut to a
    few lines rather than making a row a column of single words."""
    reason = "The vendor confirmed the export of that day was truncated; " * 6
    services.apply(
        "reconciliation_checkpoint",
        "skip",
        {"dates": ["2025-03-06"]},
        actor=services.Actor(name="jane.doe", source="web"),
        reason=reason.strip(),
    )
    page = new_page(chromium, width=390, height=844)
    sign_in(page, live_server)
    page.goto(live_server.url + "/audit/")
    cells = page.locator("#audit-log tbody tr").first.locator("td")
    assert cells.count() == 7
    for index in range(cells.count()):
        box = cells.nth(index).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, cells.nth(index).inner_html()
    scroll = page.locator("#audit-log .table-scroll")
    assert scroll.evaluate("element => element.scrollWidth <= element.clientWidth")
    shown = page.locator("#audit-log td.audit__reason q")
    assert shown.get_attribute("title") == reason.strip()
    assert shown.bounding_box()["height"] < 3 * 24  # two lines at most
    shoot(page, "audit-light-390")


@pytest.mark.parametrize("width", [390, 1280])
def test_a_ticked_lists_dates_are_never_broken_in_two(
    chromium, live_server, samples_dir, operator, width
):
    """A processed date beside its badge broke as "2025-" / "03-04" (and at 390 px into
    four pieces), though a date is short and the badge could go under it; a long value
    still wraps inside its cell."""
    long_item = "item-" + "x" * 120
    path = samples_dir / "my-process.json"
    document = orjson.loads(path.read_bytes())
    path.write_bytes(orjson.dumps({**document, "pendingItems": [long_item, "item2"]}))
    page = new_page(chromium, width=width, height=900)
    sign_in(page, live_server)
    page.goto(live_server.url + "/checkpoints/daily_reconciliation_checkpoint/?tab=lists")
    values = page.locator("ol.values .pick > span:first-of-type")
    assert values.count() > 1
    line = values.first.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)")
    for index in range(values.count()):
        box = values.nth(index).bounding_box()
        assert box["height"] < 1.5 * line, values.nth(index).inner_text()
    shoot(page, f"daily-lists-{width}")
    page.goto(live_server.url + "/checkpoints/my-process/?tab=lists")
    cell = page.locator("ol.values li").first
    assert cell.evaluate("e => e.scrollWidth <= e.clientWidth")
    shoot(page, f"lists-{width}")


def test_hostile_content_runs_nothing(chromium, live_server, checkpoints_dir, operator):
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)><svg onload=alert(3)>"
    document = {payload: payload, "id": payload, "status": "running", "progress": 5}
    document["pendingItems"] = [payload]
    (checkpoints_dir / "hostile.json").write_bytes(orjson.dumps(document))
    page = new_page(chromium)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, live_server)
    for path in (
        "/",
        "/checkpoints/hostile/",
        "/checkpoints/hostile/?tab=raw",
        "/checkpoints/hostile/raw",
        "/diff/?a=checkpoint:hostile&b=checkpoint:hostile",
    ):
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
    page.goto(live_server.url + "/checkpoints/hostile/?tab=lists")
    assert page.locator("#list-results li").first.inner_text() == payload
    assert dialogs == []


@pytest.mark.parametrize(("scheme", "width"), [("dark", 1366), ("light", 390), ("dark", 390)])
def test_pages_in_dark_mode_and_on_a_phone(
    chromium, live_server, samples_dir, operator, scheme, width
):
    services.apply(
        "reconciliation_checkpoint",
        "skip",
        {"dates": ["2025-03-06"]},
        actor=services.Actor(name="jane.doe", source="web"),
        reason="known bad upstream day",
    )
    page = new_page(chromium, scheme=scheme, width=width, height=844 if width < 500 else 900)
    sign_in(page, live_server)
    for name, path in (
        ("list", "/"),
        ("detail", "/checkpoints/reconciliation_checkpoint/"),
        ("audit", "/audit/"),
        ("audit-entry", "/audit/1/"),
    ):
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        # the page itself never scrolls sideways: wide tables scroll inside their card
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        shoot(page, f"{name}-{scheme}-{width}")


def test_the_sign_in_page_names_the_product_on_a_phone(chromium, live_server, operator):
    """Signed in, the phone's header keeps only the mark beside the user; signed out, the
    brand is alone there and its name shows."""
    page = new_page(chromium, width=390, height=844)
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.locator(".brand__name").bounding_box()["width"] > 100
    sign_in(page, live_server)
    assert page.locator(".brand__name").bounding_box()["width"] <= 1


def test_the_console_works_without_javascript(chromium, live_server, samples_dir, operator):
    context = chromium.new_context(
        java_script_enabled=False, viewport={"width": 1366, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, live_server)
    page.fill("#id_q", "recon")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"q=recon"))
    assert rows(page) == ["daily_reconciliation_checkpoint", "reconciliation_checkpoint"]
    page.locator("th a", has_text="Pending").click()
    page.wait_for_url(re.compile(r"sort=pending"))
    page.get_by_role("link", name="reconciliation_checkpoint", exact=True).click()
    page.get_by_role("navigation", name="Views of the checkpoint").get_by_role(
        "link", name="Dates"
    ).click()
    page.wait_for_url(re.compile(r"tab=lists"))
    assert page.locator("#list-results li").all_inner_texts() == ["2025-03-06", "2025-03-07"]
    page.get_by_role("navigation", name="Views of the checkpoint").get_by_role(
        "link", name="Raw JSON"
    ).click()
    assert '"pendingDates"' in page.locator("pre.code").inner_text()
    # A message shows without its ×, which only a script can act on.
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".message span")).to_have_text("You are signed out.")
    expect(page.locator(".message__close")).to_be_hidden()
    context.close()


def test_dismissing_a_message_by_keyboard_keeps_the_place(chromium, live_server, operator):
    """The × of a message, pressed from the keyboard, hands the focus to the next message or
    to the content: the next Tab goes on from there, not from the top of the page."""
    page = new_page(chromium)
    sign_in(page, live_server)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    close = page.locator(".message").get_by_role("button", name="Dismiss")
    close.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".message")).to_have_count(0)
    expect(page.locator("#main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#id_username")).to_be_focused()
