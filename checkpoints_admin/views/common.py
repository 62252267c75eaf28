"""What the console's views share: the htmx request type and the partial switch."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def wants_partial(request: HtmxHttpRequest) -> bool:
    """True for an htmx request that swaps a fragment (not a history restore, which needs
    the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request
