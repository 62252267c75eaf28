"""Structural diff of two checkpoint documents, and the RFC 6902 patch between them.

``diff(old, new)`` walks both documents and reports:

- scalar changes, added and removed keys as ``Change(pointer, old, new)``, where an added key
  has ``old is ABSENT`` and a removed key ``new is ABSENT``; pointers are RFC 6901;
- lists of unique strings or integers (dates, items) as sets:
  ``ListChange(pointer, added, removed)``, ``added`` in the new list's order and ``removed``
  in the old list's order;
- a value removed from one such list and added to another list of the same document as a
  ``Move(value, source, target)``; it is then not repeated in either ``ListChange``;
- such a list holding the same values in another order in ``Delta.reordered``
  (an addition to the contract's three fields); order is otherwise ignored;
- any other list: element by element when both have the same length, else one ``Change`` of the
  whole list.

Values are compared strictly by JSON type: ``1``, ``1.0`` and ``true`` differ, and so do
``0.0`` and ``-0.0``.

``None`` stands for an absent file: ``diff(None, doc)`` is one ``Change("", ABSENT, doc)``
(summary ``"created"``), ``diff(doc, None)`` one ``Change("", doc, ABSENT)`` (``"deleted"``).

``json_patch(old, new)`` builds the RFC 6902 operations such that
``jsonpatch.apply_patch(old, patch) == new``. Creating from ``None`` replaces the root (path
``""``) with the new document; deleting (``new is None``) replaces the root with ``null``, so
applying the patch yields ``None`` — the absent file. Operation values share objects with
``new`` (nothing is copied); treat both as read-only. ``json_patch(old, new, delta=d)`` with
``d = diff(old, new)`` gives the same operations, reusing what ``diff`` found.

Both look at a long list of unique strings edited in a few places (a date skipped) by its
edited middle only: its unchanged head and tail are found by comparing slices.

A list of unique strings or integers whose kept values keep their order is patched with
``remove`` ops (by descending index) then ``add`` ops (by ascending index), one per value
that changed; when that would cost more than the list itself (a third of it changed, or its
values were reordered) the list is replaced whole. Other lists keep their common head and
tail and patch the middle position by position.
"""

from __future__ import annotations

import gc
import math
import re
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import compress, filterfalse, repeat
from operator import attrgetter
from typing import Any, Final

import orjson

from checkpoints_admin.checkpoints.kinds import all_strings, strictly_ascending
from checkpoints_admin.checkpoints.runs import agreeing_run
from checkpoints_admin.checkpoints.store import WideInteger, as_json_fragment

__all__ = [
    "ABSENT",
    "Change",
    "Delta",
    "ListChange",
    "Move",
    "diff",
    "escape_token",
    "json_patch",
]


class _Absent:
    """The value on the missing side of an added or removed key (never equal to a JSON value)."""

    __slots__ = ()
    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __reduce__(self) -> str:
        return "ABSENT"

    def __copy__(self) -> _Absent:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _Absent:
        return self


ABSENT: Final = _Absent()


@dataclass(frozen=True, slots=True)
class Change:
    """A value changed at ``pointer``; ``old``/``new`` is ``ABSENT`` for an added/removed key."""

    pointer: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class ListChange:
    """Values added to and removed from a list of unique scalars (order ignored)."""

    pointer: str
    added: tuple[Any, ...]
    removed: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Move:
    """A value removed from the list at ``source`` and added to the list at ``target``."""

    value: Any
    source: str
    target: str


_MOVE_VALUE: Final = vars(Move)["value"].__set__
_MOVE_SOURCE: Final = vars(Move)["source"].__set__
_MOVE_TARGET: Final = vars(Move)["target"].__set__

_SUMMARY_PARTS: Final = 3
_LINE_VALUES: Final = 20
_MOVE_LINES: Final = 5
_VALUE_CHARS: Final = 60
_DATE_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


@dataclass(frozen=True, slots=True)
class Delta:
    """What changed between two versions of a document."""

    changes: tuple[Change, ...] = ()
    lists: tuple[ListChange, ...] = ()
    moves: tuple[Move, ...] = ()
    reordered: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        """True when both versions are the same document."""
        return not (self.changes or self.lists or self.moves or self.reordered)

    @property
    def created(self) -> bool:
        """True when the document did not exist before."""
        return (
            len(self.changes) == 1
            and self.changes[0].pointer == ""
            and _absent(self.changes[0].old)
        )

    @property
    def deleted(self) -> bool:
        """True when the document no longer exists."""
        return (
            len(self.changes) == 1
            and self.changes[0].pointer == ""
            and _absent(self.changes[0].new)
        )

    def summary(self) -> str:
        """One line for the audit log, abbreviated with "and N more"."""
        if self.empty:
            return "no change"
        if self.created:
            return "created"
        if self.deleted:
            return "deleted"
        parts = self._summary_parts()
        shown = parts[:_SUMMARY_PARTS]
        text = "; ".join(shown)
        if len(parts) > len(shown):
            text += f"; and {len(parts) - len(shown):,} more"
        return text

    def lines(self) -> list[str]:
        """Human lines, one per change (big groups of values abbreviated)."""
        if self.empty:
            return []
        if self.created or self.deleted:
            doc = self.changes[0].new if self.created else self.changes[0].old
            verb = "created" if self.created else "deleted"
            if not isinstance(doc, Mapping):
                return [f"document {verb}: {_show(doc)}"]
            head = [f"document {verb} ({_count(len(doc), 'key')})"]
            return head + [f"{_label('/' + _escape(str(k)))}: {_show(v)}" for k, v in doc.items()]
        out: list[str] = []
        for (source, target), values in _group_moves(self.moves):
            if len(values) <= _MOVE_LINES:
                out.extend(f"{_text(v)}: {_label(source)} → {_label(target)}" for v in values)
            else:
                unit = _unit(values, source, target)
                out.append(
                    f"{len(values):,} {unit} {_label(source)} → {_label(target)}: "
                    + _value_list(values, _LINE_VALUES)
                )
        for lc in self.lists:
            if lc.added:
                out.append(f"{_label(lc.pointer)}: added {_value_list(lc.added, _LINE_VALUES)}")
            if lc.removed:
                out.append(f"{_label(lc.pointer)}: removed {_value_list(lc.removed, _LINE_VALUES)}")
        for ch in self.changes:
            if _absent(ch.old):
                out.append(f"{_label(ch.pointer)}: added {_show(ch.new)}")
            elif _absent(ch.new):
                out.append(f"{_label(ch.pointer)}: removed (was {_show(ch.old)})")
            else:
                out.append(f"{_label(ch.pointer)}: {_show(ch.old)} → {_show(ch.new)}")
        out.extend(f"{_label(p)}: reordered (same values)" for p in self.reordered)
        return out

    def _summary_parts(self) -> list[str]:
        parts: list[str] = []
        for (source, target), values in _group_moves(self.moves):
            if len(values) == 1:
                parts.append(f"{_text(values[0])} {_label(source)} → {_label(target)}")
            else:
                unit = _unit(values, source, target)
                parts.append(
                    f"{len(values):,} {unit} {_label(source)} → {_label(target)} {_span(values)}"
                )
        for lc in self.lists:
            for group, verb in ((lc.added, "added to"), (lc.removed, "removed from")):
                if len(group) == 1:
                    parts.append(f"{_text(group[0])} {verb} {_label(lc.pointer)}")
                elif group:
                    unit = _unit(group, lc.pointer, lc.pointer)
                    parts.append(
                        f"{len(group):,} {unit} {verb} {_label(lc.pointer)} {_span(group)}"
                    )
        for ch in self.changes:
            if _absent(ch.old):
                parts.append(f"{_label(ch.pointer)} added ({_value_text(ch.new, ch.pointer)})")
            elif _absent(ch.new):
                parts.append(f"{_label(ch.pointer)} removed")
            else:
                old, new = _value_text(ch.old, ch.pointer), _value_text(ch.new, ch.pointer)
                parts.append(f"{_label(ch.pointer)} {old} → {new}")
        parts.extend(f"{_label(p)} reordered" for p in self.reordered)
        return parts


# --------------------------------------------------------------------------- diff

# Floats stay out of set comparison: sets conflate 0.0 and -0.0, which JSON writes apart.
_SET_TYPES: Final = frozenset({str, int, bool, type(None)})
_NUMBER_TYPES: Final = frozenset({int, bool})
_OBJECT: Final = "object"
_ARRAY: Final = "array"


def escape_token(key: str) -> str:
    """Escape one object key as an RFC 6901 reference token."""
    if "~" in key or "/" in key:
        return key.replace("~", "~0").replace("/", "~1")
    return key


_escape = escape_token


def _kind(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _OBJECT
    if isinstance(value, list | tuple):
        return _ARRAY
    return type(value)


def _absent(value: Any) -> bool:
    return value is ABSENT


def _set_like(types: set[type]) -> bool:
    """Lists whose elements can be compared as a set without conflating 1, 1.0 and true."""
    return types <= _SET_TYPES and len(types & _NUMBER_TYPES) <= 1


@dataclass(slots=True)
class _SetList:
    pointer: str
    old: Sequence[Any]
    new: Sequence[Any]
    added: set[Any]
    removed: set[Any]


@dataclass(slots=True)
class _Walk:
    changes: list[Change] = field(default_factory=list)
    set_lists: list[_SetList] = field(default_factory=list)
    reordered: list[str] = field(default_factory=list)


def diff(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> Delta:
    """The structural difference between two documents (``None`` = the file is absent)."""
    if old is None and new is None:
        return Delta()
    if old is None:
        return Delta(changes=(Change("", ABSENT, new),))
    if new is None:
        return Delta(changes=(Change("", old, ABSENT),))
    walk = _Walk()
    _walk(old, new, "", walk)
    lists, moves = _resolve_moves(walk.set_lists)
    return Delta(
        changes=tuple(walk.changes),
        lists=tuple(lists),
        moves=tuple(moves),
        reordered=tuple(walk.reordered),
    )


def _walk(old: Any, new: Any, pointer: str, walk: _Walk) -> None:
    if old is new:  # interventions share what they did not change
        return
    kind = _kind(old)
    if kind != _kind(new):
        walk.changes.append(Change(pointer, old, new))
    elif kind is _OBJECT:
        for key, value in old.items():
            path = f"{pointer}/{_escape(key)}"
            if key in new:
                _walk(value, new[key], path, walk)
            else:
                walk.changes.append(Change(path, value, ABSENT))
        for key, value in new.items():
            if key not in old:
                walk.changes.append(Change(f"{pointer}/{_escape(key)}", ABSENT, value))
    elif kind is _ARRAY:
        _walk_list(old, new, pointer, walk)
    elif _differs(old, new):
        walk.changes.append(Change(pointer, old, new))


def _walk_list(old: Sequence[Any], new: Sequence[Any], pointer: str, walk: _Walk) -> None:
    edit = _small_edit(old, new)
    if edit is not None:
        if edit is not _EQUAL:
            head, tail = edit
            old_mid, new_mid = old[head : len(old) - tail], new[head : len(new) - tail]
            old_set, new_set = set(old_mid), set(new_mid)
            removed, added = old_set - new_set, new_set - old_set
            if added or removed:
                walk.set_lists.append(_SetList(pointer, old_mid, new_mid, added, removed))
            else:
                walk.reordered.append(pointer)
        return
    types = set(map(type, old))
    types.update(map(type, new))
    if _set_like(types):
        # No two distinct JSON values of these types compare equal, so == is strict here.
        if old == new:
            return
        old_set, new_set = set(old), set(new)
        if len(old_set) == len(old) and len(new_set) == len(new):
            removed = old_set - new_set if new_set else old_set
            added = new_set - old_set if old_set else new_set
            if added or removed:
                walk.set_lists.append(_SetList(pointer, old, new, added, removed))
            else:
                walk.reordered.append(pointer)
            return
    if len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            _walk(a, b, f"{pointer}/{index}", walk)
    else:
        walk.changes.append(Change(pointer, old, new))


# A list edited in a few places (a date skipped, a few items added) keeps its head and tail,
# which comparing slices finds at C speed; the set work then only needs the middle. Lists of
# unique strings (date lists, item lists) qualify; anything else takes the general path.
_SMALL_EDIT_MIN: Final = 64  # shorter lists take the general path: it is as fast
_SMALL_EDIT_SHARE: Final = 8  # the edited middles are at most 1/8 of both lists together
_EQUAL: Final = (-1, -1)
_SORTED_CHECK_MIN: Final = 20_000  # from this length a pass is cheaper than a set
_CHUNK: Final = 1 << 14


def _equal_ends(old: Sequence[Any], new: Sequence[Any]) -> tuple[int, int]:
    """How many leading and trailing positions hold equal values in both lists.

    Compares slices a growing chunk at a time (C loops that stop at the first difference),
    then bisects the chunk that differs.
    """
    limit = min(len(old), len(new))
    head = _equal_run(old, new, limit, 0, 0)
    if head == limit:
        return head, 0
    return head, _equal_run(old, new, limit - head, len(old), len(new))


def _equal_run(a: Sequence[Any], b: Sequence[Any], limit: int, end_a: int, end_b: int) -> int:
    """Length of the equal run at the start of both lists (``end_a``/``end_b`` 0), or at the
    end of lists of those lengths; at most ``limit``."""

    def same(low: int, high: int) -> bool:
        if end_a:
            return a[end_a - high : end_a - low] == b[end_b - high : end_b - low]
        return a[low:high] == b[low:high]

    return agreeing_run(limit, same, first_step=16, growth=4, max_step=_CHUNK)


def _small_edit(old: Sequence[Any], new: Sequence[Any]) -> tuple[int, int] | None:
    """``(head, tail)`` around the differing middles of two lists of unique strings.

    ``_EQUAL`` when they hold the same strings in the same order; None when the general path
    must decide (short lists, other types, a large edit, duplicates, an unsorted long list).
    Both lists then hold only strings, each once, and equal strings in their first ``head``
    and last ``tail`` positions, so the values added and removed lie in the middles: what
    the general path would find with sets of the whole lists.
    """
    size = len(old) + len(new)
    if size < _SMALL_EDIT_MIN or type(old) is not list or type(new) is not list:
        return None
    if not old or type(old[0]) is not str:  # other values, or all of ``new`` is new
        return None
    head, tail = _equal_ends(old, new)
    old_mid = old[head : len(old) - tail]
    new_mid = new[head : len(new) - tail]
    if (len(old_mid) + len(new_mid)) * _SMALL_EDIT_SHARE > size:
        return None
    big = len(old) >= _SORTED_CHECK_MIN
    # Before the pass over the types: an unsorted list usually fails at once.
    if big and old_mid != new_mid and not strictly_ascending(old):
        return None
    if not (all_strings(old) and all_strings(new)):
        return None
    if old_mid == new_mid:
        return _EQUAL
    new_set = set(new_mid)
    if len(new_set) != len(new_mid):
        return None
    # ``old`` holding each value once, ``new`` repeats one only if its middle holds one of
    # the head or tail of ``old`` (the middle of ``old`` is in neither).
    added = new_set.difference(old_mid)
    if not big:
        old_set = set(old)
        if len(old_set) != len(old) or not added.isdisjoint(old_set):
            return None
        return head, tail
    # A big set costs more than a pass: a strictly ascending list holds each value once.
    end = len(old) - tail
    for value in added:
        index = bisect_left(old, value, 0, head)
        if index < head and old[index] == value:
            return None
        index = bisect_left(old, value, end)
        if index < len(old) and old[index] == value:
            return None
    return head, tail


def _resolve_moves(set_lists: list[_SetList]) -> tuple[list[ListChange], list[Move]]:
    """Pair values removed from one list with values added to another as moves."""
    moves: list[Move] = []
    remaining_added = [entry.added for entry in set_lists]
    for source in set_lists:
        removed = source.removed
        for index, target in enumerate(set_lists):
            if target is source or not removed or not remaining_added[index]:
                continue
            added = remaining_added[index]
            moved = removed & added
            if not moved:
                continue
            removed = set() if len(moved) == len(removed) else removed - moved
            remaining_added[index] = set() if len(moved) == len(added) else added - moved
            values = _in_order(source.old, moved)
            moves.extend(_make_moves(values, source.pointer, target.pointer))
        source.removed = removed
    for entry, added in zip(set_lists, remaining_added, strict=True):
        entry.added = added
    lists = [
        ListChange(
            entry.pointer, _in_order(entry.new, entry.added), _in_order(entry.old, entry.removed)
        )
        for entry in set_lists
        if entry.added or entry.removed
    ]
    return lists, moves


def _make_moves(values: Sequence[Any], source: str, target: str) -> list[Move]:
    """``[Move(v, source, target) for v in values]``, twice as fast for a million values.

    Fills the slots directly instead of calling the frozen dataclass's ``__init__``.
    """
    if len(values) < 1000:
        return [Move(value, source, target) for value in values]
    count = len(values)
    with _gc_paused(count):
        # Every loop below runs in C: map over the slot descriptors' setters.
        moves: list[Move] = list(map(object.__new__, repeat(Move, count)))
        deque(map(_MOVE_VALUE, moves, values), maxlen=0)
        deque(map(_MOVE_SOURCE, moves, repeat(source, count)), maxlen=0)
        deque(map(_MOVE_TARGET, moves, repeat(target, count)), maxlen=0)
    return moves


@contextmanager
def _gc_paused(count: int) -> Iterator[None]:
    """Pause the cyclic collector while creating many small objects that hold no cycles.

    Otherwise it runs a collection every few hundred allocations, which makes a million moves
    take half again as long. Left alone when it is already disabled.
    """
    if count < 10_000 or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _in_order(values: Sequence[Any], wanted: set[Any]) -> tuple[Any, ...]:
    """The members of ``wanted`` in the order they appear in ``values``."""
    if not wanted:
        return ()
    if len(wanted) == len(values):
        return tuple(values)
    return tuple(filter(wanted.__contains__, values))


# --------------------------------------------------------------------------- JSON Patch


def json_patch(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    *,
    delta: Delta | None = None,
) -> list[dict[str, Any]]:
    """RFC 6902 operations turning ``old`` into ``new`` (``None`` = absent file, see module doc).

    ``delta``, when given, must be ``diff(old, new)``: the lists it found to be sets of unique
    values are then patched without checking that again. The operations are the same.
    """
    if old is None and new is None:
        return []
    if old is None or new is None:
        return [{"op": "replace", "path": "", "value": new}]
    ops: list[dict[str, Any]] = []
    _patch(old, new, "", ops, _set_pointers(delta) if delta is not None else frozenset())
    return ops


def _set_pointers(delta: Delta) -> frozenset[str]:
    """The pointers of the lists ``diff`` compared as sets of unique values and found changed."""
    pointers = {change.pointer for change in delta.lists}
    pointers.update(delta.reordered)
    if delta.moves:
        pointers.update(map(attrgetter("source"), delta.moves))
        pointers.update(map(attrgetter("target"), delta.moves))
    return frozenset(pointers)


def _patch(old: Any, new: Any, path: str, ops: list[dict[str, Any]], sets: frozenset[str]) -> None:
    if old is new:
        return
    kind = _kind(old)
    if kind != _kind(new):
        ops.append({"op": "replace", "path": path, "value": new})
    elif kind is _OBJECT:
        for key in old:
            if key not in new:
                ops.append({"op": "remove", "path": f"{path}/{_escape(key)}"})
        for key, value in new.items():
            if key in old:
                _patch(old[key], value, f"{path}/{_escape(key)}", ops, sets)
            else:
                ops.append({"op": "add", "path": f"{path}/{_escape(key)}", "value": value})
    elif kind is _ARRAY:
        _patch_list(old, new, path, ops, sets)
    elif _differs(old, new):
        ops.append({"op": "replace", "path": path, "value": new})


def _patch_list(
    old: Sequence[Any],
    new: Sequence[Any],
    path: str,
    ops: list[dict[str, Any]],
    sets: frozenset[str],
) -> None:
    if path in sets:
        # diff found unique values of set-like types in both lists, and a change.
        head, tail = _equal_ends(old, new)
        set_ops = _set_list_ops(old, new, path, head, tail, unique=True)
    else:
        edit = _small_edit(old, new)
        if edit is _EQUAL:
            return
        if edit is not None:
            set_ops = _set_list_ops(old, new, path, *edit, unique=True)
        else:
            types = set(map(type, old))
            types.update(map(type, new))
            set_ops = None
            if _set_like(types):
                if old == new:
                    return
                set_ops = _set_list_ops(old, new, path)
    if set_ops is not None:
        ops.extend(set_ops)
        return
    list_ops = _sequence_ops(old, new, path, sets)
    if len(list_ops) > 1 and len(list_ops) >= len(new):
        ops.append({"op": "replace", "path": path, "value": new})
    else:
        ops.extend(list_ops)


def _set_list_ops(
    old: Sequence[Any],
    new: Sequence[Any],
    path: str,
    head: int = 0,
    tail: int = 0,
    *,
    unique: bool = False,
) -> list[dict[str, Any]] | None:
    """Removes then adds for a list of unique scalars whose kept values keep their order.

    Returns None when the lists hold duplicates or the kept values were reordered. With
    ``unique`` both lists are known to hold each value once and to hold equal values in
    their first ``head`` and last ``tail`` positions: only the middles are looked at.
    """
    old_mid = old[head : len(old) - tail] if head or tail else old
    new_mid = new[head : len(new) - tail] if head or tail else new
    old_set, new_set = set(old_mid), set(new_mid)
    if not unique and (len(old_set) != len(old) or len(new_set) != len(new)):
        return None
    removed = old_set - new_set
    added = new_set - old_set
    kept_old = list(filterfalse(removed.__contains__, old_mid)) if removed else old_mid
    kept_new = list(filterfalse(added.__contains__, new_mid)) if added else new_mid
    if kept_old != kept_new:
        return None
    changed = len(removed) + len(added)
    # An op costs about four times a bare value in the stored patch.
    if changed > 1 and changed * 3 >= len(new):
        return [{"op": "replace", "path": path, "value": new}]
    ops: list[dict[str, Any]] = []
    if removed:
        indexes = compress(range(head, head + len(old_mid)), map(removed.__contains__, old_mid))
        ops.extend({"op": "remove", "path": f"{path}/{i}"} for i in reversed(list(indexes)))
    if added:
        indexes = compress(range(head, head + len(new_mid)), map(added.__contains__, new_mid))
        ops.extend({"op": "add", "path": f"{path}/{i}", "value": new[i]} for i in indexes)
    return ops


def _sequence_ops(
    old: Sequence[Any], new: Sequence[Any], path: str, sets: frozenset[str]
) -> list[dict[str, Any]]:
    """Common prefix and suffix kept; the middle patched pairwise, then trimmed or extended."""
    limit = min(len(old), len(new))
    start = 0
    while start < limit and _same(old[start], new[start]):
        start += 1
    end = 0
    while end < limit - start and _same(old[len(old) - 1 - end], new[len(new) - 1 - end]):
        end += 1
    old_mid = len(old) - start - end
    new_mid = len(new) - start - end
    paired = min(old_mid, new_mid)
    ops: list[dict[str, Any]] = []
    for offset in range(paired):
        index = start + offset
        _patch(old[index], new[index], f"{path}/{index}", ops, sets)
    for index in range(start + old_mid - 1, start + paired - 1, -1):
        ops.append({"op": "remove", "path": f"{path}/{index}"})
    for index in range(start + paired, start + new_mid):
        ops.append({"op": "add", "path": f"{path}/{index}", "value": new[index]})
    return ops


def _differs(a: Any, b: Any) -> bool:
    """Two scalars of the same type differ (0.0 and -0.0 too: they are written apart)."""
    if a != b:
        return True
    return type(a) is float and a == 0 and math.copysign(1, a) != math.copysign(1, b)


def _same(a: Any, b: Any) -> bool:
    """Deep equality that tells 1, 1.0 and true apart."""
    kind = _kind(a)
    if kind != _kind(b):
        return False
    if kind is _OBJECT:
        return len(a) == len(b) and all(k in b and _same(v, b[k]) for k, v in a.items())
    if kind is _ARRAY:
        return len(a) == len(b) and all(map(_same, a, b))
    return not _differs(a, b)


# --------------------------------------------------------------------------- rendering


def _group_moves(moves: Iterable[Move]) -> Iterator[tuple[tuple[str, str], list[Any]]]:
    groups: dict[tuple[str, str], list[Any]] = {}
    for move in moves:
        groups.setdefault((move.source, move.target), []).append(move.value)
    yield from groups.items()


def _label(pointer: str) -> str:
    """A field as a sentence names it: a dotted path (``stats.processedRecords``, a top-level
    key bare: ``pendingDates``), as the field editor does; findings, the field table and
    ``--set`` show pointers. The pointer itself when a key is empty or holds a ".", a "/" or
    a "~", which dots would make ambiguous; the empty pointer is the whole document."""
    if not pointer:
        return "document"
    tokens = pointer[1:].split("/")
    if any(not token or "." in token or "~" in token for token in tokens):
        return pointer
    return ".".join(tokens)


def _unit(values: Sequence[Any], *pointers: str) -> str:
    first, last = values[0], values[-1]
    if all(isinstance(v, str) and _DATE_RE.match(v) for v in (first, last)):
        return "dates"
    if any("item" in p.lower() for p in pointers):
        return "items"
    return "values"


def _clip(text: str) -> str:
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…"


def _span(values: Sequence[Any]) -> str:
    """``(first … last)`` of values in ascending order (dates, sorted items); else the first
    two and ``…``: an unordered set has no first and last, and would read as a range."""
    try:
        ascending = all(a <= b for a, b in zip(values, values[1:], strict=False))
    except TypeError:  # values of mixed types
        ascending = False
    if ascending and len(values) > 2:
        return f"({_text(values[0])} … {_text(values[-1])})"
    if len(values) == 2:  # (two values are named: "a … b" would read as all between)
        return f"({_text(values[0])}, {_text(values[1])})"
    shown = ", ".join(_text(v) for v in values[:2])
    return f"({shown}{', …' if len(values) > 2 else ''})"


def _show(value: Any) -> str:
    """JSON rendering, shortened (strings quoted)."""
    if _absent(value):
        return "absent"
    try:
        return _clip(orjson.dumps(value, default=as_json_fragment).decode())
    except TypeError:
        return _clip(repr(value))


#: A string that unquoted would read as another value: a number, true/false/null, or one
#: whose blanks at either end a reader would not see.
_READS_AS_OTHER: Final = re.compile(
    r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|true|false|null|\s.*|.*\s", re.S
)


def _text(value: Any) -> str:
    """Plain rendering for the summary: strings unquoted (quoted as JSON where unquoted they
    would read as a number, true, false or null, or lose blanks at their ends: the item
    "1.5" is not 1.5), containers by size."""
    if isinstance(value, str):
        if not value:
            return '""'
        return _show(value) if _READS_AS_OTHER.fullmatch(value) else _clip(value)
    if isinstance(value, Mapping):
        return "{" + _count(len(value), "key") + "}"
    if isinstance(value, list | tuple):
        return "[" + _count(len(value), "item") + "]"
    return _show(value)


_PLAIN_NUMBER: Final = re.compile(r"(-?)([0-9]+)(\.[0-9]+)?\Z")
# Epoch times (startTime, lastUpdateTime, …) are instants, not amounts: 1,709,743,156,789
# would read as a count.
_TIME_KEY: Final = re.compile(r"(?:[Tt]ime|[Tt]imestamp|At|[Uu]pdated|[Cc]reated|[Rr]un)\Z")


def _value_text(value: Any, pointer: str) -> str:
    """A field's value in the summary: amounts with thousands separators (``7,231``,
    ``1,234.5``; ``1e+23`` as written), anything else as :func:`_text` gives it."""
    if _TIME_KEY.search(pointer.rpartition("/")[2]):
        return _text(value)
    if isinstance(value, WideInteger):
        return f"{int(value.literal):,}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _text(value)
    text = _show(value)
    match = _PLAIN_NUMBER.match(text)
    if match is None:
        return text
    sign, whole, fraction = match.groups()
    return f"{sign}{int(whole):,}{fraction or ''}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n:,} {noun}s"


def _value_list(values: Sequence[Any], limit: int) -> str:
    shown = ", ".join(_text(v) for v in values[:limit])
    if len(values) > limit:
        shown += f" and {len(values) - limit:,} more"
    return shown
