"""gunicorn's access log as JSON lines that hold whatever a client sends.

``gunicorn.conf.py`` sets ``logger_class`` to :class:`JsonAccessLogger`. gunicorn's own
format strings escape quotes but not backslashes, so a client could write a line no JSON
parser reads; here each line is ``json.dumps`` of the request's fields, with an ISO 8601 UTC
time, numbers as numbers, and the request id when the proxy sent one.
"""

from __future__ import annotations

import json
import traceback
from datetime import UTC, datetime
from typing import Any

from gunicorn.glogging import Logger


class JsonAccessLogger(Logger):
    """gunicorn's logger with one JSON object per access line."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        size = atoms.get("B")
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
