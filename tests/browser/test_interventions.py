"""Interventions in a real browser: calendar selection, preview, apply, result, undo; the raw
editor's live checks; reset with typed confirmation; a conflict while a job writes; viewers.
Screenshots of each step (light, dark, phone width) go to /tmp/screens."""

from __future__ import annotations

import importlib
import re
import time

import orjson
import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect

from checkpoints_admin.models import AuditEntry
from tests.browser.conftest import PASSWORD, SCREENS, new_page, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

UNIFIED = "reconciliation_checkpoint"
ROLES = importlib.import_module("checkpoints_admin.migrations.0002_roles").ROLES


def user_with_role(django_user_model, username: str, role: str):
    """A user in the console group ``role`` (groups are recreated: each test flushes them)."""
    group, _ = Group.objects.get_or_create(name=role)
    group.permissions.set(
        Permission.objects.get(content_type__app_label=app, codename=codename)
        for app, codename in ROLES[role]
    )
    user = django_user_model.objects.create_user(username=username, password=PASSWORD)
    user.groups.add(group)
    return user


@pytest.fixture
def ops_user(django_user_model):
    return user_with_role(django_user_model, "olga.ops", "operator")


@pytest.fixture
def admin_user(django_user_model):
    return user_with_role(django_user_model, "ada.admin", "admin")


@pytest.fixture
def viewer_user(django_user_model):
    return user_with_role(django_user_model, "vic.viewer", "viewer")


def shoot(page, name: str) -> None:
    """A full-page screenshot in SCREENS. The caret stays as it is: hiding it leaves empty
    ``style`` attributes on inputs, which htmx's settle step then copies (a CSP report)."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True, caret="initial")


# A refused step answers 409/422/423 with a page to show; the browser logs each such status.
EXPECTED_REFUSAL = re.compile(r"^Failed to load resource: .* status of (409|422|423) ")


def watch(page) -> list[str]:
    """Collect console errors (CSP violations included) and uncaught page errors."""
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not EXPECTED_REFUSAL.match(m.text)
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def sign_in_as(page, live_server, username: str) -> None:
    sign_in(page, live_server, username)


def test_operator_skips_days_from_the_calendar_and_undoes_it(
    chromium, live_server, samples_dir, ops_user
):
    original = (samples_dir / f"{UNIFIED}.json").read_bytes()
    page = new_page(chromium)
    problems = watch(page)
    sign_in_as(page, live_server, "olga.ops")
    page.goto(f"{live_server.url}/checkpoints/{UNIFIED}/?tab=calendar&month=2025-03")
    bar = page.locator("#date-selection")
    assert bar.locator("[data-selection-count]").inner_text() == "No dates selected"
    assert bar.get_by_role("button", name="Skip…").is_disabled()

    page.locator('[data-date="2025-03-05"]').click()  # the gap
    page.locator('[data-date="2025-03-07"]').click(modifiers=["Shift"])
    assert bar.locator("[data-selection-count]").inner_text() == (
        "3 dates selected · 2 pending, 1 gap"
    )
    assert page.locator(".day.is-selected").count() == 3
    page.locator('[data-date="2025-03-05"]').click()  # a click takes a day out again
    assert bar.locator("[data-selection-count]").inner_text() == "2 dates selected · 2 pending"
    assert bar.locator("[data-selection-dates]").input_value() == "2025-03-06..2025-03-07"
    assert page.locator('[data-date="2025-03-06"]').get_attribute("aria-selected") == "true"
    shoot(page, "interventions-calendar-selection")

    bar.get_by_role("button", name="Skip…").click()
    page.wait_for_url(re.compile(r"/skip/preview$"))
    assert page.locator(".preview-card__summary").inner_text() == (
        "2 dates pendingDates → completedDates (2025-03-06, 2025-03-07)"
    )
    shoot(page, "interventions-preview")

    # Apply without a reason: the apply form comes back with the error, nothing else moves.
    page.get_by_role("button", name="Apply the skip").click()
    page.locator("#id_reason_error").wait_for()
    assert page.locator("#id_reason_error").inner_text() == (
        "Give a reason: it is recorded in the audit log."
    )
    expect(page.locator("#id_reason")).to_be_focused()
    assert page.url.endswith("/skip/preview")
    assert AuditEntry.objects.count() == 0

    page.fill("#id_reason", "upstream will never deliver these days")
    page.get_by_role("button", name="Apply the skip").click()
    page.wait_for_url(re.compile(rf"/checkpoints/{UNIFIED}/applied/1/$"))
    page.locator(".result-card").wait_for()
    assert "Applied to reconciliation_checkpoint" in page.locator(".messages").inner_text()
    data = orjson.loads((samples_dir / f"{UNIFIED}.json").read_bytes())
    assert data["pendingDates"] == []
    shoot(page, "interventions-result")

    page.get_by_role("link", name="Undo…").click()
    page.wait_for_url(re.compile(r"/restore/\?entry=1&side=before$"))
    assert page.locator(".preview-card__summary").inner_text() == (
        "Puts back the state before entry #1: "
        "2 dates completedDates → pendingDates (2025-03-06, 2025-03-07)"
    )
    page.fill("#id_reason", "skipped the wrong days")
    page.locator("#id_reason").press("Control+Enter")  # (Enter alone starts a new line)
    page.wait_for_url(re.compile(rf"/checkpoints/{UNIFIED}/applied/2/$"))
    assert (samples_dir / f"{UNIFIED}.json").read_bytes() == original
    assert problems == [], "\n".join(problems)


def test_the_calendar_by_keyboard_and_each_action_takes_its_days(
    chromium, live_server, samples_dir, ops_user
):
    """One day is in the Tab order and the arrows move in date order (rows are weekdays,
    columns weeks); the month buttons keep the focus across the swap; each action is offered
    and previews only the selected days it can take."""
    page = new_page(chromium)
    problems = watch(page)
    sign_in_as(page, live_server, "olga.ops")
    page.goto(f"{live_server.url}/checkpoints/{UNIFIED}/?tab=calendar&month=2025-03")
    bar = page.locator("#date-selection")
    assert page.locator('.calendar [data-date][tabindex="0"]').count() == 1
    page.locator('[data-date="2025-03-01"]').click()  # completed
    skip, reprocess = (
        bar.get_by_role("button", name="Skip…"),
        bar.get_by_role("button", name="Reprocess…"),
    )
    assert skip.is_disabled() and reprocess.is_enabled()  # a completed day cannot be skipped
    page.keyboard.press("ArrowDown")
    focused = "document.activeElement.getAttribute('data-date')"
    assert page.evaluate(focused) == "2025-03-02"
    page.keyboard.press("ArrowRight")
    assert page.evaluate(focused) == "2025-03-09"
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # 2025-03-05, the gap
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")  # 2025-03-06, pending
    assert bar.locator("[data-selection-count]").inner_text() == (
        "3 dates selected · 1 pending, 1 gap, 1 completed"
    )
    assert skip.is_enabled()
    assert skip.get_attribute("title") == "2 dates of the selection can be skipped"
    assert page.locator('.calendar [data-date][tabindex="0"]').count() == 1
    # The grid says several days can be selected; the focused day is told apart from the
    # other selected days by a ring of its own (the selection's outline used to replace it).
    assert page.locator(".calendar").get_attribute("aria-multiselectable") == "true"
    outline = "element => getComputedStyle(element).outlineColor"
    focused_day, other_day = (
        page.locator('[data-date="2025-03-06"]'),
        page.locator('[data-date="2025-03-05"]'),
    )
    expect(focused_day).to_be_focused()
    assert focused_day.evaluate(outline) != other_day.evaluate(outline)
    # Escape clears the selection, as "Clear" does; the focus stays on the day.
    page.keyboard.press("Escape")
    assert bar.locator("[data-selection-count]").inner_text() == "No dates selected"
    assert skip.is_disabled()
    expect(focused_day).to_be_focused()
    page.keyboard.press("Space")  # 2025-03-06 again
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Space")  # and the gap
    assert bar.locator("[data-selection-count]").inner_text() == (
        "2 dates selected · 1 pending, 1 gap"
    )

    # The month buttons are swapped with the calendar; the focus stays on the button.
    page.locator(".calnav a[rel=next]").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"month=2025-04"))
    page.locator(".calnav h3", has_text="April 2025").wait_for()
    expect(page.locator(".calnav a[rel=next]")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(page.locator(".calnav a[rel=prev]")).to_be_focused()
    page.keyboard.press("Enter")
    page.locator(".calnav h3", has_text="March 2025").wait_for()
    expect(page.locator(".calnav a[rel=prev]")).to_be_focused()

    # The skip previews the gap and the pending day, not the completed day it cannot take.
    skip.click()
    page.wait_for_url(re.compile(r"/skip/preview$"))
    assert page.locator(".preview-card__summary").inner_text() == (
        "2025-03-06 pendingDates → completedDates; 2025-03-05 added to completedDates"
    )
    assert problems == [], "\n".join(problems)


def test_list_checkboxes_and_all_matching(chromium, live_server, samples_dir, ops_user):
    page = new_page(chromium)
    problems = watch(page)
    sign_in_as(page, live_server, "olga.ops")
    page.goto(f"{live_server.url}/checkpoints/{UNIFIED}/?tab=lists&list=completedDates")
    form = page.locator("#list-selection")
    assert form.get_by_role("button", name="Reprocess selected…").is_disabled()
    page.locator('input[form="list-selection"][value="2025-03-02"]').check()
    assert form.locator("[data-list-count]").inner_text() == "1 ticked"
    page.get_by_label("All 4 in completed dates").check()
    assert page.locator('input[form="list-selection"]:disabled').count() == 4
    shoot(page, "interventions-list-selection")
    form.get_by_role("button", name="Reprocess selected…").click()
    page.wait_for_url(re.compile(r"/reprocess/preview$"))
    assert page.locator(".preview-card__summary").inner_text() == (
        "4 dates completedDates → pendingDates (2025-03-01 … 2025-03-04)"
    )
    assert problems == [], "\n".join(problems)


def test_raw_edit_with_an_error_then_a_fix(chromium, live_server, samples_dir, ops_user):
    page = new_page(chromium)
    problems = watch(page)
    sign_in_as(page, live_server, "olga.ops")
    page.goto(f"{live_server.url}/checkpoints/my-process/edit-raw/")
    editor = page.locator("#id_document")
    document = orjson.loads(editor.input_value())
    assert document["id"] == "my-process-1"

    broken = '{\n  "id": "my-process-1",\n  "status": "running",\n  "progress": 50,\n}'
    editor.fill(broken)
    page.locator(".check--error").wait_for()
    assert "Line 4, column 17" in page.locator("#live-check").inner_text()
    page.get_by_role("button", name=re.compile(r"Go to line 4")).click()
    assert page.evaluate("document.activeElement.id") == "id_document"
    shoot(page, "interventions-raw-error")

    document["progress"] = 150
    editor.fill(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
    page.locator("#live-check", has_text="progress must be between 0 and 100").wait_for()

    document["progress"] = 50
    editor.fill(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
    page.locator(".check--ok").wait_for()
    shoot(page, "interventions-raw-valid")
    page.get_by_role("button", name="Preview…").click()
    page.locator(".preview-card").wait_for()
    assert page.locator(".preview-card__summary").inner_text() == "progress 33 → 50"
    page.fill("#id_reason", "progress was reported wrong")
    page.get_by_role("button", name="Apply the edit").click()
    page.wait_for_url(re.compile(r"/checkpoints/my-process/applied/1/$"))
    assert orjson.loads((samples_dir / "my-process.json").read_bytes())["progress"] == 50
    assert problems == [], "\n".join(problems)


def test_a_refused_documents_error_goes_once_the_document_is_edited(
    chromium, live_server, samples_dir, ops_user
):
    """The preview's "not valid JSON" and its "Go to line" stayed above the live check's
    "Valid" once the document was fixed; the field stayed marked invalid."""
    page = new_page(chromium)
    problems = watch(page)
    sign_in_as(page, live_server, "olga.ops")
    page.goto(f"{live_server.url}/checkpoints/my-process/edit-raw/")
    editor = page.locator("#id_document")
    fixed = editor.input_value()
    editor.fill(fixed.replace('"status"', ',,"status"'))
    page.get_by_role("button", name="Preview…").click()
    page.locator("#id_document_error").wait_for()
    expect(editor).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field--invalid [data-goto]")).to_have_count(1)
    editor.fill(fixed.replace('"progress": 33', '"progress": 34'))
    page.locator("#live-check .check--ok").wait_for()
    expect(page.locator("#id_document_error")).to_have_count(0)
    expect(page.locator(".field--invalid")).to_have_count(0)
    assert editor.get_attribute("aria-invalid") is None
    assert editor.get_attribute("aria-describedby") == "live-check"
    assert problems == [], "\n".join(problems)


def test_a_long_list_of_a_preview_is_paged_in_place(chromium, live_server, samples_dir, ops_user):
    """ "Show all" and "Next ›" post the preview's own form (the reason typed goes too) and
    htmx swaps only the list: the reason stays as typed, the page where it was."""
    from datetime import date, timedelta

    days = [(date(2020, 1, 1) + timedelta(days=n)).isoformat() for n in range(1200)]
    document = orjson.loads((samples_dir / f"{UNIFIED}.json").read_bytes())
    document.update(pendingDates=days, completedDates=[], lastProcessedDate=None)
    (samples_dir / "long.json").write_bytes(orjson.dumps(document))
    page = new_page(chromium)
    problems = watch(page)
    sign_in_as(page, live_server, "olga.ops")
    page.goto(f"{live_server.url}/checkpoints/long/skip/")
    page.fill("#id_dates", f"{days[0]}..{days[-1]}")
    page.get_by_role("button", name="Preview…").click()
    page.locator(".preview-card").wait_for()
    page.fill("#id_reason", "typed before paging")
    page.get_by_text("the first 50 of 1,200").click()
    page.get_by_role("button", name="Show all 1,200, paged").click()
    page.get_by_text("1–500 of 1,200").wait_for()
    page.get_by_role("button", name="Next ›").click()
    page.get_by_text("501–1,000 of 1,200").wait_for()
    expect(page.locator(".values li").first).to_have_text(days[500])
    expect(page.locator("#id_reason")).to_have_value("typed before paging")
    assert page.url.endswith("/checkpoints/long/skip/")  # (swapped in place)
    assert AuditEntry.objects.count() == 0
    assert problems == [], "\n".join(problems)


def test_the_focus_follows_each_step(chromium, live_server, samples_dir, ops_user, settings):
    """The calendar's "Skip…" (a plain form post) left the focus at the top of the page;
    "← Change it" on the whole step; a refusal while a job held the lock on the page (the
    button pressed was disabled during the request): it goes to what the refusal says."""
    from checkpoints_admin.checkpoints import CheckpointStore

    settings.CHECKPOINT_LOCK_TIMEOUT = 0.3
    page = new_page(chromium)
    problems = watch(page)
    sign_in_as(page, live_server, "olga.ops")
    page.goto(f"{live_server.url}/checkpoints/{UNIFIED}/?tab=calendar&month=2025-03")
    page.locator('[data-date="2025-03-06"]').click()
    page.locator("#date-selection").get_by_role("button", name="Skip…").click()
    page.wait_for_url(re.compile(r"/skip/preview$"))
    expect(page.locator("#preview-title")).to_be_focused()

    page.get_by_role("button", name="← Change it").click()
    page.locator("#id_dates").wait_for()
    expect(page.get_by_role("heading", level=1)).to_be_focused()

    page.get_by_role("button", name="Preview…").click()
    page.locator(".preview-card").wait_for()
    page.fill("#id_reason", "while the job holds the file")
    with CheckpointStore(samples_dir).lock(UNIFIED):
        page.get_by_role("button", name="Apply the skip").click()
        said = page.locator('#apply-form [role="alert"]')
        expect(said).to_be_focused()
        expect(said).to_contain_text("holding")
    assert AuditEntry.objects.count() == 0
    assert problems == [], "\n".join(problems)


def pick_field(chromium, live_server, name: str, pointer: str):
    """The field editor of checkpoint ``name`` with ``pointer`` chosen in its select, as
    olga.ops (the page, and the problems its console reports)."""
    page = new_page(chromium)
    problems = watch(page)
    sign_in_as(page, live_server, "olga.ops")
    page.goto(f"{live_server.url}/checkpoints/{name}/edit/")
    page.select_option("#id_pick", pointer)
    page.wait_for_url(re.compile(r"pointer=" + re.escape(pointer.replace("/", "%2F"))))
    page.wait_for_load_state("networkidle")  # the field's form is swapped in before typing
    return page, problems


def test_edit_a_field_with_live_findings(chromium, live_server, samples_dir, ops_user):
    page, problems = pick_field(chromium, live_server, UNIFIED, "/stats/processedRecords")
    page.locator("#id_value").wait_for()
    page.fill("#id_value", "9000")
    page.locator("#live-check", has_text="is more than totalRecords").wait_for()
    shoot(page, "interventions-edit-field")
    page.fill("#id_value", "7231")
    page.locator("#live-check .check--ok").wait_for()
    # A time kept as epoch milliseconds: read as a time, and "Now" gives the current one.
    page.goto(f"{live_server.url}/checkpoints/{UNIFIED}/edit/?pointer=%2FlastUpdateTime")
    assert page.locator("#id_value_time").inner_text() == (
        "(epoch milliseconds: 2024-03-06 16:39:16 UTC)"
    )
    before = int(time.time() * 1000)
    page.get_by_role("button", name="Now", exact=True).click()
    assert before <= int(page.locator("#id_value").input_value()) <= int(time.time() * 1000)
    page.locator("#live-check .check--ok").wait_for()
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("javascript", [True, False])
def test_back_from_the_preview_to_choose_keeps_the_selection(
    chromium, live_server, samples_dir, ops_user, javascript
):
    """The preview's "Choose" step and its "← Change it" lead back to the choose page with
    the dates filled in, swapped in place with htmx and as a plain form post without. The
    reason typed comes back at the next preview, either way."""
    context = chromium.new_context(
        java_script_enabled=javascript, viewport={"width": 1366, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems = watch(page)
    sign_in_as(page, live_server, "olga.ops")
    page.goto(f"{live_server.url}/checkpoints/{UNIFIED}/skip/")
    page.fill("#id_dates", "2025-03-06..2025-03-07")
    kept = ""
    for back in ("steps", "button"):
        page.get_by_role("button", name="Preview…").click()
        page.locator(".preview-card__summary").wait_for()
        expect(page.locator("#id_reason")).to_have_value(kept)
        page.fill("#id_reason", f"typed before going back by {back}")
        kept = f"typed before going back by {back}"
        if back == "steps" and javascript:
            page.get_by_role("list", name="Steps").get_by_role("button", name="Choose").hover()
            shoot(page, "interventions-preview-back")
        if back == "steps":
            page.get_by_role("list", name="Steps").get_by_role("button", name="Choose").click()
        else:
            page.get_by_role("button", name="← Change it").click()
        page.locator("#id_dates").wait_for()
        expect(page.locator("#id_dates")).to_have_value("2025-03-06..2025-03-07")
        expect(page.locator(".steps__step[aria-current=step]")).to_contain_text("Choose")
    page.fill("#id_dates", "2025-03-07")
    page.get_by_role("button", name="Preview…").click()
    expect(page.locator(".preview-card__summary")).to_have_text(
        "2025-03-07 pendingDates → completedDates"
    )
    expect(page.locator("#id_reason")).to_have_value("typed before going back by button")
    assert AuditEntry.objects.count() == 0
    assert problems == [], "\n".join(problems)
    context.close()


def test_set_to_null_disables_the_value_beside_it(chromium, live_server, samples_dir, ops_user):
    """A null field's editor starts ticked "Set to null" with its input disabled; unticked,
    the input takes a value; ticked again, the value is not what is previewed."""
    page, problems = pick_field(
        chromium, live_server, "daily_reconciliation_checkpoint", "/endTime"
    )
    expect(page.locator("#id_null")).to_be_checked()
    expect(page.locator("#id_value")).to_be_disabled()
    expect(page.get_by_role("button", name="Now (UTC)")).to_be_disabled()
    shoot(page, "interventions-edit-null")

    page.locator("#id_null").uncheck()
    expect(page.locator("#id_value")).to_be_enabled()
    page.get_by_role("button", name="Now (UTC)").click()
    page.locator("#live-check .check__summary", has_text="endTime null → 20").wait_for()
    page.locator("#id_null").check()
    expect(page.locator("#id_value")).to_be_disabled()
    page.get_by_role("button", name="Preview…").click()
    expect(page.locator(".preview-card__summary")).to_have_text(
        "Nothing: the checkpoint already is like this"
    )
    assert problems == [], "\n".join(problems)


def test_reset_with_typed_confirmation_then_undo(chromium, live_server, samples_dir, admin_user):
    original = (samples_dir / f"{UNIFIED}.json").read_bytes()
    page = new_page(chromium)
    problems = watch(page)
    sign_in_as(page, live_server, "ada.admin")
    page.goto(f"{live_server.url}/checkpoints/{UNIFIED}/")
    page.get_by_role("link", name="Reset…").click()
    page.wait_for_url(re.compile(r"/reset/$"))
    delete = page.get_by_role("button", name="Delete the checkpoint")
    assert delete.is_disabled()
    page.fill("#id_reason", "start the month again")
    page.fill("#id_confirm", "reconciliation")
    assert delete.is_disabled()
    assert page.locator("#id_confirm_hint").text_content() == ""  # (still typing it)
    page.fill("#id_confirm", "Reconciliation_checkpoint")
    assert delete.is_disabled()
    assert (
        page.locator("#id_confirm_hint").text_content() == "Not the same: letters differ in case."
    )
    page.fill("#id_confirm", "reconciliation-checkpoint")
    assert page.locator("#id_confirm_hint").text_content() == (
        "Not the same from character 15 (\u201c-checkpoint\u201d)."
    )
    page.fill("#id_confirm", UNIFIED)
    assert delete.is_enabled()
    assert page.locator("#id_confirm_hint").text_content() == "The name matches."
    shoot(page, "interventions-reset")
    delete.click()
    page.wait_for_url(re.compile(r"/applied/1/$"))
    assert not (samples_dir / f"{UNIFIED}.json").exists()
    page.get_by_role("link", name="Undo…").click()
    page.fill("#id_reason", "reset the wrong job")
    page.get_by_role("button", name="Apply the restore").click()
    page.wait_for_url(re.compile(r"/applied/2/$"))
    assert (samples_dir / f"{UNIFIED}.json").read_bytes() == original
    assert problems == [], "\n".join(problems)


def test_each_step_swapped_in_names_itself_and_takes_the_focus(
    chromium, live_server, samples_dir, ops_user
):
    """By keyboard alone: the preview and the result that htmx swaps in give the page their
    own title and put the focus on their heading (not on the page or the whole region)."""
    page = new_page(chromium)
    problems = watch(page)
    sign_in_as(page, live_server, "olga.ops")
    page.goto(f"{live_server.url}/checkpoints/{UNIFIED}/skip/")
    assert page.title() == f"Skip dates · {UNIFIED} · Checkpoints Admin"
    page.locator("#id_dates").fill("2025-03-06")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Preview…")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="What this skip does")).to_be_focused()
    expect(page).to_have_title(f"Preview · Skip dates · {UNIFIED} · Checkpoints Admin")

    # The message of the apply goes into the live region the page had from the start (one
    # made with its words already in it would not be announced).
    region = page.locator("[role=status].messages").element_handle()
    assert region.inner_text() == ""
    page.locator("#id_reason").fill("upstream never delivers")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#result-title")).to_be_focused()
    assert region.evaluate("element => element.isConnected")
    assert region.inner_text().startswith(f"Applied to {UNIFIED}: 2025-03-06")
    expect(page).to_have_title(f"Applied · skip · {UNIFIED} · Checkpoints Admin")
    assert page.url.endswith(f"/checkpoints/{UNIFIED}/applied/1/")
    assert problems == [], "\n".join(problems)


def test_conflict_while_a_job_writes(chromium, live_server, samples_dir, ops_user):
    path = samples_dir / f"{UNIFIED}.json"
    page = new_page(chromium)
    problems = watch(page)
    sign_in_as(page, live_server, "olga.ops")
    page.goto(f"{live_server.url}/checkpoints/{UNIFIED}/skip/")
    page.fill("#id_dates", "2025-03-06")
    page.get_by_role("button", name="Preview…").click()
    page.locator(".preview-card").wait_for()
    page.fill("#id_reason", "upstream never delivers")
    # The job saves progress while the operator reads the preview.
    path.write_bytes(
        path.read_bytes().replace(b'"processedRecords": 7231', b'"processedRecords": 7240')
    )
    page.get_by_role("button", name="Apply the skip").click()
    page.locator(".conflict").wait_for()
    expect(page.locator("#conflict-title")).to_be_focused()
    assert "stats.processedRecords 7,231 → 7,240" in page.locator(".conflict").inner_text()
    assert "Nothing was applied." in page.locator(".conflict").inner_text()
    shoot(page, "interventions-conflict")
    assert AuditEntry.objects.count() == 0

    page.get_by_role("button", name="Preview again on the current version").click()
    page.locator(".preview-card").wait_for()
    assert page.input_value("#id_reason") == "upstream never delivers"
    page.get_by_role("button", name="Apply the skip").click()
    page.locator(".result-card").wait_for()
    data = orjson.loads(path.read_bytes())
    assert data["pendingDates"] == ["2025-03-07"]
    assert data["stats"]["processedRecords"] == 7240
    assert problems == [], "\n".join(problems)


def test_a_viewer_sees_no_write_controls(chromium, live_server, samples_dir, viewer_user):
    page = new_page(chromium)
    problems = watch(page)
    sign_in_as(page, live_server, "vic.viewer")
    page.goto(f"{live_server.url}/checkpoints/{UNIFIED}/?tab=calendar&month=2025-03")
    assert page.locator("#actions-title").count() == 0
    assert page.locator("#date-selection").count() == 0
    page.locator('[data-date="2025-03-06"]').click()
    assert page.locator(".day.is-selected").count() == 0
    page.goto(f"{live_server.url}/checkpoints/{UNIFIED}/?tab=lists")
    assert page.locator('#list-results input[type="checkbox"]').count() == 0
    response = page.goto(f"{live_server.url}/checkpoints/{UNIFIED}/skip/")
    assert response.status == 403
    assert problems == [] or all("403" in problem for problem in problems)


@pytest.mark.parametrize(("scheme", "width"), [("dark", 1366), ("light", 390), ("dark", 390)])
def test_intervention_pages_in_dark_mode_and_on_a_phone(
    chromium, live_server, samples_dir, ops_user, scheme, width
):
    page = new_page(chromium, scheme=scheme, width=width, height=900)
    sign_in_as(page, live_server, "olga.ops")
    suffix = f"{scheme}-{width}"

    page.goto(f"{live_server.url}/checkpoints/{UNIFIED}/?tab=calendar&month=2025-03")
    page.locator('[data-date="2025-03-06"]').click()
    page.locator('[data-date="2025-03-07"]').click(modifiers=["Shift"])
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shoot(page, f"interventions-calendar-selection-{suffix}")

    page.locator("#date-selection").get_by_role("button", name="Skip…").click()
    page.locator(".preview-card").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shoot(page, f"interventions-preview-{suffix}")

    page.fill("#id_reason", "upstream never delivers")
    page.get_by_role("button", name="Apply the skip").click()
    page.locator(".result-card").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shoot(page, f"interventions-result-{suffix}")

    page.goto(f"{live_server.url}/checkpoints/{UNIFIED}/edit-raw/")
    page.locator("#id_document").fill('{"a": 1,}')
    page.locator(".check--error").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shoot(page, f"interventions-raw-error-{suffix}")


@pytest.mark.parametrize(("scheme", "width"), [("light", 1366), ("dark", 390)])
def test_choose_pages_fit_and_run_clean(
    chromium, live_server, samples_dir, admin_user, scheme, width
):
    (samples_dir / "broken.json").write_bytes(b'{"id": "job",\n  "status": }\n')
    page = new_page(chromium, scheme=scheme, width=width, height=900)
    problems = watch(page)
    sign_in_as(page, live_server, "ada.admin")
    pages = {
        "skip": f"/checkpoints/{UNIFIED}/skip/",
        "items": "/checkpoints/my-process/skip/",
        "edit": "/checkpoints/daily_reconciliation_checkpoint/edit/?pointer=%2FendTime",
        "create": "/create/?template=unified-reconciliation&name=nightly",
        "corrupt": "/checkpoints/broken/",
    }
    for label, path in pages.items():
        page.goto(live_server.url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, label
        shoot(page, f"interventions-choose-{label}-{scheme}-{width}")
    # A link inside a sentence is set apart by more than its colour.
    page.goto(live_server.url + pages["skip"])
    link = page.locator(".panel-note a", has_text="calendar")
    assert link.evaluate("a => getComputedStyle(a).textDecorationLine") == "underline"
    page.goto(live_server.url + "/create/?template=managed&name=nightly")
    page.get_by_label("Daily reconciliation (dates / processedDates)").check()
    page.get_by_role("button", name="Use this template").click()
    page.locator("#id_document", has_text='"processedDates"').wait_for()
    assert page.input_value("#id_name") == "nightly"
    assert problems == [], "\n".join(problems)


def test_a_new_checkpoints_id_follows_the_name_until_the_document_is_edited(
    chromium, live_server, samples_dir, ops_user
):
    page = new_page(chromium)
    problems = watch(page)
    sign_in_as(page, live_server, "olga.ops")
    page.goto(live_server.url + "/create/")
    document = page.locator("#id_document")
    expect(document).to_have_value(re.compile(r'"id": "job-1"'))
    page.locator("#id_name").press_sequentially("../")  # (no name: the id stays as it is)
    expect(document).to_have_value(re.compile(r'"id": "job-1"'))
    page.locator("#id_name").fill("")
    page.locator("#id_name").press_sequentially("nightly")
    expect(document).to_have_value(re.compile(r'"id": "nightly-1"'))
    # a template chosen after the name keeps the name (htmx posts the form on the left);
    # choosing alone (by keyboard, going through them) replaces nothing
    use = page.get_by_role("button", name="Use this template")
    page.get_by_label("Daily reconciliation (dates / processedDates)").check()
    use.click()
    expect(document).to_have_value(re.compile(r'"processedDates"'))
    assert page.input_value("#id_name") == "nightly"
    page.get_by_label("Daily reconciliation (dates / processedDates)").focus()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    expect(page.get_by_label("Managed job (CheckpointManager)")).to_be_checked()
    assert '"processedDates"' in document.input_value()
    use.click()
    expect(document).to_have_value(re.compile(r'"id": "nightly-1"'))
    page.locator("#id_name").press("End")
    page.locator("#id_name").press_sequentially("-eu")
    expect(document).to_have_value(re.compile(r'"id": "nightly-eu-1"'))
    # edited by hand, the document is the person's: the name no longer rewrites it
    edited = document.input_value().replace('"progress": 0', '"progress": 5')
    document.fill(edited)
    page.locator("#id_name").press("End")
    page.locator("#id_name").press_sequentially("-2")
    page.locator(".live-check").get_by_text("nightly-eu-2").or_(
        page.locator(".check--ok")
    ).first.wait_for()
    assert document.input_value() == edited
    page.get_by_role("button", name="Preview…").click()
    expect(page.locator(".preview-card")).to_contain_text("nightly-eu-2.json")
    assert problems == [], "\n".join(problems)


def test_applying_the_same_preview_again_shows_the_entry_in_a_whole_page(
    chromium, live_server, samples_dir, ops_user
):
    """The same preview open in two tabs, applied in both: the second does nothing more, and
    shows the first one's result, saying so."""
    tabs = []
    for _ in range(2):
        page = new_page(chromium)
        tabs.append((page, watch(page)))
        sign_in_as(page, live_server, "olga.ops")
        page.goto(f"{live_server.url}/checkpoints/{UNIFIED}/skip/?dates=2025-03-06")
        page.get_by_role("button", name="Preview…").click()
        page.fill("#id_reason", "upstream never delivers")
    for page, _ in tabs:
        page.get_by_role("button", name="Apply the skip").click()
        page.wait_for_url(re.compile(rf"/checkpoints/{UNIFIED}/applied/1/$"))
    page, problems = tabs[1]
    expect(page.locator(".messages")).to_contain_text(
        "This skip was applied already, as audit entry #1; nothing more was done."
    )
    expect(page).to_have_title(f"Applied · skip · {UNIFIED} · Checkpoints Admin")
    assert page.locator("header").count() == 1
    assert page.locator(".result-card").count() == 1
    assert page.locator("h1").count() == 1
    assert AuditEntry.objects.count() == 1
    assert [p for _, found in tabs for p in found] == []


@pytest.mark.parametrize(("scheme", "width"), [("light", 1366), ("dark", 1366), ("light", 390)])
def test_a_bookmark_to_a_reset_checkpoint_leads_to_its_restore(
    chromium, live_server, samples_dir, admin_user, scheme, width
):
    original = (samples_dir / f"{UNIFIED}.json").read_bytes()
    page = new_page(chromium, scheme=scheme, width=width)
    problems = watch(page)
    sign_in_as(page, live_server, "ada.admin")
    page.goto(f"{live_server.url}/checkpoints/{UNIFIED}/reset/")
    page.fill("#id_reason", "start the month again")
    page.fill("#id_confirm", UNIFIED)
    page.get_by_role("button", name="Delete the checkpoint").click()
    page.wait_for_url(re.compile(r"/applied/1/$"))

    response = page.goto(f"{live_server.url}/checkpoints/{UNIFIED}/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="This checkpoint has no file now")).to_be_visible()
    expect(page.locator(".reason")).to_have_text("start the month again")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shoot(page, f"checkpoint-gone-{scheme}-{width}")

    page.get_by_role("link", name="Restore…").click()
    page.fill("#id_reason", "reset the wrong job")
    page.get_by_role("button", name="Apply the restore").click()
    page.wait_for_url(re.compile(r"/applied/2/$"))
    assert (samples_dir / f"{UNIFIED}.json").read_bytes() == original
    # (the 404 of the page itself is logged by the browser, as any 404)
    assert [p for p in problems if "status of 404" not in p] == [], "\n".join(problems)


def test_the_field_editors_values_stay_inside_their_card(
    chromium, live_server, samples_dir, operator
):
    """A long value (a time, a number beyond 64 bits) widened the side list's grid past its
    card, and the values of every field stood over its edge."""
    path = samples_dir / "my-process.json"
    path.write_bytes(
        path.read_bytes().replace(
            b'"progress": 33', b'"rows": 99999999999999999999999, "progress": 33'
        )
    )
    page = new_page(chromium)
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/checkpoints/my-process/edit/?pointer=/rows")
    expect(page.locator("#id_value")).to_have_value("99999999999999999999999")
    card = page.locator(".layout__side .card").bounding_box()
    values = page.locator(".fieldlist code")
    assert values.count() >= 5
    for index in range(values.count()):
        box = values.nth(index).bounding_box()
        assert box["x"] + box["width"] <= card["x"] + card["width"], values.nth(index).inner_text()
