"""The intervention pages under the CSP: nonce'd script files only, no inline code, and a
checkpoint whose keys and values are HTML shown as text in every step."""

from __future__ import annotations

import re

import pytest

from checkpoints_admin.checkpoints.store import version_of
from tests.web.conftest import scripts_of, write_json
from tests.web.test_interventions import REASON, UNIFIED, apply_preview, preview, text
from tests.web.test_security import HOSTILE, IMG, SVG, assert_no_active_markup

HOSTILE_DOC = {
    HOSTILE: IMG,
    "id": SVG,
    "status": "running",
    "progress": 1,
    "pendingItems": [HOSTILE, IMG],
    "processedItems": [],
}


def assert_clean(response, nonce_needed: bool = True) -> str:
    html = text(response)
    policy = response["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert "unsafe-inline" not in policy
    for tag in scripts_of(html):
        assert re.search(r'src="/static/(js|django_htmx)/[\w.-]+\.js"', tag), tag
        assert f'nonce="{nonce}"' in tag
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html), "inline script"
    assert not re.search(r"\sstyle\s*=", html), "inline style attribute"
    assert "<style" not in html
    assert "javascript:" not in html
    assert_no_active_markup(html)
    return html


@pytest.fixture
def operator(signed_in):
    return signed_in("admin")


def test_every_step_has_only_nonced_script_files(operator, samples_dir):
    pages = [
        operator.get(f"/checkpoints/{UNIFIED}/skip/"),
        operator.get(f"/checkpoints/{UNIFIED}/edit/"),
        operator.get(f"/checkpoints/{UNIFIED}/edit-raw/"),
        operator.get(f"/checkpoints/{UNIFIED}/reset/"),
        operator.get("/create/"),
        preview(operator, UNIFIED, "skip", {"dates": "2025-03-09"}),  # refused
    ]
    shown = preview(operator, UNIFIED, "skip", {"dates": "2025-03-06"})
    pages.append(shown)
    applied = apply_preview(operator, UNIFIED, "skip", shown)
    pages.append(operator.get(applied["Location"]))
    pages.append(operator.get(f"/checkpoints/{UNIFIED}/restore/?entry=1&side=before"))
    # a conflict page: the version posted is no longer the file's
    stale = {"dates": "2025-03-07", "base_version": "0" * 64, "reason": REASON}
    pages.append(operator.post(f"/checkpoints/{UNIFIED}/skip/apply", stale))
    assert [page.status_code for page in pages] == [200] * 5 + [422, 200, 200, 200, 409]
    for page in pages:
        html = assert_clean(page)
        assert len(scripts_of(html)) == 3  # htmx, console.js, interventions.js


def test_hostile_content_is_text_in_every_step(operator, checkpoints_dir):
    write_json(checkpoints_dir, "hostile", HOSTILE_DOC)
    html = assert_clean(operator.get("/checkpoints/hostile/edit-raw/"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    html = assert_clean(operator.get("/checkpoints/hostile/edit/?pointer=/id"))
    assert 'value="&lt;svg onload=alert(3)&gt;"' in html
    html = assert_clean(operator.get("/checkpoints/hostile/?tab=lists"))
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in html

    shown = preview(operator, "hostile", "skip", {"value": [HOSTILE]})
    html = assert_clean(shown)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    result = operator.get(apply_preview(operator, "hostile", "skip", shown)["Location"])
    assert_clean(result)

    refused = preview(operator, "hostile", "skip", {"dates": "<b>nope</b>"})
    assert refused.status_code == 422
    assert "&lt;b&gt;nope&lt;/b&gt; is not in pendingItems." in assert_clean(refused)
    version = version_of((checkpoints_dir / "hostile.json").read_bytes())
    typed = operator.post(
        "/checkpoints/hostile/edit-raw/check", {"document": '{"a": "' + HOSTILE + '", }'}
    )
    assert_clean(typed)
    assert version == version_of((checkpoints_dir / "hostile.json").read_bytes())
