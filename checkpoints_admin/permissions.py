"""Who may do what in the console: permission names, roles, the view decorator and the
authentication backend that reads them."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, wraps
from typing import Any, Final, TypeVar, cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import connections, router
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import resolve_url
from django.views.decorators.debug import sensitive_variables
from django_htmx.http import HttpResponseClientRedirect

VIEW_CHECKPOINTS: Final = "checkpoints_admin.view_checkpoints"
CHANGE_CHECKPOINTS: Final = "checkpoints_admin.change_checkpoints"
RESET_CHECKPOINTS: Final = "checkpoints_admin.reset_checkpoints"
VIEW_AUDIT: Final = "checkpoints_admin.view_auditentry"

# Groups created by the 0002_roles migration, most powerful first.
ROLES: Final = ("admin", "operator", "viewer")


def restore_permission(side_snapshot_id: str | None) -> str:
    """The right restoring one side of an audit entry needs.

    A side with no file (the before of a create, the after of a reset) deletes the
    checkpoint when restored, so it needs the reset right; any other side the change right.
    """
    return CHANGE_CHECKPOINTS if side_snapshot_id is not None else RESET_CHECKPOINTS


def may_read_entry(user: Any, actor: str) -> bool:
    """Whether ``user`` may read an audit entry made by ``actor`` (who changed what, why, and
    the content before and after): with the right to read the audit log, any; else only
    their own changes."""
    return bool(user.has_perm(VIEW_AUDIT)) or actor == user.get_username()


def restore_refusal(user: Any, entry: Any, side: str) -> str | None:
    """Why ``user`` may not restore ``side`` of audit ``entry``, or None when they may: it
    shows the entry's snapshot, so another person's change needs the right to read the audit
    log (:func:`may_read_entry`), and a side with no file deletes the checkpoint
    (:func:`restore_permission`)."""
    if not may_read_entry(user, entry.actor):
        return (
            "Your role does not allow reading the audit log, and this change is not yours: "
            "you may restore only your own changes."
        )
    snapshot = entry.before_id if side == "before" else entry.after_id
    if not user.has_perm(restore_permission(snapshot)):
        return (
            "Restoring this side deletes the checkpoint (there was no file), which only an "
            "admin may do."
        )
    return None


View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def role_of(user: Any) -> str:
    """The role shown in the header: ``superuser``, a group of ROLES, or ``no role``."""
    if not getattr(user, "is_authenticated", False):
        return "anonymous"
    if user.is_superuser:
        return "superuser"
    cached = getattr(user, "_console_role", None)
    if cached is None:
        # The permission check earlier in the request read the group names already.
        names = getattr(user, "_console_groups", None)
        if names is None:
            names = set(user.groups.values_list("name", flat=True))
        cached = next((name for name in ROLES if name in names), "no role")
        user._console_role = cached
    return cached


class ConsoleBackend(ModelBackend):
    """Django's ModelBackend, with each read a signed-in request makes done in one query.

    * ``get_user`` (every request) loads the user with ``Manager.raw`` by primary key: the
      same row and field conversions as ``get(pk=…)``, without building the ORM query.
    * ``get_all_permissions`` reads the user's own permissions, their groups' permissions
      and the group names (for :func:`role_of`) in one query instead of three, cached on the
      user for the request under ModelBackend's own ``_perm_cache``.
    * ``authenticate`` is ModelBackend's; a refused password ends the sign-in here
      (``PermissionDenied``), so the plain ModelBackend listed after this one — there for
      sessions signed in through it — does not hash the same password a second time.
    """

    @sensitive_variables("password")
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None and password is not None:
            raise PermissionDenied("Wrong username or password.")
        return user

    @sensitive_variables("password")
    async def aauthenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        user = await super().aauthenticate(request, username=username, password=password, **kwargs)
        if user is None and password is not None:
            raise PermissionDenied("Wrong username or password.")
        return user

    def get_user(self, user_id: Any) -> Any:
        model = get_user_model()
        connection = connections[router.db_for_read(model)]
        opts = model._meta
        quote = connection.ops.quote_name
        sql = f"SELECT * FROM {quote(opts.db_table)} WHERE {quote(str(opts.pk.column))} = %s"
        key = opts.pk.get_db_prep_value(user_id, connection)
        user = next(iter(model._default_manager.raw(sql, [key])), None)
        return user if user is not None and self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)  # every permission there is
        if not hasattr(user_obj, "_perm_cache"):
            groups, perms = _groups_and_permissions(user_obj)
            user_obj._console_groups = groups
            user_obj._perm_cache = perms
        return user_obj._perm_cache


def _groups_and_permissions(user: Any) -> tuple[set[str], set[str]]:
    """The names of ``user``'s groups and every permission they hold, in one query."""
    alias = router.db_for_read(Permission)
    with connections[alias].cursor() as cursor:
        model: Any = type(user)  # (a class, hashable: the cache's key)
        cursor.execute(_groups_and_permissions_sql(alias, model), [user.pk] * 3)
        rows = cursor.fetchall()
    groups = {name for name, _, _ in rows if name is not None}
    perms = {f"{app}.{codename}" for name, app, codename in rows if name is None}
    return groups, perms


@cache
def _groups_and_permissions_sql(alias: str, user_model: Any) -> str:
    """Rows ``(group name, NULL, NULL)`` for each group of user %s, then ``(NULL, app label,
    codename)`` for each permission of the user (%s) or of their groups (%s)."""
    quote = connections[alias].ops.quote_name

    def q(name: Any) -> str:
        return quote(str(name))

    def column(meta: Any, name: str) -> str:
        return q(meta.get_field(name).column)

    member = user_model._meta.get_field("groups")
    own = user_model._meta.get_field("user_permissions")
    granted = Group._meta.get_field("permissions")
    group, permission = Group._meta, Permission._meta
    content_type = permission.get_field("content_type")
    types = content_type.related_model._meta

    def through(field: Any, where: str) -> str:
        """Ids on the far side of a many-to-many ``field`` whose near side matches ``where``."""
        return (
            f"SELECT {q(field.m2m_reverse_name())} FROM {q(field.m2m_db_table())} "
            f"WHERE {q(field.m2m_column_name())} {where}"
        )

    groups_of_user = through(member, "= %s")
    return (
        f"SELECT g.{column(group, 'name')}, NULL, NULL FROM {q(group.db_table)} g "
        f"WHERE g.{q(group.pk.column)} IN ({groups_of_user}) "
        "UNION ALL "
        f"SELECT NULL, t.{column(types, 'app_label')}, p.{column(permission, 'codename')} "
        f"FROM {q(permission.db_table)} p "
        f"JOIN {q(types.db_table)} t "
        f"ON t.{q(types.pk.column)} = p.{column(permission, 'content_type')} "
        f"WHERE p.{q(permission.pk.column)} IN ({through(own, '= %s')}) "
        f"OR p.{q(permission.pk.column)} IN ({through(granted, f'IN ({groups_of_user})')})"
    )


def permission_required(*perms: str) -> Callable[[View], View]:
    """Require sign-in and every permission in ``perms``.

    Anonymous visitors go to the sign-in page (htmx requests get a client-side redirect, so
    an expired session never swaps the sign-in form into a table); signed-in users without
    the permission get the 403 page.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                if getattr(request, "htmx", False):
                    login = resolve_url(settings.LOGIN_URL)
                    current = request.htmx.current_url_abs_path or request.get_full_path()  # type: ignore[attr-defined]
                    return HttpResponseClientRedirect(f"{login}?{urlencode({'next': current})}")
                return redirect_to_login(request.get_full_path())
            if not request.user.has_perms(perms):
                raise PermissionDenied(
                    "Your role does not allow this page. Ask an admin for the right group."
                )
            return view(request, *args, **kwargs)

        return cast(View, wrapped)

    return decorator
