"""The address of the client a request came from, behind reverse proxies that say so.

Behind a proxy ``REMOTE_ADDR`` is the proxy's: every sign-in failure would count against
one address (one person's typos lock everyone out under django-axes), and the audit log
would record the proxy as "from where". With ``DJANGO_TRUSTED_PROXIES=N`` (the number of
proxies in front of the console, each appending to ``X-Forwarded-For``), the client is the
address N entries from the right of that header: the one the outermost trusted proxy saw.
Entries further left are whatever the client sent and are never trusted; nor is the header
of a request that does not come from a proxy's address (``DJANGO_PROXY_ADDRESSES``), so a
client reaching the port directly cannot choose the address its sign-in failures count
against.
"""

from __future__ import annotations

import ipaddress
from functools import cache

from django.conf import settings
from django.http import HttpRequest

type Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(request: HttpRequest) -> str:
    """The client's IP address: ``REMOTE_ADDR``, or with ``TRUSTED_PROXIES`` and a request
    from a proxy's address, the address the outermost trusted proxy put in
    ``X-Forwarded-For`` (``REMOTE_ADDR`` when the header is missing or that entry is not an
    IP address)."""
    remote = str(request.META.get("REMOTE_ADDR", "") or "")
    count = int(getattr(settings, "TRUSTED_PROXIES", 0))
    if count <= 0 or not from_proxy(remote, tuple(getattr(settings, "PROXY_NETWORKS", ()))):
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


def from_proxy(address: str, networks: tuple[str, ...]) -> bool:
    """Whether ``address`` is in one of ``networks`` (the proxies' addresses); no address at
    all is a unix socket's (gunicorn's ``unix:`` bind), which only the proxy beside it opens."""
    if not address:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in _parsed(networks))


@cache
def _parsed(networks: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(net, strict=False) for net in networks)
