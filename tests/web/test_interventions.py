"""Interventions through the console: choose, preview, apply, result, undo; every refusal.

Each refusal is checked to change nothing: the checkpoint files' bytes and the number of
audit entries stay as they were.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path

import orjson
import pytest

from checkpoints_admin import services
from checkpoints_admin.checkpoints.store import version_of
from checkpoints_admin.intervention_forms import TEMPLATES
from checkpoints_admin.models import AuditEntry
from tests.conftest import SAMPLES
from tests.tampering import tamper
from tests.web.conftest import write_json

HTMX = {"HX-Request": "true"}
UNIFIED = "reconciliation_checkpoint"
EDIT = {"pointer": "/stats/timeouts", "value": "4"}
DAILY = "daily_reconciliation_checkpoint"
MANAGED = "my-process"
REASON = "upstream will never deliver this day"


# --- helpers (also used by the other test_interventions_* modules) --------------------------------


def state(directory: Path) -> tuple[dict[str, bytes], int]:
    """Every checkpoint file's bytes and the number of audit entries."""
    files = {path.name: path.read_bytes() for path in sorted(directory.glob("*.json"))}
    return files, AuditEntry.objects.count()


def text(response) -> str:
    return response.content.decode()


def form_fields(page: str, form_id: str | None = None, *, after: str | None = None) -> dict:
    """The hidden inputs of the form inside ``#apply-form`` (or after the ``after`` marker)."""
    start = page.index(after or 'id="apply-form"')
    block = page[start : page.index("</form>", start)]
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', block):
        fields.setdefault(name, []).append(html.unescape(value))
    return {key: values if len(values) > 1 else values[0] for key, values in fields.items()}


def errors_of(page: str, field_id: str) -> list[str]:
    """The error messages shown next to the field with id ``field_id``."""
    match = re.search(rf'<ul class="errorlist" id="{field_id}_error" role="alert">(.*?)</ul>', page)
    if not match:
        return []
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)]


def described_by(page: str, control_id: str) -> list[str]:
    """The ids a screen reader reads out after the label of the control ``control_id``."""
    match = re.search(rf'<(?:input|textarea|select) [^>]*id="{control_id}"[^>]*>', page)
    assert match, control_id
    found = re.search(r'aria-describedby="([^"]*)"', match.group(0))
    return found.group(1).split() if found else []


def preview(client, name: str, key: str, data: dict, **kwargs):
    return client.post(f"/checkpoints/{name}/{key}/preview", data, **kwargs)


def apply_preview(client, name: str, key: str, response, reason: str = REASON, **extra):
    """Apply what a preview page shows, as its form would post it."""
    fields = form_fields(text(response))
    fields.update({"reason": reason, **extra})
    return client.post(f"/checkpoints/{name}/{key}/apply", fields)


def read_sample_unified() -> dict:
    return orjson.loads((SAMPLES / f"{UNIFIED}.json").read_bytes())


def read(directory: Path, name: str) -> dict:
    return orjson.loads((directory / f"{name}.json").read_bytes())


@pytest.fixture
def operator(signed_in):
    return signed_in("operator")


@pytest.fixture
def admin(signed_in):
    return signed_in("admin")


# --- skip and reprocess ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "action", "example"),
    [
        (UNIFIED, "skip", "2025-03-06 2025-03-07"),
        (UNIFIED, "reprocess", "2025-03-01 2025-03-02..2025-03-03"),
        (MANAGED, "skip", "item2\nitem3"),
        (MANAGED, "reprocess", "item1"),
        (DAILY, "skip", "2025-03-05"),  # its dates not processed yet
        (DAILY, "reprocess", "2025-03-04"),
    ],
)
def test_the_selection_example_is_made_of_values_the_action_takes(
    operator, samples_dir, name, action, example
):
    page = text(operator.get(f"/checkpoints/{name}/{action}/"))
    shown = re.search(r'<textarea id="id_dates"[^>]*placeholder="([^"]*)"', page)
    assert shown is not None
    assert shown.group(1) == example


@pytest.mark.parametrize(
    ("pending", "example"),
    [
        # unsorted, a duplicate, an impossible date: sorted real dates, a range only of
        # days next to each other, never one the field would refuse as reversed
        (
            ["2025-03-09", "2025-03-06", "2025-13-45", "2025-03-06", "2025-03-07"],
            ("2025-03-06 2025-03-07 2025-03-09"),
        ),
        (["2025-03-08", "2025-03-06", "2025-03-07"], "2025-03-06 2025-03-07..2025-03-08"),
        ([], "YYYY-MM-DD YYYY-MM-DD..YYYY-MM-DD"),
    ],
)
def test_the_selection_example_is_always_accepted(operator, checkpoints_dir, pending, example):
    document = {"pendingDates": pending, "completedDates": ["2025-03-01"]}
    write_json(checkpoints_dir, "job", {**document, "lastProcessedDate": "2025-03-01"})
    page = text(operator.get("/checkpoints/job/skip/"))
    assert f'placeholder="{example}"' in page
    if pending:
        assert preview(operator, "job", "skip", {"dates": example}).status_code == 200


def test_a_link_with_dates_fills_the_choose_page(operator, samples_dir):
    page = text(operator.get(f"/checkpoints/{UNIFIED}/skip/?dates=2025-03-06..2025-03-07"))
    assert re.search(
        r'<textarea id="id_dates" name="dates"[^>]*>\n2025-03-06..2025-03-07</textarea>', page
    )
    assert 'aria-invalid="true"' not in page  # filled, not refused
    page = text(operator.get(f"/checkpoints/{UNIFIED}/reprocess/?dates=2025-03-01"))
    assert re.search(r'<textarea id="id_dates" name="dates"[^>]*>\n2025-03-01</textarea>', page)


def change_form(page: str) -> tuple[str, dict]:
    """Where "← Change it" posts, and the change it carries: the apply form's when the change
    can be applied (then the only form carrying it: it can be megabytes), else a bare one."""
    form = re.search(r'<form id="change-form" method="post" action="([^"]+)"', page)
    if form is None:
        back = re.search(r'<button type="submit" formaction="([^"]+)" class="button button--'
                         r'block">← Change it</button>', page)  # fmt: skip
        assert back is not None
        url, fields = back.group(1), form_fields(page, after='<form id="apply-step-form"')
        fields.pop("base_version")
    else:
        url, fields = form.group(1), form_fields(page, after='<form id="change-form"')
    fields.pop("csrfmiddlewaretoken")
    return url, fields


def test_a_preview_goes_back_to_choose_with_the_selection_filled_in(operator, samples_dir):
    """The "Choose" step of a preview was marked done but led nowhere; Cancel lost the
    selection. It and "← Change it" post the selection back to the choose page."""
    dates = "2025-03-06 2025-03-07"
    page = text(preview(operator, UNIFIED, "skip", {"dates": dates}))
    steps = re.findall(r'<li class="steps__step[^"]*">(.*?)</li>', page)
    assert steps[0] == (
        '<button type="submit" form="apply-step-form" '
        f'formaction="/checkpoints/{UNIFIED}/skip/change" class="steps__back" '
        'title="Back to step 1, with this skip filled in"><span class="steps__n" '
        'aria-hidden="true">1</span>Choose<span class="visually-hidden">: change this skip'
        "</span></button>"
    )
    assert (
        f'<button type="submit" formaction="/checkpoints/{UNIFIED}/skip/change" '
        'class="button button--block">← Change it</button>'
    ) in page
    url, fields = change_form(page)
    assert (url, fields) == (f"/checkpoints/{UNIFIED}/skip/change", {"dates": dates})

    back = operator.post(url, fields)
    assert back.status_code == 200
    page = text(back)
    assert '<h1 tabindex="-1" data-step-focus>Skip dates</h1>' in page
    assert re.search(rf'<textarea id="id_dates" name="dates"[^>]*>\n{dates}</textarea>', page)
    assert 'aria-invalid="true"' not in page
    assert 'aria-current="step"><span class="steps__n" aria-hidden="true">1</span>Choose' in page
    # with htmx, the choose step alone, swapped in place of the preview
    swapped = text(operator.post(url, fields, headers=HTMX))
    assert swapped.lstrip().startswith(f"<title>Skip dates · {UNIFIED} · Checkpoints Admin</title>")
    assert "<html" not in swapped
    assert f"\n{dates}</textarea>" in swapped
    # going back changes nothing
    assert state(samples_dir)[1] == 0


def test_the_reason_typed_on_a_preview_comes_back_with_the_change(operator, samples_dir):
    """ "← Change it" and the "Choose" step post the apply form, reason and all, to step 1:
    the choose page keeps it, and so does the next preview, or a refused one."""
    dates, reason = "2025-03-06", 'upstream "never" delivers <b>\nsecond line'
    page = text(preview(operator, UNIFIED, "skip", {"dates": dates}))
    back = f'formaction="/checkpoints/{UNIFIED}/skip/change"'
    assert f'<button type="submit" form="apply-step-form" {back} class="steps__back"' in page
    assert f'<button type="submit" {back} class="button button--block">← Change it' in page
    assert '<form id="apply-step-form" method="post"' in page
    # carried once: a selection of 100,000 items is megabytes
    assert page.count('<input type="hidden" name="dates"') == 1
    assert 'id="change-form"' not in page
    # A preview that cannot be applied has no reason to carry: the bare form goes back.
    same = text(preview(operator, UNIFIED, "edit", {"pointer": "/stats/timeouts", "value": "3"}))
    assert "Nothing to apply" in same
    edit_back = f'formaction="/checkpoints/{UNIFIED}/edit/change"'
    assert f'<button type="submit" form="change-form" {edit_back} class="steps__back"' in same
    fields = {**form_fields(page), "reason": reason}
    choose = text(operator.post(f"/checkpoints/{UNIFIED}/skip/change", fields))
    kept = form_fields(choose, after=f'action="/checkpoints/{UNIFIED}/skip/preview"')
    kept.pop("csrfmiddlewaretoken")
    assert kept == {"reason": reason}
    assert "<b>" not in choose  # (escaped in the hidden input)

    again = text(preview(operator, UNIFIED, "skip", {"dates": "2025-03-07", "reason": reason}))
    assert f"\n{html.escape(reason)}</textarea>" in again
    refused = preview(operator, UNIFIED, "skip", {"dates": "2025-02-30", "reason": reason})
    assert refused.status_code == 422
    assert f'name="reason" value="{html.escape(reason)}"' in text(refused)
    # without one, no empty field is carried
    assert 'name="reason"' not in text(operator.post(f"/checkpoints/{UNIFIED}/skip/change", {}))
    assert state(samples_dir)[1] == 0


def test_back_to_choose_fills_in_each_editor(operator, admin, samples_dir):
    # a field: its new value, or "Set to null" ticked
    page = text(preview(operator, UNIFIED, "edit", {"pointer": "/stats/timeouts", "value": "4"}))
    url, fields = change_form(page)
    assert (url, fields) == (
        f"/checkpoints/{UNIFIED}/edit/change",
        {"pointer": "/stats/timeouts", "value": "4"},
    )
    page = text(operator.post(url, fields))
    assert '<option value="/stats/timeouts" selected>' in page
    assert re.search(r'<input type="number" id="id_value" name="value" value="4"', page)
    data = {"pointer": "/lastProcessedDate", "value": "", "null": "on"}
    page = text(operator.post(*change_form(text(preview(operator, UNIFIED, "edit", data)))))
    assert " checked>" in null_box(page)

    # the raw editor: the document as typed, still bound to the version it was filled from
    loaded = version_of((samples_dir / f"{MANAGED}.json").read_bytes())
    document = '{"id": "x", "status": "running", "progress": 5, "pendingItems": ["a & b"]}'
    data = {"document": document, "loaded_version": loaded}
    url, fields = change_form(text(preview(operator, MANAGED, "edit-raw", data)))
    assert url == f"/checkpoints/{MANAGED}/edit-raw/change"
    page = text(operator.post(url, fields))
    assert html.escape(document) in page
    assert f'<input type="hidden" name="loaded_version" value="{loaded}">' in page

    # a new checkpoint: its name and document
    data = {"name": "fresh", "document": '{"a": 1}'}
    url, fields = change_form(text(operator.post("/create/preview", data)))
    assert (url, fields) == ("/create/change", data)
    page = text(operator.post(url, fields))
    assert 'id="id_name" name="name" value="fresh"' in page
    assert "\n{&quot;a&quot;: 1}</textarea>" in page

    # a reset has nothing to choose: its preview offers no way back, and there is none
    page = text(admin.get(f"/checkpoints/{UNIFIED}/reset/"))
    assert 'id="change-form"' not in page
    assert 'form="change-form"' not in page
    assert admin.post(f"/checkpoints/{UNIFIED}/reset/change").status_code == 404
    assert state(samples_dir)[1] == 0


def test_a_preview_that_cannot_be_applied_goes_back_with_the_change(operator, samples_dir):
    """The "← Change it" beside "cannot be applied" was a link to an empty choose page; it
    posts the change back too, and so does one beside "Nothing to apply"."""
    data = {"pointer": "/stats/processedRecords", "value": "9000"}  # > totalRecords
    page = text(preview(operator, UNIFIED, "edit", data))
    assert "The result has errors, so it cannot be applied." in page
    assert '<button type="submit" form="change-form" class="button">← Change it</button>' in page
    assert change_form(page)[1] == data
    data = {"pointer": "/stats/timeouts", "value": "3"}  # as it is
    page = text(preview(operator, UNIFIED, "edit", data))
    assert "Nothing to apply" in page
    assert '<button type="submit" form="change-form" class="button">← Change it</button>' in page


def test_skip_a_typed_date_through_the_three_steps(operator, samples_dir):
    original = (samples_dir / f"{UNIFIED}.json").read_bytes()
    choose = operator.get(f"/checkpoints/{UNIFIED}/skip/")
    assert choose.status_code == 200
    assert '<h1 tabindex="-1" data-step-focus>Skip dates</h1>' in text(choose)
    assert '<textarea id="id_dates" name="dates"' in text(choose)

    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    assert shown.status_code == 200
    page = text(shown)
    assert (
        '<p class="diff-summary preview-card__summary">2025-03-06 pendingDates → completedDates</p>'
        in page
    )
    fields = form_fields(page)
    assert fields["base_version"] == version_of(original)
    assert fields["dates"] == "2025-03-06"
    assert '<textarea id="id_reason" name="reason"' in page
    assert state(samples_dir)[1] == 0 and (samples_dir / f"{UNIFIED}.json").read_bytes() == original

    applied = apply_preview(operator, UNIFIED, "skip", shown)
    assert applied.status_code == 302
    entry = AuditEntry.objects.get()
    assert applied["Location"] == f"/checkpoints/{UNIFIED}/applied/{entry.seq}/"
    data = read(samples_dir, UNIFIED)
    assert data["pendingDates"] == ["2025-03-07"]
    assert data["completedDates"][-1] == "2025-03-06"
    assert (entry.action, entry.actor, entry.source, entry.reason) == (
        "skip",
        "operator-user",
        "web",
        REASON,
    )
    assert entry.address == "127.0.0.1"
    assert entry.base_version == version_of(original)

    result = operator.get(applied["Location"])
    page = text(result)
    assert result.status_code == 200
    assert (
        f"Applied to {UNIFIED}: 2025-03-06 pendingDates → completedDates (audit entry #1)." in page
    )
    assert f'href="/checkpoints/{UNIFIED}/restore/?entry=1&amp;side=before" data-undo' in page
    steps = re.findall(r'<span class="steps__n" aria-hidden="true">(\d)</span>(\w+)</li>', page)
    assert steps == [("1", "Choose"), ("2", "Preview"), ("3", "Applied")]


def test_a_file_giving_a_key_twice_is_warned_of_and_the_preview_says_what_is_dropped(
    operator, samples_dir
):
    """The diff compares with the last value, the one parsers keep; writing the file back
    drops the earlier one, which no diff shows: the page and the preview say so."""
    path = samples_dir / f"{UNIFIED}.json"
    path.write_bytes(
        path.read_bytes().replace(
            b'"failedRecords": 42', b'"failedRecords": 7, "failedRecords": 42'
        )
    )
    page = text(operator.get(f"/checkpoints/{UNIFIED}/"))
    assert (
        "the key &#x27;failedRecords&#x27; is given twice in one object: the last value counts, "
        "and the next write keeps only that one" in page
    )
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    assert (
        f"{UNIFIED}.json gives the key &#x27;failedRecords&#x27; twice in one object. The file "
        "is written back with only the last value, the one jobs and this page read; the earlier "
        "one is not kept." in text(shown)
    )
    assert apply_preview(operator, UNIFIED, "skip", shown).status_code == 302
    assert path.read_bytes().count(b'"failedRecords"') == 1
    assert read(samples_dir, UNIFIED)["stats"]["failedRecords"] == 42
    # A file without one: no such note.
    assert "twice in one object" not in text(
        preview(operator, UNIFIED, "skip", {"dates": "2025-03-07"})
    )


def test_the_steps_as_htmx_partials_with_messages_in_hx_trigger(operator, samples_dir):
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"}, headers=HTMX)
    page = text(shown)
    assert shown.status_code == 200
    # The step brings its own title (htmx puts it in the window's) and its heading to focus.
    assert page.lstrip().startswith(
        f"<title>Preview · Skip dates · {UNIFIED} · Checkpoints Admin</title>\n"
        '<div id="intervention" class="intervention">'
    )
    assert '<h2 class="eyebrow" id="preview-title" tabindex="-1" data-step-focus>' in page
    assert "<html" not in page

    fields = form_fields(page)
    fields["reason"] = REASON
    applied = operator.post(f"/checkpoints/{UNIFIED}/skip/apply", fields, headers=HTMX)
    assert applied.status_code == 200
    assert applied["HX-Push-Url"] == f"/checkpoints/{UNIFIED}/applied/1/"
    trigger = json.loads(applied["HX-Trigger"])
    assert trigger == {
        "console:message": {
            "level": "success",
            "text": f"Applied to {UNIFIED}: 2025-03-06 pendingDates → completedDates "
            "(audit entry #1).",
        }
    }
    assert "<html" not in text(applied)
    assert (
        text(applied)
        .lstrip()
        .startswith(f"<title>Applied · skip · {UNIFIED} · Checkpoints Admin</title>")
    )
    assert "Skip applied" in text(applied)
    assert applied["Vary"] and "HX-Request" in applied["Vary"]


def test_calendar_selection_arrives_as_ranges_and_fills_gaps(operator, samples_dir):
    # 03-04 is completed (left alone), 03-05 a gap (filled), 03-06 and 03-07 pending (moved).
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-04..2025-03-07"})
    assert shown.status_code == 200
    assert (
        "2 dates pendingDates → completedDates (2025-03-06, 2025-03-07); "
        "2025-03-05 added to completedDates"
    ) in text(shown)
    # The date the range leaves alone is said, not only left out of the diff.
    assert (
        "1 of the 4 dates asked for is left as it is (already done, or outside this "
        "checkpoint&#x27;s dates): 2025-03-04." in text(shown)
    )
    assert apply_preview(operator, UNIFIED, "skip", shown).status_code == 302
    document = read(samples_dir, UNIFIED)
    assert document["pendingDates"] == []
    assert document["completedDates"][-4:] == [
        "2025-03-04",
        "2025-03-05",
        "2025-03-06",
        "2025-03-07",
    ]


def test_a_selection_past_the_checkpoints_dates_says_what_it_leaves(operator, samples_dir):
    """Clicked days done already or outside the range were dropped without a word."""
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-04..2025-03-12"})
    assert shown.status_code == 200
    assert (
        "6 of the 9 dates asked for are left as they are (already done, or outside this "
        "checkpoint&#x27;s dates): 2025-03-04, 2025-03-08..2025-03-12." in text(shown)
    )
    reprocess = preview(operator, UNIFIED, "reprocess", {"dates": "2025-03-03..2025-03-07"})
    assert (
        "not done yet, or outside this checkpoint&#x27;s dates): 2025-03-06..2025-03-07."
        in text(reprocess)
    )
    # Every date asked for moves: nothing to say.
    assert "dates asked for" not in text(
        preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    )


def test_a_preview_shows_an_epoch_milliseconds_time_as_a_time_too(operator, samples_dir):
    data = {"pointer": "/lastUpdateTime", "value": "1709743216789"}
    page = text(preview(operator, UNIFIED, "edit", data))
    assert (
        '<td class="before">1709743156789<span class="field-time">2024-03-06 16:39:16.789 UTC'
        "</span></td>"
    ) in page
    assert '<span class="field-time">2024-03-06 16:40:16.789 UTC</span>' in page


def test_a_preview_shows_all_the_values_it_moves_paged(operator, checkpoints_dir, monkeypatch):
    """It showed the first 50 of a long list and "… and N more" (UI.md: "show all"
    paginated). The pages are posted by the preview's own form, the reason typed kept; with
    htmx only the list is swapped, from the lists the preview made (each page previewed the
    change again: a second or more for a bulk change on a million items)."""
    from datetime import date, timedelta

    days = [(date(2020, 1, 1) + timedelta(days=n)).isoformat() for n in range(1200)]
    document = {**read_sample_unified(), "pendingDates": days, "completedDates": []}
    write_json(checkpoints_dir, "long", {**document, "lastProcessedDate": None})
    before = state(checkpoints_dir)
    selection = f"{days[0]}..{days[-1]}"
    page = text(preview(operator, "long", "skip", {"dates": selection}))
    assert "the first 50 of 1,200" in page
    show_all = re.search(
        r'<button type="submit" class="button button--small" form="([^"]+)" '
        r'formaction="([^"]+)" name="values_page" value="(m0:1)"',
        page,
    )
    assert show_all is not None
    assert show_all.groups() == ("apply-step-form", "/checkpoints/long/skip/preview", "m0:1")
    fields = {**form_fields(page), "reason": "kept <b>", "values_page": "m0:2"}
    paged = text(operator.post("/checkpoints/long/skip/preview", fields))
    assert "all 1,200, paged" in paged
    assert "501–1,000 of 1,200" in paged
    assert f"<li>{days[500]}</li>" in paged and f"<li>{days[499]}</li>" not in paged
    assert 'value="m0:1"' in paged and 'value="m0:3"' in paged  # previous and next
    assert "\nkept &lt;b&gt;</textarea>" in paged
    previews = []
    real_preview = services.preview
    monkeypatch.setattr(
        services, "preview", lambda *a, **k: previews.append(a) or real_preview(*a, **k)
    )
    swapped = text(operator.post("/checkpoints/long/skip/preview", fields, headers=HTMX))
    assert "501–1,000 of 1,200" in swapped
    assert swapped.lstrip().startswith('<div id="values-m0">')  # the list alone
    assert "preview-card" not in swapped
    assert 'form="apply-step-form"' in swapped and 'value="m0:3"' in swapped
    assert previews == []
    last = text(
        operator.post(
            "/checkpoints/long/skip/preview", {**fields, "values_page": "m0:3"}, headers=HTMX
        )
    )
    assert "1,001–1,200 of 1,200" in last and f"<li>{days[1199]}</li>" in last
    assert 'value="m0:2"' in last and 'value="m0:4"' not in last
    assert previews == []
    # another change: previewed
    other = {**fields, "dates": f"{days[0]}..{days[-2]}", "values_page": "m0:2"}
    assert "501–1,000 of 1,199" in text(
        operator.post("/checkpoints/long/skip/preview", other, headers=HTMX)
    )
    assert len(previews) == 1
    # a list the preview does not have: said, not the short list again
    unknown = operator.post("/checkpoints/long/skip/preview", {**fields, "values_page": "zz:1"})
    assert unknown.status_code == 400
    assert state(checkpoints_dir) == before
    # the job saved meanwhile: its lists are not the ones the page counts, a conflict says so
    write_json(checkpoints_dir, "long", {**document, "pendingDates": days[600:]})
    moved = operator.post("/checkpoints/long/skip/preview", fields, headers=HTMX)
    assert moved.status_code == 409
    assert (moved["HX-Retarget"], moved["HX-Reswap"]) == (
        "#intervention",
        "outerHTML show:window:top",
    )
    assert "changed since your preview" in text(moved)


def test_a_restores_list_pages_are_never_taken_from_another_databases_entry(admin, checkpoints_dir):
    """A restore names its entry by number, which a database put back from a backup gives to
    another change: a page of its list came from what the earlier entry of that number had
    moved."""
    from datetime import date, timedelta

    def days(start: date) -> list[str]:
        return [(start + timedelta(days=n)).isoformat() for n in range(120)]

    base = {**read_sample_unified(), "completedDates": [], "lastProcessedDate": None}
    first, second = days(date(2020, 1, 1)), days(date(2030, 1, 1))
    write_json(checkpoints_dir, "long", {**base, "pendingDates": first})
    actor = services.Actor("a", "cli")
    services.apply("long", "skip", {"dates": first}, actor=actor, reason="r")
    shown_on = (checkpoints_dir / "long.json").read_bytes()
    page = text(admin.get("/checkpoints/long/restore/?entry=1&side=before"))
    fields = {**form_fields(page), "values_page": "m0:2"}
    paged = text(admin.post("/checkpoints/long/restore/preview", fields, headers=HTMX))
    assert f"<li>{first[50]}</li>" in paged
    tamper("DELETE FROM checkpoints_admin_auditentry")  # another database, its own entry #1
    write_json(checkpoints_dir, "long", {**base, "pendingDates": second})
    services.apply("long", "skip", {"dates": second}, actor=actor, reason="r")
    (checkpoints_dir / "long.json").write_bytes(shown_on)  # the version the page showed
    again = admin.post("/checkpoints/long/restore/preview", fields, headers=HTMX)
    assert f"<li>{first[50]}</li>" not in text(again)  # previewed again, on this entry #1
    assert again.status_code == 400 and "This preview has no such list" in text(again)


def test_reprocess_the_gap_the_checkpoint_page_warns_about(operator, samples_dir):
    page = text(operator.get(f"/checkpoints/{UNIFIED}/"))
    assert "2025-03-05 is inside the range" in page
    shown = preview(operator, UNIFIED, "reprocess", {"dates": "2025-03-05"})
    assert shown.status_code == 200
    assert "2025-03-05 added to pendingDates" in text(shown)
    assert apply_preview(operator, UNIFIED, "reprocess", shown).status_code == 302
    assert read(samples_dir, UNIFIED)["pendingDates"][0] == "2025-03-05"
    assert "2025-03-05 is inside the range" not in text(operator.get(f"/checkpoints/{UNIFIED}/"))


def test_skip_the_gap_alone(operator, samples_dir):
    pending = read(samples_dir, UNIFIED)["pendingDates"]
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-05"})
    assert shown.status_code == 200
    assert "2025-03-05 added to completedDates" in text(shown)
    assert apply_preview(operator, UNIFIED, "skip", shown).status_code == 302
    document = read(samples_dir, UNIFIED)
    assert document["pendingDates"] == pending
    assert document["completedDates"][-2:] == ["2025-03-04", "2025-03-05"]
    assert "2025-03-05 is inside the range" not in text(operator.get(f"/checkpoints/{UNIFIED}/"))


def test_the_choose_page_shows_the_file_as_it_is_now(operator, samples_dir):
    """The choose page reuses the checkpoint page's parse of a version, never a stale one."""
    assert operator.get(f"/checkpoints/{MANAGED}/").status_code == 200
    counts = re.compile(r'>(\w+ items)</a><span class="tabnum">(\d+)</span>')
    shown = dict(counts.findall(text(operator.get(f"/checkpoints/{MANAGED}/skip/"))))
    document = read(samples_dir, MANAGED)
    assert shown == {
        "Pending items": str(len(document["pendingItems"])),
        "Processed items": str(len(document["processedItems"])),
    }
    document["processedItems"] += document["pendingItems"][:1]
    document["pendingItems"] = document["pendingItems"][1:]
    write_json(samples_dir, MANAGED, document)
    shown = dict(counts.findall(text(operator.get(f"/checkpoints/{MANAGED}/skip/"))))
    assert shown == {
        "Pending items": str(len(document["pendingItems"])),
        "Processed items": str(len(document["processedItems"])),
    }


def test_ticked_list_values_are_compressed_into_runs(operator, samples_dir):
    shown = preview(operator, UNIFIED, "skip", {"value": ["2025-03-07", "2025-03-06"]})
    assert shown.status_code == 200
    assert form_fields(text(shown))["dates"] == "2025-03-06..2025-03-07"


def test_all_matching_a_search(operator, samples_dir):
    shown = preview(
        operator, UNIFIED, "reprocess", {"list": "completedDates", "q": "03-0", "all": "on"}
    )
    assert shown.status_code == 200
    assert form_fields(text(shown))["dates"] == "2025-03-01..2025-03-04"
    assert apply_preview(operator, UNIFIED, "reprocess", shown).status_code == 302
    data = read(samples_dir, UNIFIED)
    assert data["completedDates"] == []
    assert data["pendingDates"] == [f"2025-03-0{n}" for n in (1, 2, 3, 4, 6, 7)]


def test_a_daily_checkpoints_processed_dates_are_shown_and_not_offered_for_a_skip(
    operator, samples_dir
):
    """Its dates list holds the processed dates too: they were tickable for "Skip selected",
    which could only be refused."""
    page = text(operator.get(f"/checkpoints/{DAILY}/?tab=lists&list=dates"))
    assert (
        '<label class="pick pick--done"><input type="checkbox" disabled><span>2025-03-04</span> '
        '<span class="badge badge--completed">processed</span></label>' in page
    )
    assert 'value="2025-03-04" form="list-selection"' not in page
    assert 'value="2025-03-05" form="list-selection"' in page
    # "All in dates" takes the ones not processed yet.
    shown = preview(operator, DAILY, "skip", {"list": "dates", "q": "", "all": "on"})
    assert shown.status_code == 200
    assert form_fields(text(shown))["dates"] == "2025-03-05"


def test_reprocess_a_date_of_a_daily_checkpoint(operator, samples_dir):
    shown = preview(operator, DAILY, "reprocess", {"dates": "2025-03-04"})
    assert apply_preview(operator, DAILY, "reprocess", shown).status_code == 302
    assert read(samples_dir, DAILY)["processedDates"] == []


def test_a_change_the_job_made_meanwhile_is_a_conflict_not_a_refusal(operator, samples_dir):
    """Between preview and apply the job completed the date itself: the answer is that the
    file changed (and what), not that 2025-03-06 is not pending."""
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    document = read(samples_dir, UNIFIED)
    write_json(samples_dir, UNIFIED, {**document, "pendingDates": ["2025-03-07"],
               "completedDates": [*document["completedDates"], "2025-03-06"]})  # fmt: skip
    before = state(samples_dir)
    applied = apply_preview(operator, UNIFIED, "skip", shown)
    assert applied.status_code == 409
    assert "2025-03-06 pendingDates → completedDates" in text(applied)  # what changed on disk
    assert state(samples_dir) == before
    # Previewing again could only be refused: the page says there is nothing left to do.
    assert (
        "<strong>Nothing left to do:</strong> the same skip would not apply to the current "
        "version, because 2025-03-06 is already in completedDates." in text(applied)
    )
    assert "Preview again on the current version" not in text(applied)


def test_a_conflict_with_a_job_that_saves_often_says_how_to_make_the_change(
    operator, samples_dir, settings
):
    """A job saving every half second overtook every preview: the conflict page offered only
    another preview. It says now why, and what works (pause the job, or --yes)."""
    import time

    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    document = read(samples_dir, UNIFIED)
    now_ms = int(time.time() * 1000)
    write_json(samples_dir, UNIFIED, {**document, "lastUpdateTime": now_ms - 5000})
    busy = text(apply_preview(operator, UNIFIED, "skip", shown))
    assert '<p class="panel-note" id="busy-job"><strong>Its job is running</strong> and ' in busy
    assert "saved just now: it may save again before you apply" in busy
    assert "use the command line with <code>--yes</code>" in busy
    # a job that saved a while ago (or is not running) is no reason for it
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    write_json(samples_dir, UNIFIED, {**document, "lastUpdateTime": now_ms - 600_000})
    assert 'id="busy-job"' not in text(apply_preview(operator, UNIFIED, "skip", shown))
    # one the console counts as stalled (STALE_AFTER_SECONDS) is not running, as everywhere
    settings.STALE_AFTER_SECONDS = 2
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    write_json(samples_dir, UNIFIED, {**document, "lastUpdateTime": now_ms - 5000})
    assert 'id="busy-job"' not in text(apply_preview(operator, UNIFIED, "skip", shown))
    assert state(samples_dir)[1] == 0


def test_a_conflict_whose_change_was_made_meanwhile_says_so(operator, samples_dir):
    """Someone set the same value between preview and apply: previewing the edit again would
    change nothing, and the conflict page says that instead of offering it."""
    shown = preview(operator, UNIFIED, "edit", EDIT)  # timeouts 3 -> 4
    document = read(samples_dir, UNIFIED)
    write_json(samples_dir, UNIFIED, {**document, "stats": {**document["stats"], "timeouts": 4}})
    before = state(samples_dir)
    applied = apply_preview(operator, UNIFIED, "edit", shown)
    assert applied.status_code == 409
    assert (
        "<strong>Nothing left to do:</strong> the same edit would not apply to the current "
        "version, because it would change nothing now." in text(applied)
    )
    assert "Preview again on the current version" not in text(applied)
    assert state(samples_dir) == before


def test_a_conflict_whose_change_still_applies_offers_to_preview_it_again(operator, samples_dir):
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    document = read(samples_dir, UNIFIED)
    write_json(samples_dir, UNIFIED, {**document, "lastUpdateTime": 1709743999999})
    applied = apply_preview(operator, UNIFIED, "skip", shown)
    assert applied.status_code == 409
    assert "Preview again on the current version" in text(applied)
    assert "Nothing left to do" not in text(applied)


def test_applying_the_same_preview_twice_shows_the_first_result_not_a_conflict(
    operator, admin, samples_dir
):
    """A second click (or Back and Apply again) finds the file at the result of this very
    change: it is sent to that result, told so, and nothing more is written."""
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    first = apply_preview(operator, UNIFIED, "skip", shown)
    assert first.status_code == 302
    after_first = state(samples_dir)
    again = apply_preview(operator, UNIFIED, "skip", shown)
    assert (again.status_code, again["Location"]) == (302, first["Location"])
    page = text(operator.get(again["Location"]))
    assert "This skip was applied already, as audit entry #1; nothing more was done." in page
    assert state(samples_dir) == after_first
    fields = {**form_fields(text(shown)), "reason": REASON}
    # With htmx the result step is swapped in and the message goes with it (a message sent
    # before htmx followed a redirect was wiped by the page it then swapped in).
    partial = operator.post(f"/checkpoints/{UNIFIED}/skip/apply", fields, headers=HTMX)
    assert (partial.status_code, partial["HX-Push-Url"]) == (200, first["Location"])
    assert json.loads(partial["HX-Trigger"]) == {
        "console:message": {
            "level": "info",
            "text": "This skip was applied already, as audit entry #1; nothing more was done.",
        }
    }
    assert 'id="result-title"' in text(partial) and "<html" not in text(partial)
    assert state(samples_dir) == after_first
    # Another reason typed the second time: it says that one is not recorded.
    other_reason = apply_preview(operator, UNIFIED, "skip", shown, reason="a second reason")
    assert (
        "This skip was applied already, as audit entry #1; nothing more was done. The reason "
        "given this time was not recorded: the entry keeps the first one."
    ) in text(operator.get(other_reason["Location"]))
    assert AuditEntry.objects.get().reason == REASON
    assert state(samples_dir) == after_first

    # Someone else's change, or another change from that version, is still a conflict.
    other = preview(admin, UNIFIED, "skip", {"dates": "2025-03-06"})  # (now not pending)
    assert other.status_code == 422
    assert apply_preview(admin, UNIFIED, "skip", shown).status_code == 409
    assert apply_preview(operator, UNIFIED, "reprocess", shown).status_code == 409
    assert state(samples_dir) == after_first

    # A reset applied twice: the second finds no file, made so by this very reset.
    shown = admin.get(f"/checkpoints/{MANAGED}/reset/")
    done = apply_preview(admin, MANAGED, "reset", shown, confirm=MANAGED)
    assert done.status_code == 302
    again = apply_preview(admin, MANAGED, "reset", shown, confirm=MANAGED)
    assert (again.status_code, again["Location"]) == (302, done["Location"])


def test_skip_and_reprocess_items(operator, samples_dir):
    choose = text(operator.get(f"/checkpoints/{MANAGED}/skip/"))
    assert '<h1 tabindex="-1" data-step-focus>Skip items</h1>' in choose
    # an item's name is shown as it is written, not capitalised as a sentence's first word
    missing = preview(operator, MANAGED, "skip", {"dates": "item-9"})
    assert errors_of(text(missing), "id_dates") == ["Item item-9 is not in pendingItems."]
    shown = preview(operator, MANAGED, "skip", {"dates": "item3\n\nitem2\n"})
    assert shown.status_code == 200
    assert form_fields(text(shown))["dates"] == "item3\nitem2"
    assert apply_preview(operator, MANAGED, "skip", shown).status_code == 302
    data = read(samples_dir, MANAGED)
    assert (data["pendingItems"], data["processedItems"]) == ([], ["item1", "item2", "item3"])

    shown = preview(operator, MANAGED, "reprocess", {"value": ["item1"]})
    assert apply_preview(operator, MANAGED, "reprocess", shown).status_code == 302
    assert read(samples_dir, MANAGED)["pendingItems"] == ["item1"]


@pytest.mark.parametrize(
    ("name", "posted", "message"),
    [
        (MANAGED, ["abc"], "“abc” is not a number."),
        (MANAGED, ["1.5e999"], "“1.5e999” is not a number."),
        (MANAGED, ["007"], "“007” is not a number."),  # (not as JSON writes one)
        (MANAGED, ["true"], "“true” is not a number."),
        (UNIFIED, ["1.5"], "1.5: only dates can be selected here."),
    ],
)
def test_a_ticked_number_that_is_none_is_refused_at_the_field(
    operator, samples_dir, name, posted, message
):
    before = state(samples_dir)
    refused = preview(operator, name, "skip", {"number": posted})
    assert refused.status_code == 422
    page = text(refused)
    assert message in errors_of(page, "id_number") + errors_of(page, "id_dates")
    assert 'aria-invalid="true"' in page
    assert state(samples_dir) == before


def test_a_ticked_item_is_the_one_moved_whatever_its_type(operator, checkpoints_dir):
    """Every tick box sent its value as text, so the number 1.5 went as "1.5" and the text
    item "1.5" moved instead; true, null, blank text and objects had boxes that could only
    be refused; and "nope is not in pendingItems" was written "Nope"."""
    pending = ["1.5", 1.5, 2, 2.0, "nope", "Nope", "", True, None, {"k": 1}]
    document = {"id": "w", "status": "running", "progress": 0}
    write_json(
        checkpoints_dir, "weird", {**document, "pendingItems": pending, "processedItems": []}
    )
    page = text(operator.get("/checkpoints/weird/?tab=lists&list=pendingItems"))
    boxes = re.findall(
        r'<input type="checkbox" name="(\w+)" value="([^"]*)" form="list-selection"', page
    )
    assert boxes == [
        ("value", "1.5"), ("number", "1.5"), ("number", "2"), ("number", "2.0"),
        ("value", "nope"), ("value", "Nope"),
    ]  # fmt: skip
    assert page.count('<span class="badge">not selectable</span>') == 4  # "", true, null, {}

    shown = preview(operator, "weird", "skip", {"number": ["1.5", "2.0"]})
    assert shown.status_code == 200
    carried = re.findall(r'<input type="hidden" name="number" value="([^"]*)">', text(shown))
    assert carried[:2] == ["1.5", "2.0"]
    assert apply_preview(operator, "weird", "skip", shown).status_code == 302
    data = read(checkpoints_dir, "weird")
    assert [(type(v), v) for v in data["processedItems"]] == [(float, 1.5), (float, 2.0)]
    assert data["pendingItems"] == ["1.5", 2, "nope", "Nope", "", True, None, {"k": 1}]
    assert [type(v) for v in data["pendingItems"][:2]] == [str, int]

    refused = preview(operator, "weird", "skip", {"dates": "nope\nmissing", "number": ["2"]})
    assert errors_of(text(refused), "id_dates") == ["Item missing is not in pendingItems."]
    # the ticked number is still ticked, as a number, on the page that says so
    assert (
        '<input type="checkbox" name="number" value="2" checked><span class="mono">2</span> '
        '<span class="muted">(the number)</span>'
    ) in text(refused)
    assert read(checkpoints_dir, "weird") == data


# --- refusals of the choose and preview steps -------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {},
            "Choose at least one date: select days on the calendar, tick them in the list, "
            "or type them here.",
        ),
        ({"dates": "2025-02-30"}, "'2025-02-30' is not a real date."),
        ({"dates": "2025-03-6"}, "'2025-03-6' is not a date (expected YYYY-MM-DD)."),
        (
            {"dates": "2025-03-08..2025-03-01"},
            "Range '2025-03-08..2025-03-01' is reversed (its end is before its start).",
        ),
        ({"dates": "2025-03-03"}, "2025-03-03 is already in completedDates."),
        ({"dates": "2025-03-09"}, "2025-03-09 is not in pendingDates."),
        (
            {"dates": "2025-04-01..2025-04-03"},
            "No date of 2025-04-01..2025-04-03 is in pendingDates.",
        ),
        (
            {"value": ["not-a-date"]},
            ("id_value", "'not-a-date' is not a date (expected YYYY-MM-DD)."),
        ),
        (
            {"all": "on", "list": "stats", "q": ""},
            ("id_all", "Choose the list whose matching values to take."),
        ),
    ],
)
def test_bad_dates_are_refused_next_to_the_field(operator, samples_dir, data, message):
    before = state(samples_dir)
    response = preview(operator, UNIFIED, "skip", data)
    assert response.status_code == 422
    page = text(response)
    field, message = message if isinstance(message, tuple) else ("id_dates", message)
    assert errors_of(page, field) == [message]
    assert 'aria-invalid="true"' in page
    assert described_by(page, "id_dates") == [f"{field}_error", "id_dates_help"]
    assert state(samples_dir) == before


def test_a_refused_selection_comes_back_in_the_text_field(operator, samples_dir):
    response = preview(
        operator, UNIFIED, "skip", {"value": ["2025-03-03", "2025-03-01", "2025-03-02"]}
    )
    assert response.status_code == 422
    page = text(response)
    # ticked dates arrive as one run; none of it is pending
    assert errors_of(page, "id_dates") == ["No date of 2025-03-01..2025-03-03 is in pendingDates."]
    assert ">\n2025-03-01..2025-03-03</textarea>" in page


def test_a_refusal_with_htmx_swaps_the_step_with_the_error(operator, samples_dir):
    response = preview(operator, UNIFIED, "skip", {"dates": "2025-03-09"}, headers=HTMX)
    assert response.status_code == 422
    page = text(response)
    assert "<html" not in page
    assert errors_of(page, "id_dates") == ["2025-03-09 is not in pendingDates."]


def test_skip_on_a_checkpoint_without_dates_or_items(operator, checkpoints_dir):
    write_json(checkpoints_dir, "plain", {"hello": "world"})
    response = operator.get("/checkpoints/plain/skip/")
    assert response.status_code == 409
    assert "it has no dates or items lists" in text(response)


def test_interventions_on_a_missing_checkpoint_are_404(operator, samples_dir):
    assert operator.get("/checkpoints/nope/skip/").status_code == 404
    assert preview(operator, "nope", "edit", {"pointer": "/x", "value": "1"}).status_code == 404


# --- apply refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   \n  "])
def test_apply_without_a_reason_changes_nothing(operator, samples_dir, reason):
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    before = state(samples_dir)
    response = apply_preview(operator, UNIFIED, "skip", shown, reason=reason)
    assert response.status_code == 422
    assert errors_of(text(response), "id_reason") == [
        "Give a reason: it is recorded in the audit log."
    ]
    assert described_by(text(response), "id_reason") == ["id_reason_error", "id_reason_help"]
    # the whole preview again, the same selection carried
    assert form_fields(text(response))["dates"] == "2025-03-06"
    assert state(samples_dir) == before


def test_a_reason_with_a_terminal_escape_is_refused_next_to_it(operator, samples_dir):
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    before = state(samples_dir)
    response = apply_preview(operator, UNIFIED, "skip", shown, reason="bad \x1b[2J day")
    assert response.status_code == 422
    assert errors_of(text(response), "id_reason") == [
        "The reason contains a control character (U+001B, character 5); write it as plain text."
    ]
    assert state(samples_dir) == before


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        (
            "\u200b\u200b",
            "The reason has no visible character (only blanks and invisible characters, such "
            "as U+200B ZERO WIDTH SPACE, character 1); write why the change is made.",
        ),
        (
            "INC \u2067tampered\u2069",
            "The reason contains a bidirectional control character (U+2067 RIGHT-TO-LEFT "
            "ISOLATE, character 5), which makes it display differently from what is recorded; "
            "write it without.",
        ),
        (
            "y" * 2001,
            "The reason is 2,001 characters long; the audit log takes at most 2,000.",
        ),
    ],
)
def test_a_reason_that_would_not_read_back_is_refused_next_to_it(
    operator, samples_dir, reason, message
):
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    assert 'maxlength="2000"' in text(shown)
    before = state(samples_dir)
    response = apply_preview(operator, UNIFIED, "skip", shown, reason=reason)
    assert response.status_code == 422
    assert errors_of(text(response), "id_reason") == [message]
    assert state(samples_dir) == before


def test_a_reason_on_several_lines_fits_the_limit_the_browser_counts(operator, samples_dir):
    """A browser counts a line break as one character against maxlength and sends it as
    CRLF: the reason is recorded with the LF typed, so the longest it lets through fits."""
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    reason = "\r\n".join(["INC-1234 upstream outage" + "." * 75] * 20)  # 2,018 sent, 1,999 typed
    response = apply_preview(operator, UNIFIED, "skip", shown, reason=reason)
    assert response.status_code == 302
    assert AuditEntry.objects.get().reason == reason.replace("\r\n", "\n")


def test_apply_without_a_reason_with_htmx_swaps_only_the_apply_form(operator, samples_dir):
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    fields = form_fields(text(shown))
    before = state(samples_dir)
    response = operator.post(f"/checkpoints/{UNIFIED}/skip/apply", fields, headers=HTMX)
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#apply-form"
    assert response["HX-Reswap"] == "outerHTML"
    page = text(response)
    assert page.lstrip().startswith('<section id="apply-form"')
    assert errors_of(page, "id_reason") == ["Give a reason: it is recorded in the audit log."]
    assert state(samples_dir) == before


def test_apply_with_a_missing_version_changes_nothing(operator, samples_dir):
    before = state(samples_dir)
    response = operator.post(
        f"/checkpoints/{UNIFIED}/skip/apply", {"dates": "2025-03-06", "reason": REASON}
    )
    assert response.status_code == 422
    assert "The version of the preview is missing; preview again." in text(response)
    assert state(samples_dir) == before
    malformed = operator.post(
        f"/checkpoints/{UNIFIED}/skip/apply",
        {"dates": "2025-03-06", "reason": REASON, "base_version": "abc"},
    )
    assert malformed.status_code == 422
    assert "missing" not in text(malformed)
    assert (
        "The version of the preview is not one (a sha256: 64 hexadecimal characters); "
        "preview again."
    ) in text(malformed)
    assert state(samples_dir) == before


def test_a_stale_version_shows_what_changed_and_previews_again(operator, samples_dir):
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    # The job saves progress between the preview and the apply.
    data = read(samples_dir, UNIFIED)
    data["stats"]["processedRecords"] = 7251
    data["stats"]["successfulRecords"] = 7209
    write_json(samples_dir, UNIFIED, data)
    before = state(samples_dir)

    conflict = apply_preview(operator, UNIFIED, "skip", shown)
    assert conflict.status_code == 409
    page = text(conflict)
    assert "reconciliation_checkpoint changed since your preview" in page
    assert "<strong>Nothing was applied.</strong>" in page
    assert (
        '<p class="diff-summary">stats.processedRecords 7,231 → 7,251; '
        "stats.successfulRecords 7,189 → 7,209</p>"
    ) in page
    assert "<li>stats.processedRecords: 7231 → 7251</li>" in page
    assert "<li>stats.successfulRecords: 7189 → 7209</li>" in page
    assert state(samples_dir) == before

    again = form_fields(page, after='id="again-title"')
    assert again["dates"] == "2025-03-06"
    assert again["reason"] == REASON
    shown = preview(operator, UNIFIED, "skip", again)
    assert shown.status_code == 200
    fields = form_fields(text(shown))
    assert fields["base_version"] == version_of((samples_dir / f"{UNIFIED}.json").read_bytes())
    assert ">\nupstream will never deliver this day</textarea>" in text(shown)  # kept
    assert apply_preview(operator, UNIFIED, "skip", shown).status_code == 302
    data = read(samples_dir, UNIFIED)
    assert data["pendingDates"] == ["2025-03-07"]
    assert data["stats"]["processedRecords"] == 7251


def test_a_stale_version_with_htmx(operator, samples_dir):
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    (samples_dir / f"{UNIFIED}.json").write_bytes(
        (samples_dir / f"{UNIFIED}.json").read_bytes().replace(b"7231", b"7240")
    )
    fields = form_fields(text(shown))
    fields["reason"] = REASON
    response = operator.post(f"/checkpoints/{UNIFIED}/skip/apply", fields, headers=HTMX)
    assert response.status_code == 409
    assert "HX-Trigger" not in response  # the page says it
    assert "<html" not in text(response)
    assert '<p class="diff-summary">stats.processedRecords 7,231 → 7,240</p>' in text(response)


def test_a_checkpoint_deleted_since_the_preview(operator, samples_dir):
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    (samples_dir / f"{UNIFIED}.json").unlink()
    before = state(samples_dir)
    response = apply_preview(operator, UNIFIED, "skip", shown)
    assert response.status_code == 409
    assert "the file has been deleted" in text(response)
    assert state(samples_dir) == before


@pytest.mark.parametrize(("key", "data"), [("skip", {"dates": "2025-03-06"}), ("edit", EDIT)])
def test_a_checkpoint_broken_since_the_preview(operator, samples_dir, key, data):
    shown = preview(operator, UNIFIED, key, data)
    assert shown.status_code == 200
    (samples_dir / f"{UNIFIED}.json").write_bytes(b'{"pendingDates": [')
    before = state(samples_dir)
    response = apply_preview(operator, UNIFIED, key, shown)
    assert response.status_code == 409
    assert "Nothing was applied." in text(response)
    assert "the file is now at version" in text(response)
    assert state(samples_dir) == before


def test_a_change_the_file_no_longer_needs(operator, samples_dir):
    # Both previews are of the same version; the second apply finds its date already done.
    first = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    second = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06..2025-03-07"})
    assert apply_preview(operator, UNIFIED, "skip", first).status_code == 302
    before = state(samples_dir)
    response = apply_preview(operator, UNIFIED, "skip", second)
    assert response.status_code == 409
    assert "2025-03-06 pendingDates → completedDates" in text(response)
    assert state(samples_dir) == before


# --- edit a field ---------------------------------------------------------------------------


def test_the_field_editor_offers_inputs_that_fit(operator, samples_dir):
    page = text(operator.get(f"/checkpoints/{UNIFIED}/edit/?pointer=/stats/failedRecords"))
    assert '<h2 class="mono">/stats/failedRecords</h2>' in page
    assert re.search(r'<input type="number" id="id_value" name="value" value="42"', page)
    assert 'step="1"' in page
    page = text(operator.get(f"/checkpoints/{UNIFIED}/edit/?pointer=/lastProcessedDate"))
    assert re.search(r'<input type="date" id="id_value" name="value" value="2025-03-05"', page)
    assert '<input type="checkbox" name="null"' in page
    page = text(operator.get(f"/checkpoints/{MANAGED}/edit/"))  # status by default
    assert '<select id="id_value" name="value">' in page
    assert '<option value="running" selected>running</option>' in page
    page = text(operator.get(f"/checkpoints/{DAILY}/edit/?pointer=/endTime"))
    assert 'placeholder="2025-03-06T10:15:23.456Z"' in page


def test_edit_a_counter(operator, samples_dir):
    shown = preview(operator, UNIFIED, "edit", {"pointer": "/stats/failedRecords", "value": "40"})
    assert shown.status_code == 200
    page = text(shown)
    assert '<p class="diff-summary preview-card__summary">stats.failedRecords 42 → 40</p>' in page
    assert '<td class="pointer">/stats/failedRecords</td>' in page
    assert apply_preview(operator, UNIFIED, "edit", shown).status_code == 302
    assert read(samples_dir, UNIFIED)["stats"]["failedRecords"] == 40
    assert AuditEntry.objects.get().action == "edit"


def test_set_a_nullable_field_to_null(operator, samples_dir):
    shown = preview(operator, UNIFIED, "edit", {"pointer": "/lastProcessedDate", "null": "on"})
    assert apply_preview(operator, UNIFIED, "edit", shown).status_code == 302
    assert read(samples_dir, UNIFIED)["lastProcessedDate"] is None


def null_box(page: str) -> str:
    match = re.search(r'<input type="checkbox" name="null" id="id_null"[^>]*>', page)
    assert match is not None
    return match.group(0)


def test_a_field_that_is_null_starts_with_set_to_null_ticked(operator, samples_dir):
    """The daily sample's endTime is null: its editor starts as "Set to null" (an empty time
    input, unticked, was refused with "Enter an ISO 8601 time." on Preview), and the box
    disables the input it stands for (interventions.js)."""
    page = text(operator.get(f"/checkpoints/{DAILY}/edit/?pointer=/endTime"))
    assert "Now: <code>null</code>" in page
    assert null_box(page) == (
        '<input type="checkbox" name="null" id="id_null" data-null-for="id_value" checked>'
    )
    # the field chooser swapping in the editor of another field starts it the same way
    swapped = text(operator.get(f"/checkpoints/{DAILY}/edit/?pointer=/endTime", headers=HTMX))
    assert " checked>" in null_box(swapped)
    # a field with a value starts unticked, with its value in the input
    page = text(operator.get(f"/checkpoints/{DAILY}/edit/?pointer=/lastProcessedDate"))
    assert " checked" not in null_box(page)
    assert 'value="2025-03-04"' in page
    # the form as it comes, posted: a preview of no change, not a refusal
    shown = preview(operator, DAILY, "edit", {"pointer": "/endTime", "value": "", "null": "on"})
    assert shown.status_code == 200
    assert "Nothing: the checkpoint already is like this" in text(shown)


def test_set_to_null_ignores_the_value_typed_beside_it(operator, samples_dir):
    """Without JavaScript the input stays enabled; ticked, the box wins over what it holds."""
    data = {"pointer": "/lastProcessedDate", "value": "not a date", "null": "on"}
    shown = preview(operator, UNIFIED, "edit", data)
    assert shown.status_code == 200
    assert apply_preview(operator, UNIFIED, "edit", shown).status_code == 302
    assert read(samples_dir, UNIFIED)["lastProcessedDate"] is None


@pytest.mark.parametrize(
    ("name", "data", "field", "message"),
    [
        (
            UNIFIED,
            {"pointer": "/stats/failedRecords", "value": "abc"},
            "id_value",
            "Enter a whole number, not “abc”.",
        ),
        (
            UNIFIED,
            {"pointer": "/stats/failedRecords", "value": "4.5"},
            "id_value",
            "Enter a whole number, not “4.5”.",
        ),
        (
            UNIFIED,
            {"pointer": "/lastProcessedDate", "value": "2025-02-30"},
            "id_value",
            "2025-02-30 is not a real date.",
        ),
        (
            MANAGED,
            {"pointer": "/status", "value": "paused"},
            "id_value",
            "Choose one of pending, running, completed, failed.",
        ),
        (
            MANAGED,
            {"pointer": "/progress", "value": "NaN"},
            "id_value",
            "Enter a finite number (JSON has no NaN or Infinity).",
        ),
        # float() reads these; JSON numbers have ASCII digits and no underscores
        (
            MANAGED,
            {"pointer": "/progress", "value": "\u0665\u0660"},
            "id_value",
            "Enter a number, not “\u0665\u0660”.",
        ),
        (
            MANAGED,
            {"pointer": "/progress", "value": "1_0"},
            "id_value",
            "Enter a number, not “1_0”.",
        ),
        (
            DAILY,
            {"pointer": "/lastRun", "value": "yesterday"},
            "id_value",
            "Enter a time such as 2025-03-06T10:15:23.456Z, not “yesterday”.",
        ),
        (DAILY, {"pointer": "/lastRun", "value": " "}, "id_value", "Enter an ISO 8601 time."),
        (
            UNIFIED,
            {"pointer": "/stats/failedRecords", "value": ""},
            "id_value",
            "Enter a whole number.",
        ),
        (MANAGED, {"pointer": "/progress", "null": "on"}, "id_null", "progress cannot be null."),
    ],
)
def test_a_wrong_type_is_refused_next_to_the_field(
    operator, samples_dir, name, data, field, message
):
    before = state(samples_dir)
    response = preview(operator, name, "edit", data)
    assert response.status_code == 422
    assert errors_of(text(response), field) == [message]
    # the control (a text input, a select) names its message and says it is wrong; a field
    # that cannot be null has no "Set to null" box, its message stands alone
    if field == "id_value":
        control = re.search(r'<(?:input|textarea|select) [^>]*id="id_value"[^>]*>', text(response))
        assert 'aria-invalid="true"' in control.group(0)
        assert described_by(text(response), field) == ["id_value_error"]
    assert state(samples_dir) == before


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            '{"a": 1, "a": 2}',
            "The value gives the key 'a' twice in one object; only the last would be kept. "
            "Keep one.",
        ),
        (
            '{"rows": 99999999999999999999999}',
            "The value has the integer 99999999999999999999999 at /rows, which does not fit in "
            "64 bits (it would be kept only approximately); write it as a string (a field that "
            "holds a number now keeps its type in a field edit: write the document with it as "
            "a string, in the raw editor or with edit_checkpoint --from-file).",
        ),
    ],
)
def test_a_json_value_the_parser_would_change_silently_is_refused(
    operator, samples_dir, value, message
):
    """A key given twice kept its last value, as in the raw editor before it refused them."""
    write_json(samples_dir, "job", {"id": "job-1", "options": None})  # (null: any JSON)
    before = state(samples_dir)
    response = preview(operator, "job", "edit", {"pointer": "/options", "value": value})
    assert response.status_code == 422
    assert errors_of(text(response), "id_value") == [message]
    assert state(samples_dir) == before


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("1e400", "holds the number 1e400, which is too large for JSON (it would read as "
         "infinity) at line 1, column 1"),
        ('"\\ud800"', "is not valid JSON: no low surrogate in string at line 1, column 2"),
        ("NaN", "holds NaN, which JSON does not have (a checkpoint's numbers are finite) at "
         "line 1, column 1"),
        ('{"a": 1, "a": 2}', "gives the key 'a' twice in one object"),
        ("  ", 'is empty: write a JSON value, such as null, 0, "text" or []'),
    ],
)  # fmt: skip
def test_a_json_value_is_refused_in_the_words_of_edit_checkpoint_set(
    operator, samples_dir, value, said
):
    """The field editor and ``edit_checkpoint --set`` read a typed value with one parser."""
    from django.core.management import CommandError

    from checkpoints_admin.management.commands.edit_checkpoint import parse_assignment

    write_json(samples_dir, "job", {"id": "job-1", "options": None})
    before = state(samples_dir)
    response = preview(operator, "job", "edit", {"pointer": "/options", "value": value})
    assert response.status_code == 422
    [message] = errors_of(text(response), "id_value")
    assert message.startswith(f"The value {said}")
    with pytest.raises(CommandError) as refused:
        parse_assignment(f"/options={value}")
    assert refused.value.returncode == 2
    assert str(refused.value).startswith(f"--set /options: the value {said}")
    assert state(samples_dir) == before


def test_a_blank_boolean_is_refused_with_its_two_choices(operator, samples_dir):
    (samples_dir / "flags.json").write_text('{"enabled": true}\n')
    before = state(samples_dir)
    response = preview(operator, "flags", "edit", {"pointer": "/enabled", "value": ""})
    assert response.status_code == 422
    assert errors_of(text(response), "id_value") == ["Choose true or false."]
    assert state(samples_dir) == before


def test_an_unknown_field_is_refused(operator, samples_dir):
    before = state(samples_dir)
    response = preview(operator, UNIFIED, "edit", {"pointer": "/nope", "value": "1"})
    assert response.status_code == 422
    assert errors_of(text(response), "id_pointer") == [
        "Select a valid choice. /nope is not one of the available choices."
    ]
    assert described_by(text(response), "id_pick") == ["id_pointer_error"]
    assert state(samples_dir) == before


def test_a_result_with_errors_is_shown_and_cannot_be_applied(operator, samples_dir):
    data = {"pointer": "/stats/processedRecords", "value": "9000"}
    shown = preview(operator, UNIFIED, "edit", data)
    assert shown.status_code == 200
    page = text(shown)
    assert "processedRecords (9,000) is more than totalRecords (8,564)" in page
    assert "it cannot be applied" in page
    assert 'action="/checkpoints/reconciliation_checkpoint/edit/apply"' not in page
    before = state(samples_dir)
    # posting the apply anyway is refused by the write path
    version = version_of((samples_dir / f"{UNIFIED}.json").read_bytes())
    response = operator.post(
        f"/checkpoints/{UNIFIED}/edit/apply", {**data, "base_version": version, "reason": REASON}
    )
    assert response.status_code == 422
    assert "it cannot be applied" in text(response)
    assert state(samples_dir) == before
    response = operator.post(
        f"/checkpoints/{UNIFIED}/edit/apply",
        {**data, "base_version": version, "reason": REASON},
        headers=HTMX,
    )
    assert response.status_code == 422
    assert "The result would have errors, nothing was written: /stats/processedRecords" in text(
        response
    )
    assert state(samples_dir) == before


def test_findings_are_checked_live_as_the_operator_types(operator, samples_dir):
    url = f"/checkpoints/{UNIFIED}/edit/check"
    typed = operator.post(url, {"pointer": "/stats/processedRecords", "value": "90"}, headers=HTMX)
    assert typed.status_code == 200
    page = text(typed)
    assert "<html" not in page
    assert 'class="check check--ok"' in page
    assert "<strong>Valid</strong>" in page
    assert "processedRecords (90) is not successfulRecords + failedRecords" in page  # a warning
    assert '<ul class="findings findings--compact">' in page
    assert '<li class="finding finding--warning"><span class="finding__sev">warning</span>' in page

    typed = operator.post(url, {"pointer": "/stats/processedRecords", "value": "9x"}, headers=HTMX)
    assert "Enter a whole number, not “9x”." in text(typed)
    typed = operator.post(
        url, {"pointer": "/stats/processedRecords", "value": "9000"}, headers=HTMX
    )
    assert "1 error in the result" in text(typed)
    assert "is more than totalRecords" in text(typed)


def test_a_live_check_and_a_conflict_page_parse_the_file_once(operator, samples_dir, monkeypatch):
    """The live check runs at each pause in typing, on files of a million dates too: its
    preview takes the checkpoint the request read, not a second parse of the same bytes;
    so does the conflict page's question whether the change still applies."""
    from checkpoints_admin import queries
    from checkpoints_admin.checkpoints import store as store_module

    parsed: list[str] = []  # the versions of the bytes parsed
    decode = store_module.decode_document

    def counting(raw: bytes, *, name: str | None = None) -> dict:
        parsed.append(version_of(raw))
        return decode(raw, name=name)

    monkeypatch.setattr(store_module, "decode_document", counting)
    monkeypatch.setattr(queries, "decode_document", counting)
    # (a version of the file no request has read yet: the console remembers those it read)
    write_json(samples_dir, UNIFIED, {**read(samples_dir, UNIFIED), "lastUpdateTime": 2})
    url = f"/checkpoints/{UNIFIED}/edit/check"
    checked = operator.post(url, {"pointer": "/stats/timeouts", "value": "4"}, headers=HTMX)
    assert "<strong>Valid</strong>" in text(checked)
    assert parsed == [version_of((samples_dir / f"{UNIFIED}.json").read_bytes())]

    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    write_json(samples_dir, UNIFIED, {**read(samples_dir, UNIFIED), "lastUpdateTime": 1})
    parsed.clear()
    applied = apply_preview(operator, UNIFIED, "skip", shown)
    assert applied.status_code == 409
    assert "Preview again on the current version" in text(applied)
    # the file as it is now, once (what changed since is told from the audit log's snapshot)
    assert parsed == [version_of((samples_dir / f"{UNIFIED}.json").read_bytes())]


def test_the_live_check_without_javascript_is_the_whole_page(operator, samples_dir):
    before = state(samples_dir)
    response = operator.post(
        f"/checkpoints/{UNIFIED}/edit/check", {"pointer": "/stats/timeouts", "value": "-1"}
    )
    assert response.status_code == 200
    page = text(response)
    assert "<html" in page
    assert "timeouts cannot be negative (-1)" in page
    assert 'value="-1"' in page
    assert state(samples_dir) == before


# --- the raw editor -------------------------------------------------------------------------


def test_raw_editor_shows_the_document_and_applies_a_fix(operator, samples_dir):
    page = text(operator.get(f"/checkpoints/{MANAGED}/edit-raw/"))
    assert '<textarea id="id_document" name="document" class="code-editor"' in page
    assert "&quot;pendingItems&quot;: [" in page
    document = read(samples_dir, MANAGED)
    document["note"] = "rerun after the outage"
    shown = preview(operator, MANAGED, "edit-raw", {"document": json.dumps(document, indent=2)})
    assert shown.status_code == 200
    assert apply_preview(operator, MANAGED, "edit-raw", shown).status_code == 302
    assert read(samples_dir, MANAGED)["note"] == "rerun after the outage"


def test_raw_editor_is_bound_to_the_version_it_was_filled_from(operator, samples_dir):
    """A whole document edited from an older version would put back what a job saved since:
    the preview says so first, and shows it if asked anyway."""
    page = text(operator.get(f"/checkpoints/{MANAGED}/edit-raw/"))
    loaded = version_of((samples_dir / f"{MANAGED}.json").read_bytes())
    assert f'<input type="hidden" name="loaded_version" value="{loaded}">' in page
    document = read(samples_dir, MANAGED)
    edited = json.dumps({**document, "note": "checked by ops"}, indent=2)
    # the job saves progress meanwhile
    write_json(samples_dir, MANAGED, {**document, "pendingItems": ["item3"],
                                      "processedItems": ["item1", "item2"]})  # fmt: skip
    before = state(samples_dir)
    entries = AuditEntry.objects.count()

    refused = preview(operator, MANAGED, "edit-raw", {"document": edited, "loaded_version": loaded})
    assert refused.status_code == 409
    shown = text(refused)
    assert "changed since the editor was filled" in shown
    assert "item2 pendingItems → processedItems" in shown  # what the job did since
    assert f'href="/checkpoints/{MANAGED}/edit-raw/">Edit the current version</a>' in shown
    assert state(samples_dir) == before and AuditEntry.objects.count() == entries

    # "Preview my document anyway": the current version is now the one it is measured on
    again = form_fields(shown, after='id="again-title"')
    assert again["loaded_version"] == version_of((samples_dir / f"{MANAGED}.json").read_bytes())
    anyway = preview(operator, MANAGED, "edit-raw", again)
    assert anyway.status_code == 200
    assert "item2 processedItems → pendingItems" in text(anyway)  # what it would put back
    assert state(samples_dir) == before


def test_raw_editor_refuses_a_key_given_twice(operator, samples_dir):
    before = state(samples_dir)
    document = '{"id": "x", "progress": 10, "pendingItems": [], "progress": 90}'
    response = preview(operator, MANAGED, "edit-raw", {"document": document})
    assert response.status_code == 422
    assert errors_of(text(response), "id_document") == [
        "The document gives the key 'progress' twice in one object; only the last would be "
        "kept. Keep one."
    ]
    assert state(samples_dir) == before


def test_raw_editor_refuses_an_integer_beyond_64_bits(operator, samples_dir):
    """It would have been written as the nearest float (1e+23), unlike what was typed."""
    before = state(samples_dir)
    document = '{"id": "x", "status": "running", "progress": 10, "rows": 99999999999999999999999}'
    for step in ("check", "preview"):
        response = operator.post(f"/checkpoints/{MANAGED}/edit-raw/{step}", {"document": document})
        assert response.status_code == (422 if step == "preview" else 200)
        assert (
            "The document has the integer 99999999999999999999999 at /rows, which does not fit "
            "in 64 bits (it would be kept only approximately); write it as a string."
        ) in html.unescape(text(response))
    assert state(samples_dir) == before


def test_raw_editor_shows_a_job_integer_beyond_64_bits_as_the_file_has_it(operator, samples_dir):
    """Pretty-printed from the parsed document it read 1e+23; applied unchanged, the file's
    integer became 1e+23 with a diff showing nothing."""
    path = samples_dir / f"{MANAGED}.json"
    raw = path.read_bytes().replace(
        b'"progress": 33', b'"rows": 99999999999999999999999, "progress": 33'
    )
    path.write_bytes(raw)
    before = state(samples_dir)
    page = text(operator.get(f"/checkpoints/{MANAGED}/edit-raw/"))
    editor = re.search(r'<textarea id="id_document"[^>]*>\n?(.*?)</textarea>', page, re.S)
    assert html.unescape(editor.group(1)) == raw.decode()
    assert "1e+23" not in page
    # Applied unchanged: refused, the integer named as written.
    loaded = version_of(raw)
    response = preview(
        operator, MANAGED, "edit-raw", {"document": raw.decode(), "loaded_version": loaded}
    )
    assert response.status_code == 422
    assert "The document has the integer 99999999999999999999999 at /rows" in html.unescape(
        text(response)
    )
    # The float it was read as, typed back: refused too, the diff could not show it.
    as_float = raw.replace(b"99999999999999999999999", b"1e+23").decode()
    response = preview(
        operator, MANAGED, "edit-raw", {"document": as_float, "loaded_version": loaded}
    )
    assert response.status_code == 422
    assert (
        "my-process has the integer 99999999999999999999999 at /rows, which does not fit in 64 "
        "bits: this edit would write it as 1e+23, a change the diff cannot show. Nothing was "
        'changed; give it as a string ("99999999999999999999999") or another value.'
    ) in html.unescape(text(response))
    assert state(samples_dir) == before
    # As a string it is a change the diff shows, and is applied.
    as_string = raw.replace(b"99999999999999999999999", b'"99999999999999999999999"').decode()
    shown = preview(
        operator, MANAGED, "edit-raw", {"document": as_string, "loaded_version": loaded}
    )
    assert shown.status_code == 200
    assert apply_preview(operator, MANAGED, "edit-raw", shown).status_code == 302
    assert read(samples_dir, MANAGED)["rows"] == "99999999999999999999999"


def test_an_integer_beyond_64_bits_is_shown_as_written_where_it_is_corrected(operator, samples_dir):
    """Setting such an integer to a number that fits is allowed; the field editor, the diff,
    the recorded summary and the pages after it showed the float it is read as (1e+23)."""
    path = samples_dir / f"{MANAGED}.json"
    raw = path.read_bytes().replace(
        b'"progress": 33', b'"rows": 99999999999999999999999, "progress": 33'
    )
    path.write_bytes(raw)
    literal = "99999999999999999999999"
    editor = text(operator.get(f"/checkpoints/{MANAGED}/edit/?pointer=/rows"))
    assert f'value="{literal}"' in editor
    assert "1e+23" not in editor and "1e23" not in editor
    shown = preview(operator, MANAGED, "edit", {"pointer": "/rows", "value": "5"})
    assert shown.status_code == 200
    page = html.unescape(text(shown))
    assert "rows 99,999,999,999,999,999,999,999 → 5" in page  # the summary
    assert f'"rows": {literal},' in page  # the line diff's old side
    assert "1e+23" not in page and "1e23" not in page
    applied = apply_preview(operator, MANAGED, "edit", shown)
    assert applied.status_code == 302
    assert read(samples_dir, MANAGED)["rows"] == 5
    entry = AuditEntry.objects.get()
    assert entry.summary == "rows 99,999,999,999,999,999,999,999 → 5"
    for url in (applied["Location"], f"/audit/{entry.seq}/"):
        page = html.unescape(text(operator.get(url)))
        assert literal in page, url
        assert "1e+23" not in page and "1e23" not in page, url
    compare_url = f"/diff/?a=entry:{entry.seq}:before&b=checkpoint:{MANAGED}"
    compare = html.unescape(text(operator.get(compare_url)))
    assert literal in compare and "1e+23" not in compare and "1e23" not in compare


def test_raw_editor_says_a_nan_and_a_broken_version_next_to_the_editor(operator, samples_dir):
    before = state(samples_dir)
    nan = preview(operator, MANAGED, "edit-raw", {"document": '{"id": "x", "progress": NaN}'})
    assert nan.status_code == 422
    assert errors_of(text(nan), "id_document") == [
        "Line 1, column 25: The document holds NaN, which JSON does not have (a checkpoint's "
        "numbers are finite)."
    ]
    broken = preview(
        operator, MANAGED, "edit-raw", {"document": '{"id": "x"}', "loaded_version": "zz"}
    )
    assert broken.status_code == 422
    assert errors_of(text(broken), "id_loaded_version") == [
        "The version the editor was filled from is not a version: open the editor again from "
        "the checkpoint's page."
    ]
    assert state(samples_dir) == before


def test_raw_editor_invalid_json_names_line_and_column(operator, samples_dir):
    before = state(samples_dir)
    response = preview(operator, MANAGED, "edit-raw", {"document": '{\n  "id": "x",\n  "a": 1,\n}'})
    assert response.status_code == 422
    assert errors_of(text(response), "id_document") == [
        "Line 3, column 9: The document is not valid JSON: trailing comma is not allowed."
    ]
    assert (
        text(response).count('data-line="3" data-column="9">Go to line 3, column 9</button>') == 1
    )  # one "Go to" button, saying what the live check says
    # the live check below the editor says it was refused, not "checked as you type", and
    # does not repeat the words said at the field
    live = text(response).split('id="live-check"', 1)[1].split("</div>\n</div>", 1)[0]
    assert 'class="check check--error"' in live
    assert "<strong>Not previewed:</strong> 1 error, shown next to its field." in live
    assert "trailing comma" not in live
    assert "check--idle" not in live
    assert state(samples_dir) == before


def test_raw_editor_live_check_parse_error_then_findings(operator, samples_dir):
    url = f"/checkpoints/{MANAGED}/edit-raw/check"
    typed = operator.post(url, {"document": '{"id": "x", "status": '}, headers=HTMX)
    assert "Line 1, column" in text(typed)
    assert 'class="check check--error"' in text(typed)
    assert "name-live" not in text(typed)  # (only a new checkpoint has a name to speak of)
    typed = operator.post(
        url,
        {"document": '{"id": "x", "status": "running", "progress": 120, "pendingItems": []}'},
        headers=HTMX,
    )
    assert "progress must be between 0 and 100, not 120" in text(typed)
    assert "1 error in the result" in text(typed)


def test_raw_editor_live_check_says_the_file_changed_since_it_was_filled(operator, samples_dir):
    """It showed a green "Valid" and a summary undoing the job's progress as if the operator
    had typed that, without a word about the file having changed."""
    path = samples_dir / f"{MANAGED}.json"
    filled = version_of(path.read_bytes())
    document = read(samples_dir, MANAGED)
    url = f"/checkpoints/{MANAGED}/edit-raw/check"
    typed = {"document": json.dumps({**document, "status": "failed"}), "loaded_version": filled}
    assert 'id="changed-since"' not in text(operator.post(url, typed, headers=HTMX))
    write_json(samples_dir, MANAGED, {**document, "progress": 40})  # the job saves
    live = text(operator.post(url, typed, headers=HTMX))
    assert 'id="changed-since"' in live
    assert "<strong>The file changed since the editor was filled:</strong>" in live


def test_raw_editor_repairs_a_corrupt_file(operator, checkpoints_dir):
    (checkpoints_dir / "broken.json").write_bytes(b'{"id": "job", "status": "running",\n')
    page = text(operator.get("/checkpoints/broken/edit-raw/"))
    assert "The file does not parse now" in page
    assert "{&quot;id&quot;: &quot;job&quot;, &quot;status&quot;: &quot;running&quot;," in page
    document = {"id": "job", "status": "running", "progress": 0}
    shown = preview(operator, "broken", "edit-raw", {"document": json.dumps(document)})
    assert shown.status_code == 200
    assert "The file does not parse now; this replaces it whole." in text(shown)
    # What is replaced is shown as its bytes, not as a file that was absent.
    assert "Replaces the file that does not parse with the document below" in text(shown)
    removed = re.findall(
        r'<tr class="removed">.*?<span class="mark"><span aria-hidden="true">−</span>'
        r'<span class="visually-hidden">removed: </span></span>(.*?)</td>',
        text(shown),
    )
    assert removed == ["{&quot;id&quot;: &quot;job&quot;, &quot;status&quot;: &quot;running&quot;,"]
    assert ">absent<" not in text(shown)
    applied = apply_preview(operator, "broken", "edit-raw", shown)
    assert applied.status_code == 302
    assert read(checkpoints_dir, "broken") == document
    assert AuditEntry.objects.get().summary == "replaced the corrupt file"
    # the file before does not parse: nothing to write back, so no Undo, and why
    result = text(operator.get(applied["Location"]))
    assert re.findall(r'<tr class="removed">.*?</span></span>(.*?)</td>', result) == removed
    assert "data-undo" not in result
    assert "The file before this change does not parse, so it cannot be written back" in result
    restore = operator.get("/checkpoints/broken/restore/?entry=1&side=before")
    assert restore.status_code == 422
    assert (
        "The before side of entry #1 is a file that does not parse (line 2, column 1: "
    ) in html.unescape(text(restore))
    assert "it cannot be written back as a checkpoint" in text(restore)


def test_raw_editor_for_an_unknown_kind(operator, checkpoints_dir):
    write_json(checkpoints_dir, "notes", {"owner": "ops", "values": [1, 2]})
    shown = preview(operator, "notes", "edit-raw", {"document": '{"owner": "data", "values": [1]}'})
    assert shown.status_code == 200
    assert apply_preview(operator, "notes", "edit-raw", shown).status_code == 302
    assert read(checkpoints_dir, "notes") == {"owner": "data", "values": [1]}


def test_skip_on_a_corrupt_file_points_to_the_raw_editor(operator, checkpoints_dir):
    (checkpoints_dir / "broken.json").write_bytes(b"{")
    response = operator.get("/checkpoints/broken/skip/")
    assert response.status_code == 409
    assert "Repair it in the raw editor" in text(response)


# --- reset, restore and undo --------------------------------------------------------------


def test_reset_with_typed_confirmation_then_undo(admin, samples_dir):
    original = (samples_dir / f"{UNIFIED}.json").read_bytes()
    shown = admin.get(f"/checkpoints/{UNIFIED}/reset/")
    assert shown.status_code == 200
    page = text(shown)
    assert "will be deleted." in page
    assert "Its content is kept in the audit log" in page
    size = len(original)
    assert (
        '<p class="diff-summary preview-card__summary">Deletes <span class="mono">'
        f"reconciliation_checkpoint.json</span> ({size}\xa0bytes), keeping its content in the "
        "audit log</p>"
    ) in page
    # nothing to choose for a reset: its steps are the preview and the apply
    steps = re.findall(r'<span class="steps__n" aria-hidden="true">(\d)</span>(\w+)</li>', page)
    assert steps == [("1", "Preview"), ("2", "Apply")]
    assert 'data-confirm="reconciliation_checkpoint"' in page

    before = state(samples_dir)
    refused = apply_preview(admin, UNIFIED, "reset", shown, confirm="reconciliation")
    assert refused.status_code == 422
    assert errors_of(text(refused), "id_confirm") == [
        "Type the name exactly as shown, reconciliation_checkpoint, to confirm the reset."
    ]
    assert state(samples_dir) == before

    applied = apply_preview(admin, UNIFIED, "reset", shown, confirm=UNIFIED)
    assert applied.status_code == 302
    assert not (samples_dir / f"{UNIFIED}.json").exists()
    entry = AuditEntry.objects.get()
    assert entry.action == "reset"
    result = text(admin.get(applied["Location"]))
    assert "<h1>Checkpoint reset</h1>" in result  # (not "Reset applied")
    assert "file deleted" in result
    assert 'chip--reset">reset</span> deleted file reconciliation_checkpoint.json' in result
    steps = re.findall(r'<span class="steps__n" aria-hidden="true">(\d)</span>(\w+)</li>', result)
    assert steps == [("1", "Preview"), ("2", "Applied")]
    undo = re.search(r'href="([^"]+)" data-undo', result).group(1)
    restore = admin.get(html.unescape(undo))
    assert restore.status_code == 200
    assert (
        "Puts back the state before entry #1: "
        're-creates <span class="mono">reconciliation_checkpoint.json</span></p>'
    ) in text(restore)
    assert form_fields(text(restore))["base_version"] == "none"
    restored = apply_preview(admin, UNIFIED, "restore", restore)
    assert restored.status_code == 302
    assert "<h1>Checkpoint restored</h1>" in text(admin.get(restored["Location"]))
    assert (samples_dir / f"{UNIFIED}.json").read_bytes() == original
    assert AuditEntry.objects.order_by("seq").last().restores_id == 1


def test_undo_a_skip_restores_the_exact_bytes(operator, samples_dir):
    original = (samples_dir / f"{UNIFIED}.json").read_bytes()
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    result = operator.get(apply_preview(operator, UNIFIED, "skip", shown)["Location"])
    undo = html.unescape(re.search(r'href="([^"]+)" data-undo', text(result)).group(1))
    restore = operator.get(undo)
    assert (
        "Puts back the state before entry #1: 2025-03-06 completedDates → pendingDates</p>"
    ) in text(restore)
    assert "The file changed since entry" not in text(restore)  # nothing else to undo
    assert apply_preview(operator, UNIFIED, "restore", restore).status_code == 302
    assert (samples_dir / f"{UNIFIED}.json").read_bytes() == original


def test_undo_after_later_changes_says_it_undoes_them_too(operator, samples_dir):
    """A restore writes back a whole document: the later entries and the job's saves go too."""
    actor = services.Actor("ops", "cli")
    services.apply(UNIFIED, "skip", {"dates": ["2025-03-06"]}, actor=actor, reason="r")
    services.apply(UNIFIED, "edit", {"set": {"/stats/timeouts": 4}}, actor=actor, reason="r")
    page = text(operator.get(f"/checkpoints/{UNIFIED}/restore/?entry=1&side=before"))
    assert (
        "The file changed since entry #1: a restore puts back the whole document, so it also "
        "undoes the later changes (#2) and anything the job saved since."
    ) in page
    # only the job saved since: said too
    document = read(samples_dir, UNIFIED)
    write_json(samples_dir, UNIFIED, {**document, "lastUpdateTime": 1709743999999})
    page = text(operator.get(f"/checkpoints/{UNIFIED}/restore/?entry=2&side=after"))
    assert "undoes anything the job saved since." in page


def test_restore_the_after_side_from_an_audit_entry(operator, samples_dir):
    applied = services.apply(
        UNIFIED,
        "skip",
        {"dates": ["2025-03-06"]},
        actor=services.Actor("alice", "cli"),
        reason="cli skip",
    )
    after = (samples_dir / f"{UNIFIED}.json").read_bytes()
    services.apply(
        UNIFIED,
        "reprocess",
        {"dates": ["2025-03-06"]},
        actor=services.Actor("bob", "cli"),
        reason="oops",
    )
    audit_page = text(operator.get(f"/audit/{applied.entry.seq}/"))
    assert (
        f'href="/checkpoints/{UNIFIED}/restore/?entry=1&amp;side=after">Restore after…'
        in audit_page
    )
    shown = operator.get(f"/checkpoints/{UNIFIED}/restore/?entry=1&side=after")
    assert (
        "Puts back the state after entry #1: 2025-03-06 pendingDates → completedDates</p>"
    ) in text(shown)
    assert apply_preview(operator, UNIFIED, "restore", shown).status_code == 302
    assert (samples_dir / f"{UNIFIED}.json").read_bytes() == after


def test_a_restore_address_without_a_side_undoes_the_entry(operator, samples_dir):
    """As restore_checkpoint does without --side: the before side, undoing that entry."""
    original = (samples_dir / f"{UNIFIED}.json").read_bytes()
    services.apply(
        UNIFIED, "skip", {"dates": ["2025-03-06"]}, actor=services.Actor("a", "cli"), reason="r"
    )
    shown = operator.get(f"/checkpoints/{UNIFIED}/restore/?entry=1")
    assert shown.status_code == 200
    assert "Puts back the state before entry #1: " in text(shown)
    assert apply_preview(operator, UNIFIED, "restore", shown).status_code == 302
    assert (samples_dir / f"{UNIFIED}.json").read_bytes() == original


def test_restore_refusals(operator, samples_dir):
    before = state(samples_dir)
    assert operator.get(f"/checkpoints/{UNIFIED}/restore/").status_code == 400
    response = operator.get(f"/checkpoints/{UNIFIED}/restore/?entry=99&side=before")
    assert response.status_code == 422
    assert "There is no audit entry #99." in text(response)
    assert operator.get(f"/checkpoints/{UNIFIED}/restore/?entry=1&side=sideways").status_code == 400
    assert state(samples_dir) == before


@pytest.fixture
def fresh(checkpoints_dir) -> services.Applied:
    """A checkpoint created through the console's service: its entry's before side is no file."""
    return services.apply(
        "fresh",
        "create",
        {"document": {"id": "f", "status": "pending", "progress": 0}},
        actor=services.Actor("alice", "cli"),
        reason="new job",
    )


def test_restoring_nothing_over_a_file_needs_the_reset_right(operator, admin, fresh):
    created = fresh
    url = f"/checkpoints/fresh/restore/?entry={created.entry.seq}&side=before"
    assert operator.get(url).status_code == 403
    result = text(operator.get(f"/checkpoints/fresh/applied/{created.entry.seq}/"))
    assert "which only an admin may do" in result
    assert "data-undo" not in result
    shown = admin.get(url)
    assert shown.status_code == 200
    assert (
        'Puts back the state before entry #1: deletes <span class="mono">fresh.json</span>'
        in text(shown)
    )


def test_a_posted_restore_of_nothing_needs_the_reset_right(operator, admin, fresh, checkpoints_dir):
    created = fresh
    before = state(checkpoints_dir)
    restore = {"entry": str(created.entry.seq), "side": "before"}
    base = "/checkpoints/fresh/restore"
    version = version_of((checkpoints_dir / "fresh.json").read_bytes())
    preview_response = operator.post(f"{base}/preview", restore)
    assert preview_response.status_code == 403
    assert "which only an admin may do" in text(preview_response)
    applied = operator.post(f"{base}/apply", {**restore, "base_version": version, "reason": REASON})
    assert applied.status_code == 403
    assert state(checkpoints_dir) == before
    # the after side has a file: an operator may restore it
    assert operator.post(f"{base}/preview", {**restore, "side": "after"}).status_code == 200
    # the audit entry offers only the sides the user may restore
    assert "Restore before…" not in text(operator.get(f"/audit/{created.entry.seq}/"))
    assert "Restore after…" in text(operator.get(f"/audit/{created.entry.seq}/"))
    assert "Restore before…" in text(admin.get(f"/audit/{created.entry.seq}/"))


def test_result_page_of_another_checkpoint_is_404(operator, samples_dir):
    services.apply(
        UNIFIED, "skip", {"dates": ["2025-03-06"]}, actor=services.Actor("a", "cli"), reason="r"
    )
    other = operator.get(f"/checkpoints/{MANAGED}/applied/1/")
    assert other.status_code == 404
    assert f"There is no audit entry #1 of checkpoint {MANAGED}." in text(other)
    assert operator.get(f"/checkpoints/{UNIFIED}/applied/2/").status_code == 404


# --- create -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template", ["managed", "unified-reconciliation", "daily-reconciliation", "empty"]
)
def test_create_from_each_template(operator, checkpoints_dir, template):
    page = text(operator.get(f"/create/?template={template}&name=nightly"))
    fields = {
        "name": "nightly",
        "document": html.unescape(
            re.search(r'name="document"[^>]*>\n(.*?)</textarea>', page, re.S).group(1)
        ),
    }
    shown = operator.post("/create/preview", fields)
    assert shown.status_code == 200
    assert 'Creates <span class="mono">nightly.json</span>' in text(shown)
    assert "✓ No problems in the result" in text(shown)
    applied = operator.post("/create/apply", {**form_fields(text(shown)), "reason": "new job"})
    assert applied.status_code == 302
    assert applied["Location"] == "/checkpoints/nightly/applied/1/"
    assert (checkpoints_dir / "nightly.json").exists()
    assert "<h1>Checkpoint created</h1>" in text(operator.get(applied["Location"]))
    # a new checkpoint waits for its job: pending (not a running job that stalls later)
    if template != "empty":
        assert '<span class="badge badge--pending">' in text(operator.get("/?q=nightly"))


def test_choosing_a_template_keeps_the_name_typed_without_javascript(operator, samples_dir):
    """ "Use this template" posts the form on the left: the name typed stays, the document is
    the template's, a managed job's ``id`` made from the name."""
    fields = {"name": "nightly", "document": "{}", "use_template": "1"}
    page = text(operator.post("/create/change", {**fields, "template": "managed"}))
    assert 'id="id_name" name="name" value="nightly"' in page
    assert 'data-template-id="nightly-1"' in page
    assert "&quot;id&quot;: &quot;nightly-1&quot;" in page
    assert re.search(r'<input type="radio" name="template" value="managed" [^>]*checked>', page)
    page = text(operator.post("/create/change", {**fields, "template": "daily-reconciliation"}))
    assert 'value="nightly"' in page
    assert "&quot;processedDates&quot;" in page
    assert "data-template-id" not in page  # (no id to follow the name)
    # a name taken is said on arrival, as for a link with the name
    # a name that is no checkpoint name is said at its field, not copied into the document
    page = text(operator.post("/create/change", {**fields, "name": "../x", "template": "managed"}))
    assert "&quot;id&quot;: &quot;job-1&quot;" in page
    assert "Not a checkpoint name" in page
    page = text(operator.post("/create/change", {**fields, "name": MANAGED, "template": "empty"}))
    assert "Checkpoint &#x27;my-process&#x27; already exists." in page
    # the radios and the button belong to the form that posts the name
    page = text(operator.get("/create/"))
    assert page.count('form="create-form"') == len(TEMPLATES) + 1
    assert 'hx-include="#create-form"' in page
    assert 'data-template-id="job-1"' in page


def test_create_from_pasted_json_and_from_a_copy(operator, samples_dir):
    page = text(operator.get(f"/create/?from={MANAGED}"))
    assert 'value="my-process-copy"' in page
    assert "&quot;pendingItems&quot;" in page
    document = '{"a": [1, 2], "status": "pending"}'
    shown = operator.post("/create/preview", {"name": "pasted", "document": document})
    # each field of the new document on a row of its own
    rows = re.findall(r'<td class="pointer">([^<]*)</td>\s*<td class="empty-side">absent</td>'
                      r'\s*<td class="after">([^<]*)</td>', text(shown))  # fmt: skip
    assert rows == [("/a", "[1,2]"), ("/status", "&quot;pending&quot;")]
    applied = operator.post("/create/apply", {**form_fields(text(shown)), "reason": "scratch"})
    assert applied.status_code == 302
    assert read(samples_dir, "pasted") == {"a": [1, 2], "status": "pending"}


def test_a_preview_says_what_the_change_does_in_words_that_read(operator, samples_dir):
    created = text(operator.post("/create/preview", {"name": "fresh", "document": "{}"}))
    heading = '<h2 class="eyebrow" id="preview-title" tabindex="-1" data-step-focus>'
    assert f"{heading}What this creates</h2>" in created
    assert "What this create does" not in created
    skipped = text(operator.post(f"/checkpoints/{UNIFIED}/skip/preview", {"dates": "2025-03-06"}))
    assert f"{heading}What this skip does</h2>" in skipped


@pytest.mark.parametrize(
    ("name", "field", "message"),
    [
        ("my-process", "id_name", "Checkpoint 'my-process' already exists."),
        ("../etc/passwd", "id_name", None),
        ("job.lock", "id_name", None),
        ("", "id_name", "Give the new checkpoint a name."),
    ],
)
def test_create_refusals(operator, samples_dir, name, field, message):
    before = state(samples_dir)
    response = operator.post("/create/preview", {"name": name, "document": "{}"})
    assert response.status_code == 422
    errors = errors_of(text(response), field)
    if message is None:
        assert errors[0].startswith("Not a checkpoint name")
    else:
        assert errors == [message]
    assert state(samples_dir) == before


def test_create_live_check_says_a_name_error_next_to_the_name(operator, samples_dir):
    """It said it below the 24-line editor, off screen; now it is swapped in under the name."""
    page = text(operator.get("/create/"))
    assert '<div id="name-live" aria-live="polite"></div>' in page
    live = text(
        operator.post("/create/check", {"name": "my-process", "document": "{}"}, headers=HTMX)
    )
    name_part, _, check_part = live.partition("</div>")
    assert name_part.startswith('<div id="name-live" aria-live="polite" hx-swap-oob="true">')
    assert errors_of(name_part + "</div>", "id_name_live") == [
        "Checkpoint 'my-process' already exists."
    ]
    assert "already exists" not in check_part
    assert "The document is checked once the name is valid" in check_part
    # Both wrong: each said at its own place.
    live = text(operator.post("/create/check", {"name": "", "document": "[1"}, headers=HTMX))
    name_part, _, check_part = live.partition("</div>")
    assert errors_of(name_part + "</div>", "id_name_live") == ["Give the new checkpoint a name."]
    assert "Line 1, column" in check_part
    # A good name: the name's place is emptied, the document is checked.
    live = text(
        operator.post("/create/check", {"name": "new-one", "document": '{"a": 1}'}, headers=HTMX)
    )
    name_part, _, check_part = live.partition("</div>")
    assert name_part.strip() == '<div id="name-live" aria-live="polite" hx-swap-oob="true">'
    assert "check--ok" in check_part
    # Without JavaScript ("Check" posts the whole form): the same, on the whole page.
    page = text(operator.post("/create/check", {"name": "my-process", "document": "{}"}))
    assert errors_of(page, "id_name_live") == ["Checkpoint 'my-process' already exists."]


def test_step_one_of_a_create_says_at_once_that_its_name_is_taken(operator, samples_dir):
    """Arriving with a name (a second copy, a link, "← Change it" after someone took the name)
    says it is taken next to it, without JavaScript and before anything is typed."""
    taken = ["Checkpoint 'my-process' already exists."]
    assert errors_of(text(operator.get("/create/?name=my-process")), "id_name_live") == taken
    write_json(samples_dir, f"{MANAGED}-copy", {"a": 1})  # the first copy
    page = text(operator.get(f"/create/?from={MANAGED}"))
    assert errors_of(page, "id_name_live") == [f"Checkpoint '{MANAGED}-copy' already exists."]
    # A free name: nothing said at it, and the document's verdict is there already.
    page = text(operator.get("/create/?name=free-one&template=daily"))
    assert errors_of(page, "id_name_live") == []
    assert "check--ok" in page
    # Back from a preview once the name was taken meanwhile.
    data = {"name": "race", "document": '{"a": 1}'}
    url, fields = change_form(text(operator.post("/create/preview", data)))
    write_json(samples_dir, "race", {"b": 2})
    before = state(samples_dir)
    page = text(operator.post(url, fields))
    assert errors_of(page, "id_name_live") == ["Checkpoint 'race' already exists."]
    assert 'id="id_name" name="name" value="race"' in page
    # a name that is no name is said once, at the field, not again in the live check's place
    page = text(operator.post(url, {**fields, "name": "bad name/.."}))
    assert errors_of(page, "id_name")[0].startswith("Not a checkpoint name")
    assert errors_of(page, "id_name_live") == []
    assert state(samples_dir) == before


def test_create_refused_when_the_name_appears_after_the_preview(operator, checkpoints_dir):
    shown = operator.post("/create/preview", {"name": "race", "document": '{"a": 1}'})
    write_json(checkpoints_dir, "race", {"b": 2})
    before = state(checkpoints_dir)
    response = operator.post("/create/apply", {**form_fields(text(shown)), "reason": "r"})
    assert response.status_code == 422
    assert errors_of(text(response), "id_name") == ["Checkpoint 'race' already exists."]
    assert state(checkpoints_dir) == before


def test_create_invalid_json(operator, checkpoints_dir):
    response = operator.post("/create/preview", {"name": "x", "document": "[1, 2]"})
    assert response.status_code == 422
    assert errors_of(text(response), "id_document") == [
        "Line 1, column 1: The document must be a JSON object at the top level, not an array."
    ]
    assert state(checkpoints_dir) == ({}, 0)


# --- the read pages offer the controls by role --------------------------------------------


def test_the_detail_page_offers_actions_to_operators(operator, samples_dir):
    page = text(operator.get(f"/checkpoints/{UNIFIED}/"))
    assert '<h2 id="actions-title">Actions</h2>' in page
    assert f'href="/checkpoints/{UNIFIED}/skip/">Skip dates…</a>' in page
    assert "Reset…" not in page
    assert 'id="date-selection"' in page
    assert "/static/js/interventions.js" in page
    lists = text(operator.get(f"/checkpoints/{UNIFIED}/?tab=lists"))
    assert (
        '<label class="pick"><input type="checkbox" name="value" value="2025-03-06" '
        'form="list-selection" data-pick><span>2025-03-06</span></label>'
    ) in lists
    assert 'action="/checkpoints/reconciliation_checkpoint/skip/preview"' in lists
    done = text(operator.get(f"/checkpoints/{UNIFIED}/?tab=lists&list=completedDates"))
    assert 'action="/checkpoints/reconciliation_checkpoint/reprocess/preview"' in done
    assert "Reprocess selected…" in done


@pytest.mark.parametrize(
    ("name", "offered"),
    [
        (DAILY, ("Skip dates…", "Reprocess dates…")),
        (MANAGED, ("Skip items…", "Reprocess items…")),
        ("plain", ()),
    ],
)
def test_skip_and_reprocess_are_offered_by_kind(operator, samples_dir, name, offered):
    write_json(samples_dir, "plain", {"hello": "world"})
    page = text(operator.get(f"/checkpoints/{name}/"))
    assert "Edit a field…" in page
    for key, label in zip(("skip", "reprocess"), offered, strict=False):
        assert f'href="/checkpoints/{name}/{key}/">{label}</a>' in page
    if not offered:
        assert f"/checkpoints/{name}/skip/" not in page
        assert f"/checkpoints/{name}/reprocess/" not in page


def test_the_detail_page_offers_reset_to_admins(admin, samples_dir):
    page = text(admin.get(f"/checkpoints/{UNIFIED}/"))
    assert f'href="/checkpoints/{UNIFIED}/reset/">Reset…</a>' in page


def test_a_corrupt_checkpoints_reset_is_set_apart_from_its_repair(admin, samples_dir):
    """UI.md: reset is visually separated; on a corrupt file's page it sat beside the primary
    Repair button."""
    (samples_dir / "broken.json").write_bytes(b'{"pendingDates": [')
    page = text(admin.get("/checkpoints/broken/"))
    repair = page.index('href="/checkpoints/broken/edit-raw/">Repair in the raw editor…</a>')
    danger = page.index('<div class="actions__danger">', repair)
    assert page.index('<a class="button" href="/checkpoints/broken/reset/">Reset…</a>', danger)
    assert '<a class="button button--block" href="/checkpoints/broken/reset/">' not in page


def test_the_reset_of_a_file_that_does_not_parse_says_what_it_deletes(admin, samples_dir):
    """Its preview showed "No change in the document's content" under "What is deleted" and
    promised a restore; its entry said "No change: the two documents are identical"; and
    the entry and the page of the deleted checkpoint offered restores that could only be
    refused (a file that does not parse is not written back)."""
    (samples_dir / "broken.json").write_bytes(b"null")
    shown = admin.get("/checkpoints/broken/reset/")
    page = text(shown)
    assert "No change in the document" not in page
    assert "A file of 4\xa0bytes that does not parse: there is no document to show." in page
    assert "so it can be restored from there" not in page
    assert "cannot be restored as a checkpoint" in page
    assert apply_preview(admin, "broken", "reset", shown, confirm="broken").status_code == 302
    entry = AuditEntry.objects.get(action="reset")

    page = text(admin.get(f"/audit/{entry.seq}/"))
    assert "No change: the two documents are identical" not in page
    assert "No document to compare: the file before this change does not parse." in page
    assert "Restore before…" not in page
    download = f'href="/audit/{entry.seq}/before?download=1" download>Download its bytes</a>'
    assert download in page

    gone = admin.get("/checkpoints/broken/")
    assert gone.status_code == 404
    assert "Restore…" not in text(gone) and download in text(gone)
    # a readable file's reset still offers its restore
    shown = admin.get(f"/checkpoints/{UNIFIED}/reset/")
    assert apply_preview(admin, UNIFIED, "reset", shown, confirm=UNIFIED).status_code == 302
    assert "Restore…" in text(admin.get(f"/checkpoints/{UNIFIED}/"))


def test_viewers_see_no_write_controls(viewer, samples_dir):
    services.apply(
        UNIFIED, "skip", {"dates": ["2025-03-06"]}, actor=services.Actor("a", "cli"), reason="r"
    )
    for url in (
        f"/checkpoints/{UNIFIED}/",
        f"/checkpoints/{UNIFIED}/?tab=lists",
        f"/checkpoints/{MANAGED}/?tab=lists",
        "/audit/1/",
    ):
        page = text(viewer.get(url))
        assert "Actions" not in page, url
        assert "date-selection" not in page and "list-selection" not in page, url
        assert 'type="checkbox"' not in page, url
        assert "/skip/" not in page and "/restore/" not in page and "/reset/" not in page, url
        assert "interventions.js" not in page, url
        assert "Restore before" not in page, url


def test_the_corrupt_page_offers_a_repair(operator, viewer, checkpoints_dir):
    (checkpoints_dir / "broken.json").write_bytes(b"{")
    page = text(operator.get("/checkpoints/broken/"))
    assert 'href="/checkpoints/broken/edit-raw/">Repair in the raw editor…</a>' in page
    assert "/reset/" not in page
    assert "/edit-raw/" not in text(viewer.get("/checkpoints/broken/"))


def notes(page: str) -> list[str]:
    """The repair card's notes, as read (tags dropped, spaces collapsed)."""
    card = page[page.index('<section class="card actions"') :]
    card = card[: card.index("</section>")]
    found = re.findall(r'<p class="panel-note">(.*?)</p>', card, re.S)
    return [" ".join(re.sub(r"<[^>]+>", "", note).split()) for note in found]


def test_a_corrupt_file_without_audit_entries_is_not_told_to_restore_one(
    operator, admin, checkpoints_dir
):
    """The repair card said to restore "from one of the audit entries below" right above
    "No interventions recorded.": with no entry, it says what can be done instead."""
    (checkpoints_dir / "broken.json").write_bytes(b"{")
    page = text(operator.get("/checkpoints/broken/"))
    assert "No interventions recorded." in page
    assert "audit entries below" not in page
    assert "restored from the audit log" not in page
    assert notes(page) == [
        "The audit log holds no earlier version of this checkpoint to restore: replace the "
        "whole document in the raw editor. It shows a preview first; the corrupt bytes are "
        "kept in the audit log."
    ]
    assert notes(text(admin.get("/checkpoints/broken/"))) == [
        "The audit log holds no earlier version of this checkpoint to restore: replace the "
        "whole document in the raw editor, or reset the checkpoint (below) so that the job "
        "starts over. Each shows a preview first; the corrupt bytes are kept in the audit log.",
        "Deletes the file so the job starts over; its content stays in the audit log.",
    ]


def test_a_corrupt_file_with_audit_entries_is_offered_their_versions(operator, samples_dir):
    services.apply(
        UNIFIED, "skip", {"dates": ["2025-03-06"]}, actor=services.Actor("a", "cli"), reason="r"
    )
    (samples_dir / f"{UNIFIED}.json").write_bytes(b'{"pendingDates": [')
    page = text(operator.get(f"/checkpoints/{UNIFIED}/"))
    assert "until it is repaired or restored from the audit log" in page
    assert notes(page) == [
        "Or restore an earlier version from one of the audit entries below. Each shows a "
        "preview first; the corrupt bytes are kept in the audit log."
    ]
    assert '<td class="num"><a href="/audit/1/">1</a></td>' in page
    # the restore's preview says, in its own tense, what it does to the bytes there now
    shown = text(operator.get(f"/checkpoints/{UNIFIED}/restore/?entry=1&side=after"))
    assert "Puts back the state after entry #1: replaces the file that does not parse</p>" in shown


def test_an_applied_change_is_kept_loaded_and_its_result_page_is_the_same_without_it(
    operator, samples_dir
):
    """The console keeps the document it wrote, so the result page and the checkpoint page
    need not parse it again; without it (another worker, a restart) the result page shows
    the same change from the audit snapshots."""
    from checkpoints_admin import queries
    from checkpoints_admin.conf import get_store

    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    applied = apply_preview(operator, UNIFIED, "skip", shown)
    entry = AuditEntry.objects.get()
    store = get_store()
    kept = queries.document_of_version(store, UNIFIED, entry.result_version)
    assert kept == read(samples_dir, UNIFIED)
    assert queries.document_of_version(store, UNIFIED, entry.base_version) is not None

    def change_shown() -> str:
        page = text(operator.get(applied["Location"]))
        start = page.index('aria-labelledby="diff-title"')
        return page[start : page.index("</section>", start)]

    loaded = change_shown()
    queries.clear_cache()
    assert queries.document_of_version(store, UNIFIED, entry.result_version) is None
    assert change_shown() == loaded
    assert "2025-03-06" in loaded and "completedDates" in loaded


def test_a_symbolic_link_to_a_checkpoint_sends_its_changes_to_that_one(operator, samples_dir):
    (samples_dir / "alias.json").symlink_to("my-process.json")
    page = text(operator.get("/checkpoints/alias/"))
    assert "alias.json is a symbolic link to my-process.json" in page
    assert (
        '<a class="button button--block" href="/checkpoints/my-process/">Open my-process</a>'
        in page
    )
    assert "/checkpoints/alias/skip/" not in page  # no write controls for the link
    before = state(samples_dir)
    refused = preview(operator, "alias", "skip", {"dates": "item2"})
    assert (
        "is a symbolic link to &#x27;my-process&#x27;; skip &#x27;my-process&#x27; instead"
        in text(refused)
    )
    assert state(samples_dir) == before


def test_a_file_a_job_wrote_a_thousand_levels_deep_is_shown_and_can_be_reset(
    admin, checkpoints_dir
):
    """Deeper than orjson writes (255 levels), which another program may write: the raw tab
    and the raw editor were a 500. Now they show it, an edit says why it cannot be written,
    and a reset keeps it in the log."""
    raw = (
        '{"id": "x", "status": "running", "progress": {"done": 1, "total": 2}, "data": '
        + "[" * 1000
        + "]" * 1000
        + "}\n"
    ).encode()
    (checkpoints_dir / "deep.json").write_bytes(raw)
    for url in ("/checkpoints/deep/?tab=raw", "/checkpoints/deep/edit-raw/"):
        response = admin.get(url)
        assert response.status_code == 200, url
        assert "&quot;data&quot;: [\n    [\n      [" in text(response), url
    refused = preview(admin, "deep", "edit", {"pointer": "/status", "value": "failed"})
    assert refused.status_code == 422
    assert "nested more than 254 levels deep, below /data/0/0/0/0/…" in text(refused)
    assert "/0/0/0/0/0/0" not in text(refused)  # (not a pointer a thousand levels long)
    assert (checkpoints_dir / "deep.json").read_bytes() == raw
    # the raw editor says a person's limit, whether the parser could read it or not
    for depth in (100, 2000):
        document = '{"a": ' + "[" * depth + "]" * depth + "}"
        said = preview(admin, "deep", "edit-raw", {"document": document})
        assert said.status_code == 422, depth
        assert "is nested more than 64 levels deep; a checkpoint is not that deep" in text(said)
    shown = preview(admin, "deep", "reset", {})
    assert shown.status_code == 200
    applied = admin.post(
        "/checkpoints/deep/reset/apply",
        {
            "base_version": hashlib.sha256(raw).hexdigest(),
            "reason": "unreadable",
            "confirm": "deep",
        },
    )
    assert applied.status_code == 302
    assert not (checkpoints_dir / "deep.json").exists()
    entry = AuditEntry.objects.get()
    assert bytes(admin.get(f"/audit/{entry.seq}/before").content) == raw


def test_a_document_nested_absurdly_deep_is_refused_at_the_editor(operator, samples_dir):
    """Pages and diffs walk a document recursively: a thousand levels (which JSON parsers
    take) made every page of it, and its audit entries, a 500."""
    deep = (
        '{"id": "x", "status": "running", "progress": 1, "deep": ' + "[" * 1000 + "]" * 1000 + "}"
    )
    before = state(samples_dir)
    for url in (
        f"/checkpoints/{MANAGED}/edit-raw/preview",
        f"/checkpoints/{MANAGED}/edit-raw/check",
    ):
        response = operator.post(url, {"document": deep})
        assert response.status_code in (200, 422), url
        assert "is nested more than 64 levels deep" in html.unescape(text(response)), url
    assert state(samples_dir) == before
    shallow = '{"id": "x", "status": "running", "progress": 1, "deep": ' + "[" * 60 + "]" * 60 + "}"
    assert preview(operator, MANAGED, "edit-raw", {"document": shallow}).status_code == 200


def test_items_with_blanks_line_breaks_or_decimals_are_taken_as_they_are(operator, samples_dir):
    """Each was stripped, or split into lines, on the way: "padded is not in pendingItems"."""
    items = [" padded", "tab\t", "two\nlines", 1.5, "ok"]
    document = {**read(samples_dir, MANAGED), "pendingItems": items, "processedItems": []}
    write_json(samples_dir, "ws-items", document)
    found = preview(
        operator, "ws-items", "skip", {"list": "pendingItems", "q": "padded", "all": "on"}
    )
    assert found.status_code == 200
    assert apply_preview(operator, "ws-items", "skip", found).status_code == 302
    ticked = preview(operator, "ws-items", "skip", {"value": ["tab\t", "two\nlines"]})
    assert form_fields(text(ticked))["value"] == "two\nlines"  # (not two lines of the text)
    assert apply_preview(operator, "ws-items", "skip", ticked).status_code == 302
    typed = preview(operator, "ws-items", "skip", {"dates": "1.5\r\n"})
    assert apply_preview(operator, "ws-items", "skip", typed).status_code == 302
    data = read(samples_dir, "ws-items")
    assert data["pendingItems"] == ["ok"]
    assert data["processedItems"] == [" padded", "tab\t", "two\nlines", 1.5]


def test_an_item_holding_a_line_break_is_taken_as_a_browser_sends_it(operator, samples_dir):
    """A browser sends each line break of a form's value as CR LF: the ticked item
    "two\nlines" arrived as "two\r\nlines", "not in pendingItems", at the preview and again
    at the apply. An item the document has with CR LF is taken as it is."""
    items = ["two\nlines", "three\r\nlines", "ok"]
    document = {**read(samples_dir, MANAGED), "pendingItems": items, "processedItems": []}
    write_json(samples_dir, "lf-items", document)
    sent = {"value": ["two\r\nlines", "three\r\nlines"]}
    ticked = preview(operator, "lf-items", "skip", sent)
    assert ticked.status_code == 200
    fields = form_fields(text(ticked))
    assert fields["value"] == ["two\nlines", "three\r\nlines"]
    fields["value"] = [
        value.replace("\r\n", "\n").replace("\n", "\r\n") for value in fields["value"]
    ]
    applied = operator.post("/checkpoints/lf-items/skip/apply", {**fields, "reason": REASON})
    assert applied.status_code == 302
    data = read(samples_dir, "lf-items")
    assert (data["pendingItems"], data["processedItems"]) == (["ok"], items[:2])
