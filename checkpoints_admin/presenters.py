"""Shapes for templates: diffs as field rows, value groups and unified text lines; pretty JSON.

Templates escape every string given here; nothing is marked safe.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import orjson

from checkpoints_admin.checkpoints.diff import ABSENT, Delta, diff, escape_token
from checkpoints_admin.checkpoints.kinds import time_at
from checkpoints_admin.checkpoints.store import as_json_fragment, size_text, with_literals

MAX_SHOWN_VALUES: Final = 50
MAX_TEXT_LINES: Final = 5000
MAX_PRETTY_BYTES: Final = 256 * 1024
VALUE_CHARS: Final = 240

_HUNK_RE: Final = re.compile(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


#: Integers beyond 64 bits of a file, as :func:`wide_integers` finds them: (path, digits).
WideIntegers = Sequence[tuple[list[str | int], str]]


#: Characters that do not show as themselves in a page or a message: C0 and C1 controls (a
#: line break or a tab reads as a space), bidirectional marks, embeddings, overrides and
#: isolates (they reorder the text around them: an item could make the console's own words
#: read backwards), line and paragraph separators, zero-width and other invisible characters,
#: and lone surrogates.
_OTHER_HIDDEN = (
    "\\x7f-\\x9f\\u00ad\\u061c\\u180e\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2064"
    "\\u2066-\\u2069\\ufeff\\ud800-\\udfff"
)
HIDDEN_RE = re.compile(f"[\\x00-\\x1f{_OTHER_HIDDEN}]")
#: The same but line breaks, carriage returns and tabs, for text shown as lines (a document
#: as a file has it, in a ``<pre>`` or a text diff).
HIDDEN_BUT_LINES_RE = re.compile(f"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f{_OTHER_HIDDEN}]")


def escape_char(char: str) -> str:
    """A character as its Python escape: ``\\u202e``, ``\\n``, ``\\x1b``."""
    return char.encode("unicode_escape", "backslashreplace").decode("ascii")


def visible_text(text: str) -> str:
    """``text`` with each character of :data:`HIDDEN_RE` written as its escape (``\\u202e``,
    ``\\n``), for plain text that quotes a checkpoint: the commands' output, a message sent
    to the page's script, which sets it as text (the templates' ``shown`` filter does the
    same in HTML)."""
    return HIDDEN_RE.sub(lambda match: escape_char(match.group()), text)


def show(value: Any, limit: int = VALUE_CHARS) -> str:
    """A JSON value as compact text for a table cell, cut at ``limit`` characters."""
    if value is ABSENT:
        return ""
    try:
        text = orjson.dumps(value, default=as_json_fragment).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def pretty(data: Any) -> str:
    """The document as the store writes it: 2-space indented JSON (an integer beyond 64 bits
    of a shown document as its digits: :func:`with_literals`).

    Also for a file another program wrote nested deeper than orjson writes (255 levels; it
    reads up to 1,024), laid out the same way without recursion.
    """
    try:
        return orjson.dumps(data, default=as_json_fragment, option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONEncodeError as exc:
        if "recursion" not in str(exc).lower():
            raise
        return _pretty_deep(data)


#: How much of a patch a page shows: operations, and characters in all (one operation can
#: carry a whole list, or a whole document restored: megabytes that hang a browser's tab).
PATCH_OPERATIONS_SHOWN: Final = 200
PATCH_CHARS_SHOWN: Final = 100_000


@dataclass(frozen=True)
class PatchExcerpt:
    """The beginning of an RFC 6902 patch as a page shows it: ``text`` laid out as
    :func:`pretty` lays out the whole patch; ``note`` says what is left out, if anything."""

    text: str
    count: int
    note: str


def patch_excerpt(
    patch: Sequence[Any],
    *,
    operations: int = PATCH_OPERATIONS_SHOWN,
    chars: int = PATCH_CHARS_SHOWN,
) -> PatchExcerpt:
    """The first operations of ``patch`` that fit in ``operations`` and ``chars``; the
    beginning of the first one when even it is longer."""
    pieces: list[str] = []
    used = 0
    for op in patch[:operations]:
        text = "  " + pretty(op).replace("\n", "\n  ")
        if used + len(text) > chars:
            if not pieces:
                cut = text[:chars].rsplit("\n", 1)[0]
                return PatchExcerpt(
                    f"[\n{cut}\n  …",
                    len(patch),
                    f"The first operation is {size_text(len(text))} long: its beginning is "
                    f"shown{_rest(len(patch) - 1)}.",
                )
            break
        pieces.append(text)
        used += len(text) + 2
    if not pieces:
        return PatchExcerpt("[]", 0, "")
    shown = len(pieces)
    what = "operation is" if shown == 1 else f"{shown:,} operations are"
    note = "" if shown == len(patch) else f"The first {what} shown."
    return PatchExcerpt("[\n" + ",\n".join(pieces) + "\n]", len(patch), note)


def _rest(count: int) -> str:
    return "" if count <= 0 else f", and {count:,} more operation{'s' if count != 1 else ''}"


def _pretty_deep(data: Any) -> str:
    """orjson's ``OPT_INDENT_2`` layout of ``data``, built with a stack instead of recursion
    (scalars and keys are still encoded by orjson)."""
    out: list[str] = []
    # Work items: a value to write at an indent, or a literal piece of text.
    stack: list[tuple[Any, int] | str] = [(data, 0)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        value, indent = item
        if isinstance(value, dict | list) and value:
            inner = "\n" + "  " * (indent + 1)
            pieces: list[tuple[Any, int] | str] = []
            if isinstance(value, dict):
                for n, (key, child) in enumerate(value.items()):
                    pieces += [("," if n else "") + inner + orjson.dumps(key).decode() + ": "]
                    pieces.append((child, indent + 1))
                closing = "}"
            else:
                for n, child in enumerate(value):
                    pieces += [("," if n else "") + inner, (child, indent + 1)]
                closing = "]"
            out.append("{" if closing == "}" else "[")
            stack.append("\n" + "  " * indent + closing)
            stack.extend(reversed(pieces))
        else:
            out.append(orjson.dumps(value, default=as_json_fragment).decode())
    return "".join(out)


@dataclass(frozen=True, slots=True)
class PrettyText:
    text: str
    truncated: bool
    total_bytes: int
    #: The file's own text, not laid out again: it holds an integer beyond 64 bits, which
    #: the parsed document only has as the nearest float (1e+23).
    as_written: bool = False


def pretty_document(
    data: Any, limit: int = MAX_PRETTY_BYTES, written: bytes | None = None
) -> PrettyText:
    """Pretty JSON of ``data``, cut at a line boundary when longer than ``limit`` bytes; the
    file's own text ``written`` instead when given (laying ``data`` out would show another
    number: see :attr:`queries.Loaded.wide_integers`)."""
    as_written = written is not None
    text = written.decode("utf-8", errors="replace") if written is not None else pretty(data)
    size = len(text)
    if size > limit:
        cut = text.rfind("\n", 0, limit)
        text = text[: cut if cut > 0 else limit]
    return PrettyText(text, size > limit, size, as_written)


@dataclass(frozen=True, slots=True)
class FieldRow:
    pointer: str
    before: str
    after: str
    added: bool
    removed: bool
    #: A time kept as epoch milliseconds (``startTime``…), as a person reads it ("" if none).
    before_time: str = ""
    after_time: str = ""


@dataclass(frozen=True, slots=True)
class ValueGroup:
    """Values moved between two lists, or added to / removed from one list."""

    key: str  # stable within one diff: "m0", "a1", "r1"
    kind: str  # "moved" | "added" | "removed"
    source: str
    target: str
    values: Sequence[Any]

    @property
    def count(self) -> int:
        return len(self.values)

    @property
    def shown(self) -> list[str]:
        return [
            value if isinstance(value, str) else show(value, 80)
            for value in self.values[:MAX_SHOWN_VALUES]
        ]

    @property
    def more(self) -> int:
        return max(0, len(self.values) - MAX_SHOWN_VALUES)


@dataclass(frozen=True, slots=True)
class TextLine:
    kind: str  # "hunk" | "context" | "added" | "removed"
    old: int | None
    new: int | None
    text: str


@dataclass(frozen=True)
class DiffView:
    """A diff as the console shows it: summary sentence, fields, value groups, text diff."""

    delta: Delta
    summary: str
    lines: list[str]
    fields: list[FieldRow]
    groups: list[ValueGroup]
    text: list[TextLine] | None
    text_note: str = ""
    reordered: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return self.delta.empty

    def group(self, key: str) -> ValueGroup | None:
        return next((group for group in self.groups if group.key == key), None)


def _groups(delta: Delta) -> list[ValueGroup]:
    moved: dict[tuple[str, str], list[Any]] = {}
    for move in delta.moves:
        moved.setdefault((move.source, move.target), []).append(move.value)
    groups = [
        ValueGroup(f"m{index}", "moved", source, target, values)
        for index, ((source, target), values) in enumerate(moved.items())
    ]
    for index, change in enumerate(delta.lists):
        if change.added:
            groups.append(ValueGroup(f"a{index}", "added", "", change.pointer, change.added))
        if change.removed:
            groups.append(ValueGroup(f"r{index}", "removed", change.pointer, "", change.removed))
    return groups


def _text_lines(old_text: str, new_text: str) -> list[TextLine]:
    out: list[TextLine] = []
    old_no = new_no = 0
    old_lines = old_text.splitlines() if old_text else []
    new_lines = new_text.splitlines() if new_text else []
    for line in difflib.unified_diff(old_lines, new_lines, lineterm="", n=3):
        if line.startswith(("---", "+++")) and not out:
            continue
        match = _HUNK_RE.match(line)
        if match:
            old_no, new_no = int(match.group(1)), int(match.group(2))
            out.append(TextLine("hunk", None, None, line))
        elif line.startswith("+"):
            out.append(TextLine("added", None, new_no, line[1:]))
            new_no += 1
        elif line.startswith("-"):
            out.append(TextLine("removed", old_no, None, line[1:]))
            old_no += 1
        else:
            out.append(TextLine("context", old_no, new_no, line[1:]))
            old_no += 1
            new_no += 1
    return out


def _field_rows(pointer: str, change: Any) -> list[FieldRow]:
    """The table rows of one changed value: a document created or deleted as a whole shows
    one row per top-level field (its JSON on one line would be cut after the first few)."""
    old, new = change.old, change.new
    if pointer == "" and (old is ABSENT) != (new is ABSENT):
        whole = new if old is ABSENT else old
        if isinstance(whole, Mapping) and whole:
            added = old is ABSENT
            return [
                FieldRow(
                    "/" + escape_token(key),
                    "" if added else show(value),
                    show(value) if added else "",
                    added,
                    not added,
                )
                for key, value in whole.items()
            ]
    row = FieldRow(pointer or "(document)", show(old), show(new), old is ABSENT, new is ABSENT)
    if time_at(pointer, 0) is not None:  # (a field keeping a time as epoch milliseconds)
        before, after = _time_text(pointer, old), _time_text(pointer, new)
        row = replace(row, before_time=before, after_time=after)
    return [row]


def _time_text(pointer: str, value: Any) -> str:
    moment = time_at(pointer, value)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC" if moment is not None else ""


def present_diff(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    *,
    max_text_lines: int = MAX_TEXT_LINES,
    delta: Delta | None = None,
    old_raw: bytes | None = None,
    old_wide: WideIntegers = (),
    new_wide: WideIntegers = (),
) -> DiffView:
    """The diff of two documents (None = absent) shaped for the templates; ``delta``: their
    diff when already computed (a preview's, with the integers below as written). ``old_raw``:
    the bytes of an old side that does not parse (a repair): the line diff then starts from
    them, and there are no fields or lists to compare. ``old_wide``, ``new_wide``: the
    integers beyond 64 bits of each side's file (:func:`wide_integers`), shown as written,
    not as the float they were read as."""
    old = with_literals(old, list(old_wide))
    new = with_literals(new, list(new_wide))
    if delta is None:
        delta = diff(old, new)
    unparsed = old is None and old_raw is not None
    fields = [row for change in delta.changes for row in _field_rows(change.pointer, change)]
    old_text = pretty(old) if old is not None else ""
    if unparsed:
        assert old_raw is not None
        old_text = old_raw.decode("utf-8", "replace")
        fields = []
    new_text = pretty(new) if new is not None else ""
    line_count = max(old_text.count("\n"), new_text.count("\n"))
    text: list[TextLine] | None
    if delta.empty:
        text, note = [], ""
    elif line_count > max_text_lines:
        text = None
        note = (
            f"The documents are {line_count:,} lines long; the line diff is left out. "
            "The changes above are complete."
        )
    else:
        text, note = _text_lines(old_text, new_text), ""
    return DiffView(
        delta=delta,
        summary="replaced the file that did not parse" if unparsed else delta.summary(),
        lines=delta.lines(),
        fields=fields,
        groups=[] if unparsed else _groups(delta),
        text=text,
        text_note=note,
        reordered=tuple(getattr(delta, "reordered", ())),
    )


#: The action word a summary was recorded starting with: restores say ``restore to before
#: #3: …``, and resets said ``reset: deleted …`` before they said only ``deleted …``. Other
#: summaries start with a field's name, which may be an action's word (a field "edit").
_ACTION_PREFIXES: Final = {"restore": "restore ", "reset": "reset: "}


def entry_summary(action: str, summary: str) -> str:
    """An audit entry's summary as shown beside its action chip: without the action word it
    was recorded starting with. The stored summary is hashed into the chain, so it is never
    rewritten; only its presentation drops the repeated word."""
    prefix = _ACTION_PREFIXES.get(action)
    if prefix is not None and summary.startswith(prefix):
        return summary[len(prefix) :]
    return summary


def empty_directory_warning(
    directory: str, latest: tuple[int, str, str, Any] | None, *, detailed: bool
) -> str | None:
    """What to say when the checkpoints directory holds nothing at all (no checkpoint, no
    file left out), given the audit log's newest entry (``audit.latest_entry``).

    Its newest change, unless a reset, was to a checkpoint that should be there: the console
    likely reads another directory than the jobs write to (a wrong ``CHECKPOINTS_DIR``, or a
    volume not mounted, which in a container is an empty directory). ``detailed`` (the reader
    may read the audit log) names that entry. None: nothing to warn about.
    """
    if latest is None or latest[2] == "reset":
        return None
    seq, name, action, created = latest
    recorded = (
        f"the audit log's latest entry, #{seq} ({action} of {name!r}, "
        f"{created:%Y-%m-%d %H:%M} UTC), is about a checkpoint that should be in it"
        if detailed
        else "the audit log records changes to checkpoints that should be in it"
    )
    return (
        f"The checkpoints directory {directory} is empty, yet {recorded}. Check that "
        "CHECKPOINTS_DIR is the directory the jobs write to, and in a container that its "
        "volume is mounted."
    )
