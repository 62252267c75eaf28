"""Posted forms whose bytes are not UTF-8: marked, so that the forms refuse them.

Django reads a form field's bytes that are not UTF-8 as U+FFFD (and a body holding such
bytes unescaped as Latin-1, all of it), so a document would be written, or a reason
recorded, other than it was sent. :func:`mark_not_utf8` gives such a request a
``request.POST`` that names those fields (:class:`PostedData`); the console's forms refuse
them next to the field, as ``edit_checkpoint --from-file`` refuses the same bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from io import BytesIO
from typing import Final
from urllib.parse import urlencode

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MultiPartParser, MultiPartParserError

from checkpoints_admin.checkpoints.store import line_column

FORM: Final = "application/x-www-form-urlencoded"
MULTIPART: Final = "multipart/form-data"

#: A percent-escaped byte above 0x7f: with raw bytes above it, all that can be other than
#: UTF-8 in an encoded form.
_HIGH_ESCAPE_RE: Final = re.compile(rb"%[89a-fA-F][0-9a-fA-F]")


@dataclass(frozen=True)
class NotUtf8:
    """Where a field's bytes stop being UTF-8: the first bad byte, its line and column (of
    the characters before it on its line, counted from 1)."""

    byte: int
    line: int
    column: int

    @classmethod
    def at(cls, data: bytes, pos: int) -> NotUtf8:
        return cls(data[pos], *line_column(data, pos))

    def __str__(self) -> str:
        return f"byte 0x{self.byte:02x} at line {self.line}, column {self.column}"


class PostedData(QueryDict):
    """A posted form some of whose fields are not UTF-8: the fields as Django reads them (those
    bytes as U+FFFD), and for each such field where its first bad byte is."""

    def __init__(self, query_string: str, not_utf8: dict[str, NotUtf8]) -> None:
        super().__init__(query_string)
        self.not_utf8 = not_utf8


def posted_fields(request: HttpRequest) -> list[tuple[bytes, bytes]]:
    """A posted form's fields as the bytes sent, names and values; empty when its body is not
    a form or cannot hold a byte other than UTF-8 (ASCII with no escape above %7F)."""
    if request.method != "POST" or request.content_type not in (FORM, MULTIPART):
        return []
    fields: QueryDict
    try:
        body = request.body
        if request.content_type == FORM:
            if body.isascii() and not _HIGH_ESCAPE_RE.search(body):
                return []
            fields = QueryDict(body, encoding="latin-1")  # one character per byte
        else:
            # (no upload handlers: the console takes no files, and Django reads them later)
            fields, _files = MultiPartParser(request.META, BytesIO(body), [], "latin-1").parse()
    except (SuspiciousOperation, MultiPartParserError):
        # Too large, too many fields, not a form: refused when the view reads it, as before
        # (the refusal then knows which step it was).
        return []
    return [
        (key.encode("latin-1"), value.encode("latin-1"))
        for key, values in fields.lists()
        for value in values
    ]


def mark_not_utf8(request: HttpRequest) -> None:
    """Give ``request`` a :class:`PostedData` when a posted field is not UTF-8 (else leave it
    as it is)."""
    fields = posted_fields(request)
    not_utf8: dict[str, NotUtf8] = {}
    for key, value in fields:
        for data in (key, value):  # (a name too: Django read such a body as Latin-1, all of it)
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                not_utf8.setdefault(key.decode("utf-8", "replace"), NotUtf8.at(data, exc.start))
    if not not_utf8:
        return
    request.FILES  # noqa: B018 (read first: reading it later would read the form again over this)
    decoded = [
        (key.decode("utf-8", "replace"), value.decode("utf-8", "replace")) for key, value in fields
    ]
    # (the stubs type request.POST as Django's own immutable QueryDict; PostedData is one)
    request.POST = PostedData(urlencode(decoded), not_utf8)  # type: ignore[assignment]
