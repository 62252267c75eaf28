"""Who may open what: role × URL × method, the roles migration, sign-in and sign-out."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from checkpoints_admin import services
from checkpoints_admin.permissions import role_of
from tests.web.conftest import MODEL_BACKEND, ROLES

READ_URLS = (
    "/",
    "/checkpoints/reconciliation_checkpoint/",
    "/checkpoints/reconciliation_checkpoint/?tab=history",
    "/checkpoints/reconciliation_checkpoint/raw",
    "/diff/?a=entry:1:before&b=checkpoint:reconciliation_checkpoint",
    "/audit/",
    "/audit/1/",
    "/audit/1/before",
    "/audit/export.csv",
)


@pytest.fixture
def with_entry(samples_dir, db):
    """The samples plus audit entry #1 (a skip made from the command line)."""
    services.apply(
        "reconciliation_checkpoint",
        "skip",
        {"dates": ["2025-03-06"]},
        actor=services.Actor(name="alice", source="cli"),
        reason="known bad upstream day",
    )
    return samples_dir


@pytest.mark.parametrize("url", READ_URLS)
def test_anonymous_visitors_are_sent_to_sign_in(client, with_entry, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_an_expired_session_polling_with_htmx_redirects_the_whole_page(client, with_entry):
    response = client.get(
        "/?q=rec", headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/?q=rec"}
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/accounts/login/?next=%2F%3Fq%3Drec"
    assert response.content == b""


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("url", READ_URLS)
def test_every_role_reads_every_page(signed_in, with_entry, role, url):
    response = signed_in(role).get(url)
    assert response.status_code == 200, (role, url, response.status_code)


@pytest.mark.parametrize("url", READ_URLS)
def test_a_user_without_a_role_is_refused(signed_in, with_entry, url):
    client = signed_in("")
    response = client.get(url)
    assert response.status_code == 403
    html = response.content.decode()
    # no way back to a page that refuses too: where they may go, and how to get a role
    assert "← All checkpoints" not in html
    assert '<a href="/status/">Status page →</a>' in html
    assert "Your account has no role yet" in html
    assert client.get("/status/").status_code == 200


@pytest.mark.parametrize("role", ("", *ROLES))
def test_read_only_urls_refuse_other_methods(signed_in, with_entry, role):
    client = signed_in(role)
    refused = {
        (method, url): getattr(client, method)(url).status_code
        for method in ("post", "put", "patch", "delete")
        for url in READ_URLS
    }
    assert set(refused.values()) == {405}, refused


def test_anonymous_post_to_a_read_only_url_is_405_too(client, with_entry):
    assert client.post("/").status_code == 405


def test_roles_migration_creates_the_groups_with_their_permissions(db):
    permissions = {
        group.name: sorted(
            f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()
        )
        for group in Group.objects.prefetch_related("permissions__content_type")
    }
    assert permissions["viewer"] == [
        "checkpoints_admin.view_auditentry",
        "checkpoints_admin.view_checkpoints",
    ]
    assert permissions["operator"] == [
        "checkpoints_admin.change_checkpoints",
        "checkpoints_admin.view_auditentry",
        "checkpoints_admin.view_checkpoints",
    ]
    assert set(permissions["admin"]) >= {
        "checkpoints_admin.change_checkpoints",
        "checkpoints_admin.reset_checkpoints",
        "checkpoints_admin.view_auditentry",
        "checkpoints_admin.view_checkpoints",
        "auth.add_user",
        "auth.change_user",
        "auth.delete_user",
        "auth.view_user",
    }
    assert "checkpoints_admin.reset_checkpoints" not in permissions["operator"]


@pytest.mark.parametrize(
    ("role", "change", "reset"),
    [
        ("viewer", False, False),
        ("operator", True, False),
        ("admin", True, True),
        ("superuser", True, True),
    ],
)
def test_role_permissions_for_writes(make_user, db, role, change, reset):
    user = make_user(role)
    assert user.has_perm("checkpoints_admin.view_checkpoints")
    assert user.has_perm("checkpoints_admin.change_checkpoints") is change
    assert user.has_perm("checkpoints_admin.reset_checkpoints") is reset


@pytest.mark.parametrize("role", ROLES)
def test_the_header_shows_the_user_and_role(signed_in, samples_dir, role):
    html = signed_in(role).get("/").content.decode()
    assert f'<span class="user__name">{role}-user</span>' in html
    assert f'<span class="chip chip--role" title="Your role">{role}</span>' in html


def test_role_of_prefers_the_most_powerful_group(make_user, db):
    user = make_user("viewer")
    user.groups.add(Group.objects.get(name="operator"))
    assert role_of(user) == "operator"
    assert role_of(make_user("", username="nobody")) == "no role"


def test_sign_in_with_the_form_then_sign_out_by_post(make_user, samples_dir):
    make_user("viewer")
    client = Client()
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert 'name="password"' in page.content.decode()
    response = client.post(
        "/accounts/login/", {"username": "viewer-user", "password": "viewer-password-123"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200
    signed_out = client.post("/accounts/logout/", follow=True)
    assert signed_out.redirect_chain == [("/accounts/login/", 302)]
    assert "You are signed out." in signed_out.content.decode()
    assert client.get("/").status_code == 302


def test_opening_the_sign_out_address_asks_first_and_signs_nobody_out(signed_in):
    client = signed_in("viewer")
    page = client.get("/accounts/logout/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Sign out?" in html and "viewer-user" in html
    assert 'method="post" action="/accounts/logout/"' in html
    assert client.get("/").status_code == 200  # still signed in
    assert client.put("/accounts/logout/").status_code == 405
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    # signed out already: the address leads to the sign-in page
    assert client.get("/accounts/logout/")["Location"] == "/accounts/login/"


def test_signing_out_says_so_on_the_sign_in_page_once(signed_in):
    client = signed_in("viewer")
    response = client.post("/accounts/logout/", follow=True)
    assert response.redirect_chain == [("/accounts/login/", 302)]
    assert "You are signed out." in response.content.decode()
    assert "You are signed out." not in client.get("/accounts/login/").content.decode()
    # signed out already (a second tab): nothing to say
    again = client.post("/accounts/logout/", follow=True)
    assert "You are signed out." not in again.content.decode()


def test_a_wrong_password_says_so_and_signs_nobody_in(make_user, samples_dir):
    make_user("viewer")
    client = Client()
    response = client.post("/accounts/login/", {"username": "viewer-user", "password": "nope"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Please enter a correct username and password" in html
    # the name is kept: the cursor waits in the password field, the one to type again
    assert re.search(r'<input type="password"[^>]* autofocus>', html)
    assert not re.search(r'<input type="text"[^>]* autofocus>', html)
    assert client.get("/").status_code == 302
    first = Client().get("/accounts/login/").content.decode()
    assert re.search(r'<input type="text" name="username"[^>]* autofocus>', first)


def test_repeated_failures_lock_the_account_out_with_the_styled_page(
    make_user, samples_dir, settings
):
    make_user("viewer")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "viewer-user", "password": "wrong"})
    response = client.post(
        "/accounts/login/", {"username": "viewer-user", "password": "viewer-password-123"}
    )
    assert response.status_code == 429
    html = response.content.decode()
    assert "Signing in is paused" in html
    assert "viewer-user" in html
    assert client.get("/").status_code == 302


def test_a_staff_admin_unlocks_a_locked_out_account_in_the_django_admin(
    make_user, samples_dir, settings
):
    """The lock-out page says to ask an admin: the admin role (staff, not superuser) finds
    the access attempts in /admin/ and deleting one lets its user sign in again."""
    make_user("viewer")
    locked = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        locked.post("/accounts/login/", {"username": "viewer-user", "password": "wrong"})
    right = {"username": "viewer-user", "password": "viewer-password-123"}
    paused = locked.post("/accounts/login/", right)
    assert paused.status_code == 429
    assert "python manage.py axes_reset_username viewer-user" in paused.content.decode()

    admin_user = make_user("admin", "ada-admin")
    admin_user.is_staff = True
    admin_user.save()
    admin = Client()
    signed = admin.post(
        "/accounts/login/", {"username": "ada-admin", "password": "admin-password-123"}
    )
    assert signed.status_code == 302
    index = admin.get("/admin/").content.decode()
    assert '<a href="/admin/axes/" class="section"' in index
    assert 'href="/admin/axes/accessattempt/"' in index
    assert 'href="/admin/axes/accessfailurelog/"' in index
    attempts = admin.get("/admin/axes/accessattempt/", {"q": "viewer-user"})
    assert attempts.status_code == 200
    (attempt,) = attempts.context["cl"].result_list
    deleted = admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert locked.post("/accounts/login/", right).status_code == 302


def test_the_operator_role_cannot_unlock_accounts(make_user, samples_dir):
    operator = make_user("operator", "olga-ops")
    operator.is_staff = True
    operator.save()
    client = Client()
    client.force_login(operator, backend=MODEL_BACKEND)
    assert client.get("/admin/axes/accessattempt/").status_code == 403


def test_behind_a_proxy_failures_lock_out_the_address_they_came_from(
    make_user, samples_dir, settings
):
    """Every request comes from the proxy's address: with the proxy trusted, one client's
    failures do not lock the account for everyone else."""
    settings.TRUSTED_PROXIES = 1
    make_user("viewer")
    attacker, owner = Client(), Client()
    wrong = {"username": "viewer-user", "password": "wrong"}
    proxied = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.66"}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attacker.post("/accounts/login/", wrong, **proxied)
    assert attacker.post("/accounts/login/", wrong, **proxied).status_code == 429
    signed = owner.post(
        "/accounts/login/",
        {"username": "viewer-user", "password": "viewer-password-123"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert signed.status_code == 302


def test_a_client_reaching_the_port_directly_cannot_choose_its_address(
    make_user, samples_dir, settings
):
    """X-Forwarded-For is believed only from a proxy's address: a client connecting from
    elsewhere with a new address in it on every try is still locked out."""
    settings.TRUSTED_PROXIES = 1
    make_user("viewer")
    attacker = Client()
    wrong = {"username": "viewer-user", "password": "wrong"}
    for n in range(settings.AXES_FAILURE_LIMIT):
        attacker.post("/accounts/login/", wrong, REMOTE_ADDR="198.51.100.9",
                      HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")  # fmt: skip
    right = {"username": "viewer-user", "password": "viewer-password-123"}
    refused = attacker.post("/accounts/login/", right, REMOTE_ADDR="198.51.100.9",
                            HTTP_X_FORWARDED_FOR="203.0.113.200")  # fmt: skip
    assert refused.status_code == 429
    # a unix socket (no address: gunicorn's unix: bind) is the proxy's
    from django.test import RequestFactory

    from checkpoints_admin.clientaddr import client_address

    socket = RequestFactory().get("/", REMOTE_ADDR="", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert client_address(socket) == "203.0.113.7"
    # the proxies' addresses are the operator's to name
    settings.PROXY_NETWORKS = ("198.51.100.0/24",)
    signed = Client().post("/accounts/login/", right, REMOTE_ADDR="198.51.100.9",
                           HTTP_X_FORWARDED_FOR="203.0.113.201")  # fmt: skip
    assert signed.status_code == 302


def test_the_admin_role_cannot_reach_beyond_itself_in_the_django_admin(make_user, samples_dir):
    """The admin role manages accounts; Django's own user admin let it make itself a
    superuser and set a superuser's password."""
    from django.contrib.auth import get_user_model

    boss = make_user("superuser", "root-user")
    admin_user = make_user("admin", "ada-admin")
    admin_user.is_staff = True
    admin_user.save()
    client = Client()
    client.force_login(admin_user, backend=MODEL_BACKEND)
    own = client.get(f"/admin/auth/user/{admin_user.pk}/change/").content.decode()
    assert 'name="is_superuser"' not in own  # shown read-only
    assert 'name="user_permissions"' not in own
    offered = set(
        re.findall(
            r'<option value="\d+"[^>]*>([^<]+)</option>',
            own.split('name="groups"')[1].split("</select>")[0],
        )
    )
    assert offered <= {"admin", "operator", "viewer"}
    client.post(
        f"/admin/auth/user/{admin_user.pk}/change/",
        {"username": "ada-admin", "is_superuser": "on", "is_staff": "on", "is_active": "on",
         "date_joined_0": "2025-01-01", "date_joined_1": "00:00:00"},
    )  # fmt: skip
    admin_user.refresh_from_db()
    assert not admin_user.is_superuser
    password = client.post(
        f"/admin/auth/user/{boss.pk}/password/",
        {"password1": "Hijacked-pass-9876", "password2": "Hijacked-pass-9876"},
    )
    assert password.status_code == 403
    assert client.post(f"/admin/auth/user/{boss.pk}/delete/", {"post": "yes"}).status_code == 403
    boss.refresh_from_db()
    assert boss.check_password("superuser-password-123")
    assert get_user_model().objects.filter(pk=boss.pk).exists()


def test_staff_reach_the_django_admin_from_the_console_header_and_find_the_console_there(
    make_user, signed_in, samples_dir
):
    """The admin role gives people their roles in /admin/: the header leads there (for staff
    only, who may enter it), and the admin names the console, not "Django administration"."""
    admin_user = make_user("admin", "ada-admin")
    admin_user.is_staff = True
    admin_user.save()
    client = Client()
    client.force_login(admin_user, backend=MODEL_BACKEND)
    assert '<a href="/admin/">Admin</a>' in client.get("/").content.decode()
    index = client.get("/admin/").content.decode()
    assert "Checkpoints Admin" in index
    assert "Django administration" not in index
    assert 'href="/admin/"' not in signed_in("operator").get("/").content.decode()
