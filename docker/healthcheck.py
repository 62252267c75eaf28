"""The container's health check: ``GET /healthz`` where gunicorn listens, exit 0 on 200.

The address is gunicorn's: ``GUNICORN_BIND`` (``host:port``, ``[v6]:port`` or
``unix:/path``) as ``gunicorn.conf.py`` reads it, else ``PORT``. A wildcard host is
reached on loopback. Python's own modules only: the slim image has no curl or wget.
"""

from __future__ import annotations

import http.client
import os
import socket
import sys


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


def connection(environ: dict[str, str], timeout: float = 4.0) -> http.client.HTTPConnection:
    """A connection to where gunicorn listens, as the environment says."""
    bind = environ.get("GUNICORN_BIND", "").strip() or f"0.0.0.0:{environ.get('PORT') or 8000}"
    if bind.startswith("unix:"):
        return _UnixConnection(bind.removeprefix("unix:"), timeout)
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0"):  # (every IPv4 address: loopback is one)
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return http.client.HTTPConnection(host, int(port or 8000), timeout=timeout)


def main() -> int:
    try:
        check = connection(dict(os.environ))
        check.request("GET", "/healthz")
        status = check.getresponse().status
    except (OSError, ValueError, http.client.HTTPException) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"unhealthy: /healthz answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
