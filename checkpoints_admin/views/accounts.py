"""Signing out: Django's own view, and a word on the sign-in page it leads to."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

_logout = auth_views.LogoutView.as_view()


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """Sign out, then say so: the sign-in page alone would not tell it from an expired session."""
    was_signed_in = request.user.is_authenticated
    response = _logout(request)
    if was_signed_in:
        # The session is gone now; the message goes out in its cookie.
        messages.success(request, "You are signed out.")
    return response
