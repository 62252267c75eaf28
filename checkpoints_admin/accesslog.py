"""gunicorn's logs as JSON lines, like the application's.

``gunicorn.conf.py`` sets ``logger_class`` to :class:`JsonAccessLogger`. gunicorn's own
format strings escape quotes but not backslashes, so a client could write a line no JSON
parser reads; here each access line is ``json.dumps`` of the request's fields, with an ISO
8601 UTC time, numbers as numbers, and the request id when the proxy sent one. gunicorn's
error log (starts, workers, timeouts) takes the application's JSON format too, unless
``LOG_FORMAT`` is text (or ``DJANGO_DEBUG`` is on and it is not set), as the settings read it.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
from datetime import UTC, datetime
from typing import Any

from gunicorn.glogging import Logger


def log_format() -> str:
    """``LOG_FORMAT`` as the settings read it: json, unless set to text or DEBUG is on."""
    value = os.environ.get("LOG_FORMAT", "").strip().lower()
    if value:
        return value
    debug = os.environ.get("DJANGO_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}
    return "text" if debug else "json"


def json_formatter() -> logging.Formatter:
    """The application's JSON log format (settings.LOGGING), with the process id."""
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S%z",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
    )


class JsonAccessLogger(Logger):
    """gunicorn's logger with one JSON object per access line, and per error-log line."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if log_format() != "json":
            return
        for handler in self.error_log.handlers:
            if getattr(handler, "_gunicorn", False):  # (the ones gunicorn's setup made)
                handler.setFormatter(json_formatter())

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        size = atoms.get("B")
        length = getattr(resp, "response_length", None)
        if size == 0 and length and _has_body(environ, atoms):
            # gunicorn counts what it writes but not what it hands to sendfile (whitenoise's
            # static files): such a response sent its Content-Length, or failed before logging.
            size = length
        line = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "remote": atoms.get("h"),
            "method": atoms.get("m"),
            "path": atoms.get("U"),
            "query": atoms.get("q"),
            "status": int(atoms["s"]) if str(atoms.get("s", "")).isdigit() else atoms.get("s"),
            "bytes": size if isinstance(size, int) else None,
            "duration_us": atoms.get("D"),
            "user_agent": atoms.get("a"),
        }
        request_id = environ.get("HTTP_X_REQUEST_ID")
        if request_id:
            line["request_id"] = request_id[:200]
        try:
            self.access_log.info(json.dumps(line, ensure_ascii=False))
        except Exception:
            self.error(traceback.format_exc())


def _has_body(environ: dict[str, Any], atoms: dict[str, Any]) -> bool:
    """Whether the response carries a body: not an answer to HEAD, nor a 204 or 304."""
    return environ.get("REQUEST_METHOD") != "HEAD" and str(atoms.get("s")) not in {"204", "304"}
