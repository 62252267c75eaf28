"""The checkpoints directory: names, locks, atomic durable writes, versions, a cached listing.

Only this module opens, locks, replaces or deletes checkpoint files. The protocol:

- a checkpoint named ``N`` is the file ``N.json``; its lock is ``N.json.lock`` (never deleted);
- writes go to a temp file ``.N.json.<random>.tmp`` in the same directory, which is written,
  flushed, fsynced, given the mode of the file it replaces, renamed over ``N.json`` with
  ``os.replace`` and made durable by an fsync of the directory; readers need no lock;
- the version of a checkpoint is the sha256 of its bytes;
- temp files left by a killed writer are swept by :meth:`CheckpointStore.sweep_temp_files`,
  which :meth:`CheckpointStore.list` calls when it sees temp files and a manager when it starts
  (each at most every ten minutes); only those an hour old, as a writer may be using one. A
  journaled write's temp file (``.N.json.journaled_<random>.tmp``: an audited change names it
  in its journal row, and still being there says the change never landed) is evidence for
  the change's recovery, which removes it: the sweep leaves it for a week.
"""

from __future__ import annotations

import builtins
import dataclasses
import errno
import hashlib
import json
import logging
import math
import operator
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson

from checkpoints_admin.checkpoints import locks
from checkpoints_admin.checkpoints.errors import (
    CheckpointError,
    CheckpointExists,
    CheckpointLockTimeout,
    CheckpointNotFound,
    CheckpointOutsideDirectory,
    CheckpointsDirectoryError,
    CheckpointTooLarge,
    CheckpointWriteError,
    CorruptCheckpoint,
    InvalidCheckpointName,
    InvalidDocument,
    VersionConflict,
)
from checkpoints_admin.checkpoints.kinds import with_article

if TYPE_CHECKING:
    from checkpoints_admin.checkpoints.kinds import Finding
    from checkpoints_admin.checkpoints.summary import Summary

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MISSING",
    "Checkpoint",
    "CheckpointInfo",
    "CheckpointStore",
    "StagedWrite",
    "StoreStats",
    "check_version",
    "decode_document",
    "decode_written_value",
    "duplicate_key",
    "encode_document",
    "file_findings",
    "first_wide_integer",
    "line_column",
    "literal_findings",
    "wide_integers",
    "written_value_problem",
    "utc_now_iso",
    "version_of",
]

logger = logging.getLogger("checkpoints_admin.checkpoints")


class _Missing:
    """Type of :data:`MISSING`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __reduce__(self) -> str:
        return "MISSING"


#: "No expectation" for ``expected_version`` (``None`` means "the file must not exist").
MISSING: Final = _Missing()

DEFAULT_MAX_BYTES: Final = 256 * 1024 * 1024

_NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_TEMP_RE: Final = re.compile(r"\.([A-Za-z0-9][A-Za-z0-9._-]{0,127})\.json\.([A-Za-z0-9_]+)\.tmp")
#: How a journaled write's temp file name goes on after ``.N.json.`` (see the module's notes).
_JOURNALED: Final = "journaled_"
#: Seconds a temp file is left alone by the sweep: a writer may still be using it.
TEMP_KEPT: Final = 3600.0
#: Seconds a journaled write's temp file is left alone: until its change is recovered.
JOURNALED_TEMP_KEPT: Final = 7 * 86400.0


_RESERVED_SUFFIXES: Final = (".lock", ".tmp")
_NOT_NAME_ENDINGS: Final = (".lock", ".tmp", ".json")

# Dataclasses and date/time objects are refused (orjson would write them): a datetime without
# a zone would be read back as UTC, and the seed's files keep times as strings they chose.
_DUMP_OPTIONS: Final = (
    orjson.OPT_INDENT_2
    | orjson.OPT_APPEND_NEWLINE
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)
_SAFE_SCALARS: Final = frozenset({str, int, bool, type(None)})
#: The types of JSON's scalars as parsed (immutable): a list or object holding only these
#: nests nothing further, and a copy of it may share them.
SCALAR_TYPES: Final = _SAFE_SCALARS | {float}
_DANGLING: Final = "a symbolic link to a missing file"
_MAX_WRITE_DEPTH: Final = 254  # orjson refuses deeper documents
_READ_FLAGS: Final = (
    os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | os.O_NONBLOCK
)
_BOM: Final = b"\xef\xbb\xbf"

#: A file modified this recently may change again within the same timestamp tick, keeping its
#: (inode, size, mtime_ns); such entries are re-verified (by their bytes) on the next listing.
_RACY_NS: Final = 2_000_000_000
_SWEEP_EVERY: Final = 600.0
_NAME_OF: Final = operator.attrgetter("name")
#: Files up to this size get their summary and findings computed on first access (see _LazyInfo);
#: their bytes are kept until then, so this bounds the memory a listing holds per checkpoint.
_LAZY_MAX_BYTES: Final = 16 * 1024

#: Listing cache entry of one file name: (key to trust, or None when it must be looked at again;
#: the info, or the file name when the file is ignored; the file's (inode, size, mtime_ns)).
_CacheEntry = tuple["tuple[int, int, int] | None", "CheckpointInfo | str", tuple[int, int, int]]


# -- documents ----------------------------------------------------------------------------------


def version_of(raw: bytes) -> str:
    """The version of a checkpoint: sha256 hex of its bytes."""
    return hashlib.sha256(raw).hexdigest()


_VERSION_RE: Final = re.compile(r"[0-9a-f]{64}")


def check_version(value: object, argument: str = "expected_version") -> str:
    """Return ``value`` if it is a version (64 lowercase hex digits, the sha256 of a file's
    bytes); TypeError when it is no string, ValueError when it is another string: a
    malformed argument must not read as a version the file moved away from."""
    what = (
        "a checkpoint version: 64 lowercase hex digits, the sha256 of the file's bytes "
        "(Checkpoint.version, or what write() returned)"
    )
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be {what}, not {type(value).__name__} {value!r:.80}")
    if _VERSION_RE.fullmatch(value) is None:
        raise ValueError(f"{argument} must be {what}, not {value!r:.80}")
    return value


def _check_expected(expected: str | None | _Missing) -> None:
    if expected is not MISSING and expected is not None:
        check_version(expected)


def utc_now_iso() -> str:
    """The current UTC time as the seed writes times: ``2025-03-06T10:15:23.456Z``."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _pointer(tokens: list[str | int]) -> str:
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in tokens)


def shown_literal(literal: str) -> str:
    """An integer's digits as a message quotes them: at most 40 characters."""
    return literal if len(literal) <= 40 else f"{literal[:39]}…"


def _default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def _non_finite(node: Any, path: list[str | int]) -> list[str | int] | None:
    """Path to the first NaN/Infinity in document order, or None. Skips containers of strings
    and other scalars at C speed, so a million-string list costs one quick pass."""
    if isinstance(node, Mapping):
        values: Any = node.values()
        if set(map(type, values)) <= _SAFE_SCALARS:
            return None
        pairs: Any = node.items()
    elif isinstance(node, list | tuple):
        try:
            "".join(node)  # proves at C speed that every item is a string (dates, items)
        except TypeError:
            if set(map(type, node)) <= _SAFE_SCALARS:
                return None
        else:
            return None
        pairs = enumerate(node)
    elif isinstance(node, float):
        return None if math.isfinite(node) else path
    else:
        return None
    for key, value in pairs:
        if type(value) in _SAFE_SCALARS:
            continue
        path.append(key)
        found = _non_finite(value, path)
        if found is not None:
            return found
        path.pop()
    return None


def _unencodable(node: Any, path: list[str | int]) -> str | None:
    """Describe the first value orjson refused (error path only), with its pointer."""
    where = _pointer(path) or "(document)"
    if len(path) > _MAX_WRITE_DEPTH:
        # (its first levels: the whole pointer is as long as the document is deep)
        return (
            f"the document is nested more than {_MAX_WRITE_DEPTH} levels deep, below "
            f"{_pointer(path[:5])}/…"
        )
    if isinstance(node, Mapping):
        for key, value in node.items():
            if not isinstance(key, str):
                return f"key {key!r} at {where} is not a string"
            if not key.isascii():
                try:
                    key.encode("utf-8")
                except UnicodeEncodeError:
                    return f"key {key!r} at {where} is not valid Unicode (lone surrogate)"
            path.append(key)
            found = _unencodable(value, path)
            if found is not None:
                return found
            path.pop()
        return None
    if isinstance(node, list | tuple):
        for index, value in enumerate(node):
            path.append(index)
            found = _unencodable(value, path)
            if found is not None:
                return found
            path.pop()
        return None
    if isinstance(node, bool) or node is None:
        return None
    if isinstance(node, int):
        if not -(2**63) <= node < 2**64:
            return f"the integer at {where} does not fit in 64 bits"
        return None
    if isinstance(node, str):
        try:
            node.encode("utf-8")
        except UnicodeEncodeError:
            return f"the string at {where} is not valid Unicode (lone surrogate)"
        return None
    if isinstance(node, float):
        return None
    if isinstance(node, date | clock_time):
        example = (
            "its isoformat(), 2025-03-06"
            if type(node) is date
            else "utc_now_iso() gives the seed's form, 2025-03-06T10:15:23.456Z"
        )
        return (
            f"the value at {where} is {with_article(type(node).__name__)}, which is not JSON: "
            f"write it as a string ({example})"
        )
    try:
        orjson.dumps(node, option=orjson.OPT_PASSTHROUGH_DATACLASS)
    except orjson.JSONEncodeError:
        return f"the value at {where} is {with_article(type(node).__name__)}, which is not JSON"
    return None


def encode_document(data: Mapping[str, Any]) -> bytes:
    """The bytes of a checkpoint: UTF-8 JSON, 2-space indent, key order kept, trailing newline.

    Raises InvalidDocument (naming the JSON pointer) for NaN/Infinity, a non-string key,
    an integer beyond 64 bits, a value that is not JSON, or a top level that is not an object.
    """
    if not isinstance(data, Mapping):
        raise InvalidDocument(
            f"a checkpoint must be a JSON object at the top level, not {type(data).__name__}"
        )
    try:
        out = orjson.dumps(data, default=_default, option=_DUMP_OPTIONS)
    except orjson.JSONEncodeError as exc:
        reason = _unencodable(data, []) or str(exc)
        raise InvalidDocument(f"cannot write the document: {reason}") from None
    path = _first_non_finite(data, out)
    if path is not None:
        raise InvalidDocument(
            f"cannot write the document: the number at {_pointer(path) or '(document)'} "
            "is NaN or Infinity, which JSON cannot represent"
        )
    return out


#: After this many ``u`` bytes, :func:`_first_non_finite` stops looking at them one by one.
_NULL_PROBES: Final = 32


def _first_non_finite(data: Mapping[str, Any], out: bytes) -> list[str | int] | None:
    """:func:`_non_finite` of ``data``, which orjson encoded as ``out`` writing each NaN and
    ±Infinity as ``null``: so only a top-level field whose text holds a ``null`` can hide
    one, and only those fields are walked.

    They are found by the ``u`` of their ``null``, with ``memchr`` (over 20 GB/s here, where
    ``b"null" in out`` runs at 2): 0.3 ms for a million dates instead of 10, and a daily
    checkpoint's ``"endTime": null`` no longer has its dates walked too (9 ms more). Bytes
    with many ``u``, or a field that cannot be told, are walked whole, as before.
    """
    fields: dict[str, None] = {}  # in document order
    find = out.find
    at = find(b"u")
    probes = 0
    while at != -1:
        if probes == _NULL_PROBES:
            return _non_finite(data, []) if fields or find(b"null", at - 1) != -1 else None
        probes += 1
        if out[at - 1 : at + 3] == b"null":
            key = _field_at(out, at)
            if key is None or key not in data:
                return _non_finite(data, [])
            fields[key] = None
        at = find(b"u", at + 1)
    for key in fields:
        path = _non_finite(data[key], [key])
        if path is not None:
            return path
    return None


def _field_at(out: bytes, at: int) -> str | None:
    """The top-level key whose member holds position ``at`` of an encoded document, or None.

    With a two-space indent, a top-level member, and nothing else, starts a line with two
    spaces and a quote (deeper lines have more, and strings hold no raw line break).
    """
    start = out.rfind(b'\n  "', 0, at)
    if start == -1:
        return None
    quote = end = start + 3
    while True:  # the closing quote: one not escaped by an odd run of backslashes
        end = out.find(b'"', end + 1)
        if end == -1:
            return None
        text = out[quote + 1 : end]
        if (len(text) - len(text.rstrip(b"\\"))) % 2 == 0:
            break
    try:
        key = orjson.loads(out[quote : end + 1])
    except orjson.JSONDecodeError:
        return None
    return key if isinstance(key, str) else None


def line_column(raw: bytes, pos: int) -> tuple[int, int]:
    """The line and column (of the characters before it on its line, both counted from 1)
    of byte ``pos`` of ``raw``."""
    line = raw.count(b"\n", 0, pos) + 1
    start = raw.rfind(b"\n", 0, pos) + 1
    return line, len(raw[start:pos].decode("utf-8", "replace")) + 1


def decode_document(raw: bytes, *, name: str | None = None) -> dict[str, Any]:
    """Parse a checkpoint's bytes; CorruptCheckpoint (with line and column) when they can't be."""
    subject = f"checkpoint {name!r}" if name is not None else "the document"
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _corrupt(raw, exc, subject, name) from None
    if type(data) is not dict:
        raise _not_object(data, subject, name)
    return data


def decode_written_document(raw: bytes, *, name: str | None = None) -> dict[str, Any]:
    """:func:`decode_document` for a document a person wrote (a raw edit, a file to replace a
    checkpoint with): also refused when nested deeper than :data:`MAX_WRITTEN_DEPTH`, or
    when it has what JSON parsers take silently (:func:`written_value_problem`), so that the
    person would not see what they meant."""
    subject = f"checkpoint {name!r}" if name is not None else "the document"
    try:
        data = decode_document(raw, name=name)
    except CorruptCheckpoint as exc:
        if not exc.too_deep:
            raise
        data = None  # (deeper than the parser goes: deeper than a person may write too)
    if data is None or nests_beyond(data, MAX_WRITTEN_DEPTH):
        raise InvalidDocument(
            f"{subject} is nested more than {MAX_WRITTEN_DEPTH} levels deep; a checkpoint "
            "is not that deep",
            name=name,
        )
    problem = _silent_change(raw, data)
    if problem is not None:
        raise InvalidDocument(f"{subject} {problem}", name=name)
    return data


#: How deep a document a person writes may nest objects and lists (the pages and the diff
#: walk documents recursively; JSON parsers accept up to a thousand levels).
MAX_WRITTEN_DEPTH: Final = 64


def nests_beyond(value: Any, limit: int) -> bool:
    """Whether ``value`` nests objects and lists more than ``limit`` levels (iteratively: no
    recursion however deep it is, so a value too deep to copy or encode recursively is
    refused instead of overflowing the stack). A scalar nests none."""
    if not isinstance(value, Mapping | list):
        return False
    stack: builtins.list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if level > limit:
            return True
        children = node.values() if isinstance(node, Mapping) else node
        if set(map(type, children)) <= SCALAR_TYPES:
            continue  # (a million dates at C speed: nothing nests below them)
        stack.extend((child, level + 1) for child in children if isinstance(child, Mapping | list))
    return False


#: Digits of an integer that may not fit in 64 bits: twenty (2**64 - 1 has 20, so any run of
#: 19 is a positive integer that fits, such as a time in nanoseconds), or a minus sign and 19
#: (-2**63 has 19). Only a document holding such a run is parsed a second time to look.
#: Found by mapping every digit to "0" and searching the run (several times faster than a
#: regex over a million-date file).
_DIGITS_AS_ZERO: Final = bytes(
    0x30 if 0x30 <= b <= 0x39 else b if b == 0x2D else 0x20 for b in range(256)
)
_LONG_DIGIT_RUN: Final = b"0" * 20
_LONG_NEGATIVE_RUN: Final = b"-" + b"0" * 19


class _Wide(str):
    """An integer literal beyond 64 bits, as written."""


def _wide_int(text: str) -> Any:
    digits = text.lstrip("-")
    if len(digits) > 20 or not -(2**63) <= int(text) < 2**64:
        return _Wide(text)
    return 0


def wide_integers(raw: bytes) -> builtins.list[tuple[builtins.list[str | int], str]]:
    """(path, literal) of every integer of the JSON ``raw`` that does not fit in 64 bits, in
    document order. orjson reads such an integer as the nearest float, silently."""
    digits = raw.translate(_DIGITS_AS_ZERO)
    if _LONG_DIGIT_RUN not in digits and _LONG_NEGATIVE_RUN not in digits:
        return []
    wide = 0

    def parse_int(text: str) -> Any:
        nonlocal wide
        value = _wide_int(text)
        wide += isinstance(value, _Wide)
        return value

    try:
        data = json.loads(raw, parse_int=parse_int)
    except ValueError:
        return []  # (already parsed by orjson; a difference in the two parsers' edges)
    if not wide:
        return []  # the run was in a string, a key, a float or an integer that fits
    found: builtins.list[tuple[builtins.list[str | int], str]] = []
    stack: builtins.list[tuple[Any, builtins.list[str | int]]] = [(data, [])]
    while stack:
        node, path = stack.pop()
        if isinstance(node, _Wide):
            found.append((path, str.__str__(node)))
        elif isinstance(node, dict | builtins.list):
            values = node.values() if isinstance(node, dict) else node
            if set(map(type, values)) <= SCALAR_TYPES:
                continue  # (a million dates at C speed: none is a _Wide, a str subclass)
            items: Any = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend(reversed([(value, [*path, key]) for key, value in items]))
    return found


class WideInteger:
    """An integer beyond 64 bits as the file writes it, in a document shown to a person (see
    :func:`shown_document`): orjson reads it as the nearest float, which would show as
    ``1e+23``. Equal to the same digits; never written to a file."""

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WideInteger) and other.literal == self.literal

    def __hash__(self) -> int:
        return hash(self.literal)

    def __repr__(self) -> str:
        return self.literal


def as_json_fragment(value: Any) -> Any:
    """``default`` for ``orjson.dumps`` of a shown document: a :class:`WideInteger` as its
    digits."""
    if isinstance(value, WideInteger):
        return orjson.Fragment(value.literal.encode())
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def with_literals(data: Any, wide: builtins.list[tuple[builtins.list[str | int], str]]) -> Any:
    """``data`` with each integer beyond 64 bits (``wide``, as :func:`wide_integers` found
    them) as a :class:`WideInteger` instead of the float it was read as: for showing the
    document, never for writing it. The containers on those paths are copied; ``data`` is
    left as it is."""
    if not wide or not isinstance(data, dict | builtins.list):
        return data
    copies: set[int] = set()

    def own(node: Any) -> Any:
        copy = dict(node) if isinstance(node, dict) else builtins.list(node)
        copies.add(id(copy))
        return copy

    root = own(data)
    for path, literal in wide:
        if not path:
            continue
        node = root
        for token in path[:-1]:
            child = node[token]
            if id(child) not in copies:
                child = node[token] = own(child)
            node = child
        node[path[-1]] = WideInteger(literal)
    return root


def shown_document(data: Any, raw: bytes | None) -> Any:
    """The document ``data`` read from ``raw``, as a person is shown it: its integers beyond
    64 bits as the file writes them (:func:`with_literals`)."""
    if data is None or raw is None:
        return data
    return with_literals(data, wide_integers(raw))


def first_wide_integer(raw: bytes) -> tuple[str, str] | None:
    """(pointer, literal) of the first integer of the JSON ``raw`` that does not fit in 64 bits,
    or None. orjson reads such an integer as the nearest float, silently: a person typing
    99999999999999999999999 would write 1e+23."""
    found = wide_integers(raw)
    if not found:
        return None
    path, literal = found[0]
    return _pointer(path), literal


def decode_written_value(text: str) -> Any:
    """A JSON value a person typed (``--set``, the field editor), parsed as a checkpoint's
    bytes are. CorruptCheckpoint (with line and column) when it is not JSON, NaN, a number
    beyond a double or nested beyond what the parser reads; InvalidDocument when it is JSON
    that would not be written as given (:func:`written_value_problem`)."""
    if not text.strip():  # (not a file: "0 bytes" would say nothing to the person typing)
        raise CorruptCheckpoint(
            'the value is empty: write a JSON value, such as null, 0, "text" or []',
            line=1,
            column=1,
        )
    raw = text.encode("utf-8", errors="surrogatepass")  # (a lone surrogate: not UTF-8)
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _corrupt(raw, exc, "the value", None) from None
    problem = written_value_problem(raw)
    if problem is not None:
        raise InvalidDocument(problem)
    return value


def written_value_problem(raw: bytes) -> str | None:
    """What keeps a JSON value a person typed (``--set``, the field editor) from being
    written as given, or None: a key given twice in one object, or an integer beyond 64 bits
    (parsers keep the last value, and the nearest float, silently). ``raw`` parses."""
    problem = _silent_change(raw)
    if problem is None:
        return None
    if first_wide_integer(raw) is not None:
        # A field edit keeps a number a number: the string goes in with the whole document.
        problem += (
            " (a field that holds a number now keeps its type in a field edit: write the "
            "document with it as a string, in the raw editor or with edit_checkpoint "
            "--from-file)"
        )
    return f"the value {problem}" if problem.endswith(".") else f"the value {problem}."


def _silent_change(raw: bytes, data: Any = MISSING) -> str | None:
    """What JSON parsers would change in ``raw`` without a word, as the end of a sentence
    about it (None: nothing): an integer beyond 64 bits (read as the nearest float), a key
    given twice in one object (the last value kept). ``data``: ``raw`` parsed, when the
    caller has it (most documents are then told free of a key given twice without a second
    parse: :func:`duplicate_key`)."""
    wide = first_wide_integer(raw)
    if wide is not None:
        pointer, literal = wide
        where = f" at {pointer}" if pointer else ""
        return (
            f"has the integer {shown_literal(literal)}{where}, which does not fit in 64 bits "
            "(it would be kept only approximately); write it as a string"
        )
    duplicate = first_duplicate_key(raw) if data is MISSING else duplicate_key(raw, data)
    if duplicate is not None:
        return (
            f"gives the key {duplicate!r} twice in one object; only the last would be kept. "
            "Keep one."
        )
    return None


def literal_findings(
    findings: builtins.list[Finding],
    raw: bytes,
    wide: builtins.list[tuple[builtins.list[str | int], str]] | None = None,
) -> builtins.list[Finding]:
    """``findings`` of the document read from ``raw``, a message about an integer beyond 64 bits
    quoting it as the file has it (99999999999999999999999), not as the float it was read as
    (1e+23). ``wide``: what :func:`wide_integers` found in ``raw`` already, if it was asked."""
    if not findings:
        return findings
    if wide is None:
        wide = wide_integers(raw)
    literals = {_pointer(path): literal for path, literal in wide}
    if not literals:
        return findings
    shown = []
    for finding in findings:
        literal = literals.get(finding.pointer)
        if literal is not None:
            short = shown_literal(literal)
            message = finding.message.replace(repr(float(literal)), short)
            finding = dataclasses.replace(finding, message=message)
        shown.append(finding)
    return shown


class _Duplicate(Exception):
    pass


def first_duplicate_key(raw: bytes) -> str | None:
    """The first key given twice in one object of the JSON ``raw``, or None (a second, slower
    parse: JSON parsers keep the last value silently)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                raise _Duplicate(key)
            seen[key] = value
        return seen

    try:
        json.loads(raw, object_pairs_hook=pairs)
    except _Duplicate as duplicate:
        return str(duplicate.args[0])
    except ValueError:
        return None  # (already parsed by orjson; a difference in the two parsers' edges)
    return None


def duplicate_key(raw: bytes, data: Any) -> str | None:
    """:func:`first_duplicate_key` of ``raw``, whose parsed document is ``data``; most files are
    answered without the second parse.

    Every colon of JSON is a key's, or inside a string. So ``raw`` has as many colons as
    ``data`` has keys plus colons in its keys and strings, and more when a key was given twice
    (the dropped key's colon at least). Long lists are counted last, and only when the rest
    leaves colons unaccounted for: a million dates are never looked at. An escape such as
    ``\\u003a`` is a colon only once parsed: such a file is parsed again.
    """
    if b"\\" in raw and b"\\u" in raw:  # (one byte first: found at memchr speed)
        return first_duplicate_key(raw)
    colons = raw.count(b":")
    later: builtins.list[Any] = []
    counted = _colons([data], later, _LONG_LIST)
    if counted != colons and counted + _colons(later, [], None) != colons:
        return first_duplicate_key(raw)
    return None


#: Lists at least this long are counted only when the rest of the document does not account
#: for every colon (see :func:`duplicate_key`).
_LONG_LIST: Final = 64


def _colons(stack: builtins.list[Any], later: builtins.list[Any], long_list: int | None) -> int:
    """One per key of the objects in ``stack``, plus the colons inside their keys and strings,
    nested ones included (strings joined at C speed); lists of ``long_list`` items or more
    are put in ``later`` instead."""
    count = 0
    while stack:
        node = stack.pop()
        values: Any = node
        if type(node) is dict:
            count += len(node) + "".join(node).count(":")
            values = node.values()
        elif long_list is not None and len(node) >= long_list:
            later.append(node)
            continue
        try:
            count += "".join(values).count(":")
        except TypeError:  # not only strings
            for value in values:
                if type(value) is str:
                    count += value.count(":")
                elif type(value) is dict or type(value) is builtins.list:
                    stack.append(value)
    return count


def file_findings(
    findings: builtins.list[Finding],
    raw: bytes,
    data: Any,
    wide: builtins.list[tuple[builtins.list[str | int], str]] | None = None,
) -> builtins.list[Finding]:
    """The findings of ``data``, the document read from ``raw``, with what only the file
    shows: integers beyond 64 bits quoted as written (:func:`literal_findings`) and an error
    for each that has none (a job's manager refuses such a file, and so do the changes that
    would write it back), and a warning when an object gives a key twice (the document holds
    its last value only, and the next write keeps only that)."""
    from checkpoints_admin.checkpoints.kinds import Finding

    if wide is None:
        wide = wide_integers(raw)
    shown = list(literal_findings(findings, raw, wide))
    flagged = {finding.pointer for finding in shown if finding.severity == "error"}
    shown.extend(
        Finding("error", pointer, wide_integer_message(literal))
        for path, literal in wide[:_WIDE_NAMED]
        if (pointer := _pointer(path)) not in flagged  # (a field's own error names it)
    )
    duplicate = duplicate_key(raw, data)
    if duplicate is None:
        return shown
    return [*shown, Finding("warning", "", duplicate_key_message(duplicate))]


#: How many integers beyond 64 bits a file's findings name, one each.
_WIDE_NAMED: Final = 10


def wide_integer_message(literal: str) -> str:
    return (
        f"the integer {shown_literal(literal)} does not fit in 64 bits: JSON parsers read it "
        "as the nearest float, so a job's manager refuses to load this file and skips and "
        "field edits refuse to write it back; write it as a string (the raw editor, or "
        "edit_checkpoint --from-file)"
    )


def duplicate_key_message(key: str) -> str:
    return (
        f"the key {key!r} is given twice in one object: the last value counts, and the next "
        "write keeps only that one"
    )


def _not_object(data: Any, subject: str, name: str | None) -> CorruptCheckpoint:
    kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(data), "a number"
    )
    return CorruptCheckpoint(
        f"{subject} must be a JSON object at the top level, not {kind}",
        name=name,
        line=1,
        column=1,
    )


def _corrupt(
    raw: bytes, exc: orjson.JSONDecodeError, subject: str, name: str | None
) -> CorruptCheckpoint:
    if not raw.strip():
        what = "empty (0 bytes)" if not raw else "empty (only whitespace)"
        return CorruptCheckpoint(f"{subject} is {what}", name=name, line=1, column=1)
    if raw.startswith(_BOM):
        return CorruptCheckpoint(
            f"{subject} starts with a UTF-8 byte order mark (BOM); save it as UTF-8 without BOM",
            name=name,
            line=1,
            column=1,
        )
    if "UTF-8" in exc.msg:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            line, column = line_column(raw, bad.start)
            byte = raw[bad.start]
            return CorruptCheckpoint(
                f"{subject} is not valid UTF-8: byte 0x{byte:02x} at line {line}, column {column}",
                name=name,
                line=line,
                column=column,
            )
    where = f"at line {exc.lineno}, column {exc.colno}"
    if "depth" in exc.msg or "recursion" in exc.msg.lower():
        return CorruptCheckpoint(
            f"{subject} is nested too deeply (more than 1024 levels) {where}",
            name=name,
            line=exc.lineno,
            column=exc.colno,
            too_deep=True,
        )
    if "infinity" in exc.msg and (number := _NUMBER.match(raw, max(exc.pos, 0))):
        literal = number.group().decode()
        message = (
            f"{subject} holds the number {literal if len(literal) <= 40 else literal[:39] + '…'}"
            f", which is too large for JSON (it would read as infinity) {where}"
        )
    elif constant := (_NON_FINITE.match(raw, exc.pos) if 0 <= exc.pos < len(raw) else None):
        # Python's json writes these, JSON has no such numbers (the format refuses them).
        message = (
            f"{subject} holds {constant.group().decode()}, which JSON does not have "
            f"(a checkpoint's numbers are finite) {where}"
        )
    else:
        message = f"{subject} is not valid JSON: {exc.msg} {where}"
    return CorruptCheckpoint(message, name=name, line=exc.lineno, column=exc.colno)


_NON_FINITE: Final = re.compile(rb"-?(?:NaN|Infinity)")
_NUMBER: Final = re.compile(rb"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


# -- results ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A checkpoint as read: its document, the exact bytes and their version."""

    name: str
    data: dict[str, Any]
    raw: bytes
    version: str


@dataclass(frozen=True, slots=True)
class CheckpointInfo:
    """One row of :meth:`CheckpointStore.list`."""

    name: str
    size: int
    modified: float  # epoch seconds (st_mtime)
    version: str | None  # sha256 of the bytes (None when unreadable)
    kind: str | None  # None when corrupt
    summary: Summary | None  # None when corrupt
    findings: tuple[Finding, ...]  # time-independent findings
    error: str | None  # why the file is not a checkpoint document

    @property
    def corrupt(self) -> bool:
        return self.error is not None


@dataclass(slots=True)
class StoreStats:
    """Counters of a store's listing cache (observable in tests and metrics)."""

    parsed: int = 0  # files read and parsed by list()
    verified: int = 0  # recently modified files re-read by list() and found unchanged
    swept: int = 0  # temp files removed


# -- the store ----------------------------------------------------------------------------------


def _umask() -> int:
    """The process umask, read without changing it (os.umask is process-wide and racy)."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_all(fd: int, raw: bytes) -> None:
    view = memoryview(raw)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_failure(name: str, exc: OSError, *, existed: bool = True) -> str:
    reasons = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.EFBIG: "the file is larger than the file size limit",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
    }
    reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
    outcome = "the previous file is unchanged" if existed else "no file was created"
    return f"could not write checkpoint {name!r}: {reason}; {outcome}"


def _conflict(name: str, expected: str | None | _Missing, actual: str | None) -> VersionConflict:
    if expected is None:
        # (created meanwhile, or there all along: either way not the new file expected)
        message = (
            f"checkpoint {name!r} exists (version {str(actual)[:12]}), and no file was expected"
        )
    elif actual is None:
        message = f"checkpoint {name!r} was deleted since version {str(expected)[:12]}"
    else:
        message = (
            f"checkpoint {name!r} changed since it was read "
            f"(expected version {str(expected)[:12]}, found {actual[:12]})"
        )
    return VersionConflict(
        message, name=name, expected=None if expected is None else str(expected), actual=actual
    )


def size_text(size: int) -> str:
    """A byte count as people read it: 512 bytes, 3.4 KiB, 1.2 MiB."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB"
    if size >= 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size} bytes"


class _Hold:
    """This thread's hold of one checkpoint lock: its depth, and the file read under it."""

    __slots__ = ("depth", "read")

    def __init__(self) -> None:
        self.depth = 1
        #: (file identity, version) of the checkpoint as :meth:`CheckpointStore.read` read it
        #: during this hold. Every writer holds the lock, so while it is held the file cannot
        #: change; the identity check still catches a file replaced behind the lock's back.
        self.read: tuple[tuple[int, ...], str] | None = None


_thread_holds = threading.local()


def _holds() -> dict[tuple[int, str], _Hold]:
    """The checkpoint locks this thread holds, by (process id, lock file path)."""
    try:
        return _thread_holds.holds  # type: ignore[no-any-return]
    except AttributeError:
        holds: dict[tuple[int, str], _Hold] = {}
        _thread_holds.holds = holds
        return holds


def _file_key(st: os.stat_result) -> tuple[int, ...]:
    """What identifies one version of a file: a replaced or rewritten file differs in it."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


#: Bytes from this size on are hashed in another thread while they are written: sha256 (which
#: lets go of the interpreter) then overlaps the write and its fsync, for 0.5 ms per MiB.
_HASH_ASIDE_BYTES: Final = 256 * 1024


class _Hashing:
    """The sha256 of ``raw``, worked out in a thread of its own from now on."""

    __slots__ = ("_raw", "_thread", "_version")

    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._version: str | None = None
        self._thread: threading.Thread | None = threading.Thread(
            target=self._work, name="checkpoint-version", daemon=True
        )
        try:
            self._thread.start()
        except RuntimeError:  # no thread to be had: worked out when asked for
            self._thread = None

    def _work(self) -> None:
        self._version = version_of(self._raw)

    def version(self) -> str:
        if self._thread is not None:
            self._thread.join()
        # (None when there was no thread, or it failed: worked out here then.)
        return self._version or version_of(self._raw)


class StagedWrite:
    """Bytes in a temp file beside checkpoint ``name``, not yet in its place
    (:meth:`CheckpointStore.stage`): :meth:`sync` makes them durable (staging does, unless
    asked to leave it to the caller), :meth:`CheckpointStore.install` renames the file over
    the checkpoint, :meth:`discard` removes it."""

    __slots__ = ("_fd", "_guard", "existed", "mode", "name", "temp_path", "version")

    def __init__(
        self,
        name: str,
        temp_path: str,
        version: str,
        mode: int,
        fd: int | None,
        *,
        existed: bool = True,
    ) -> None:
        self.name = name
        self.existed = existed  # whether a file was there to replace when this was staged
        self.temp_path = temp_path
        self.version = version
        self.mode = mode
        self._fd = fd  # open until synced
        self._guard = threading.Lock()

    def __repr__(self) -> str:
        return f"StagedWrite({self.name!r}, {self.temp_path!r})"

    def sync(self) -> None:
        """fsync the temp file (once; any thread may call it). On failure the temp file is
        removed and CheckpointWriteError says why."""
        with self._guard:
            if self._fd is None:
                return
            fd, self._fd = self._fd, None
            try:
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                self._unlink()
                message = _write_failure(self.name, exc, existed=self.existed)
                raise CheckpointWriteError(message, name=self.name) from None

    def discard(self) -> None:
        """Remove the temp file (nothing when it was installed or removed already)."""
        with self._guard:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                with suppress(OSError):
                    os.close(fd)
            self._unlink()

    def _unlink(self) -> None:
        with suppress(OSError):
            os.unlink(self.temp_path)


class CheckpointStore:
    """The checkpoints directory. Thread-safe; one instance per directory and process is enough.

    ``directory`` defaults to the ``CHECKPOINTS_DIR`` environment variable, else ``./checkpoints``;
    it is created when missing, unless ``create=False`` (then a missing directory raises
    :class:`CheckpointsDirectoryError`, as one that is not a directory always does).

    ``refuse_hard_links``: never read a file that has other names (the console's store: a
    hard link put in the directory could show it any file it can read); jobs' stores read
    them, so that a backup tool linking the files does not stop a job.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        lock_timeout: float = 10.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        create: bool = True,
        refuse_hard_links: bool = False,
    ) -> None:
        self.refuse_hard_links = refuse_hard_links
        if directory is None:
            directory = os.environ.get("CHECKPOINTS_DIR") or "checkpoints"
        self.directory = Path(os.path.abspath(os.fspath(directory)))
        if create:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
            except FileExistsError:
                pass  # not a directory: check_directory() says so
            except OSError as exc:
                raise CheckpointsDirectoryError(
                    f"cannot create the checkpoints directory {str(self.directory)!r}: "
                    f"{exc.strerror or exc}"
                ) from None
        self.check_directory()
        self.lock_timeout = lock_timeout
        self.max_bytes = max_bytes
        self.stats = StoreStats()
        self._dir = str(self.directory)
        self._real_dir = os.path.realpath(self._dir)
        self._list_guard = threading.Lock()
        self._cache: dict[str, _CacheEntry] = {}
        self._listed: list[CheckpointInfo] = []
        self._refused: list[str] = []  # symlinks leading outside, as the last list() found them
        self._last_sweep = -math.inf  # the first listing that sees temp files sweeps

    def __repr__(self) -> str:
        return f"CheckpointStore({self._dir!r})"

    def check_directory(self) -> None:
        """Raise :class:`CheckpointsDirectoryError` when the directory is gone (removed, a
        volume unmounted) or is no directory."""
        if not os.path.isdir(self.directory):
            what = "does not exist" if not os.path.lexists(self.directory) else "is not a directory"
            raise CheckpointsDirectoryError(
                f"the checkpoints directory {str(self.directory)!r} {what}"
            )

    # -- names and paths ------------------------------------------------------------------------

    def validate_name(self, name: str) -> str:
        """Return ``name`` when it is a valid checkpoint name, else raise InvalidCheckpointName."""
        if not isinstance(name, str):
            raise InvalidCheckpointName(
                f"a checkpoint name must be a string, not {type(name).__name__}"
            )
        if _NAME_RE.fullmatch(name) is None:
            shown = name if len(name) <= 60 else name[:57] + "..."
            if len(name) > 128:
                why = f"it is {len(name)} characters long (at most 128)"
            elif not name:
                why = "it is empty"
            elif "/" in name or "\\" in name or "\x00" in name:
                why = "it contains a path separator or a NUL character"
            else:
                why = (
                    "names start with a letter or digit and contain only "
                    "letters, digits, '.', '_' and '-'"
                )
            raise InvalidCheckpointName(
                f"invalid checkpoint name {shown!r}: {why}", name=name if len(name) <= 128 else None
            )
        if name.endswith(_RESERVED_SUFFIXES):
            raise InvalidCheckpointName(
                f"invalid checkpoint name {name!r}: names may not end in .lock or .tmp", name=name
            )
        if name.endswith(".json"):
            raise InvalidCheckpointName(
                f"invalid checkpoint name {name!r}: give the name without .json "
                f"(the checkpoint {name[:-5]!r} is the file {name})",
                name=name,
            )
        return name

    def _inside(self, path: str) -> str | None:
        """The real path of a symlinked checkpoint when it stays in the directory, else None."""
        real = os.path.realpath(path)
        if os.path.dirname(real) != self._real_dir:
            return None
        return real

    def _outside(self, name: str) -> InvalidCheckpointName:
        return CheckpointOutsideDirectory(
            f"checkpoint {name!r} is a symbolic link that leads outside the checkpoints directory; "
            "it is refused",
            name=name,
        )

    def path_for(self, name: str) -> Path:
        """The file of checkpoint ``name`` (validated; symlinks leaving the directory refused)."""
        self.validate_name(name)
        path = os.path.join(self._dir, name + ".json")
        if os.path.islink(path) and self._inside(path) is None:
            raise self._outside(name)
        return Path(path)

    def alias_of(self, name: str) -> str | None:
        """The checkpoint ``name``'s file stands for when it is a symbolic link to another file
        in the directory (``alias.json`` → ``job.json``: ``"job"``); else None. Changes go to
        that checkpoint: a write or a delete through the link is refused."""
        path = str(self.path_for(name))
        if not os.path.islink(path):
            return None
        real = self._inside(path)
        if real is None:
            return None  # (refused elsewhere: leads outside)
        target = os.path.basename(real)
        return target[:-5] if target.endswith(".json") else target

    def _through_link(self, name: str) -> InvalidCheckpointName:
        target = self.alias_of(name)
        return InvalidCheckpointName(
            f"checkpoint {name!r} is a symbolic link to {target!r}; change {target!r} instead "
            "(its job writes that file)",
            name=name,
        )

    def exists(self, name: str) -> bool:
        """Whether checkpoint ``name`` exists as a regular file."""
        path = self.path_for(name)
        try:
            return stat.S_ISREG(os.stat(path).st_mode)
        except OSError:
            return False

    # -- locks ----------------------------------------------------------------------------------

    def lock(self, name: str, timeout: float | None = None) -> AbstractContextManager[None]:
        """Hold checkpoint ``name``'s lock (``N.json.lock``); reentrant within a thread.

        Raises CheckpointLockTimeout when another process (or thread) holds it longer than
        ``timeout`` seconds (default: the store's ``lock_timeout``).
        """
        self.validate_name(name)
        return self._hold(name, self.lock_timeout if timeout is None else timeout)

    @contextmanager
    def _hold(self, name: str, timeout: float) -> Iterator[None]:
        # By the directory's real path: stores opened through different paths to it (a
        # symbolic link) hold the same lock files, so a thread holding one holds the other.
        key = (os.getpid(), os.path.join(self._real_dir, name + ".json.lock"))
        holds = _holds()
        held = holds.get(key)
        if held is not None:
            # Already held by this thread (reentrant): no need to lock again.
            held.depth += 1
            try:
                yield
            finally:
                held.depth -= 1
            return
        try:
            lock = locks.acquire(key[1], timeout)
        except locks.LockTimeout:
            raise CheckpointLockTimeout(
                f"checkpoint {name!r} is locked by another process (waited {timeout:g}s)",
                name=name,
            ) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise CheckpointOutsideDirectory(
                    f"the lock file of checkpoint {name!r} is a symbolic link; it is refused",
                    name=name,
                ) from None
            raise CheckpointError(
                f"cannot lock checkpoint {name!r}: {exc.strerror or exc}", name=name
            ) from None
        holds[key] = _Hold()
        try:
            yield
        finally:
            del holds[key]
            lock.release()

    # -- reading --------------------------------------------------------------------------------

    def _open(self, name: str, path: str) -> tuple[int, os.stat_result]:
        """Open a checkpoint for reading without following symlinks out of the directory, nor
        reading a file that has other names (see :meth:`_refuse_hard_link`); the open file
        and its stat."""
        fd = self._open_file(name, path)
        try:
            st = os.fstat(fd)
            self._refuse_hard_link(name, st)
        except OSError as exc:
            os.close(fd)
            raise CheckpointError(
                f"cannot read checkpoint {name!r}: {exc.strerror or exc}", name=name
            ) from None
        except BaseException:
            os.close(fd)
            raise
        return fd, st

    def _refuse_hard_link(self, name: str, st: os.stat_result) -> None:
        """A regular file with more than one name is refused: a hard link put in the
        directory could show any file of the same file system the console can read (its
        database, a key), as a symbolic link leading outside could."""
        if not self.refuse_hard_links:
            return
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            raise CheckpointOutsideDirectory(
                f"checkpoint {name!r} is a hard link (its file has {st.st_nlink} names); it is "
                "refused: a checkpoint file has one name",
                name=name,
            )

    def _open_file(self, name: str, path: str) -> int:
        try:
            return os.open(path, _READ_FLAGS)
        except FileNotFoundError:
            raise CheckpointNotFound(f"checkpoint {name!r} does not exist", name=name) from None
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise CheckpointError(
                    f"cannot read checkpoint {name!r}: {exc.strerror or exc}", name=name
                ) from None
        real = self._inside(path)
        if real is None:
            raise self._outside(name)
        try:
            return os.open(real, _READ_FLAGS)
        except FileNotFoundError:
            raise CheckpointNotFound(
                f"checkpoint {name!r} is a symbolic link to a missing file", name=name
            ) from None
        except OSError as exc:
            raise CheckpointError(
                f"cannot read checkpoint {name!r}: {exc.strerror or exc}", name=name
            ) from None

    def _read_fd(self, name: str, fd: int, st: os.stat_result) -> bytes:
        """The bytes of an open checkpoint, refusing more than ``max_bytes``."""
        if not stat.S_ISREG(st.st_mode):
            raise CorruptCheckpoint(f"checkpoint {name!r} is not a regular file", name=name)
        size = st.st_size
        if size > self.max_bytes:
            raise self._too_large(name, size)
        raw = os.read(fd, size + 1)  # one more byte tells whether it grew since fstat
        if len(raw) != size:
            raw = self._read_rest(name, fd, raw)
        return raw

    def _read_rest(self, name: str, fd: int, raw: bytes) -> bytes:
        chunks = [raw]
        total = len(raw)
        limit = self.max_bytes + 1
        while total < limit:
            chunk = os.read(fd, min(1 << 20, limit - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > self.max_bytes:
            raise self._too_large(name, total)
        return b"".join(chunks)

    def _too_large(self, name: str, size: int) -> CheckpointTooLarge:
        return CheckpointTooLarge(
            f"checkpoint {name!r} is {size_text(size)}, larger than the limit of "
            f"{size_text(self.max_bytes)}",
            name=name,
        )

    def read_raw(self, name: str) -> bytes:
        """The exact bytes of checkpoint ``name`` (no lock needed: writes are atomic)."""
        return self._read_raw(name)[0]

    def _read_raw(self, name: str) -> tuple[bytes, os.stat_result]:
        path = str(self.path_for(name))
        fd, st = self._open(name, path)
        try:
            return self._read_fd(name, fd, st), st
        except OSError as exc:
            raise CheckpointError(
                f"cannot read checkpoint {name!r}: {exc.strerror or exc}", name=name
            ) from None
        finally:
            os.close(fd)

    def read(self, name: str, *, seen: Checkpoint | None = None) -> Checkpoint:
        """Read and parse checkpoint ``name``; CheckpointNotFound, CorruptCheckpoint, …TooLarge.

        ``seen``: the checkpoint as read before (its document not changed since); when the
        file still has exactly its bytes it is returned instead of parsing them again.
        """
        raw, st = self._read_raw(name)
        version = version_of(raw)
        held = _holds().get((os.getpid(), os.path.join(self._dir, name + ".json.lock")))
        if held is not None:
            # Read under this thread's lock: a write in the same hold need not hash it again.
            held.read = (_file_key(st), version)
        if seen is not None and seen.version == version and seen.name == name:
            return seen
        data = decode_document(raw, name=name)
        return Checkpoint(name=name, data=data, raw=raw, version=version)

    def _current_version(self, name: str, path: str) -> str | None:
        """Version of the file on disk (any size, even corrupt), None when absent."""
        try:
            fd, _st = self._open(name, path)
        except CheckpointNotFound:
            return None
        try:
            with os.fdopen(os.dup(fd), "rb") as file:
                return hashlib.file_digest(file, "sha256").hexdigest()
        except OSError as exc:
            raise CheckpointError(
                f"cannot read checkpoint {name!r}: {exc.strerror or exc}", name=name
            ) from None
        finally:
            os.close(fd)

    # -- writing --------------------------------------------------------------------------------

    def write(
        self,
        name: str,
        data: Mapping[str, Any],
        *,
        expected_version: str | None | _Missing = MISSING,
        create: bool = False,
    ) -> str:
        """Write ``data`` atomically and durably under the lock; return the new version.

        ``expected_version``: MISSING = no check; None = the file must not exist; a version =
        the file must have it (else VersionConflict, file unchanged). ``create=True`` refuses
        an existing checkpoint with CheckpointExists.
        """
        self.validate_name(name)
        _check_expected(expected_version)
        raw = encode_document(data)
        return self._commit(name, raw, expected_version, create)

    def write_raw(
        self,
        name: str,
        raw: bytes,
        *,
        expected_version: str | None | _Missing = MISSING,
        create: bool = False,
        parsed: bool = False,
    ) -> str:
        """Like :meth:`write` for bytes already encoded (they must parse as a JSON object).

        ``parsed``: the caller made these bytes with :func:`encode_document` (a job's manager
        writing the document it keeps), so they are not parsed again.
        """
        self.validate_name(name)
        _check_expected(expected_version)
        if not parsed:
            decode_document(raw, name=name)
        return self._commit(name, bytes(raw), expected_version, create)

    def _check_target(self, name: str, path: str) -> os.stat_result | None:
        """lstat of the file to replace; refuses symlinks and anything but a regular file."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(st.st_mode):
            if self._inside(path) is None:
                raise self._outside(name)
            raise self._through_link(name)
        if not stat.S_ISREG(st.st_mode):
            raise CheckpointWriteError(
                f"could not write checkpoint {name!r}: {name}.json is not a regular file",
                name=name,
            )
        return st

    def _check_version(
        self, name: str, path: str, expected: str | None | _Missing, create: bool
    ) -> os.stat_result | None:
        st = self._check_target(name, path)
        if create and st is not None:
            raise CheckpointExists(f"checkpoint {name!r} already exists", name=name)
        if expected is MISSING:
            return st
        actual = None if st is None else self._known_version(name, st)
        if actual is None and st is not None:
            actual = self._current_version(name, path)
        if actual != expected:
            raise _conflict(name, expected, actual)
        return st

    def _known_version(self, name: str, st: os.stat_result) -> str | None:
        """The version read in this lock hold, when the file is still the one read then."""
        held = _holds().get((os.getpid(), os.path.join(self._dir, name + ".json.lock")))
        if held is None or held.read is None or not stat.S_ISREG(st.st_mode):
            return None
        key, version = held.read
        return version if key == _file_key(st) else None

    def _commit(self, name: str, raw: bytes, expected: str | None | _Missing, create: bool) -> str:
        self._check_size(name, raw)
        path = str(self.path_for(name))
        # Hashed before the lock is taken; big bytes while they are written, under it.
        version = version_of(raw) if len(raw) < _HASH_ASIDE_BYTES else None
        with self._hold(name, self.lock_timeout):
            st = self._check_version(name, path, expected, create)
            self._forget_read(name)
            staged = self._write_temp(name, raw, st, version=version)
            self._install(staged, path, st)
        return staged.version

    def _forget_read(self, name: str) -> None:
        held = _holds().get((os.getpid(), os.path.join(self._dir, name + ".json.lock")))
        if held is not None:
            held.read = None

    def stage(self, name: str, data: Mapping[str, Any]) -> StagedWrite:
        """The first half of :meth:`write`: ``data`` encoded into a durable temp file beside
        checkpoint ``name``, which stays as it is until :meth:`install` renames the temp file
        over it. Nothing is visible yet, so no lock is needed: a caller may stage in one
        thread while it does other durable work (a database commit) in another.
        """
        self.validate_name(name)
        return self._stage(name, encode_document(data))

    def stage_raw(
        self,
        name: str,
        raw: bytes,
        *,
        parsed: bool = False,
        sync: bool = True,
        version: str | None = None,
        journaled: bool = False,
    ) -> StagedWrite:
        """Like :meth:`stage` for bytes already encoded (they must parse as a JSON object).

        ``parsed``: the caller made these bytes with :func:`encode_document`, or parsed them
        with :func:`decode_document`, so they are not parsed again; ``version``: their
        sha256, when the caller has it. ``sync=False`` leaves the fsync to
        :meth:`StagedWrite.sync`, which the caller may run in another thread (:meth:`install`
        runs it when nobody did). ``journaled``: the caller names the temp file in a journal
        of its own, whose recovery asks :meth:`staged_leftover` and removes it; the sweep
        leaves it a week instead of an hour, so that the answer holds until then.
        """
        self.validate_name(name)
        if not parsed:
            decode_document(raw, name=name)
        return self._stage(name, bytes(raw), sync=sync, version=version, journaled=journaled)

    def install(
        self,
        staged: StagedWrite,
        *,
        expected_version: str | None | _Missing = MISSING,
        create: bool = False,
    ) -> str:
        """The second half of :meth:`write`: under the lock, check the version as ``write``
        does and rename the staged bytes over the checkpoint; return the new version. The
        temp file is removed when the write is refused or fails."""
        name = staged.name
        path = str(self.path_for(name))
        try:
            _check_expected(expected_version)
            staged.sync()
            with self._hold(name, self.lock_timeout):
                st = self._check_version(name, path, expected_version, create)
                self._forget_read(name)
                self._install(staged, path, st)
        except BaseException:
            staged.discard()
            raise
        return staged.version

    def size_problem(self, raw: bytes) -> str | None:
        """Why ``raw`` is too large to write (None: it is not), as a clause."""
        if len(raw) <= self.max_bytes:
            return None
        return (
            f"would be {size_text(len(raw))}, larger than the limit of {size_text(self.max_bytes)}"
        )

    def _check_size(self, name: str, raw: bytes) -> None:
        problem = self.size_problem(raw)
        if problem is not None:
            raise CheckpointTooLarge(f"checkpoint {name!r} {problem}", name=name)

    def _stage(
        self,
        name: str,
        raw: bytes,
        *,
        sync: bool = True,
        version: str | None = None,
        journaled: bool = False,
    ) -> StagedWrite:
        self._check_size(name, raw)
        old = self._check_target(name, str(self.path_for(name)))
        return self._write_temp(name, raw, old, sync=sync, version=version, journaled=journaled)

    def _write_temp(
        self,
        name: str,
        raw: bytes,
        old: os.stat_result | None,
        *,
        sync: bool = True,
        version: str | None = None,
        journaled: bool = False,
    ) -> StagedWrite:
        """``raw`` in a new temp file with the mode (and, when allowed, the owner) of the file
        it is to replace; fsynced, or (``sync=False``) left open for :meth:`StagedWrite.sync`.
        ``version``: the sha256 of ``raw`` when the caller has it; else worked out here, for
        big bytes in another thread while this one writes them."""
        try:
            prefix = f".{name}.json.{_JOURNALED if journaled else ''}"
            fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=self._dir)
        except OSError as exc:
            message = _write_failure(name, exc, existed=old is not None)
            raise CheckpointWriteError(message, name=name) from None
        hashed = _Hashing(raw) if version is None and len(raw) >= _HASH_ASIDE_BYTES else None
        mode = 0o666 & ~_umask() if old is None else stat.S_IMODE(old.st_mode)
        try:
            try:
                if old is not None and (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
                    # Keep the job's owner and group when allowed (root, or a group we're in).
                    with suppress(PermissionError):
                        os.fchown(fd, old.st_uid, old.st_gid)
                os.fchmod(fd, mode)  # mkstemp makes 0600 files
                _write_all(fd, raw)
                if sync:
                    os.fsync(fd)
            finally:
                if sync:
                    os.close(fd)
        except BaseException as exc:
            if not sync:
                with suppress(OSError):
                    os.close(fd)
            with suppress(OSError):
                os.unlink(tmp)
            if isinstance(exc, OSError):
                message = _write_failure(name, exc, existed=old is not None)
                raise CheckpointWriteError(message, name=name) from None
            raise
        if version is None:
            version = hashed.version() if hashed is not None else version_of(raw)
        return StagedWrite(name, tmp, version, mode, None if sync else fd, existed=old is not None)

    def _install(self, staged: StagedWrite, path: str, old: os.stat_result | None) -> None:
        """Rename the staged temp file over ``path`` and fsync the directory."""
        try:
            if old is not None and stat.S_IMODE(old.st_mode) != staged.mode:
                os.chmod(staged.temp_path, stat.S_IMODE(old.st_mode))  # changed since staged
            os.replace(staged.temp_path, path)
        except OSError as exc:
            staged.discard()
            message = _write_failure(staged.name, exc, existed=old is not None)
            raise CheckpointWriteError(message, name=staged.name) from None
        try:
            _fsync_directory(self._dir)
        except OSError as exc:
            logger.warning(
                "checkpoint %s written, but the directory fsync failed: %s", staged.name, exc
            )

    def delete(self, name: str, *, expected_version: str | None | _Missing = MISSING) -> None:
        """Remove checkpoint ``name`` under its lock (the ``.lock`` file is kept)."""
        _check_expected(expected_version)
        path = str(self.path_for(name))
        with self._hold(name, self.lock_timeout):
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                st = None
            if st is not None and stat.S_ISLNK(st.st_mode):
                # Deleting the link would leave the checkpoint it stands for as it is.
                if self._inside(path) is None:
                    raise self._outside(name)
                raise self._through_link(name)
            self._forget_read(name)
            if expected_version is not MISSING:
                actual = None if st is None else self._current_version(name, path)
                if actual != expected_version:
                    raise _conflict(name, expected_version, actual)
            if st is None:
                raise CheckpointNotFound(f"checkpoint {name!r} does not exist", name=name)
            try:
                os.unlink(path)
            except FileNotFoundError:
                raise CheckpointNotFound(f"checkpoint {name!r} does not exist", name=name) from None
            except OSError as exc:
                raise CheckpointWriteError(
                    f"could not delete checkpoint {name!r}: {exc.strerror or exc}", name=name
                ) from None
            try:
                _fsync_directory(self._dir)
            except OSError as exc:
                logger.warning(
                    "checkpoint %s deleted, but the directory fsync failed: %s", name, exc
                )

    # -- temp files -----------------------------------------------------------------------------

    def sweep_if_due(self) -> None:
        """Sweep leftover temp files unless this store did within the last ten minutes (a
        job's manager calls it when it starts, so a job nobody lists cleans up after the
        crashes it had)."""
        if time.monotonic() - self._last_sweep > _SWEEP_EVERY:
            self.sweep_temp_files()

    def staged_leftover(self, name: str, fname: str) -> Path | None:
        """The temp file ``fname`` a write of checkpoint ``name`` staged, when it is still
        beside the checkpoint (a regular file, not a link): its bytes were never renamed
        into place. A journaled write's (:meth:`stage_raw`) is left a week by the sweep, for
        this question; any other temp file an hour (:meth:`sweep_temp_files`)."""
        match = _TEMP_RE.fullmatch(fname)
        if match is None or match.group(1) != name:
            return None
        path = os.path.join(self._dir, fname)
        try:
            st = os.lstat(path)
        except OSError:
            return None
        return Path(path) if stat.S_ISREG(st.st_mode) else None

    def discard_leftover(self, name: str, fname: str) -> None:
        """Remove the temp file :meth:`staged_leftover` found, if it is still there."""
        path = self.staged_leftover(name, fname)
        if path is not None:
            with suppress(FileNotFoundError):
                path.unlink()

    def sweep_temp_files(
        self, older_than: float = TEMP_KEPT, *, journaled_older_than: float = JOURNALED_TEMP_KEPT
    ) -> list[Path]:
        """Remove this store's temp files (``.N.json.*.tmp``) not modified for ``older_than`` s;
        a journaled write's (``.N.json.journaled_*.tmp``), evidence for its change's recovery
        (see :meth:`staged_leftover`), only when not modified for ``journaled_older_than`` s."""
        now = time.time()
        cutoff, journaled_cutoff = now - older_than, now - journaled_older_than
        removed: list[Path] = []
        self._last_sweep = time.monotonic()
        try:
            entries = list(os.scandir(self._dir))
        except OSError:
            return removed
        for entry in entries:
            match = _TEMP_RE.fullmatch(entry.name)
            if match is None or match.group(1).endswith(_NOT_NAME_ENDINGS):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
                journaled = match.group(2).startswith(_JOURNALED)
                if not stat.S_ISREG(st.st_mode):
                    continue
                if st.st_mtime > (journaled_cutoff if journaled else cutoff):
                    continue
                os.unlink(entry.path)
            except OSError:
                continue
            removed.append(Path(entry.path))
        self.stats.swept += len(removed)
        if removed:
            logger.info("removed %d leftover temp file(s) from %s", len(removed), self._dir)
        return removed

    # -- listing --------------------------------------------------------------------------------

    def list(self) -> builtins.list[CheckpointInfo]:
        """Every checkpoint, sorted by name; only new or changed files are read again.

        Ignores files not named ``*.json`` (locks, temp files), directories, files whose
        name is not a checkpoint name, and symlinks leading outside the directory (see
        :meth:`refused_links`). Corrupt files are listed with their error.
        """
        with self._list_guard:
            return self._list()

    def unlisted(self) -> builtins.list[tuple[str, str]]:
        """The ``*.json`` files the last :meth:`list` left out, sorted, each with why: a name
        that is not a checkpoint name (``café.json``, ``.hidden.json``), something that is
        not a regular file, a symbolic link leading outside the directory, or one to a
        missing file."""
        with self._list_guard:
            out = [
                (fname, self._why_unlisted(fname))
                for fname, entry in self._cache.items()
                if type(entry[1]) is str
            ]
            out.extend(
                (name + ".json", "a symbolic link leading outside the directory")
                for name in self._refused
            )
        return sorted(out)

    def _why_unlisted(self, fname: str) -> str:
        if not _listable(fname[:-5]):
            return "not a checkpoint name"
        path = os.path.join(self._dir, fname)
        try:
            st = os.stat(path)  # (a link inside: its file)
        except OSError:
            return _DANGLING if os.path.islink(path) else "gone"
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            return "a hard link to a file with other names"
        return "not a regular file"

    def why_missing(self, name: str) -> str | None:
        """Why ``name`` has no checkpoint though its file name is there (a symbolic link to a
        missing file: its target was reset, say), else None (also for what is no name)."""
        if not _listable(name):
            return None
        path = os.path.join(self._dir, name + ".json")
        if os.path.islink(path) and not os.path.exists(path):
            return _DANGLING
        return None

    def refused_links(self) -> builtins.list[str]:
        """The checkpoint names the last :meth:`list` left out because their file is a
        symbolic link leading outside the directory (sorted): refused, never read, but
        someone put them there and should hear of it."""
        with self._list_guard:
            return self._refused.copy()

    def _scan(self) -> os._ScandirIterator[str]:
        try:
            return os.scandir(self._dir)
        except OSError as exc:
            raise CheckpointError(
                f"cannot list the checkpoints directory {self._dir!r}: {exc.strerror or exc}"
            ) from None

    def names(self, *, refused: bool = False) -> builtins.list[str]:
        """The names :meth:`list` would list, sorted, found without reading any file: for a
        caller that reads each checkpoint anyway (validation). ``refused``: with those of
        symbolic links leading outside the directory too (reading them raises
        :class:`CheckpointOutsideDirectory`)."""
        found: builtins.list[str] = []
        scan = self._scan()
        with scan:
            for entry in scan:
                name = entry.name[:-5]
                if not entry.name.endswith(".json") or not _listable(name):
                    continue
                try:
                    if entry.is_symlink():
                        real = self._inside(entry.path)
                        if real is None:
                            if not refused:
                                continue  # leads outside the directory
                        elif not os.path.isfile(real):
                            continue  # leads to no file
                    elif not entry.is_file(follow_symlinks=False):
                        continue  # a directory, a FIFO…
                except OSError:
                    continue
                found.append(name)
        return sorted(found)

    def same_but_case(self, name: str) -> str | None:
        """The one existing checkpoint whose name differs from ``name`` only in letter case
        (what a person probably meant when ``name`` does not exist), or None: none, or
        several. Only a hint: nothing is ever done to it in ``name``'s stead."""
        folded = name.casefold()
        try:
            found = [other for other in self.names() if other.casefold() == folded]
        except (OSError, CheckpointError):
            return None
        return found[0] if len(found) == 1 and found[0] != name else None

    def _list(self) -> builtins.list[CheckpointInfo]:
        # The hot path (an unchanged file) is one lstat, one tuple and one dict lookup.
        cache = self._cache
        get = cache.get
        items: builtins.list[CheckpointInfo | str] = []  # per unchanged file: its info, or its name
        append = items.append
        misses: builtins.list[os.DirEntry[str]] = []
        seen_temp = False
        scan = self._scan()
        with scan:
            for entry in scan:
                fname = entry.name
                if not fname.endswith(".json"):
                    if fname.endswith(".tmp"):
                        seen_temp = True
                    continue
                cached = get(fname)
                if cached is None:
                    misses.append(entry)  # new: its fstat will do
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if cached[0] == (st.st_ino, st.st_size, st.st_mtime_ns):
                    append(cached[1])
                    continue
                misses.append(entry)
        if misses or len(items) != len(cache):
            self._refresh(items, misses)
        else:
            self._refused = []  # (a symlink is never cached as unchanged: always a miss)
        result = self._listed.copy()
        if seen_temp and time.monotonic() - self._last_sweep > _SWEEP_EVERY:
            self.sweep_temp_files()
        return result

    def _refresh(
        self, items: builtins.list[CheckpointInfo | str], misses: builtins.list[os.DirEntry[str]]
    ) -> None:
        old = self._cache
        cache: dict[str, _CacheEntry] = {}
        infos: builtins.list[CheckpointInfo] = []
        refused: builtins.list[str] = []
        for item in items:
            if isinstance(item, str):
                cache[item] = old[item]
            else:
                fname = item.name + ".json"
                cache[fname] = old[fname]
                infos.append(item)
        if misses:
            self._examine(misses, old, cache, infos, refused)
        infos.sort(key=_NAME_OF)
        refused.sort()
        self._cache = cache
        self._listed = infos
        self._refused = refused

    def _examine(
        self,
        misses: builtins.list[os.DirEntry[str]],
        old: dict[str, _CacheEntry],
        cache: dict[str, _CacheEntry],
        infos: builtins.list[CheckpointInfo],
        refused: builtins.list[str],
    ) -> None:
        """Read new and changed files into ``cache`` and ``infos``, and the names of symlinks
        leading outside the directory into ``refused`` (never raises)."""
        now_ns = time.time_ns()
        describe = self._describe
        dir_fd = os.open(self._dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
        try:
            for entry in misses:  # kept tight: a cold listing runs this once per file
                fname = entry.name
                name = fname[:-5]
                cached: _CacheEntry | None
                if not _listable(name):
                    cached = _ignored(entry)
                else:
                    try:
                        fd = os.open(fname, _READ_FLAGS, dir_fd=dir_fd)
                    except OSError as exc:
                        cached = self._open_failed(name, entry, exc, old.get(fname), refused)
                    else:
                        try:
                            cached = describe(name, fd, old.get(fname), now_ns)
                        finally:
                            os.close(fd)
                if cached is not None:
                    cache[fname] = cached
                    if type(cached[1]) is not str:
                        infos.append(cached[1])  # type: ignore[arg-type]
        finally:
            os.close(dir_fd)

    def _open_failed(
        self,
        name: str,
        entry: os.DirEntry[str],
        exc: OSError,
        old: _CacheEntry | None,
        refused: builtins.list[str],
    ) -> _CacheEntry | None:
        if exc.errno == errno.ELOOP:  # a symlink: its own stat says nothing of its target
            real = self._inside(entry.path)
            if real is None:
                refused.append(name)  # leads outside the directory: never read
                return None
            return self._examine_link(name, real, old)
        if exc.errno == errno.ENOENT:
            return None  # gone since the scan
        return self._unreadable(name, entry, exc)

    def _examine_link(self, name: str, real: str, old: _CacheEntry | None) -> _CacheEntry | None:
        """A symlink's entry, by its target ``real`` (in the directory)."""
        try:
            fd = os.open(real, _READ_FLAGS)
        except OSError:
            # (a link to a missing file, say to a checkpoint just reset: named as left out,
            # and looked at again at each listing, for its target may come back)
            return (None, name + ".json", (0, 0, 0))
        try:
            return self._describe(name, fd, old, None)
        finally:
            os.close(fd)

    def _unreadable(self, name: str, entry: os.DirEntry[str], exc: OSError) -> _CacheEntry | None:
        try:
            st = entry.stat()
        except OSError:
            return None
        self.stats.parsed += 1
        info = self._broken(name, st.st_size, st.st_mtime, None, _os_error(exc))
        return (None, info, (st.st_ino, st.st_size, st.st_mtime_ns))

    def _describe(
        self, name: str, fd: int, old: _CacheEntry | None, now_ns: int | None
    ) -> _CacheEntry:
        """Read, parse and check an open file into a cache entry (never raises).

        ``now_ns`` None: never trust the key (a symlink, whose own stat says nothing).
        """
        try:
            st = os.fstat(fd)
        except OSError as exc:
            self.stats.parsed += 1
            return (None, self._broken(name, 0, 0.0, None, _os_error(exc)), (0, 0, 0))
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        trusted = None if now_ns is None or now_ns - st.st_mtime_ns < _RACY_NS else key
        if not stat.S_ISREG(st.st_mode):
            return (trusted, name + ".json", key)  # a directory, a FIFO…: ignored
        if st.st_nlink > 1 and self.refuse_hard_links:
            # A hard link: never read (see _refuse_hard_link); looked at again each listing,
            # since removing its other name leaves the key as it is.
            return (None, name + ".json", key)
        try:
            size = st.st_size
            if size > self.max_bytes:
                raise self._too_large(name, size)
            raw = os.read(fd, size + 1)
            if len(raw) != size:
                raw = self._read_rest(name, fd, raw)
        except CheckpointError as exc:  # too large
            self.stats.parsed += 1
            return (trusted, self._broken(name, st.st_size, st.st_mtime, None, exc.message), key)
        except OSError as exc:
            self.stats.parsed += 1
            return (trusted, self._broken(name, st.st_size, st.st_mtime, None, _os_error(exc)), key)
        version = hashlib.sha256(raw).hexdigest()
        previous = None if old is None or old[2] != key else old[1]
        if isinstance(previous, CheckpointInfo) and previous.version == version:
            # Cached while recently modified (or a symlink): unchanged, as its bytes are.
            self.stats.verified += 1
            return (trusted, previous, key)
        self.stats.parsed += 1
        try:
            data = decode_document(raw, name=name)
        except CorruptCheckpoint as exc:
            error = exc.message
            return (trusted, self._broken(name, st.st_size, st.st_mtime, version, error), key)
        return (trusted, _derive(name, st.st_size, st.st_mtime, raw, version, data), key)

    @staticmethod
    def _broken(
        name: str, size: int, mtime: float, version: str | None, error: str
    ) -> CheckpointInfo:
        return CheckpointInfo(
            name=name,
            size=size,
            modified=mtime,
            version=version,
            kind=None,
            summary=None,
            findings=(),
            error=error,
        )


def _os_error(exc: OSError) -> str:
    return f"cannot read the file: {exc.strerror or exc}"


def _checks(
    name: str, kind: str, data: Any, raw: bytes
) -> tuple[Summary | None, tuple[Finding, ...]]:
    """Summary and time-independent findings of a parsed document (never raises).

    One ``examine`` call, so each date list is taken apart once for both.
    """
    from checkpoints_admin.checkpoints.kinds import Finding
    from checkpoints_admin.checkpoints.summary import examine

    try:
        summary, findings = examine(data, kind=kind)
        return summary, tuple(file_findings(findings, raw, data))
    except Exception as exc:  # a checker bug must not break the listing
        logger.exception("could not check checkpoint %s", name)
        return None, (Finding("error", "", f"this checkpoint could not be checked: {exc}"),)


def _listable(name: str) -> bool:
    """Whether ``N.json`` is listed as checkpoint ``N`` (a checkpoint name; not a lock or
    temp file's)."""
    return _NAME_RE.fullmatch(name) is not None and not name.endswith(_NOT_NAME_ENDINGS)


def _ignored(entry: os.DirEntry[str]) -> _CacheEntry | None:
    """Cache entry of a ``*.json`` file whose name is not a checkpoint name."""
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return None
    key = (st.st_ino, st.st_size, st.st_mtime_ns)
    return (key, entry.name, key)


def _derive(
    name: str, size: int, mtime: float, raw: bytes, version: str, data: dict[str, Any]
) -> CheckpointInfo:
    global _detect_kind
    if _detect_kind is None:
        from checkpoints_admin.checkpoints.kinds import detect_kind

        _detect_kind = detect_kind
    kind = _detect_kind(data)
    if len(raw) <= _LAZY_MAX_BYTES:
        return _LazyInfo.deferred(name, size, mtime, version, kind, raw)
    summary, findings = _checks(name, kind, data, raw)
    return CheckpointInfo(
        name=name,
        size=size,
        modified=mtime,
        version=version,
        kind=kind,
        summary=summary,
        findings=findings,
        error=None,
    )


_detect_kind: Callable[[Any], str] | None = None
_SUMMARY_SLOT: Final = CheckpointInfo.__dict__["summary"]
_FINDINGS_SLOT: Final = CheckpointInfo.__dict__["findings"]
_INFO_FIELDS: Final = tuple(f.name for f in fields(CheckpointInfo))
(
    _set_name,
    _set_size,
    _set_modified,
    _set_version,
    _set_kind,
    _set_summary,
    _set_findings,
    _set_error,
) = (CheckpointInfo.__dict__[field].__set__ for field in _INFO_FIELDS)
_new_object = object.__new__


class _LazyInfo(CheckpointInfo):
    """A CheckpointInfo whose summary and findings are computed on first access.

    list() reads and parses every new file (to know its version and whether it is corrupt)
    but leaves the costlier checks until someone looks; the result is kept in the cached info.
    Behaves as a CheckpointInfo in every way (equality, hashing, pickling, replace).
    """

    __slots__ = ("_source",)
    _source: bytes | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        CheckpointInfo.__init__(self, *args, **kwargs)
        object.__setattr__(self, "_source", None)

    @classmethod
    def deferred(
        cls, name: str, size: int, mtime: float, version: str, kind: str, raw: bytes
    ) -> _LazyInfo:
        # Slot by slot: several times cheaper than the frozen dataclass __init__ (cold list()).
        info = _new_object(cls)
        _set_name(info, name)
        _set_size(info, size)
        _set_modified(info, mtime)
        _set_version(info, version)
        _set_kind(info, kind)
        _set_summary(info, None)
        _set_findings(info, ())
        _set_error(info, None)
        _set_source(info, raw)
        return info

    def _resolve(self) -> None:
        raw = self._source
        if raw is None:
            return
        kind = self.kind or "unknown"
        summary, findings = _checks(self.name, kind, orjson.loads(raw), raw)
        _SUMMARY_SLOT.__set__(self, summary)
        _FINDINGS_SLOT.__set__(self, findings)
        object.__setattr__(self, "_source", None)

    @property  # type: ignore[misc]
    def summary(self) -> Summary | None:
        self._resolve()
        return _SUMMARY_SLOT.__get__(self, CheckpointInfo)  # type: ignore[no-any-return]

    @summary.setter
    def summary(self, value: Summary | None) -> None:
        _SUMMARY_SLOT.__set__(self, value)

    @property  # type: ignore[misc]
    def findings(self) -> tuple[Finding, ...]:
        self._resolve()
        return _FINDINGS_SLOT.__get__(self, CheckpointInfo)  # type: ignore[no-any-return]

    @findings.setter
    def findings(self, value: tuple[Finding, ...]) -> None:
        _FINDINGS_SLOT.__set__(self, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, field) for field in _INFO_FIELDS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CheckpointInfo):
            return NotImplemented
        return self._values() == tuple(getattr(other, field) for field in _INFO_FIELDS)

    __hash__ = CheckpointInfo.__hash__

    def __repr__(self) -> str:
        return "CheckpointInfo" + CheckpointInfo.__repr__(self).removeprefix(
            type(self).__qualname__
        )

    def __reduce__(self) -> tuple[type[CheckpointInfo], tuple[Any, ...]]:
        return CheckpointInfo, self._values()


_set_source = _LazyInfo.__dict__["_source"].__set__
