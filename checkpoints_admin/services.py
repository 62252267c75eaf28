"""The one write path: every change a person makes to a checkpoint goes through :func:`apply`.

``apply`` takes the checkpoint's lock, finishes any change a crashed process left in the
write-ahead journal, checks the version the person saw, computes the new document with a
pure intervention, validates it, stores both snapshots, journals the attempt, and then commits
the audit entry together with the file change. If the file write fails, no entry remains; if
the entry cannot be committed, the old bytes go back. :func:`preview` computes the same
result without changing anything.
"""

from __future__ import annotations

import getpass
import hmac
import logging
import os
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Final

from django.db import DatabaseError, connection, models, transaction

try:
    import pwd
except ImportError:  # pragma: no cover (Windows)
    pwd = None  # type: ignore[assignment]

from checkpoints_admin.audit import (
    GENESIS,
    EntryFields,
    append_entry,
    append_entry_at,
    chain_waits_at_most,
    entry_number,
    format_time,
    journal_seal,
)
from checkpoints_admin.checkpoints import (
    Checkpoint,
    CheckpointError,
    CheckpointExists,
    CheckpointLockTimeout,
    CheckpointNotFound,
    CheckpointStore,
    CorruptCheckpoint,
    InterventionError,
    InvalidCheckpointName,
    InvalidDocument,
    VersionConflict,
    interventions,
    kinds,
)
from checkpoints_admin.checkpoints import diff as diffs
from checkpoints_admin.checkpoints.diff import Delta
from checkpoints_admin.checkpoints.kinds import Finding, with_article
from checkpoints_admin.checkpoints.store import (
    StagedWrite,
    check_version,
    decode_document,
    duplicate_key,
    encode_document,
    literal_findings,
    shown_literal,
    version_of,
    wide_integers,
    with_literals,
)
from checkpoints_admin.checkpoints.summary import summarize
from checkpoints_admin.conf import get_settings, get_store
from checkpoints_admin.models import (
    AuditEntry,
    PendingChange,
    Snapshot,
    SnapshotCorrupt,
    insert_clauses,
    insert_row,
    insert_rows,
    insert_statement,
    mark_inserted,
    prepared_rows,
)

__all__ = [
    "ACTIONS",
    "SOURCES",
    "Actor",
    "Applied",
    "ChangeNotConfirmed",
    "NoChange",
    "Preview",
    "REASON_MAX_LENGTH",
    "ReasonRequired",
    "ValidationFailed",
    "apply",
    "changes_since",
    "database_problem",
    "discard_unrecorded",
    "finding_json",
    "preview",
    "recover_pending",
    "recovering",
]

logger = logging.getLogger("checkpoints_admin.audit")

ACTIONS: Final = ("create", "edit", "skip", "reprocess", "reset", "restore")
SOURCES: Final = ("web", "cli", "api")
SIDES: Final = ("before", "after")


class ReasonRequired(InterventionError):
    """Every change needs a non-blank reason in plain text."""


#: The longest reason the audit log takes (after surrounding blanks are stripped): the web
#: form, the commands and :func:`apply` all hold reasons to it.
REASON_MAX_LENGTH: Final = 2000

#: Control characters other than tab and the line break (LF; a CRLF is recorded as LF):
#: terminal escapes in a reason would act on the terminal of whoever reads the log or its
#: export, and a carriage return alone writes over what it follows there.
_CONTROL_RE: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def recorded_reason(reason: str) -> str:
    """``reason`` as the audit log records it: line breaks as LF (a browser's textarea sends
    CRLF, and counts it as one character against its maxlength), surrounding blanks off."""
    return reason.replace("\r\n", "\n").strip()


#: Lone surrogates: what Python makes of bytes that are not UTF-8 in a command's arguments.
#: They cannot be stored or hashed as text.
_SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")

#: Bidirectional embeddings, overrides and isolates: they make a reason display in another
#: order than it is stored ("Trojan Source"), so the log would read differently from what it
#: records. The marks (U+200E, U+200F, U+061C) only set the direction of the characters
#: next to them and are typed in right-to-left writing: they are text.
_BIDI_RE: Final = re.compile("[\u202a-\u202e\u2066-\u2069]")

#: Characters that show as nothing although Unicode classes them as letters or symbols.
_BLANK_GLYPHS: Final = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _visible(char: str) -> bool:
    if char.isspace() or char in _BLANK_GLYPHS:
        return False
    return unicodedata.category(char) not in {"Cf", "Cc", "Zs", "Zl", "Zp"}


def _character(reason: str, index: int) -> str:
    char = reason[index]
    label = unicodedata.name(char, "")
    return f"U+{ord(char):04X}{' ' + label if label else ''}, character {index + 1}"


def reason_problem(reason: str) -> str | None:
    """What makes ``reason`` unfit for the audit log (None: nothing): longer than
    :data:`REASON_MAX_LENGTH`, a control or bidirectional control character, bytes that are
    not UTF-8 text, or no visible character at all."""
    reason = reason.replace("\r\n", "\n")  # (as recorded: see recorded_reason)
    if (bad := _SURROGATE_RE.search(reason)) is not None:
        return (
            f"The reason is not valid UTF-8 text (character {bad.start() + 1} is a byte that "
            "is not UTF-8); write it as plain text."
        )
    if (found := _CONTROL_RE.search(reason)) is not None:
        return (
            f"The reason contains a control character (U+{ord(found.group()):04X}, character "
            f"{found.start() + 1}); write it as plain text."
        )
    if (found := _BIDI_RE.search(reason)) is not None:
        return (
            "The reason contains a bidirectional control character "
            f"({_character(reason, found.start())}), which makes it display differently from "
            "what is recorded; write it without."
        )
    length = len(reason.strip())
    if length > REASON_MAX_LENGTH:
        return (
            f"The reason is {length:,} characters long; the audit log takes at most "
            f"{REASON_MAX_LENGTH:,}."
        )
    if reason.strip() and not any(_visible(char) for char in reason):
        hidden = next(i for i, char in enumerate(reason) if not char.isspace())
        return (
            "The reason has no visible character (only blanks and invisible characters, "
            f"such as {_character(reason, hidden)}); write why the change is made."
        )
    return None


class ValidationFailed(InterventionError):
    """The resulting document has errors; nothing was written or recorded."""

    def __init__(self, message: str, *, name: str | None = None, findings: list[Finding]) -> None:
        super().__init__(message, name=name)
        self.findings = findings


class NoChange(InterventionError):
    """The intervention would leave the file exactly as it is."""


class ChangeNotConfirmed(DatabaseError):
    """The database failed after the file was written, and could not say whether the change
    was recorded: the file may have the change. It stays as it is, with its journal row,
    which the next change of the checkpoint or ``verify_audit`` records once the database
    answers (as landed, or not)."""

    #: What the change is now, by whether the file has it (True, False, None: unknown).
    HEADINGS: Final = {
        True: "Applied, not yet recorded",
        None: "The change may have been applied",
        False: "Not applied",
    }

    def __init__(self, name: str, problem: str, *, in_file: bool | None) -> None:
        self.name = name
        self.in_file = in_file
        #: A heading for it, and whether to say that applying again is refused meanwhile.
        self.heading = self.HEADINGS[in_file]
        self.may_be_applied = in_file is not False
        where = f"{name}.json"
        state = (
            f"{where} has the change"
            if in_file
            else f"{where} may have the change"
            if in_file is None
            else f"{where} is as it was"
        )
        self.message = (
            f"The database failed while recording this change ({problem}); {state}. It is "
            "recorded as soon as the database answers (at the next change of this checkpoint, "
            "or by verify_audit). Check the checkpoint before trying again."
        )
        super().__init__(self.message)


def _account(uid: int | None) -> str | None:
    """The name of the account with user id ``uid``, if there is one."""
    if uid is None or pwd is None:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


@dataclass(frozen=True)
class Actor:
    """Who makes a change, and from where."""

    name: str
    source: str  # "web" | "cli" | "api"
    address: str = ""

    @classmethod
    def for_cli(cls) -> Actor:
        """The operating-system user running the command: the account of its user id, not
        ``$USER`` or ``$LOGNAME``, which anyone sets; run through sudo, the person sudo
        let in, as ``alice (sudo)``."""
        if pwd is None:  # (Windows: no user ids; the login name)
            return cls(name=getpass.getuser(), source="cli")
        uid = os.geteuid()
        user = _account(uid) or f"uid:{uid}"  # (no name for this uid: containers)
        sudo = os.environ.get("SUDO_USER", "")
        if uid == 0 and sudo and _account(_int(os.environ.get("SUDO_UID"))) == sudo:
            user = f"{sudo} (sudo)"
        return cls(name=user, source="cli")

    @classmethod
    def for_request(cls, request: Any, *, source: str = "web") -> Actor:
        """The signed-in user of a request and the client address the server saw."""
        user = getattr(request, "user", None)
        name = user.get_username() if user is not None and user.is_authenticated else "anonymous"
        from checkpoints_admin.clientaddr import client_address

        return cls(name=name, source=source, address=client_address(request))


@dataclass(frozen=True)
class Preview:
    """What an intervention would do: both documents, the diff, the patch and the findings."""

    name: str
    action: str
    params: dict[str, Any]
    base_version: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    after_raw: bytes | None
    delta: Delta
    patch: list[dict[str, Any]]
    findings: list[Finding]
    summary: str
    before_raw: bytes | None = field(default=None, repr=False)
    restores: int | None = None
    #: What the person should know beyond the diff (a restore that also undoes later changes).
    notes: tuple[str, ...] = ()
    #: The integers beyond 64 bits of the file and of the bytes to write (path, digits), and
    #: the diff that shows them as written (``delta`` has the floats they are read as).
    wide_before: tuple[tuple[list[str | int], str], ...] = ()
    wide_after: tuple[tuple[list[str | int], str], ...] = ()
    shown_delta: Delta | None = None

    @property
    def view_delta(self) -> Delta:
        """The diff to show a person: integers beyond 64 bits as written."""
        return self.shown_delta if self.shown_delta is not None else self.delta

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    @cached_property
    def result_version(self) -> str | None:
        return version_of(self.after_raw) if self.after_raw is not None else None

    @property
    def changes_file(self) -> bool:
        """Whether applying changes anything: the content (or, for a restore, the bytes)."""
        if self.before_raw == self.after_raw:
            return False
        corrupt = self.before is None and self.before_raw is not None
        return self.action in {"create", "reset", "restore"} or corrupt or not self.delta.empty


@dataclass(frozen=True)
class Applied:
    """An applied intervention: its audit entry, the preview it applied, the new file version."""

    entry: AuditEntry
    preview: Preview
    version: str | None

    @cached_property
    def written(self) -> Checkpoint | None:
        """The checkpoint as written (None after a reset): its document is the preview's,
        to be read only."""
        pv = self.preview
        if pv.after is None or pv.after_raw is None or self.version is None:
            return None
        return Checkpoint(name=pv.name, data=pv.after, raw=pv.after_raw, version=self.version)


# --- preview -------------------------------------------------------------------------------


def _refuse(message: str, name: str) -> InterventionError:
    return InterventionError(message, name=name)


def _check_action(action: str, name: str) -> None:
    if action not in ACTIONS:
        raise _refuse(f"Unknown action {action!r} (expected one of {', '.join(ACTIONS)}).", name)


def _params_dict(params: Any, name: str) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise _refuse("The intervention's parameters must be a JSON object.", name)
    return dict(params)


def _only_keys(params: Mapping[str, Any], allowed: set[str], action: str, name: str) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise _refuse(
            f"Unknown parameter {unknown[0]!r} for {action} (expected: "
            f"{', '.join(sorted(allowed)) or 'none'}).",
            name,
        )


def _string_list(value: Any, what: str, name: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise _refuse(f"Give at least one {what}.", name)
    for item in value:
        if not isinstance(item, str):
            raise _refuse(f"Not {with_article(what)}: {item!r}.", name)
    return list(value)


def _item_list(value: Any, name: str) -> list[str | int | float]:
    """Items as text (each as its argument means it) or as numbers (that very number)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise _refuse("Give at least one item.", name)
    for item in value:
        # (blank text is an argument too: the library refuses it in its own words)
        if not isinstance(item, str) and not interventions.is_item(item):
            raise _refuse(f"Not an item (text or a number): {item!r}.", name)
    return list(value)


def _document(params: Mapping[str, Any], name: str) -> dict[str, Any]:
    document = params.get("document")
    if not isinstance(document, Mapping):
        raise _refuse("The document must be a JSON object.", name)
    return dict(document)


def _compute(
    action: str, params: dict[str, Any], before: dict[str, Any] | None, name: str
) -> dict[str, Any]:
    """The new document of skip, reprocess and edit (pure library functions)."""
    if action == "edit" and "document" in params and "set" not in params:
        _only_keys(params, {"document"}, action, name)
        document = _document(params, name)
        return document if before is None else interventions.replace_document(before, document)
    if before is None:
        raise CorruptCheckpoint(
            f"Checkpoint {name!r} cannot be parsed; only a whole-document edit, a reset or a "
            "restore can change it.",
            name=name,
        )
    if action in {"skip", "reprocess"}:
        _only_keys(params, {"dates", "items"}, action, name)
        if ("dates" in params) == ("items" in params):
            raise _refuse(f"{action.capitalize()} needs either dates or items.", name)
        if "dates" in params:
            # Single dates and A..B ranges go as given: the library knows how each may apply.
            dates = _string_list(params["dates"], "date", name)
            fn = interventions.skip_dates if action == "skip" else interventions.reprocess_dates
            return fn(before, dates)
        items = _item_list(params["items"], name)
        if action == "skip":
            return interventions.skip_items(before, items)
        return interventions.reprocess_items(before, items)
    # edit
    _only_keys(params, {"set", "document", "add"}, action, name)
    if ("set" in params) == ("document" in params):
        raise _refuse("Edit needs either set (pointer → value) or a whole document.", name)
    # (A whole document alone was handled above: only "set" is left.)
    changes = params["set"]
    if not isinstance(changes, Mapping) or not changes:
        raise _refuse("Edit needs at least one JSON pointer and its new value.", name)
    add = params.get("add", True)  # False: a field the document lacks is refused
    if not isinstance(add, bool):
        raise _refuse(f"Edit's add must be true or false, not {add!r}.", name)
    after = before
    for pointer, value in changes.items():
        if not isinstance(pointer, str):
            raise _refuse(f"Not a JSON pointer: {pointer!r}.", name)
        after = interventions.set_field(after, pointer, value, add=add)
    return after


def _restore_target(params: dict[str, Any], name: str) -> tuple[AuditEntry, str, bytes | None]:
    _only_keys(params, {"entry", "side"}, "restore", name)
    seq = params.get("entry")
    if isinstance(seq, str):
        with suppress(ValueError):  # (refused below, as it was given)
            seq = entry_number(seq)
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise _refuse(f"Restore needs an audit entry number, not {seq!r}.", name)
    side = params.get("side", "before")
    if side not in SIDES:
        raise _refuse(f"Restore side must be before or after, not {side!r}.", name)
    entry = AuditEntry.objects.filter(seq=seq).first()
    if entry is None:
        raise _refuse(f"There is no audit entry #{seq}.", name)
    if entry.checkpoint != name:
        raise _refuse(
            f"Audit entry #{seq} is about checkpoint {entry.checkpoint!r}, not {name!r}.", name
        )
    sha = entry.before_id if side == "before" else entry.after_id
    if sha is None:
        return entry, side, None
    try:
        raw = Snapshot.objects.get(pk=sha).raw
    except (Snapshot.DoesNotExist, SnapshotCorrupt) as exc:
        raise _refuse(f"The {side} snapshot of entry #{seq} cannot be read: {exc}", name) from None
    return entry, side, raw


def preview(
    name: str,
    action: str,
    params: dict[str, Any],
    *,
    store: CheckpointStore | None = None,
    now: datetime | None = None,
    keep_base: bool = False,
    seen: Checkpoint | None = None,
) -> Preview:
    """Compute what ``action`` would do to checkpoint ``name``; changes nothing on disk.

    With ``keep_base`` the current bytes are kept as a (content-addressed) snapshot so that
    :func:`changes_since` can later say what changed on disk since this preview. ``seen``:
    the checkpoint as the caller read it, not parsed again while the file still has its
    bytes (its document is only read).
    """
    store = store or get_store()
    name = store.validate_name(name)
    _check_action(action, name)
    params = _params_dict(params, name)
    now = now or datetime.now(UTC)

    before: dict[str, Any] | None = None
    before_raw: bytes | None = None
    base_version: str | None = None
    document: dict[str, Any] | None = None
    if action == "create":
        _only_keys(params, {"document"}, action, name)
        document = _document(params, name)
        if store.exists(name):
            raise CheckpointExists(f"Checkpoint {name!r} already exists.", name=name)
    else:
        target = store.alias_of(name)
        if target is not None:  # refused now, not after a preview it could never apply
            raise InvalidCheckpointName(
                f"Checkpoint {name!r} is a symbolic link to {target!r}; {action} {target!r} "
                "instead (its job writes that file).",
                name=name,
            )
        try:
            checkpoint = store.read(name, seen=seen)
        except CheckpointNotFound:
            if action != "restore":
                raise
        except CorruptCheckpoint:
            # A file that does not parse can still be reset, restored or replaced whole.
            if action not in {"reset", "restore"} and not (
                action == "edit" and "document" in params
            ):
                raise
            before_raw = store.read_raw(name)
        else:
            before, before_raw = checkpoint.data, checkpoint.raw
            base_version = checkpoint.version

    if before_raw is not None and before is None:
        base_version = version_of(before_raw)
    # Integers beyond 64 bits the file has (the document only has the nearest floats): found
    # once, for the two checks below.
    wide = wide_integers(before_raw) if before is not None and before_raw is not None else []
    if action in {"skip", "reprocess"} or (action == "edit" and "set" in params):
        _refuse_wide_integer(name, action, wide, params.get("set") if action == "edit" else None)
    # The intervention, the diff and the validation each check the big lists' types and
    # order; the lists do not change meanwhile, so each list is checked once.
    with kinds.shared_list_checks():
        after, after_raw, restores = _result(action, params, before, document, name)
        if after_raw is not None:
            _refuse_unseen_wide_change(name, action, before, wide, after, after_raw)
        delta = diffs.diff(before, after)
        patch = diffs.json_patch(before, after, delta=delta)
        # Bytes written as given (a whole document) may have integers beyond 64 bits too.
        replaces = action in {"create", "restore"} or (action == "edit" and "document" in params)
        wide_after = wide_integers(after_raw) if replaces and after_raw is not None else []
        shown_delta = (
            diffs.diff(with_literals(before, wide), with_literals(after, wide_after))
            if wide or wide_after
            else None
        )
        findings = (
            literal_findings(
                kinds.validate(after, now=now, stale_after=get_settings().stale_after_seconds),
                after_raw,
                # (bytes encoded from the document keep no such integer: refused above)
                wide_after,
            )
            if after is not None and after_raw is not None
            else []
        )
    too_large = store.size_problem(after_raw) if after_raw is not None else None
    if too_large is not None:
        # The write would refuse it: said here, so that a preview (a dry run) says so too.
        findings = [
            Finding("error", "", f"the result {too_large} (CHECKPOINT_MAX_BYTES)"),
            *findings,
        ]
    summary = _summary(
        action, name, shown_delta or delta, before, before_raw, after_raw, restores, params
    )
    if keep_base and before_raw is not None and base_version is not None:
        keep_version(name, before_raw, base_version)
    return Preview(
        name=name,
        action=action,
        params=params,
        base_version=base_version,
        before=before,
        after=after,
        after_raw=after_raw,
        delta=delta,
        patch=list(patch),
        findings=list(findings),
        summary=summary,
        before_raw=before_raw,
        restores=restores,
        notes=(
            _restore_notes(name, restores, base_version)
            if restores is not None and after_raw != before_raw  # (no change: nothing undone)
            else (
                *_left_out_notes(action, params, delta),
                *_duplicate_notes(name, action, params, before, before_raw, after_raw),
                *_running_job_notes(action, before, now),
            )
        ),
        wide_before=tuple(wide),
        wide_after=tuple(wide_after),
        shown_delta=shown_delta,
    )


def _refuse_wide_integer(
    name: str, action: str, wide: list[tuple[list[str | int], str]], replaced: Any = None
) -> None:
    """A change that keeps the rest of the document writes it back as it was read: an integer
    beyond 64 bits (``wide``, as :func:`wide_integers` found them), read as the nearest float,
    would change with it, unseen in the diff. ``replaced``: the pointers an edit sets, whose
    integers it does not write back (setting the integer itself to a number that fits is how
    the field editor and --set correct it)."""
    pointers = [p for p in replaced if isinstance(p, str)] if isinstance(replaced, Mapping) else []
    kept = (
        (pointer, literal)
        for pointer, literal in ((kinds.json_pointer(*path), lit) for path, lit in wide)
        if not any(pointer == p or pointer.startswith(p + "/") for p in pointers)
    )
    first = next(kept, None)
    if first is None:
        return
    pointer, literal = first
    shown = shown_literal(literal)
    raise _refuse(
        f"{name} has the integer {shown} at {pointer}, which does not fit in 64 bits: this "
        f"{action} would write it back as {float(literal)!r}. Nothing was changed; set it to a "
        "number that fits first (Edit a field, edit_checkpoint --set), or have it written as "
        "a string (Edit raw JSON, edit_checkpoint --from-file, or the job).",
        name,
    )


def _at(document: Any, path: list[str | int]) -> Any:
    """The value at ``path`` of ``document`` (a list index as a number, or as the digits of a
    JSON pointer's token), or ABSENT."""
    for token in path:
        if isinstance(document, list) and isinstance(token, str) and token.isdigit():
            token = int(token)
        in_object = isinstance(document, dict) and isinstance(token, str) and token in document
        in_list = isinstance(document, list) and isinstance(token, int) and token < len(document)
        if not (in_object or in_list):
            return diffs.ABSENT
        document = document[token]
    return document


def _refuse_unseen_wide_change(
    name: str,
    action: str,
    before: dict[str, Any] | None,
    wide: list[tuple[list[str | int], str]],
    after: dict[str, Any] | None,
    after_raw: bytes,
) -> None:
    """A whole document written over a file with an integer beyond 64 bits: where the new
    document has the float that integer was read as (1e+23, what the editor used to show),
    the diff shows no change while the file's integer would change; refuse it. ``wide``: the
    integers beyond 64 bits of the file written over, as :func:`wide_integers` found them."""
    if not wide:
        return
    kept = {tuple(path): literal for path, literal in wide_integers(after_raw)}
    for path, literal in wide:
        if kept.get(tuple(path)) == literal:
            continue  # written back as it is (a restore of bytes that have it)
        new = _at(after, path)
        if new is diffs.ABSENT or new != _at(before, path):
            continue  # removed or changed: the diff shows that
        pointer = kinds.json_pointer(*path)
        shown = shown_literal(literal)
        raise _refuse(
            f"{name} has the integer {shown} at {pointer}, which does not fit in 64 bits: "
            f"this {action} would write it as {float(literal)!r}, a change the diff cannot "
            f'show. Nothing was changed; give it as a string ("{shown}") or another value.',
            name,
        )


def _left_out_notes(action: str, params: Mapping[str, Any], delta: Delta) -> tuple[str, ...]:
    """The dates a skip or reprocess was asked for and leaves as they are (those of a range,
    or of a calendar selection, that are done already or outside the checkpoint's dates): the
    diff shows only what moves, so say what does not."""
    if action not in {"skip", "reprocess"} or not isinstance(params.get("dates"), list):
        return ()
    try:
        asked = interventions.parse_dates(params["dates"])
    except InterventionError:
        return ()
    changed = {move.value for move in delta.moves}
    changed.update(value for lists in delta.lists for value in (*lists.added, *lists.removed))
    left = [day for day in asked if day not in changed]
    if not left:
        return ()
    why = (
        "already done, or outside this checkpoint's dates"
        if action == "skip"
        else "not done yet, or outside this checkpoint's dates"
    )
    return (
        f"{len(left):,} of the {len(asked):,} dates asked for "
        f"{'is' if len(left) == 1 else 'are'} left as {'it is' if len(left) == 1 else 'they are'}"
        f" ({why}): {interventions.named(interventions.date_runs(left))}.",
    )


def _running_job_notes(
    action: str, before: dict[str, Any] | None, now: datetime
) -> tuple[str, ...]:
    """A reset while the job is running: its manager starts again from its initial document
    at the next save, and what the job does then is the job's: one that takes its next date
    or item from the checkpoint (as the README's example does) does its work again, one that
    keeps its own loop goes on from where it is (and ends with the initial lists)."""
    if action != "reset" or before is None:
        return ()
    since = summarize(before).saved_while_running(
        now=now, stale_after=get_settings().stale_after_seconds
    )
    if since is None:
        return ()
    seconds = int(since)
    ago = (
        "just now"
        if seconds < 10
        else f"{seconds} s ago"
        if seconds < 120
        else (f"{seconds // 60} min ago")
    )
    return (
        f"The job looks to be running: it updated this checkpoint {ago}. At its next save "
        "its manager starts again from the initial document. A job that takes its next date "
        "or item from the checkpoint then does its work again; one that keeps its own loop "
        "goes on from where it is, and its checkpoint no longer says what it did. For a "
        "clean start from scratch, stop the job first.",
    )


def _duplicate_notes(
    name: str,
    action: str,
    params: dict[str, Any],
    before: dict[str, Any] | None,
    before_raw: bytes | None,
    after_raw: bytes | None,
) -> tuple[str, ...]:
    """A change that keeps the rest of the document writes it back as it was read: when the
    file gives a key twice, only the last value (the one every reader sees) is written, a
    change the diff cannot show; say so."""
    keeps_the_rest = action in {"skip", "reprocess"} or (action == "edit" and "set" in params)
    if not keeps_the_rest or before is None or before_raw is None or after_raw == before_raw:
        return ()
    key = duplicate_key(before_raw, before)
    if key is None:
        return ()
    return (
        f"{name}.json gives the key {key!r} twice in one object. The file is written back with "
        "only the last value, the one jobs and this page read; the earlier one is not kept.",
    )


def _restore_notes(name: str, seq: int, current: str | None) -> tuple[str, ...]:
    """A restore writes back a whole document: when the file changed since entry ``seq``
    (later entries, or a job's saves), say that it undoes those too."""
    made = AuditEntry.objects.filter(seq=seq).values_list("result_version", flat=True).first()
    if current == made:
        return ()
    later = list(
        AuditEntry.objects.filter(
            checkpoint=name,
            seq__gt=seq,
            outcome__in=(AuditEntry.APPLIED, AuditEntry.RECOVERED),  # those that changed it
        )
        .order_by("seq")
        .values_list("seq", flat=True)[:6]
    )
    undone = "anything the job saved since"
    if later:
        listed = ", ".join(f"#{n}" for n in later[:5]) + (", …" if len(later) > 5 else "")
        undone = f"the later changes ({listed}) and {undone}"
    return (
        f"The file changed since entry #{seq}: a restore puts back the whole document, so it "
        f"also undoes {undone}. The diff shows all of it.",
    )


def _result(
    action: str,
    params: dict[str, Any],
    before: dict[str, Any] | None,
    document: dict[str, Any] | None,
    name: str,
) -> tuple[dict[str, Any] | None, bytes | None, int | None]:
    """The document ``action`` leaves (None: no file), its bytes, and the restored entry."""
    if action == "create":
        assert document is not None
        return document, encode_document(document), None
    if action == "reset":
        _only_keys(params, set(), action, name)
        return None, None, None
    if action == "restore":
        target, side, raw = _restore_target(params, name)
        if raw is None:
            return None, None, target.seq
        try:
            return decode_document(raw, name=name), raw, target.seq
        except CorruptCheckpoint as exc:
            # The file as it was did not parse (a repair's before side): not a checkpoint to
            # write back; its bytes stay downloadable from the entry.
            where = f"line {exc.line}, column {exc.column}: " if exc.line else ""
            raise _refuse(
                f"The {side} side of entry #{target.seq} is a file that does not parse "
                f"({where}{exc.message}); it cannot be written back as a checkpoint. Its bytes "
                "can be downloaded from the audit entry.",
                name,
            ) from None
    after = _compute(action, params, before, name)
    return after, encode_document(after), None


def applied_already(
    name: str,
    action: str,
    params: dict[str, Any],
    *,
    actor: Actor,
    base: str | None,
    actual: str | None,
) -> AuditEntry | None:
    """The entry that already made this change, when the file moved from ``base`` (the
    version previewed) to ``actual`` (now) because ``actor`` applied it (a second click on
    Apply, Back and Apply again): the checkpoint's last entry is theirs, of ``action``, from
    ``base`` to ``actual``, with the result ``params`` give. None otherwise (a conflict)."""
    last = (
        AuditEntry.objects.filter(checkpoint=name, outcome=AuditEntry.APPLIED)
        .order_by("-seq")
        .select_related("before")
        .first()
    )
    if last is None or (last.action, last.actor) != (action, actor.name):
        return None
    if (last.base_version, last.result_version) != (base, actual):
        return None
    return last if _repeats(last, action, params) else None  # (else another change)


def _repeats(entry: AuditEntry, action: str, params: dict[str, Any]) -> bool:
    """Whether ``action`` with ``params``, applied to the file as ``entry`` found it, is the
    change ``entry`` made: the same result."""
    if entry.action != action:
        return False
    name = entry.checkpoint
    try:
        params = _params_dict(params, name)
        before = None
        if entry.before is not None:
            before = decode_document(entry.before.raw, name=name)
        document = _document(params, name) if action == "create" else None
        _after, after_raw, _restores = _result(action, params, before, document, name)
    except (CheckpointError, SnapshotCorrupt):
        return False
    return (version_of(after_raw) if after_raw is not None else None) == entry.result_version


def _summary(
    action: str,
    name: str,
    delta: Delta,
    before: dict[str, Any] | None,
    before_raw: bytes | None,
    after_raw: bytes | None,
    restores: int | None,
    params: Mapping[str, Any],
) -> str:
    corrupt = before is None and before_raw is not None
    if action == "create":
        return f"created {name}"
    if action == "reset":
        size = len(before_raw or b"")
        what = "corrupt file" if corrupt else "file"
        return f"deleted {what} {name}.json ({size:,} bytes kept in the before snapshot)"
    if action == "restore":
        side = params.get("side", "before")
        if before_raw is not None and after_raw == before_raw:
            what = "no change"
        elif after_raw is None:
            what = f"deleted {name}.json" if before_raw is not None else "no change"
        elif before_raw is None:
            what = f"re-created {name}.json"
        elif corrupt:
            what = "replaced the corrupt file"
        else:
            what = delta.summary()
        return f"restore to {side} #{restores}: {what}"  # the state before (after) that entry
    if corrupt:
        return "replaced the corrupt file"
    return delta.summary()


def keep_version(name: str, raw: bytes, version: str) -> None:
    """Store ``raw`` (checkpoint ``name`` at ``version``) as a snapshot unless it is stored:
    a version a person was shown, so that :func:`changes_since` can later say what changed
    since (``prune_snapshots`` removes those no entry came to refer to)."""
    check_version(version, "version")
    if Snapshot.objects.filter(pk=version).exists():
        return
    # Content-addressed: a row another process stored meanwhile is the same one.
    insert_row(Snapshot.build(raw, sha=version, base=_last_snapshot(name)), ignore_conflicts=True)


def changes_since(
    name: str,
    version: str,
    *,
    store: CheckpointStore | None = None,
    seen: Checkpoint | None = None,
) -> Delta | None:
    """What changed on disk since ``version`` (kept as a snapshot), or None when unknown.
    ``seen``: the checkpoint as the caller read it (see :func:`preview`)."""
    check_version(version, "version")
    store = store or get_store()
    snapshot = Snapshot.objects.filter(pk=version).first()
    if snapshot is None:
        return None
    try:
        old = decode_document(snapshot.raw, name=name)
    except (CorruptCheckpoint, SnapshotCorrupt):
        return None
    try:
        current: dict[str, Any] | None = store.read(name, seen=seen).data
    except CheckpointNotFound:
        current = None
    except CorruptCheckpoint:
        return None
    return diffs.diff(old, current)


# --- apply ---------------------------------------------------------------------------------


def _current_version(store: CheckpointStore, name: str) -> str | None:
    try:
        return version_of(store.read_raw(name))
    except CheckpointNotFound:
        return None


def conflict(
    name: str, expected: str, actual: str | None, store: CheckpointStore
) -> VersionConflict:
    """The refusal of a change bound to ``expected`` now that the file is at ``actual``
    (None: deleted), saying what changed since when that version was kept."""
    if actual is None:
        what = "it has been deleted"
    elif len(expected) != len(actual):
        what = f"now version {actual[:12]}"  # (a prefix a command was given: nothing kept)
    else:
        delta = changes_since(name, expected, store=store)
        what = f"now: {delta.summary()}" if delta is not None else f"now version {actual[:12]}"
    return VersionConflict(
        f"Checkpoint {name!r} changed since version {expected[:12]} was shown ({what}); "
        "nothing was written. Review the current content and try again.",
        name=name,
        expected=expected,
        actual=actual,
    )


def finding_json(finding: Finding) -> dict[str, str]:
    """A finding as a JSON object (as audit entries and ``validate_checkpoints --json`` hold it)."""
    return {"severity": finding.severity, "pointer": finding.pointer, "message": finding.message}


def _entry_fields(payload: Mapping[str, Any], outcome: str) -> EntryFields:
    """The entry a journal row's payload describes, with its outcome."""
    return {
        "outcome": outcome,
        "actor": payload["actor"],
        "source": payload["source"],
        "address": payload.get("address", ""),
        "action": payload["action"],
        "checkpoint": payload["checkpoint"],
        "reason": payload["reason"],
        "base_version": payload.get("base_version"),
        "result_version": payload.get("result_version"),
        "before": payload.get("before"),
        "after": payload.get("after"),
        "patch": payload.get("patch", []),
        "summary": payload["summary"],
        "findings": payload.get("findings", []),
        "restores": payload.get("restores"),
    }


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _sql(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Plain SQL for the few statements every apply runs (the ORM costs more than the query)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _recover_checkpoint(
    name: str, store: CheckpointStore, *, exclude: int | None = None
) -> list[AuditEntry]:
    """Record what happened to journaled changes of ``name`` (but the row ``exclude``, the
    caller's own); the caller holds its lock."""
    return list(_recovering(name, store, exclude=exclude))


def _recovering(
    name: str, store: CheckpointStore, *, exclude: int | None = None
) -> Iterator[AuditEntry]:
    """:func:`_recover_checkpoint`, giving each entry as soon as it is committed."""
    leftovers = PendingChange.objects.filter(checkpoint=name)
    if exclude is not None:
        leftovers = leftovers.exclude(pk=exclude)  # known to hold rows: the caller asked
    elif not _sql(f"SELECT 1 FROM {_table(PendingChange)} WHERE checkpoint = %s", [name]):
        return
    for pending in leftovers.order_by("created", "id"):
        problem = journal_problem(pending)
        if problem is not None:
            # Not the console's: never made into somebody's change (verify_audit names it).
            logger.error("journal row %s of checkpoint %s is not recorded: %s", pending.pk,
                         name, problem)  # fmt: skip
            continue
        current = _current_version(store, name)
        # Its new bytes' temp file still there: they never landed (swept after an hour: later
        # recovery judges by the file's content alone).
        staged = pending.payload.get("staged")
        orphan = store.staged_leftover(name, staged) if isinstance(staged, str) else None
        if orphan is not None:
            # (however much the file looks like it: a job may have made the same move since)
            outcome, note = (
                AuditEntry.INTERRUPTED,
                "did not land: its new file was never put in place",
            )
        elif current == pending.result_version:
            outcome, note = AuditEntry.RECOVERED, "landed before the process stopped"
        elif current == pending.base_version:
            outcome, note = AuditEntry.INTERRUPTED, "did not land"
        else:
            landed = _landed(pending.payload, store, name)
            if landed is True:
                outcome, note = AuditEntry.RECOVERED, "landed; the file changed since"
            elif landed is False:
                outcome, note = AuditEntry.INTERRUPTED, "the file changed since, without it"
            else:
                outcome, note = AuditEntry.INTERRUPTED, "file changed since; landing unknown"
        fields = _entry_fields(pending.payload, outcome)
        fields["summary"] = f"{fields['summary']} [{outcome}: {note}]"
        with transaction.atomic():
            entry = append_entry(**fields)
            PendingChange.objects.filter(pk=pending.pk).delete()
        if orphan is not None:  # (recorded: the evidence is no longer needed)
            with suppress(OSError):
                store.discard_leftover(name, orphan.name)
        logger.warning(
            "journaled checkpoint intervention %s by recovery",
            outcome,
            extra={
                "actor": entry.actor,
                "checkpoint": name,
                "action": entry.action,
                "seq": entry.seq,
                "outcome": outcome,
            },
        )
        yield entry


def _landed(payload: Mapping[str, Any], store: CheckpointStore, name: str) -> bool | None:
    """Whether the journaled change (its before and after snapshots) is in the file, which
    changed since (a job saved on top): True when every part of it is there (each field has
    its new value, each moved or added list value is in its new list and out of its old one),
    False when no part is (each as before), None when some are, or it cannot be told."""
    try:
        sides = []
        for side in ("before", "after"):
            sha = payload.get(side)
            snapshot = Snapshot.objects.filter(pk=sha).first() if isinstance(sha, str) else None
            sides.append(decode_document(snapshot.raw, name=name) if snapshot else None)
        current = decode_document(store.read_raw(name), name=name)
    except (CheckpointError, SnapshotCorrupt):
        return None
    before, after = sides
    if before is None or after is None:
        return None  # (a create or a reset: the file's being there says more than this)
    delta = diffs.diff(before, after)
    found: set[bool] = set()
    sets: dict[str, set[Any] | None] = {}

    def has(pointer: str, value: Any) -> bool | None:
        if pointer not in sets:
            values = _resolve(current, pointer)
            try:
                sets[pointer] = set(values) if isinstance(values, list) else None
            except TypeError:  # unhashable values
                sets[pointer] = None
        values = sets[pointer]
        return None if values is None else value in values

    for move in delta.moves:
        target, source = has(move.target, move.value), has(move.source, move.value)
        if target is True and source is False:
            found.add(True)
        elif source is True and target is False:
            found.add(False)
        else:
            return None
    # (pointer, value, whether its being in the list now says the change landed)
    checks = [(lc.pointer, value, True) for lc in delta.lists for value in lc.added]
    checks += [(lc.pointer, value, False) for lc in delta.lists for value in lc.removed]
    for pointer, value, landed_if in checks:
        there = has(pointer, value)
        if there is None:
            return None  # (no list there now)
        found.add(there is landed_if)
    for change in delta.changes:
        now = _resolve(current, change.pointer)
        if now == change.new and now != change.old:
            found.add(True)
        elif now == change.old:
            found.add(False)
        else:
            return None
    return found.pop() if len(found) == 1 else None


def _resolve(document: Any, pointer: str) -> Any:
    """The value at the JSON ``pointer`` of ``document``, or ABSENT."""
    tokens = pointer.split("/")[1:]
    return _at(document, [token.replace("~1", "/").replace("~0", "~") for token in tokens])


#: What a journal row's payload must hold, and of which type, to become an entry.
_JOURNAL_FIELDS: Final = {
    "actor": str,
    "source": str,
    "action": str,
    "checkpoint": str,
    "reason": str,
    "summary": str,
}


def journal_problem(pending: PendingChange) -> str | None:
    """Why the journal row ``pending`` cannot be recorded as an entry, or None: a payload not
    written by the console (without its seal, or with another one), or not one at all."""
    payload = pending.payload
    if not isinstance(payload, dict):
        return "its payload is not a JSON object"
    seal = payload.get("seal")
    expected = journal_seal(
        pending.checkpoint, pending.action, pending.base_version, pending.result_version, payload
    )
    if not isinstance(seal, str) or not hmac.compare_digest(seal, expected):
        return (
            "it does not carry the seal the console gives its journal rows (it was not "
            "written by the console, or AUDIT_HMAC_KEY changed since)"
        )
    for name, kind in _JOURNAL_FIELDS.items():
        if not isinstance(payload.get(name), kind):
            return f"its payload has no {name}"
    return None


def unrecorded_journal() -> list[tuple[PendingChange, str]]:
    """The journal rows recovery leaves alone, each with why (see :func:`journal_problem`)."""
    found = []
    for pending in PendingChange.objects.order_by("created", "id"):
        problem = journal_problem(pending)
        if problem is not None:
            found.append((pending, problem))
    return found


def discard_unrecorded(pending: PendingChange) -> None:
    """Delete the journal row ``pending``, one recovery will not record (as
    :func:`unrecorded_journal` lists them, for ``verify_audit --discard-unsealed``); a row
    the console sealed is refused with ValueError: it is a change recovery records."""
    if journal_problem(pending) is None:
        raise ValueError(f"journal row {pending.pk} is the console's own: recovery records it")
    PendingChange.objects.filter(pk=pending.pk).delete()


def recover_pending(
    name: str | None = None,
    *,
    store: CheckpointStore | None = None,
    lock_timeout: float | None = None,
) -> list[AuditEntry]:
    """Finish the journal left by stopped processes: one entry per attempt, saying if it landed.

    Checkpoints whose lock is busy are skipped: a live apply holds it and finishes its own.
    Holding a checkpoint's lock, it waits for the database as a change does (at most
    :data:`DATABASE_WAIT_UNDER_LOCK`), then raises; the journal rows stay for the next time.
    """
    return list(recovering(name, store=store, lock_timeout=lock_timeout))


def recovering(
    name: str | None = None,
    *,
    store: CheckpointStore | None = None,
    lock_timeout: float | None = None,
) -> Iterator[AuditEntry]:
    """:func:`recover_pending`, giving each entry as soon as it is committed: a caller that
    stops on a database error has still seen every entry recorded before it."""
    store = store or get_store()
    names = (
        [name]
        if name is not None
        else sorted(set(PendingChange.objects.values_list("checkpoint", flat=True)))
    )
    for checkpoint in names:
        try:
            with store.lock(checkpoint, timeout=lock_timeout), _bounded_database_waits():
                yield from _recovering(checkpoint, store)
        except CheckpointLockTimeout:
            if name is not None:
                raise


def _undo_after_failure(store: CheckpointStore, pv: Preview, pending: PendingChange) -> bool:
    """The file write or the entry's commit failed: make the file and the journal agree again.
    Whether that was done (the file as it was, nothing recorded); else the file and the
    journal row are left for recovery.

    The entry is committed together with the journal row's delete, so the row still being
    there says that no entry was.
    """
    try:
        committed = not PendingChange.objects.filter(pk=pending.pk).exists()
    except DatabaseError:
        # The database cannot say whether the entry committed: leave the file and the journal
        # as they are; recovery compares them later and writes the entry that fits.
        logger.exception("audit commit state unknown for %s; left for recovery", pv.name)
        return False
    if committed:
        return False
    try:
        current = _current_version(store, pv.name)
        if current == pv.result_version and current != pv.base_version:
            if pv.before_raw is None:
                store.delete(pv.name, expected_version=current)
            else:
                store.write_raw(pv.name, pv.before_raw, expected_version=current)
            current = pv.base_version
    except Exception:
        logger.exception("could not put back checkpoint %s after a failed commit", pv.name)
        return False  # the journal row stays: recovery records what is on disk
    if current != pv.base_version:
        logger.error(
            "checkpoint %s is neither as it was nor as intended; left for recovery", pv.name
        )
        return False
    try:
        PendingChange.objects.filter(pk=pending.pk).delete()
    except DatabaseError:
        logger.exception("could not clear the journal of %s; recovery will", pv.name)
    return True


def database_problem(exc: BaseException) -> str:
    """What the database said, in one line: PostgreSQL adds the statement's text and a caret
    under the place on the lines after its message."""
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__).rstrip(".")


def _last_snapshot(name: str) -> Snapshot | None:
    """The latest version of ``name`` the log holds: a close base for a delta of the file
    after a job changed it."""
    last = (
        AuditEntry.objects.filter(checkpoint=name)
        .order_by("-seq")
        .values_list("after_id", "before_id")
        .first()
    )
    sha = (last[0] or last[1]) if last else None
    return Snapshot.objects.filter(pk=sha).first() if sha else None


def _journal_and_snapshots(
    name: str, pv: Preview
) -> tuple[bool, dict[str, Snapshot], tuple[int, str] | None]:
    """In one query: whether the journal holds rows of ``name``, which of the preview's before
    and after versions are stored already (snapshots are never deleted), and on PostgreSQL
    the audit chain's head (seq, hash) for :func:`audit.append_entry_at`."""
    wanted = [v for v in (pv.base_version, pv.result_version) if v is not None]
    parts = [
        f"SELECT 'j', NULL, NULL WHERE EXISTS (SELECT 1 FROM {_table(PendingChange)} "
        "WHERE checkpoint = %s)"
    ]
    params: list[Any] = [name]
    if wanted:
        marks = ", ".join(["%s"] * len(wanted))
        parts.append(f"SELECT 's', sha, depth FROM {_table(Snapshot)} WHERE sha IN ({marks})")
        params.extend(wanted)
    if connection.vendor == "postgresql":
        parts.append(
            f"SELECT 'h', hash, seq FROM (SELECT hash, seq FROM {_table(AuditEntry)} "
            "ORDER BY seq DESC LIMIT 1) AS head"
        )
    leftovers = False
    known: dict[str, Snapshot] = {}
    head: tuple[int, str] | None = (0, GENESIS) if connection.vendor == "postgresql" else None
    for kind, sha, number in _sql(" UNION ALL ".join(parts), params):
        if kind == "j":
            leftovers = True
        elif kind == "h":
            head = (int(number), sha)
        else:
            known[sha] = Snapshot(sha=sha, depth=number)
            known[sha]._state.adding = False
    return leftovers, known, head


def _build_snapshots(
    pv: Preview, known: dict[str, Snapshot]
) -> tuple[Snapshot | None, Snapshot | None, list[Snapshot]]:
    """The before and after snapshots, and those of them to insert (not in ``known``): each
    new version as a delta of a close one."""
    new: list[Snapshot] = []
    before = after = None
    if pv.before_raw is not None:
        before = known.get(pv.base_version or "")
        if before is None:
            before = Snapshot.build(
                pv.before_raw, sha=pv.base_version, base=_last_snapshot(pv.name)
            )
            new.append(before)
    if pv.after_raw is not None:
        after = known.get(pv.result_version or "")
        if after is None:
            after = Snapshot.build(
                pv.after_raw, sha=pv.result_version, base=before, base_raw=pv.before_raw
            )
            new.append(after)
    return before, after, new


#: Snapshots an audit entry of this process refers to, by sha (their delta depth): entries
#: are never deleted and neither is any snapshot one refers to (``prune_snapshots`` keeps
#: them), so these are known to be stored without asking the database. Forgotten when an
#: apply fails in the database (the database may have been replaced by an older copy), and
#: by the test suite, which empties the tables between tests.
_ENTRY_SNAPSHOTS: OrderedDict[str, Snapshot] = OrderedDict()  # (sha and depth only)
_ENTRY_SNAPSHOTS_MAX: Final = 4096
_entry_snapshots_guard = threading.Lock()


def _remember(*snapshots: Snapshot | None) -> None:
    with _entry_snapshots_guard:
        for snapshot in snapshots:
            if snapshot is not None:
                if snapshot.sha not in _ENTRY_SNAPSHOTS:
                    known = Snapshot(sha=snapshot.sha, depth=snapshot.depth)
                    known._state.adding = False
                    _ENTRY_SNAPSHOTS[snapshot.sha] = known
                _ENTRY_SNAPSHOTS.move_to_end(snapshot.sha)
        while len(_ENTRY_SNAPSHOTS) > _ENTRY_SNAPSHOTS_MAX:
            _ENTRY_SNAPSHOTS.popitem(last=False)


def _forget_snapshots() -> None:
    with _entry_snapshots_guard:
        _ENTRY_SNAPSHOTS.clear()


def _remembered(pv: Preview) -> dict[str, Snapshot] | None:
    """The preview's stored snapshots as far as this process knows, when it knows the before
    version is stored (the usual case: the after version of the last change); else None."""
    with _entry_snapshots_guard:
        known = {
            sha: _ENTRY_SNAPSHOTS[sha]
            for sha in (pv.base_version, pv.result_version)
            if sha is not None and sha in _ENTRY_SNAPSHOTS
        }
    if pv.before_raw is not None and pv.base_version not in known:
        return None
    return known


def _journal(
    name: str, new: list[Snapshot], pending: PendingChange
) -> tuple[bool, tuple[int, str] | None]:
    """Insert the new snapshots and the journal row (the caller commits them); say whether
    the journal holds other rows of ``name`` (left by a stopped process), and on PostgreSQL
    the audit chain's head. There this is one statement: inserts in ``WITH`` clauses and a
    query that sees the tables as they were before them."""
    if connection.vendor != "postgresql":
        insert_rows(new, pending, ignore_conflicts=True)
        others = _sql(
            f"SELECT 1 FROM {_table(PendingChange)} WHERE checkpoint = %s AND id <> %s",
            [name, pending.pk],
        )
        return bool(others), None
    # Content-addressed: a snapshot row another process stored meanwhile is the same.
    clauses, params = insert_clauses(new, ignore_conflicts=True, prefix="snapshot")
    sql, values, _ = insert_statement(pending)
    clauses.append(f"journal AS ({sql})")
    params.extend([*values, name])
    rows = prepared_rows(
        f"WITH {', '.join(clauses)} SELECT journal.id, EXISTS (SELECT 1 FROM "
        f"{_table(PendingChange)} WHERE checkpoint = %s), head.seq, head.hash FROM journal "
        f"LEFT JOIN (SELECT seq, hash FROM {_table(AuditEntry)} ORDER BY seq DESC LIMIT 1) "
        "AS head ON true",
        params,
    )
    pending.pk, others, seq, prev_hash = rows[0]
    for row in (*new, pending):
        mark_inserted(row)
    return bool(others), ((int(seq), prev_hash) if seq is not None else (0, GENESIS))


_stagers: ThreadPoolExecutor | None = None
_stagers_guard = threading.Lock()


def _forget_stagers() -> None:
    global _stagers, _stagers_guard
    # A forked child has none of its parent's threads: it starts its own when it needs them.
    _stagers, _stagers_guard = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_stagers)


def _stage(store: CheckpointStore, pv: Preview) -> tuple[StagedWrite, Future[None]] | None:
    """Write the previewed bytes to a temp file and start its fsync in a worker thread (None
    for a reset, which deletes). The worker only waits on the disk, so it needs the
    interpreter for no more than the call; tasks never wait for one another, so a few
    threads serve every request thread."""
    global _stagers
    if pv.after_raw is None:
        return None
    # The preview encoded these bytes (or parsed them: a restored snapshot's).
    staged = store.stage_raw(
        pv.name,
        pv.after_raw,
        parsed=pv.after is not None,
        sync=False,
        version=pv.result_version,
        journaled=True,  # named in the journal row: kept by the sweep until recovered
    )
    with _stagers_guard:
        if _stagers is None:
            _stagers = ThreadPoolExecutor(4, thread_name_prefix="checkpoint-sync")
        stagers = _stagers
    return staged, stagers.submit(staged.sync)


def _drop(staging: tuple[StagedWrite, Future[None]]) -> None:
    """Wait for a staged write no longer wanted and remove its temp file."""
    staged, syncing = staging
    with suppress(Exception):  # the error that made it unwanted is the one raised
        syncing.result()
    staged.discard()


def _journal_transaction() -> AbstractContextManager[Any]:
    """The transaction storing the journal row and its snapshots.

    On PostgreSQL in autocommit, none: :func:`insert_rows` sends them as one statement there,
    which is then its own transaction, committed durably when it returns, without the round
    trips of BEGIN and COMMIT (snapshots are only read before it). SQLite needs several
    statements, so a transaction.
    """
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        return nullcontext()
    return transaction.atomic()


#: Seconds an intervention waits for the database while it holds the checkpoint's lock:
#: well under the 10 s a job waits for that lock by default, so that a database another
#: process keeps busy makes the operator's change fail (nothing changed; try again), never
#: the job's save.
DATABASE_WAIT_UNDER_LOCK: Final = 3.0


@contextmanager
def _bounded_database_waits() -> Iterator[None]:
    """Wait at most :data:`DATABASE_WAIT_UNDER_LOCK` for the database's locks: on SQLite its
    write lock, then restore the connection's own busy timeout (30 s: without a checkpoint
    lock held, queueing behind other writers is what a change should do); on PostgreSQL
    the audit chain's lock (:func:`audit.chain_waits_at_most`)."""
    if connection.vendor != "sqlite":
        with chain_waits_at_most(DATABASE_WAIT_UNDER_LOCK):
            yield
        return
    # The connection's own, as Django opened it (sqlite3's default when the settings give none).
    usual = int(float(connection.settings_dict.get("OPTIONS", {}).get("timeout", 5)) * 1000)
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA busy_timeout = {int(DATABASE_WAIT_UNDER_LOCK * 1000)}")
    try:
        yield
    finally:
        if connection.connection is not None:  # (closed on an error: a new one starts as usual)
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA busy_timeout = {usual}")


@contextmanager
def _lazy_commit() -> Iterator[None]:
    """On SQLite, let the next commit skip its fsync (``synchronous=NORMAL``), then restore.

    Used for the entry's commit only: the journal row before it was committed with a full
    fsync, and WAL frames are written in order, so a power loss that drops the entry's commit
    leaves the journal row, which recovery turns into the entry.
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield  # (inside an outer transaction the level cannot change, nor is it this commit)
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous")
        level = cursor.fetchone()[0]
        cursor.execute("PRAGMA synchronous=NORMAL")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA synchronous={int(level)}")


def _check_applicable(
    pv: Preview, expected_version: str | None, expect_absent: bool, store: CheckpointStore
) -> None:
    """Refuse a preview that is not to be applied: a stale version, a file that appeared,
    errors in the result, no change."""
    name, action = pv.name, pv.action
    if expected_version is not None and pv.base_version != expected_version:
        raise conflict(name, expected_version, pv.base_version, store)
    if expect_absent and pv.base_version is not None:
        raise VersionConflict(
            f"Checkpoint {name!r} did not exist when this was previewed and has been "
            f"created since (version {pv.base_version[:12]}); nothing was written. "
            "Review the current content and try again.",
            name=name,
            expected=None,
            actual=pv.base_version,
        )
    if pv.errors:
        listed = "; ".join(f"{f.pointer or '/'}: {f.message}" for f in pv.errors)
        raise ValidationFailed(
            f"The result would not be a valid checkpoint, nothing was written: {listed}",
            name=name,
            findings=pv.errors,
        )
    if not pv.changes_file:
        raise NoChange(
            f"This {action} leaves checkpoint {name!r} as it is; nothing was written.",
            name=name,
        )


def apply(
    name: str,
    action: str,
    params: dict[str, Any],
    *,
    actor: Actor,
    reason: str,
    expected_version: str | None = None,
    expect_absent: bool = False,
    store: CheckpointStore | None = None,
    now: datetime | None = None,
    seen: Checkpoint | None = None,
) -> Applied:
    """Apply one intervention under the checkpoint's lock and record it in the audit log.

    ``expected_version`` (the version the person saw) refuses the change with
    :class:`VersionConflict` when the file changed since; None skips that check.
    ``expect_absent`` refuses it when the person saw no file and one exists by now.
    ``seen``: the checkpoint as the caller read it (see :func:`preview`).
    """
    if not isinstance(reason, str) or not reason.strip():
        raise ReasonRequired(
            f"A reason is required to {action} checkpoint {name!r}; nothing was changed.",
            name=name,
        )
    problem = reason_problem(reason)
    if problem is not None:
        raise ReasonRequired(f"{problem} Nothing was changed.", name=name)
    if expected_version is not None:
        check_version(expected_version)
    if actor.source not in SOURCES:
        raise _refuse(f"Unknown source {actor.source!r} (expected web, cli or api).", name)
    if not actor.name:
        raise _refuse("The actor has no name.", name)
    store = store or get_store()
    name = store.validate_name(name)
    _check_action(action, name)

    with store.lock(name), _bounded_database_waits():
        # Journal rows of this checkpoint left by a stopped process are recorded before this
        # change is: right away when the preview, its checks or the temp file refuse; else
        # after the query for the stored snapshots, or when the journal row goes in (which
        # says if there are).
        try:
            try:
                pv = preview(name, action, params, store=store, now=now, seen=seen)
            except (InterventionError, CorruptCheckpoint, InvalidDocument):
                # Bound to a version the file left since: that is the answer (the change no
                # longer applying to the new content follows from it), not the refusal.
                if expected_version is not None:
                    current = _current_version(store, name)
                    if current != expected_version:
                        raise conflict(name, expected_version, current, store) from None
                raise
            _check_applicable(pv, expected_version, expect_absent, store)
            # The new bytes go to a temp file now; its fsync runs in another thread
            # meanwhile, so the journal's commit and the file's fsync wait on the disk at
            # the same time.
            staging = _stage(store, pv)
        except BaseException:
            _recover_checkpoint(name, store)
            raise
        try:
            known = _remembered(pv)
            head: tuple[int, str] | None = None
            checked = known is None
            if known is None:
                leftovers, known, head = _journal_and_snapshots(name, pv)
                if leftovers:
                    _recover_checkpoint(name, store)
                    head = None
            result_version = pv.result_version
            payload = {
                "actor": actor.name,
                "source": actor.source,
                "address": actor.address,
                "action": action,
                "checkpoint": name,
                "reason": recorded_reason(reason),
                "base_version": pv.base_version,
                "result_version": result_version,
                "before": None,
                "after": None,
                "patch": pv.patch,
                "summary": pv.summary,
                "findings": [finding_json(f) for f in pv.findings],
                "restores": pv.restores,
                "attempted": format_time(datetime.now(UTC)),
                # Its new bytes' temp file: still there after a crash, the change did not land.
                "staged": os.path.basename(staging[0].temp_path) if staging else None,
            }
            # Snapshots and journal first, committed on their own: a crash from here on
            # leaves a trace that recovery turns into an entry.
            with _journal_transaction():
                before, after, new = _build_snapshots(pv, known)
                payload["before"] = before.pk if before is not None else None
                payload["after"] = after.pk if after is not None else None
                payload["seal"] = journal_seal(
                    name, action, pv.base_version, result_version, payload
                )
                pending = PendingChange(
                    checkpoint=name,
                    action=action,
                    payload=payload,
                    base_version=pv.base_version,
                    result_version=result_version,
                )
                others, journal_head = _journal(name, new, pending)
        except BaseException:
            if staging is not None:
                _drop(staging)
            raise
        try:
            if others and not checked:
                _recover_checkpoint(name, store, exclude=pending.pk)
            elif journal_head is not None:
                head = journal_head
            # The file, then the entry: the entry goes in with the journal row's delete, in
            # one transaction (on PostgreSQL one statement), so an entry and its journal row
            # never both exist, and the journal row outlives a failure of either.
            if staging is None:
                store.delete(name, expected_version=pv.base_version)
            else:
                staged, syncing = staging
                syncing.result()
                staging = None  # installed or discarded from here
                store.install(staged, expected_version=pv.base_version)
            with _lazy_commit():
                entry = append_entry_at(
                    head,
                    delete=(PendingChange._meta.db_table, pending.pk),
                    relax_commit=True,
                    **_entry_fields(payload, AuditEntry.APPLIED),
                )
        except BaseException as exc:
            try:
                if staging is not None:
                    _drop(staging)
            finally:
                if isinstance(exc, DatabaseError):
                    _forget_snapshots()
                undone = _undo_after_failure(store, pv, pending)
            if isinstance(exc, DatabaseError) and not undone:
                try:
                    on_disk = _current_version(store, name)
                except CheckpointError:
                    on_disk = ""  # (unreadable: may have it)
                in_file = {pv.result_version: True, pv.base_version: False}.get(on_disk)
                raise ChangeNotConfirmed(name, database_problem(exc), in_file=in_file) from exc
            raise
        _remember(before, after)
    logger.info(
        "checkpoint intervention applied: %s %s (#%s)",
        action,
        name,
        entry.seq,
        extra={"actor": actor.name, "checkpoint": name, "action": action, "seq": entry.seq},
    )
    return Applied(entry=entry, preview=pv, version=result_version)
