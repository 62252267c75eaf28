"""Request context for the JSON logs: every line logged while a request runs carries its
request id, user and the checkpoint it acts on. And a rate limit for one repeated error."""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Final

from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

#: Seconds between two log lines about the same unavailable directory.
LOG_EVERY: Final = 60.0
_logged: dict[str, float] = {}


def log_unavailable(message: str) -> None:
    """Log that the checkpoints cannot be read, once a minute per message (status pages poll
    every few seconds, Prometheus scrapes as often)."""
    now = time.monotonic()
    if now - _logged.get(message, -math.inf) >= LOG_EVERY:
        _logged[message] = now
        logger.error("checkpoints unavailable: %s", message)


request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
user: ContextVar[str | None] = ContextVar("user", default=None)
checkpoint: ContextVar[str | None] = ContextVar("checkpoint", default=None)


class RequestContextFilter(logging.Filter):
    """Add ``request_id``, ``user`` and ``checkpoint`` to log records (when known)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for var in (request_id, user, checkpoint):
            value = var.get()
            if value is not None and not hasattr(record, var.name):
                setattr(record, var.name, value)
        return True


class RequestContextMiddleware:
    """Set the log context for the duration of each request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tokens = [
            (request_id, request_id.set(uuid.uuid4().hex[:16])),
            (checkpoint, checkpoint.set(None)),
            (user, user.set(None)),
        ]
        try:
            return self.get_response(request)
        finally:
            for var, token in reversed(tokens):
                var.reset(token)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        account = getattr(request, "user", None)
        if account is not None and account.is_authenticated:
            user.set(account.get_username())
        name = view_kwargs.get("name")
        if isinstance(name, str):
            checkpoint.set(name)


class DisallowedHostFilter(logging.Filter):
    """Django logs a request for a host not in ALLOWED_HOSTS at ERROR with a traceback; on
    the internet scanners send them all day. One WARNING line says it (the request was
    refused with 400, nothing went wrong here)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        record.stack_info = None
        return True
