"""Who may do what in the console: permission names, roles, and the view decorator."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Final, TypeVar, cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect

VIEW_CHECKPOINTS: Final = "checkpoints_admin.view_checkpoints"
CHANGE_CHECKPOINTS: Final = "checkpoints_admin.change_checkpoints"
RESET_CHECKPOINTS: Final = "checkpoints_admin.reset_checkpoints"
VIEW_AUDIT: Final = "checkpoints_admin.view_auditentry"

# Groups created by the 0002_roles migration, most powerful first.
ROLES: Final = ("admin", "operator", "viewer")

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def role_of(user: Any) -> str:
    """The role shown in the header: ``superuser``, a group of ROLES, or ``no role``."""
    if not getattr(user, "is_authenticated", False):
        return "anonymous"
    if user.is_superuser:
        return "superuser"
    cached = getattr(user, "_console_role", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        cached = next((name for name in ROLES if name in names), "no role")
        user._console_role = cached
    return cached


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
