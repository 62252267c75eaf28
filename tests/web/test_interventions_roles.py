"""Who may change what: role × write URL × method, with a valid CSRF token.

Viewers get 403 on every write URL (and see no write controls, see test_interventions);
operators everything but reset; admins and superusers everything. Refused requests change
nothing, even when they carry a complete, valid change.
"""

from __future__ import annotations

import pytest
from django.test import Client

from checkpoints_admin import services
from checkpoints_admin.checkpoints.store import version_of
from checkpoints_admin.models import Snapshot
from tests.web.conftest import MODEL_BACKEND, ROLES
from tests.web.test_interventions import REASON, UNIFIED, state

DENIED = "Your role does not allow"


def write_requests(directory) -> list[tuple[str, str, dict]]:
    """(method, url, data) of every write URL, each POST a complete, valid change."""
    version = version_of((directory / f"{UNIFIED}.json").read_bytes())
    base = f"/checkpoints/{UNIFIED}"
    apply = {"base_version": version, "reason": REASON}
    restore = {"entry": "1", "side": "before"}
    return [
        ("get", f"{base}/skip/", {}),
        ("post", f"{base}/skip/change", {"dates": "2025-03-07"}),
        ("post", f"{base}/skip/preview", {"dates": "2025-03-07"}),
        ("post", f"{base}/skip/apply", {"dates": "2025-03-07", **apply}),
        ("get", f"{base}/reprocess/", {}),
        ("post", f"{base}/reprocess/preview", {"dates": "2025-03-01"}),
        ("post", f"{base}/reprocess/apply", {"dates": "2025-03-01", **apply}),
        ("get", f"{base}/edit/", {}),
        ("post", f"{base}/edit/check", {"pointer": "/stats/timeouts", "value": "4"}),
        ("post", f"{base}/edit/change", {"pointer": "/stats/timeouts", "value": "4"}),
        ("post", f"{base}/edit/preview", {"pointer": "/stats/timeouts", "value": "4"}),
        ("post", f"{base}/edit/apply", {"pointer": "/stats/timeouts", "value": "4", **apply}),
        ("get", f"{base}/edit-raw/", {}),
        ("post", f"{base}/edit-raw/check", {"document": "{}"}),
        ("post", f"{base}/edit-raw/preview", {"document": '{"a": 1}'}),
        ("post", f"{base}/edit-raw/apply", {"document": '{"a": 1}', **apply}),
        ("get", f"{base}/reset/", {}),
        ("post", f"{base}/reset/preview", {}),
        ("post", f"{base}/reset/apply", {"confirm": UNIFIED, **apply}),
        ("get", f"{base}/restore/?entry=1&side=before", {}),
        ("post", f"{base}/restore/preview", restore),
        ("post", f"{base}/restore/apply", {**restore, **apply}),
        ("get", "/create/", {}),
        ("post", "/create/check", {"name": "new-one", "document": "{}"}),
        ("post", "/create/change", {"name": "new-one", "document": "{}"}),
        ("post", "/create/preview", {"name": "new-one", "document": "{}"}),
        (
            "post",
            "/create/apply",
            {"name": "new-one", "document": "{}", "reason": REASON, "base_version": "none"},
        ),
    ]


def is_reset(url: str) -> bool:
    return "/reset/" in url


@pytest.fixture
def entry_one(samples_dir, db):
    """Audit entry #1: a skip of 2025-03-06 made from the command line."""
    skip("2025-03-06", by="alice", source="cli", reason="known bad upstream day")
    return samples_dir


def skip(day: str, *, by: str, source: str, reason: str) -> None:
    """An audited skip of ``day`` on the unified sample, made by ``by``."""
    services.apply(
        UNIFIED,
        "skip",
        {"dates": [day]},
        actor=services.Actor(name=by, source=source),
        reason=reason,
    )


@pytest.fixture
def csrf_client(make_user):
    """A client of ``role`` that enforces CSRF, with the token a page of the console set."""

    def make(role: str) -> tuple[Client, str]:
        client = Client(enforce_csrf_checks=True)
        client.force_login(make_user(role), backend=MODEL_BACKEND)
        client.get("/")
        return client, client.cookies["csrftoken"].value

    return make


def send(client: Client, token: str, method: str, url: str, data: dict):
    if method == "get":
        return client.get(url)
    return client.post(url, data, headers={"X-CSRFToken": token})


def test_viewers_are_refused_every_write_url_with_a_valid_csrf_token(csrf_client, entry_one):
    client, token = csrf_client("viewer")
    before = state(entry_one)
    refused = {}
    for method, url, data in write_requests(entry_one):
        response = send(client, token, method, url, data)
        refused[(method, url)] = (response.status_code, DENIED in response.content.decode())
    assert set(refused.values()) == {(403, True)}, refused
    assert state(entry_one) == before


def test_a_result_page_is_read_only_for_viewers(signed_in, entry_one):
    """A link to what was applied, shared with a viewer, opens, without an Undo."""
    url = f"/checkpoints/{UNIFIED}/applied/1/"
    page = signed_in("viewer").get(url)
    assert page.status_code == 200
    assert "2025-03-06 pendingDates → completedDates" in page.content.decode()
    assert "Undo" not in page.content.decode()
    assert "Undo…" in signed_in("operator").get(url).content.decode()
    assert signed_in("").get(url).status_code == 403


def test_without_the_audit_log_a_result_page_shows_only_ones_own_changes(make_user, entry_one):
    """A result page says who changed what and why, as the audit log does: to a user who may
    read checkpoints but not the log, only the results of their own changes open."""
    from django.contrib.auth.models import Permission

    user = make_user("", "carol")
    user.user_permissions.add(
        Permission.objects.get(codename="view_checkpoints"),
        Permission.objects.get(codename="change_checkpoints"),
    )
    client = Client()
    client.force_login(user, backend=MODEL_BACKEND)
    others = client.get(f"/checkpoints/{UNIFIED}/applied/1/")
    assert others.status_code == 403
    assert "known bad upstream day" not in others.content.decode()
    skip("2025-03-07", by="carol", source="web", reason="carol's own skip")
    own = client.get(f"/checkpoints/{UNIFIED}/applied/2/")
    assert own.status_code == 200
    assert "carol&#x27;s own skip" in own.content.decode()
    # Restoring previews an entry's snapshot: another person's change refused as its result
    # page is (GET and POST), one's own offered and previewed (its Undo).
    assert "/restore/?entry=2&amp;side=before" in own.content.decode()
    before = state(entry_one)
    for response in (
        client.get(f"/checkpoints/{UNIFIED}/restore/?entry=1&side=after"),
        client.post(f"/checkpoints/{UNIFIED}/restore/preview", {"entry": "1", "side": "after"}),
        client.post(
            f"/checkpoints/{UNIFIED}/restore/apply",
            {"entry": "1", "side": "after", "base_version": "0" * 64, "reason": "mine now"},
        ),
    ):
        assert response.status_code == 403
        assert "you may restore only your own changes" in response.content.decode()
    assert state(entry_one) == before
    assert client.get(f"/checkpoints/{UNIFIED}/restore/?entry=2&side=before").status_code == 200


def test_a_user_without_a_role_is_refused_too(csrf_client, entry_one):
    client, token = csrf_client("")
    before = state(entry_one)
    statuses = {
        (method, url): send(client, token, method, url, data).status_code
        for method, url, data in write_requests(entry_one)
    }
    assert set(statuses.values()) == {403}, statuses
    assert state(entry_one) == before


def test_operators_may_do_everything_but_reset(csrf_client, entry_one):
    client, token = csrf_client("operator")
    statuses = {}
    for method, url, data in write_requests(entry_one):
        if is_reset(url):
            before = state(entry_one)
            response = send(client, token, method, url, data)
            assert state(entry_one) == before, url
            statuses[(method, url)] = response.status_code
        else:
            statuses[(method, url)] = send(client, token, method, url, data).status_code
    refused = {key for key, status in statuses.items() if status == 403}
    assert refused == {(m, u) for m, u, _ in write_requests(entry_one) if is_reset(u)}, statuses
    others = {key: s for key, s in statuses.items() if key not in refused}
    assert set(others.values()) <= {200, 302, 409}, others
    assert (entry_one / "new-one.json").exists()


@pytest.mark.parametrize("role", ["admin", "superuser"])
def test_admins_may_do_everything(csrf_client, entry_one, role):
    client, token = csrf_client(role)
    # Resets first, while the file is at the version each request names.
    requests = sorted(write_requests(entry_one), key=lambda item: not is_reset(item[1]))
    statuses = {
        (method, url): send(client, token, method, url, data).status_code
        for method, url, data in requests
    }
    assert 403 not in statuses.values(), statuses
    assert statuses[("post", f"/checkpoints/{UNIFIED}/reset/apply")] == 302
    assert not (entry_one / f"{UNIFIED}.json").exists() or (entry_one / "new-one.json").exists()
    # after the reset the choose pages of the deleted checkpoint are 404, its applies conflicts
    assert set(statuses.values()) <= {200, 302, 404, 409}, statuses


def test_the_reset_apply_by_an_admin_really_resets(csrf_client, entry_one):
    client, token = csrf_client("admin")
    version = version_of((entry_one / f"{UNIFIED}.json").read_bytes())
    response = send(
        client,
        token,
        "post",
        f"/checkpoints/{UNIFIED}/reset/apply",
        {"confirm": UNIFIED, "base_version": version, "reason": REASON},
    )
    assert response.status_code == 302
    assert not (entry_one / f"{UNIFIED}.json").exists()


def test_posts_without_a_csrf_token_are_refused(csrf_client, entry_one):
    client, _token = csrf_client("operator")
    before = state(entry_one)
    for method, url, data in write_requests(entry_one):
        if method == "post":
            response = client.post(url, data)
            assert response.status_code == 403, url
            assert DENIED not in response.content.decode()  # the CSRF check, not the role
    assert state(entry_one) == before


@pytest.mark.parametrize("role", ("", *ROLES))
def test_each_write_url_answers_only_its_method(csrf_client, entry_one, role):
    client, token = csrf_client(role)
    before = state(entry_one)
    wrong = {}
    sent_back = {}
    for method, url, _data in write_requests(entry_one):
        if method == "get":
            wrong[("post", url)] = client.post(url, {}, headers={"X-CSRFToken": token}).status_code
        else:
            # A GET of a step that takes a POST (Back after an apply, htmx restoring history)
            # goes to where the intervention starts, which checks the role as ever.
            response = client.get(url)
            sent_back[url] = (response.status_code, response["Location"])
            wrong[("put", url)] = client.put(url, headers={"X-CSRFToken": token}).status_code
    assert set(wrong.values()) == {405}, wrong
    for url, (status, location) in sent_back.items():
        step = url.rsplit("/", 1)[0] + "/"
        if "/restore/" in url:
            step = url.split("restore/")[0]
        elif url.startswith("/create/"):
            step = "/create/"
        assert (status, location) == (302, step), url
    assert state(entry_one) == before


def test_back_to_a_preview_after_an_apply_starts_the_intervention_again(signed_in, entry_one):
    response = signed_in("operator").get(f"/checkpoints/{UNIFIED}/skip/preview", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain == [(f"/checkpoints/{UNIFIED}/skip/", 302)]
    assert "Skip" in response.content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(client, entry_one):
    before = state(entry_one)
    for method, url, data in write_requests(entry_one):
        response = getattr(client, method)(url, data)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url
    assert state(entry_one) == before


def test_pruning_snapshots_is_left_to_the_command(csrf_client, entry_one):
    """prune_snapshots has no console or admin path: not even a superuser removes a stored
    version from the web, however the request is made."""
    client, token = csrf_client("superuser")
    previewed = send(
        client, token, "post", f"/checkpoints/{UNIFIED}/skip/preview", {"dates": "2025-03-07"}
    )
    assert previewed.status_code == 200
    shas = set(Snapshot.objects.values_list("sha", flat=True))
    sha = min(shas)
    for url in ("/prune/", "/audit/prune", "/audit/prune/", "/audit/snapshots/prune"):
        assert send(client, token, "post", url, {}).status_code == 404, url
    changelist = "/admin/checkpoints_admin/snapshot/"
    deleted = send(client, token, "post", f"{changelist}{sha}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": sha, "post": "yes"}
    send(client, token, "post", changelist, bulk)
    assert "delete_selected" not in client.get(changelist).content.decode()
    assert set(Snapshot.objects.values_list("sha", flat=True)) == shas


def test_a_form_out_of_date_says_so_in_the_consoles_layout(csrf_client, entry_one):
    """A token that no longer holds (signed in again in another tab) gave Django's bare
    "CSRF verification failed" page, and to htmx nothing at all: the button did nothing."""
    import json

    client, token = csrf_client("operator")
    before = state(entry_one)
    url, data = "/checkpoints/reconciliation_checkpoint/skip/preview", {"dates": "2025-03-06"}
    page = client.post(url, data, headers={"X-CSRFToken": "stale" * 8})
    assert page.status_code == 403
    html = page.content.decode()
    assert "<h1>Form out of date</h1>" in html
    assert "Reload the page and try again." in html
    swapped = client.post(url, data, headers={"X-CSRFToken": "stale" * 8, "HX-Request": "true"})
    assert swapped.status_code == 403
    said = json.loads(swapped["HX-Trigger"])["console:message"]
    assert said["level"] == "error" and said["text"].startswith("This page's form is out of date")
    signed_out = Client(enforce_csrf_checks=True)
    refused = signed_out.post("/accounts/login/", {"username": "x", "password": "y"})
    assert refused.status_code == 403
    assert "<h1>Form out of date</h1>" in refused.content.decode()
    # an origin the console does not trust: reloading cannot help, the page says what can
    elsewhere = client.post(
        url, data, headers={"X-CSRFToken": token, "Origin": "https://elsewhere.example"}
    )
    assert elsewhere.status_code == 403
    assert "<h1>Form refused</h1>" in elsewhere.content.decode()
    assert "DJANGO_CSRF_TRUSTED_ORIGINS" in elsewhere.content.decode()
    assert state(entry_one) == before
