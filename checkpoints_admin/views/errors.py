"""Error pages rendered by the console's own views (Django renders 400/403/404/500 itself)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from checkpoints_admin.checkpoints import CheckpointOutsideDirectory, InvalidCheckpointName


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


def name_refused(request: HttpRequest, exc: InvalidCheckpointName) -> HttpResponse:
    """400 for what is not a checkpoint name; 403 for a good name whose file the console
    refuses (a symbolic link leading outside the directory): not the request's fault."""
    if isinstance(exc, CheckpointOutsideDirectory):
        message = exc.message[:1].upper() + exc.message[1:] + "."
        return error_page(request, 403, "Refused", message)
    return bad_request(request, exc.message)
