"""Refusals of the intervention views that the main flow tests do not reach.

Each refusal is checked to change nothing: the files' bytes and the audit log stay as they were.
"""

from __future__ import annotations

import html
import json
from urllib.parse import quote_from_bytes

import pytest

from checkpoints_admin.checkpoints.store import version_of
from checkpoints_admin.models import AuditEntry
from checkpoints_admin.views import interventions as views
from tests.web.test_interventions import (
    HTMX,
    MANAGED,
    REASON,
    UNIFIED,
    errors_of,
    form_fields,
    preview,
    read,
    state,
    text,
)


@pytest.fixture
def operator(signed_in):
    return signed_in("operator")


def test_the_raw_editor_refuses_a_file_larger_than_it_edits(operator, samples_dir, monkeypatch):
    monkeypatch.setattr(views, "RAW_EDIT_LIMIT", 10)
    before = state(samples_dir)
    response = operator.get(f"/checkpoints/{MANAGED}/edit-raw/")
    assert response.status_code == 413
    assert "Too large for the raw editor" in text(response)
    assert f"manage.py edit_checkpoint {MANAGED} --from-file FILE" in text(response)
    refused = preview(operator, MANAGED, "edit-raw", {"document": '{"id": "x"}'})
    assert refused.status_code == 413
    assert state(samples_dir) == before


def test_a_copy_of_a_file_larger_than_the_editor_is_refused(operator, samples_dir, monkeypatch):
    monkeypatch.setattr(views, "RAW_EDIT_LIMIT", 10)
    response = operator.get(f"/create/?from={MANAGED}")
    assert response.status_code == 413
    assert f"{MANAGED}.json is larger than the editor." in text(response)


def test_a_copy_of_a_missing_checkpoint_is_404(operator, samples_dir):
    assert operator.get("/create/?from=nope").status_code == 404


def test_only_typed_interventions_have_a_live_check(operator, samples_dir):
    before = state(samples_dir)
    response = operator.post(f"/checkpoints/{UNIFIED}/skip/check", {"dates": "2025-03-06"})
    assert response.status_code == 404
    assert state(samples_dir) == before


def test_a_field_edit_of_a_corrupt_file_points_to_the_raw_editor(operator, checkpoints_dir):
    (checkpoints_dir / "broken.json").write_bytes(b"{")
    for response in (
        operator.get("/checkpoints/broken/edit/"),
        preview(operator, "broken", "edit", {"pointer": "/status", "value": "done"}),
        operator.post("/checkpoints/broken/edit/check", {"pointer": "/status", "value": "x"}),
    ):
        assert response.status_code == 409
        assert "Repair it in the raw editor" in text(response)
    assert (checkpoints_dir / "broken.json").read_bytes() == b"{"


@pytest.mark.parametrize("entry", ["1_0", "\u0661", "1.0"])
def test_a_restore_of_an_entry_number_not_in_ascii_digits_is_a_bad_request(
    operator, samples_dir, entry
):
    """int() reads these as entries 10 and 1."""
    before = state(samples_dir)
    response = operator.post(
        f"/checkpoints/{UNIFIED}/restore/preview", {"entry": entry, "side": "before"}
    )
    assert response.status_code == 400
    assert "Choose what to restore" in text(response)
    assert f"“{entry}” is not an audit entry number." in text(response)
    assert state(samples_dir) == before


@pytest.mark.parametrize("step", ["preview", "apply"])
def test_a_restore_posted_without_its_entry_is_a_bad_request(operator, samples_dir, step):
    before = state(samples_dir)
    response = operator.post(
        f"/checkpoints/{UNIFIED}/restore/{step}", {"entry": "", "side": "sideways"}
    )
    assert response.status_code == 400
    assert "Choose what to restore" in text(response)
    assert "No audit entry is given (entry=N)." in text(response)
    assert "The side to restore is before or after, not “sideways”." in text(response)
    assert state(samples_dir) == before


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("", "No audit entry is given (entry=N)."),
        ("?entry=abc", "“abc” is not an audit entry number."),
        ("?entry=0", "Audit entries are numbered from 1."),
        ("?entry=1&side=sideways", "The side to restore is before or after, not “sideways”."),
    ],
)
def test_a_restore_address_that_names_no_entry_says_what_is_wrong(
    operator, samples_dir, query, problem
):
    """Each said only "Choose what to restore: an audit entry and its before or after side"."""
    before = state(samples_dir)
    response = operator.get(f"/checkpoints/{UNIFIED}/restore/{query}")
    assert response.status_code == 400
    assert f"Choose what to restore: {problem}" in html.unescape(text(response))
    assert state(samples_dir) == before


def apply_status(client, directory, status: str, **kwargs):
    """Apply an edit of the managed sample's status, bound to the file's version now."""
    return client.post(
        f"/checkpoints/{MANAGED}/edit/apply",
        {
            "pointer": "/status",
            "value": status,
            "base_version": version_of((directory / f"{MANAGED}.json").read_bytes()),
            "reason": REASON,
        },
        **kwargs,
    )


def test_an_edit_to_the_value_the_field_has_is_refused_at_apply(operator, samples_dir):
    status = read(samples_dir, MANAGED)["status"]
    shown = preview(operator, MANAGED, "edit", {"pointer": "/status", "value": status})
    assert shown.status_code == 200
    before = state(samples_dir)
    response = apply_status(operator, samples_dir, status)
    assert response.status_code == 422
    assert 'id="apply-form"' in text(response)
    assert "Nothing to apply: this leaves the checkpoint as it is." in text(response)
    assert state(samples_dir) == before


def test_an_apply_that_changes_nothing_with_htmx_says_so_in_the_apply_form(operator, samples_dir):
    status = read(samples_dir, MANAGED)["status"]
    before = state(samples_dir)
    response = apply_status(operator, samples_dir, status, headers=HTMX)
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#apply-form"
    assert "<html" not in text(response)
    assert f"This edit leaves checkpoint &#x27;{MANAGED}&#x27; as it is" in text(response)
    assert state(samples_dir) == before


def test_a_field_edit_nested_thousands_of_levels_deep_is_refused_not_a_500(
    operator, checkpoints_dir
):
    """A null field takes any JSON value; one a thousand levels deep (which the JSON parser
    reads) overflowed the stack when copied."""
    path = checkpoints_dir / "noted.json"
    path.write_bytes(b'{"id": "x", "note": null}\n')
    deep = {"pointer": "/note", "value": "[" * 1000 + "]" * 1000}
    for step in ("check", "preview"):
        response = operator.post(f"/checkpoints/noted/edit/{step}", deep)
        assert response.status_code in (200, 422), step
        assert (
            "/note: the value is nested more than 63 levels deep; a checkpoint is at most 64 "
            "levels deep." in text(response)
        ), step
    assert path.read_bytes() == b'{"id": "x", "note": null}\n'
    assert AuditEntry.objects.count() == 0


def test_a_form_too_large_to_read_says_so_and_changes_nothing(operator, samples_dir, settings):
    """Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE before the view: its 400 page
    said the address was not understood, and to htmx nothing at all."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    before = state(samples_dir)
    document = '{"id": "x", "note": "' + "x" * 5000 + '"}'
    message = (
        "The form sent is larger than the 4.0 KiB the console accepts; nothing was changed. A "
        "document this large is edited with manage.py edit_checkpoint NAME --from-file FILE."
    )
    page = preview(operator, MANAGED, "edit-raw", {"document": document})
    assert page.status_code == 413
    assert "Too large to send" in text(page)
    assert html.escape(message) in text(page)
    swapped = preview(operator, MANAGED, "edit-raw", {"document": document}, headers=HTMX)
    assert swapped.status_code == 413
    assert json.loads(swapped["HX-Trigger"]) == {
        "console:message": {"level": "error", "text": message}
    }
    # A reason too large for its form has no document to edit from a file.
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    applied = operator.post(
        f"/checkpoints/{UNIFIED}/skip/apply", {**form_fields(text(shown)), "reason": "x" * 5000}
    )
    assert applied.status_code == 413
    assert "the console accepts; nothing was changed.</p>" in text(applied)
    assert "--from-file" not in text(applied)
    # Served under a prefix, a create says it as well (known by the step, not the path).
    created = operator.post(
        "/create/preview", {"name": "big", "document": document}, SCRIPT_NAME="/console"
    )
    assert created.status_code == 413
    assert html.escape(message) in text(created)
    assert state(samples_dir) == before


def test_too_many_ticked_values_say_so_and_change_nothing(operator, samples_dir, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 100
    before = state(samples_dir)
    values = [f"2025-01-{day:02d}" for day in range(1, 29)] * 4
    response = preview(operator, UNIFIED, "skip", {"value": values})
    assert response.status_code == 400
    assert (
        "The form sent has more than 100 fields; nothing was changed. Select fewer values at "
        "once, or type them as ranges A..B."
    ) in text(response)
    assert state(samples_dir) == before


def test_any_other_bad_request_is_the_plain_400_page(operator, samples_dir):
    response = operator.get("/", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert "not something this console understands" in text(response)


def test_a_skip_that_would_rewrite_an_integer_beyond_64_bits_is_refused_at_its_field(
    operator, samples_dir
):
    path = samples_dir / f"{MANAGED}.json"
    path.write_bytes(
        path.read_bytes().replace(b'"progress": 33', b'"rows": 1' + b"0" * 22 + b', "progress": 33')
    )
    before = state(samples_dir)
    response = preview(operator, MANAGED, "skip", {"dates": "item2"})
    assert response.status_code == 422
    assert (
        "my-process has the integer 10000000000000000000000 at /rows, which does not fit in 64 "
        "bits: this skip would write it back as 1e+22."
    ) in text(response)
    assert state(samples_dir) == before


FORM = "application/x-www-form-urlencoded"


def encoded(*fields: tuple[str, bytes]) -> bytes:
    """A form body as a browser sends it, each value's bytes percent-escaped as given."""
    return b"&".join(
        name.encode() + b"=" + quote_from_bytes(value).encode() for name, value in fields
    )


def test_a_document_or_reason_that_is_not_utf8_is_refused_at_its_field(operator, samples_dir):
    """Django read those bytes as U+FFFD: the raw editor wrote and the log recorded them so."""
    path = samples_dir / f"{MANAGED}.json"
    version = version_of(path.read_bytes())
    document = path.read_bytes().replace(b'"my-process-1"', b'"my-\xff\xfe-1"')
    before = state(samples_dir)
    raw_edit = operator.post(
        f"/checkpoints/{MANAGED}/edit-raw/apply",
        encoded(("document", document), ("base_version", version.encode()), ("reason", b"r")),
        content_type=FORM,
    )
    assert raw_edit.status_code == 422
    page = text(raw_edit)
    assert errors_of(page, "id_document") == [
        "Not valid UTF-8: byte 0xff at line 2, column 13. Send it as UTF-8 text; nothing was "
        "changed."
    ]
    assert 'data-line="2" data-column="13"' in page  # the editor's "Go to line 2"
    checked = operator.post(
        f"/checkpoints/{MANAGED}/edit-raw/check", encoded(("document", document)),
        content_type=FORM, headers=HTMX,
    )  # fmt: skip
    assert "Not valid UTF-8: byte 0xff at line 2, column 13." in text(checked)

    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    fields = form_fields(text(shown))
    skip = operator.post(
        f"/checkpoints/{UNIFIED}/skip/apply",
        encoded(*((k, v.encode()) for k, v in fields.items()), ("reason", b"bad \xc3 bytes")),
        content_type=FORM,
    )
    assert skip.status_code == 422
    assert errors_of(text(skip), "id_reason") == [
        "Not valid UTF-8: byte 0xc3 at line 1, column 5. Send it as UTF-8 text; nothing was "
        "changed."
    ]
    assert state(samples_dir) == before


def test_bytes_that_are_not_utf8_are_refused_in_a_multipart_form_too(operator, samples_dir):
    boundary = "formboundary"
    parts = [("name", b"fresh"), ("document", b'{"id": "\x80"}'), ("reason", b"r")]
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value
            + b"\r\n"
            for name, value in parts
        )
        + f"--{boundary}--\r\n".encode()
    )
    before = state(samples_dir)
    response = operator.post(
        "/create/apply", body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 422
    assert errors_of(text(response), "id_document") == [
        "Not valid UTF-8: byte 0x80 at line 1, column 9. Send it as UTF-8 text; nothing was "
        "changed."
    ]
    assert state(samples_dir) == before


def test_a_result_larger_than_a_checkpoint_may_be_is_an_error_of_the_preview(
    operator, samples_dir, settings
):
    """The preview offered to apply what the write then refused for its size."""
    settings.CHECKPOINT_MAX_BYTES = 2048
    before = state(samples_dir)
    data = {"pointer": "/id", "value": "x" * 3000}
    shown = preview(operator, MANAGED, "edit", data)
    page = text(shown)
    assert "The result has errors, so it cannot be applied." in page
    assert "larger than the limit of 2.0 KiB (CHECKPOINT_MAX_BYTES)" in page
    fields = {**data, "base_version": version_of((samples_dir / f"{MANAGED}.json").read_bytes())}
    refused = operator.post(f"/checkpoints/{MANAGED}/edit/apply", {**fields, "reason": "r"})
    assert refused.status_code == 422
    assert state(samples_dir) == before
