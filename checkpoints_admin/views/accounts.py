"""Signing out: Django's own view, a page that asks first when the address is opened, and a
word on the sign-in page it leads to."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

_logout = auth_views.LogoutView.as_view()


@require_http_methods(["GET", "HEAD", "POST"])
def sign_out(request: HttpRequest) -> HttpResponse:
    """Sign out (POST), then say so: the sign-in page alone would not tell it from an expired
    session. Opening the address (a bookmark, a typed URL) asks first: a GET never signs out,
    so a link or an image on another site cannot sign anyone out."""
    if request.method != "POST":
        if not request.user.is_authenticated:
            return HttpResponseRedirect(reverse("login"))
        return render(request, "registration/sign_out.html")
    was_signed_in = request.user.is_authenticated
    response = _logout(request)
    if was_signed_in:
        # The session is gone now; the message goes out in its cookie.
        messages.success(request, "You are signed out.")
    return response
