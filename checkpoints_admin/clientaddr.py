"""The address of the client a request came from, behind reverse proxies that say so.

Behind a proxy ``REMOTE_ADDR`` is the proxy's: every sign-in failure would count against
one address (one person's typos lock everyone out under django-axes), and the audit log
would record the proxy as "from where". With ``DJANGO_TRUSTED_PROXIES=N`` (the number of
proxies in front of the console, each appending to ``X-Forwarded-For``), the client is the
address N entries from the right of that header: the one the outermost trusted proxy saw.
Entries further left are whatever the client sent and are never trusted.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The client's IP address: ``REMOTE_ADDR``, or with ``TRUSTED_PROXIES`` the address
    the outermost trusted proxy put in ``X-Forwarded-For`` (``REMOTE_ADDR`` when the header
    is missing or that entry is not an IP address)."""
    remote = str(request.META.get("REMOTE_ADDR", "") or "")
    count = int(getattr(settings, "TRUSTED_PROXIES", 0))
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if not forwarded:
        return remote
    candidate = forwarded[-count] if len(forwarded) >= count else forwarded[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
