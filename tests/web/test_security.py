"""Security of the pages: CSP with nonces and no inline code, headers, hostile content as text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.test import Client

from checkpoints_admin import services
from checkpoints_admin.models import AuditEntry
from tests.web.conftest import scripts_of, write_json

UNIFIED = "reconciliation_checkpoint"

HOSTILE = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
SVG = "<svg onload=alert(3)>"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def assert_no_active_markup(html: str) -> None:
    """No event handler attribute, no script without src, no element a document could inject."""
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag not in {"img", "svg", "iframe", "object", "embed", "style"}, (tag, attrs)
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        if tag == "script":
            assert attrs.get("src", "").startswith(("/static/js/", "/static/django_htmx/")), attrs


PAGES = (
    "/",
    "/?q=x",
    "/checkpoints/reconciliation_checkpoint/",
    "/checkpoints/reconciliation_checkpoint/?tab=lists",
    "/checkpoints/reconciliation_checkpoint/?tab=raw",
    "/checkpoints/reconciliation_checkpoint/?tab=history",
    "/checkpoints/my-process/",
    "/diff/",
    "/diff/?a=checkpoint:my-process&b=checkpoint:reconciliation_checkpoint",
    "/audit/",
    "/audit/1/",
    "/checkpoints/nope/",
)


@pytest.fixture
def entry(samples_dir):
    services.apply(
        "my-process",
        "edit",
        {"set": {"/progress": 40}},
        actor=services.Actor(name="ops", source="cli"),
        reason="fix progress",
    )


@pytest.mark.parametrize("url", PAGES)
def test_every_page_has_a_nonce_csp_and_no_inline_code(viewer, entry, url):
    response = viewer.get(url)
    assert response.status_code in (200, 404)
    policy = response["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert "script-src 'self' 'nonce-" in policy
    assert "unsafe-inline" not in policy
    assert "style-src 'self'" in policy
    html = response.content.decode()
    scripts = scripts_of(html)
    sources = [re.search(r'src="([^"]+)"', tag).group(1) for tag in scripts]
    # htmx from django-htmx (the version it is tested with), then the console's own
    assert sources[:2] == ["/static/django_htmx/htmx-2.min.js", "/static/js/console.js"]
    for tag in scripts:
        assert re.search(r'src="/static/(js|django_htmx)/[\w.-]+\.js"', tag), tag
        assert f'nonce="{nonce}"' in tag
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html), "inline script"
    assert not re.search(r"\sstyle\s*=", html), "inline style attribute"
    assert "<style" not in html
    assert_no_active_markup(html)
    assert "javascript:" not in html
    assert '"includeIndicatorStyles": false' in html


def test_security_headers(viewer, samples_dir):
    response = viewer.get("/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_the_sign_in_page_has_csp_too(samples_dir, db):
    response = Client().get("/accounts/login/")
    assert "'nonce-" in response["Content-Security-Policy"]
    assert len(scripts_of(response.content.decode())) == 2


@pytest.fixture
def hostile(checkpoints_dir):
    """Checkpoints whose keys and values are HTML and script."""
    write_json(
        checkpoints_dir,
        "hostile",
        {
            HOSTILE: IMG,
            "id": SVG,
            "status": "running",
            "note": HOSTILE,
            "progress": 10,
            "processedItems": [HOSTILE],
            "pendingItems": [IMG, SVG],
            "stats": {HOSTILE: IMG},
        },
    )
    write_json(
        checkpoints_dir,
        "hostile-dates",
        {
            "pendingDates": [HOSTILE, "2025-03-02"],
            "completedDates": [IMG],
            "lastProcessedDate": SVG,
        },
    )
    (checkpoints_dir / "hostile-corrupt.json").write_bytes(f'{{"a": "{HOSTILE}", {IMG}'.encode())
    return checkpoints_dir


HOSTILE_PAGES = (
    "/",
    "/?q=hostile",
    "/checkpoints/hostile/",
    "/checkpoints/hostile/?tab=lists",
    "/checkpoints/hostile/?tab=lists&list=processedItems",
    "/checkpoints/hostile/?tab=raw",
    "/checkpoints/hostile-dates/",
    "/checkpoints/hostile-dates/?tab=lists",
    "/checkpoints/hostile-corrupt/",
    "/diff/?a=checkpoint:hostile&b=checkpoint:hostile-dates",
    f"/checkpoints/hostile/?tab=lists&q={HOSTILE}",
    f"/audit/?actor={SVG}",
)


@pytest.mark.parametrize("url", HOSTILE_PAGES)
def test_hostile_content_is_shown_as_text(viewer, hostile, url):
    response = viewer.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    for markup in ("<script>alert", "<img src=x", "<svg onload"):
        assert markup not in html, (url, markup)
    assert_no_active_markup(html)


def test_hostile_content_is_visible_escaped(viewer, hostile):
    html = viewer.get("/checkpoints/hostile/?tab=raw").content.decode()
    assert "&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;" in html
    listed = viewer.get("/checkpoints/hostile/?tab=lists").content.decode()
    assert "<li>&lt;img src=x onerror=&quot;alert(2)&quot;&gt;</li>" in listed


def test_hostile_reason_and_actor_in_the_audit_pages(viewer, hostile):
    services.apply(
        "hostile",
        "edit",
        {"set": {"/progress": 20}},
        actor=services.Actor(name=SVG, source="web", address="127.0.0.1"),
        reason=f"{HOSTILE} {IMG}",
    )
    for url in ("/audit/", "/audit/1/", "/checkpoints/hostile/?tab=history"):
        html = viewer.get(url).content.decode()
        for markup in ("<script>alert", "<img src=x", "<svg onload"):
            assert markup not in html, (url, markup)
        assert_no_active_markup(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in viewer.get("/audit/1/").content.decode()


def test_under_debug_the_pages_run_the_same_scripts(viewer, samples_dir, settings):
    """django-htmx's DEBUG helper replaced the page with any 400/403/404 answer (which the
    console shows itself: a form out of date, a list not in a preview) and evaluated its
    scripts, which the CSP refuses: `make run` (DEBUG) behaved unlike production."""
    settings.DEBUG = True
    html = viewer.get("/").content.decode()
    sources = [re.search(r'src="([^"]+)"', tag).group(1) for tag in scripts_of(html)]
    assert sources[:2] == ["/static/django_htmx/htmx-2.min.js", "/static/js/console.js"]
    assert not [source for source in sources if "django-htmx.js" in source]


def test_the_raw_bytes_are_served_sandboxed(viewer, hostile):
    response = viewer.get("/checkpoints/hostile-corrupt/raw")
    assert HOSTILE.encode() in response.content  # exact bytes, as a download would give
    assert response["Content-Type"] == "application/json"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_behind_trusted_proxies_the_client_address_comes_from_x_forwarded_for(
    settings, signed_in, samples_dir
):
    """Sign-in lock-outs and the audit log's "from where" are the client's, not the proxy's;
    entries left of the trusted proxies are the client's own and never trusted."""
    from django.test import RequestFactory

    from checkpoints_admin.clientaddr import client_address

    factory = RequestFactory()
    request = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9")
    assert client_address(request) == "10.0.0.2"  # no proxy trusted: the peer
    settings.TRUSTED_PROXIES = 1
    assert client_address(request) == "203.0.113.9"
    settings.TRUSTED_PROXIES = 2
    assert client_address(request) == "1.2.3.4"
    settings.TRUSTED_PROXIES = 3  # fewer entries than proxies: the leftmost there is
    assert client_address(request) == "1.2.3.4"
    spoofed = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-ip")
    assert client_address(spoofed) == "10.0.0.2"

    settings.TRUSTED_PROXIES = 1
    operator = signed_in("operator")
    shown = operator.post(f"/checkpoints/{UNIFIED}/skip/preview", {"dates": "2025-03-06"},
                          REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9")  # fmt: skip
    fields = dict(
        re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', shown.content.decode())
    )
    operator.post(f"/checkpoints/{UNIFIED}/skip/apply", {**fields, "reason": "r"},
                  REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9")  # fmt: skip
    assert AuditEntry.objects.get().address == "203.0.113.9"


def test_a_hard_link_in_the_directory_shows_nothing_of_its_file(viewer, samples_dir):
    """Someone who can write the checkpoints directory links the console's database into
    it: the console refuses it (403 with why), its bytes never leave."""
    import os

    secret = samples_dir.parent / "db-copy-target"
    secret.write_bytes(b'{"sessionid": "abcdef0123456789abcdef0123456789"}\n')
    os.link(secret, samples_dir / "dbcopy.json")
    for url in (
        "/checkpoints/dbcopy/",
        "/checkpoints/dbcopy/raw",
        "/checkpoints/dbcopy/raw?download=1",
    ):
        response = viewer.get(url)
        assert response.status_code == 403, url
        assert b"abcdef0123456789" not in response.content
        assert "is a hard link" in response.content.decode()
    listed = viewer.get("/").content.decode()
    assert "dbcopy" not in listed.split("</table>")[0].split("<tbody>")[-1]
    assert "<code>dbcopy.json</code>: a hard link to a file with other names" in listed


RLO = "\u202e"
SPOOFING = {
    "id": "spoof",
    "status": "running",
    "progress": 0,
    "processedItems": ["a"],
    "pendingItems": [f"c{RLO}evil", "  spaced  ", "line\nbreak", "plain"],
}
ESCAPED_RLO = '<span class="esc" title="U+202E RIGHT-TO-LEFT OVERRIDE">\\u202e</span>'
ESCAPED_LF = '<span class="esc" title="U+000A CONTROL CHARACTER">\\n</span>'
BLANKS = '<span class="edge-blank" title="2 blanks at this end">  </span>'


def test_characters_that_would_not_show_as_themselves_are_shown_escaped(signed_in, checkpoints_dir):
    """An item holding a right-to-left override made the console's own words around it read
    backwards ("(c( decaps ,live"), a line break read as a space and blanks at its ends did
    not show. Text in the page shows them as escapes, and marks the blanks; a form's value
    keeps the item as it is."""
    write_json(checkpoints_dir, "spoof", SPOOFING)
    operator = signed_in("operator")
    listed = operator.get("/checkpoints/spoof/?tab=lists").content.decode()
    assert RLO not in listed.replace(f'value="c{RLO}evil"', "")  # only in the checkbox's value
    box = f'value="c{RLO}evil" form="list-selection" data-pick>'
    assert f"{box}<span>c{ESCAPED_RLO}evil</span>" in listed
    assert f"<span>{BLANKS}spaced{BLANKS}</span>" in listed
    assert f"<span>line{ESCAPED_LF}break</span>" in listed
    assert f"c{ESCAPED_RLO}evil" in operator.get("/checkpoints/spoof/?tab=raw").content.decode()

    services.apply(
        "spoof",
        "skip",
        {"items": [f"c{RLO}evil", "  spaced  "]},
        actor=services.Actor("a", "cli"),
        reason="r",
    )
    for url in (
        "/audit/",
        "/audit/1/",
        "/checkpoints/spoof/?tab=history",
        "/checkpoints/spoof/applied/1/",
    ):
        page = operator.get(url).content.decode()
        assert RLO not in page, url
        assert f"c{ESCAPED_RLO}evil" in page, url
    preview = operator.post(
        "/checkpoints/spoof/reprocess/preview", {"value": [f"c{RLO}evil"]}
    ).content.decode()
    assert "data-step-focus" in preview
    assert RLO not in preview.replace(f'value="c{RLO}evil"', "")
    refused = operator.post("/checkpoints/spoof/skip/preview", {"dates": f"x{RLO}y"})
    assert refused.status_code == 422
    assert f"x{ESCAPED_RLO}y" in refused.content.decode()
    # the message sent to the page's script (which sets it as text) carries the escape too
    import json

    shown = operator.post("/checkpoints/spoof/reprocess/preview", {"value": [f"c{RLO}evil"]})
    fields = dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', shown.content.decode())
    )
    fields.update(reason="r", value=f"c{RLO}evil")
    applied = operator.post(
        "/checkpoints/spoof/reprocess/apply", fields, headers={"HX-Request": "true"}
    )
    message = json.loads(applied["HX-Trigger"])["console:message"]["text"]
    assert RLO not in message and "c\\u202eevil" in message


def test_the_conflict_page_shows_what_changed_escaped(signed_in, checkpoints_dir):
    """Its lines of what changed on disk quoted items as they are."""
    write_json(checkpoints_dir, "spoof", SPOOFING)
    operator = signed_in("operator")
    shown = operator.post("/checkpoints/spoof/skip/preview", {"dates": "plain"}).content.decode()
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', shown))
    moved = {**SPOOFING, "pendingItems": ["plain", "line\nbreak"],
             "processedItems": ["a", f"c{RLO}evil", "  spaced  "]}  # fmt: skip
    write_json(checkpoints_dir, "spoof", moved)
    conflict = operator.post("/checkpoints/spoof/skip/apply", {**fields, "reason": "r"})
    assert conflict.status_code == 409
    page = conflict.content.decode()
    assert RLO not in page.replace(f'value="c{RLO}evil"', "")
    assert f"c{ESCAPED_RLO}evil" in page
