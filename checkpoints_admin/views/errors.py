"""Error pages rendered by the console's own views (Django renders 400/403/404/500 itself)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def error_page(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    """A page in the console's layout saying what went wrong, with ``status``."""
    return render(
        request,
        "error.html",
        {"status": status, "title": title, "message": message},
        status=status,
    )


def bad_request(request: HttpRequest, message: str) -> HttpResponse:
    """400 with a plain message (a bad checkpoint name, a malformed parameter)."""
    return error_page(request, 400, "Bad request", message)
