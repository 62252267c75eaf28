"""Error pages rendered by the console's own views (Django renders 400/403/404/500 itself)."""

from __future__ import annotations

import sys
from typing import Final

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views import defaults
from django_htmx.http import reswap

from checkpoints_admin.checkpoints import CheckpointOutsideDirectory, InvalidCheckpointName
from checkpoints_admin.checkpoints.store import size_text
from checkpoints_admin.views.common import send_message


def error_page(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    """A page in the console's layout saying what went wrong, with ``status``."""
    return render(
        request,
        "error.html",
        {"status": status, "title": title, "message": message},
        status=status,
    )


def no_checkpoint(name: str) -> Http404:
    """The 404 of a checkpoint page whose checkpoint does not exist, naming the one meant when
    only the letter case differs (a link would act on that one: it is only named)."""
    from checkpoints_admin.conf import get_store

    message = f"There is no checkpoint named “{name}”."
    meant = get_store().same_but_case(name)
    if meant is not None:
        message += f" Did you mean {meant}?"
    return Http404(message)


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


def _takes_a_document(request: HttpRequest) -> bool:
    """Whether ``request`` went to a step that takes a whole document (the raw editor's, a
    create's), by the address it resolved to (the path may carry a prefix the console is
    served under)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return False
    return (match.url_name or "").startswith("checkpoint_create") or match.kwargs.get(
        "key"
    ) == "edit-raw"


def request_refused(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler400``: a form too large to read (a pasted document, thousands of ticked
    values) says so (413, or 400 naming the field limit), also to htmx as a message, since
    the step is not swapped; anything else is Django's 400 page. Nothing was changed."""
    if isinstance(exception, RequestDataTooBig):
        status, title = 413, "Too large to send"
        limit = size_text(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0)
        message = (
            f"The form sent is larger than the {limit} the console accepts; nothing was changed."
        )
        if _takes_a_document(request):
            # (a document pasted whole: the commands take any size the store does)
            message += " A document this large is edited with manage.py edit_checkpoint NAME "
            message += "--from-file FILE."
    elif isinstance(exception, TooManyFieldsSent):
        status, title = 400, "Too many values"
        message = (
            f"The form sent has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} fields; "
            "nothing was changed. Select fewer values at once, or type them as ranges A..B."
        )
    else:
        return defaults.bad_request(request, exception)
    response = error_page(request, status, title, message)
    if getattr(request, "htmx", False):
        send_message(response, "error", message)
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: a form whose security token no longer holds (the page was
    opened before its reader signed in again, in another tab, or the cookie is gone) says so
    in the console's layout, and to htmx as a message (the step is not swapped: a button
    that did nothing said nothing). Nothing was sent on."""
    if reason.startswith(("Origin checking failed", "Referer checking failed")):
        # (reloading cannot help: the address the console is reached by is not trusted)
        title = "Form refused"
        message = (
            "The console does not trust the address this form was sent from; nothing was "
            "changed. Its administrator adds it to DJANGO_CSRF_TRUSTED_ORIGINS (a proxy in "
            "front of it: see the README's deployment section)."
        )
    else:
        title = "Form out of date"
        message = (
            "This page's form is out of date (you signed in again since it was opened, "
            "perhaps in another tab); nothing was changed. Reload the page and try again."
        )
    response = error_page(request, 403, title, message)
    if getattr(request, "htmx", False):
        send_message(response, "error", message)
    return response


#: Seconds a client is told to wait before asking again while the database is down.
RETRY_AFTER: Final = 30


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: an unreachable database is a 503 that says so (JSON for the status
    feed, plain text for /metrics, a page for people, with ``Retry-After``), not a 500;
    everything else is Django's 500 page. Nothing here touches the database."""
    exception = sys.exc_info()[1]
    if not isinstance(exception, DatabaseError):
        return defaults.server_error(request)
    path = request.path_info
    message = "The database is unavailable; try again in a moment."
    response: HttpResponse
    if path == "/status.json":
        response = JsonResponse({"error": message}, status=503)
    elif path == "/metrics":
        response = HttpResponse(message + "\n", status=503, content_type="text/plain")
    elif getattr(request, "htmx", False) and request.method == "POST":
        # A step's button (an apply): the page stays as it is, reason typed and all, and says
        # why nothing happened; the same button works again once the database answers. (Not
        # the pages' live polls, GETs: each would add the message again.)
        response = HttpResponse(status=503)
        reswap(response, "none")
        send_message(response, "error", f"{message[:-1]}: nothing was changed.")
    else:
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    return response
