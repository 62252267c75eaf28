"""What the management commands share: one-line errors, exit codes, previews, confirmation.

Exit codes: 0 ok, 1 findings or refused (nothing changed), 2 usage error (a bad option or
argument value: a blank reason, an impossible date, an invalid name).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import sys
from contextlib import suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from checkpoints_admin.checkpoints import (
    CheckpointError,
    CheckpointLockTimeout,
    CheckpointNotFound,
    CheckpointOutsideDirectory,
    CheckpointsDirectoryError,
    CorruptCheckpoint,
    InvalidCheckpointName,
    VersionConflict,
)
from checkpoints_admin.checkpoints.summary import rate_text as summary_rate_text
from checkpoints_admin.presenters import visible_text

if TYPE_CHECKING:
    from checkpoints_admin.checkpoints.kinds import Finding
    from checkpoints_admin.services import Applied, Preview

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2

#: Diff lines shown per checkpoint in a preview below verbosity 2.
PREVIEW_LINES = 40

_VERSION_RE = re.compile(r"[0-9a-f]{8,64}")


def usage_error(message: str) -> CommandError:
    """A bad option or argument value: exit code 2."""
    return CommandError(one_line(message), returncode=EXIT_USAGE)


def refused(message: str) -> CommandError:
    """A refusal (nothing was changed): exit code 1."""
    return CommandError(one_line(message), returncode=EXIT_REFUSED)


def one_line(message: str) -> str:
    """Fold a message onto one line, so every refusal prints exactly one (and shows what it
    quotes from a checkpoint as :func:`printable` text)."""
    return printable(" ".join(part.strip() for part in str(message).splitlines() if part.strip()))


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on, or that would not show as
    itself (control characters, bidirectional marks and overrides, line separators,
    zero-width characters, lone surrogates: :data:`presenters.HIDDEN_RE`) written as its
    Python escape (``\\x1b``, ``\\t``, ``\\u202e``), as the console shows them: the values a
    preview, a message or a note quotes from a checkpoint are anyone's bytes."""
    return visible_text(text)


def error_for(exc: CheckpointError) -> CommandError:
    """Map a library or service error to a one-line ``CommandError`` with its exit code."""
    from checkpoints_admin.services import ReasonRequired

    if isinstance(exc, CheckpointOutsideDirectory):
        return refused(str(exc))  # a good name whose file is refused: not a usage error
    if isinstance(exc, InvalidCheckpointName | ReasonRequired):
        return usage_error(str(exc))
    if isinstance(exc, CheckpointLockTimeout):
        name = f"{exc.name!r} " if exc.name else ""
        return refused(
            f"Checkpoint {name}is locked: a job is holding it. Nothing was changed; "
            "try again in a moment."
        )
    if isinstance(exc, CorruptCheckpoint):
        return refused(describe_corrupt(exc))
    if isinstance(exc, CheckpointsDirectoryError):
        return refused(f"{exc}: check CHECKPOINTS_DIR (nothing was read or changed).")
    if (
        isinstance(exc, CheckpointNotFound)
        and exc.name
        and str(exc) == (f"checkpoint {exc.name!r} does not exist")
    ):
        return refused(str(not_found([exc.name])))
    message = str(exc)
    if exc.name and not mentions(message, exc.name):
        message = prefixed(exc.name, message)
    return refused(message)


def prefixed(prefix: str, message: str) -> str:
    """``prefix: message``, the message going on in lower case as after any prefix
    ("my-process: there is no audit entry #9."); a word in capitals (JSON) stays, and so does
    a first word the prefix names too: a checkpoint's name ("Nightly: not changed: Nightly
    has …"), whose case is part of it."""
    first = re.split(r"[\s:]", message, maxsplit=1)[0]
    if message[:1].isupper() and not message[1:2].isupper() and not mentions(prefix, first):
        message = message[:1].lower() + message[1:]
    return f"{prefix}: {message}"


def mentions(message: str, name: str) -> bool:
    """Whether ``message`` names the checkpoint ``name`` (as a whole name, not inside a word)."""
    return re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", message) is not None


def describe_corrupt(exc: CorruptCheckpoint) -> str:
    """``name: line 3, column 5: message``, leaving out what the message already says."""
    message = str(exc)
    parts = [exc.name] if exc.name and not mentions(message, exc.name) else []
    if exc.line is not None and f"line {exc.line}" not in message:
        parts.append(f"line {exc.line}, column {exc.column}" if exc.column else f"line {exc.line}")
    if not parts:
        return message
    return prefixed(": ".join(parts), message)


class _OneLineParser(CommandParser):
    """Argument errors on one line (argparse would print the whole usage first)."""

    def error(self, message: str) -> Any:
        if self.called_from_command_line:
            self.exit(EXIT_USAGE, f"{self.prog}: error: {printable(message)} (see --help)\n")
        return super().error(message)


class _WholeWrites:
    """Standard output written in full or not at all: a binary write into a pipe whose reader
    went away may return having written part, which a text stream drops without a word (so
    ``… | head`` ended with exit 0); here the rest is written, and that raises."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        stream = self._stream
        buffer = getattr(stream, "buffer", None)
        if buffer is None:
            return int(stream.write(text))
        stream.flush()  # what was written through the text layer goes first
        data = memoryview(text.encode(stream.encoding or "utf-8", stream.errors or "strict"))
        while data:
            data = data[buffer.write(data) :]
        buffer.flush()
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return bool(self._stream.isatty())

    def fileno(self) -> int:
        return int(self._stream.fileno())


class CheckpointsCommand(BaseCommand):
    """Base of the commands: one-line errors with the project's exit codes, never a traceback."""

    verbosity = 1
    # The checks run with `manage.py check`, migrate and the server; an operator's command
    # should not pay for them on every call.
    requires_system_checks = []

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = _OneLineParser
        return parser

    def execute(self, *args: Any, **options: Any) -> str | None:
        if not options.get("stdout"):
            options["stdout"] = _WholeWrites(sys.stdout)
        try:
            output = super().execute(*args, **options)
            sys.stdout.flush()  # (a closed pipe shows here, not at the interpreter's exit)
            return output
        except BrokenPipeError:
            # The reader went away (`… | head`): stop quietly, as a pipeline expects. Later
            # writes, and the flush at exit, go nowhere instead of raising again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(self.status_without_reader()) from None
        except CheckpointError as exc:
            raise error_for(exc) from exc
        except DatabaseError as exc:
            from checkpoints_admin.services import ChangeNotConfirmed, database_problem

            if isinstance(exc, ChangeNotConfirmed):  # (the file may have the change)
                raise refused(exc.message) from exc
            raise refused(f"Database error: {database_problem(exc)}. Nothing was changed.") from exc
        except KeyboardInterrupt:
            raise refused("Interrupted.") from None

    def status_without_reader(self) -> int:
        """The exit status when the output stopped being read: a command that only reports
        stops quietly."""
        return EXIT_REFUSED

    # Output helpers ------------------------------------------------------------------------

    def say(self, message: str = "", *, level: int = 1, style: Any = None) -> None:
        """Write a line to stdout when the verbosity is at least ``level``, as
        :func:`printable` text: a line break in it (quoted from a checkpoint: an item, a file
        name) is written as ``\\n``, so that no value can print a line of its own."""
        if self.verbosity >= level:
            self.stdout.write(printable(message), style)

    def write_json(self, value: Any, *, compact: bool = False) -> None:
        """Write ``value`` as JSON on stdout (indented unless ``compact``)."""
        text = json.dumps(value, ensure_ascii=False, indent=None if compact else 2)
        self.stdout.write(text)


class WriteCommand(CheckpointsCommand):
    """Base of the commands that change checkpoints through ``services.apply``.

    Each previews first (summary, set-aware diff, findings, base version), then asks
    ``Apply? [y/N]`` on a terminal. ``--yes`` applies without asking, to the checkpoint as it
    is when the change is made (recomputed and validated under its lock); an answered question
    or ``--expect-version`` binds the change to the version previewed, so a job's write in
    between refuses it with a conflict.
    """

    action: str = ""
    #: How many checkpoints this run changes, once confirmed, and those changed so far.
    planned: int | None = None
    applied: tuple[Applied, ...] = ()

    def status_without_reader(self) -> int:
        """The output stopped being read (``… | head``) where it may not have said what was
        done: said on stderr, and exit 0 only when every change was applied."""
        applied = self.applied
        lines = [
            f"Applied {self.action} to {done.preview.name}: audit entry #{done.entry.seq} "
            "(the output stopped being read)."
            for done in applied
        ]
        if not applied:
            lines.append(
                "Nothing was changed: the output stopped being read before the change was applied."
            )
        elif self.planned is not None and len(applied) < self.planned:
            lines.append(
                f"{plural(self.planned - len(applied), 'checkpoint')} not changed: the output "
                "stopped being read first."
            )
        with suppress(OSError):
            for line in lines:
                self.stderr.write(line)
        complete = bool(applied) and len(applied) == self.planned
        return EXIT_OK if complete else EXIT_REFUSED

    def add_arguments(self, parser: CommandParser) -> None:
        self.add_target_arguments(parser)
        parser.add_argument(
            "--reason",
            required=True,
            help="Why the change is made (required, recorded in the audit log).",
        )
        parser.add_argument(
            "-y", "--yes", action="store_true", help="Apply without asking for confirmation."
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only show the preview; change and record nothing.",
        )
        parser.add_argument(
            "--expect-version",
            metavar="VERSION",
            help="Refuse unless the checkpoint is still at this version (sha256, or a prefix "
            "of at least 8 hex digits, as a preview shows it).",
        )

    def add_target_arguments(self, parser: CommandParser) -> None:
        """Add the arguments naming what to change."""
        raise NotImplementedError

    def plan(self, options: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """Return ``(checkpoint name, params)`` pairs to preview and apply, in order."""
        raise NotImplementedError

    def handle(self, *args: Any, **options: Any) -> None:
        from checkpoints_admin import services
        from checkpoints_admin.conf import get_store

        self.verbosity = options["verbosity"]
        reason = (options["reason"] or "").strip()
        if not reason:
            raise usage_error("--reason must say why the change is made (it is recorded).")
        problem = services.reason_problem(reason)
        if problem is not None:
            raise usage_error(prefixed("--reason", problem))
        expected = parse_version(options["expect_version"])
        jobs = self.plan(options)
        if not jobs:
            return
        if expected is not None and len(jobs) != 1:
            raise usage_error("--expect-version needs exactly one checkpoint.")
        store = get_store()
        for name, _params in jobs:
            store.validate_name(name)

        # Asked on a terminal about one checkpoint: when its job saves while the question is
        # open, the person sees what changed and the change previewed again, and is asked
        # again (never applied blind). With --yes or --expect-version a conflict refuses.
        ask_again = (
            not options["yes"]
            and not options["dry_run"]
            and expected is None
            and len(jobs) == 1
            and sys.stdin is not None
            and sys.stdin.isatty()
        )
        previews = []
        for name, params in jobs:
            try:
                # (kept when it may be asked again, so that a conflict can say what changed)
                previews.append(
                    services.preview(name, self.action, params, store=store, keep_base=ask_again)
                )
            except CheckpointError as exc:
                exc.name = exc.name or name  # so that the message says which checkpoint
                raise
        if expected is not None:
            check_expected(previews[0], expected)
        for preview in previews:
            self.show_preview(preview)

        for preview in previews:
            if not preview.ok:
                errors = preview.errors
                raise refused(
                    f"Refused: {preview.name} would have {plural(len(errors), 'error')} after "
                    f"this change (first: {describe_finding(errors[0])}). Nothing was changed."
                )
        todo = [preview for preview in previews if preview.changes_file]
        if not todo:  # refused like the console's apply (services.NoChange): exit 1
            what = repr(previews[0].name) if len(previews) == 1 else "these checkpoints"
            raise refused(
                f"No change: this {self.action} leaves {what} as it is. Nothing was changed "
                "or recorded."
            )
        if options["dry_run"]:
            self.say("Dry run: nothing was changed or recorded.")
            return

        bind = expected is not None
        if not options["yes"]:
            question = "Apply?" if len(todo) == 1 else f"Apply to {len(todo)} checkpoints?"
            if not self.confirm(question):
                raise refused("Not applied: nothing was changed.")
            bind = True

        actor = services.Actor.for_cli()
        failures: list[str] = []
        self.planned, self.applied = len(todo), ()
        for preview in todo:
            while True:
                try:
                    applied = services.apply(
                        preview.name,
                        self.action,
                        preview.params,
                        actor=actor,
                        reason=reason,
                        expected_version=preview.base_version if bind else None,
                        store=store,
                    )
                except VersionConflict as exc:
                    if not ask_again:
                        if len(todo) == 1:
                            raise
                        failures.append(error_for(exc).args[0])
                        self.stderr.write(prefixed(f"{preview.name}: not changed", failures[-1]))
                        break
                    preview = self.preview_again(preview, exc, store)
                    continue
                except CheckpointError as exc:
                    if len(todo) == 1:
                        raise
                    failures.append(error_for(exc).args[0])
                    self.stderr.write(prefixed(f"{preview.name}: not changed", failures[-1]))
                    break
                self.applied += (applied,)
                self.show_applied(applied)
                break
        if failures:
            applied_count = len(todo) - len(failures)
            raise refused(
                f"{plural(len(failures), 'checkpoint')} not changed, {applied_count} changed "
                "(see the lines above)."
            )

    def preview_again(self, preview: Preview, conflict: VersionConflict, store: Any) -> Preview:
        """The file changed while the question was open: say so, preview the same change on
        the current file and ask again; refused when the answer is no or the change no
        longer applies."""
        from checkpoints_admin import services

        said = one_line(conflict.message)
        said = said.removesuffix(" Review the current content and try again.")
        self.stdout.write(f"{said} The same change on the file as it is now:", self.style.WARNING)
        fresh = services.preview(
            preview.name, self.action, preview.params, store=store, keep_base=True
        )
        self.show_preview(fresh)
        if not fresh.ok:
            errors = fresh.errors
            raise refused(
                f"Refused: {fresh.name} would have {plural(len(errors), 'error')} after this "
                f"change now (first: {describe_finding(errors[0])}). Nothing was changed."
            )
        if not fresh.changes_file:
            raise refused("The change is no longer needed: nothing was changed.")
        if not self.confirm("Apply the change as previewed now?"):
            raise refused("Not applied: nothing was changed.")
        return fresh

    def confirm(self, question: str) -> bool:
        """Ask ``question [y/N]`` on the terminal; refuse when stdin is not one."""
        stdin = sys.stdin
        if stdin is None or not stdin.isatty():
            raise refused(
                "Not applied: stdin is not a terminal, so nobody can confirm. Pass --yes to "
                "apply (or --dry-run to only preview)."
            )
        self.stdout.write(f"{question} [y/N] ", ending="")
        self.stdout.flush()
        answer = stdin.readline()
        return answer.strip().lower() in {"y", "yes"}

    def show_preview(self, preview: Preview) -> None:
        """Print a preview: summary line, base version, diff lines, findings."""
        self.say(f"{preview.name}: {preview.summary}", style=self.style.MIGRATE_HEADING)
        self.say(f"  base version: {preview.base_version or 'none (no file)'}")
        lines = preview.view_delta.lines()
        if preview.before is None and preview.before_raw is not None:
            # The file does not parse: what goes is its bytes, not "nothing".
            gone = f"the {len(preview.before_raw):,} bytes there now, which do not parse"
            lines = [f"replaces {gone}", *lines[1:]] if lines else [f"removes {gone}"]
        shown = lines if self.verbosity >= 2 else lines[:PREVIEW_LINES]
        for line in shown:
            self.say(f"    {line}")
        if len(shown) < len(lines):
            self.say(f"    … {len(lines) - len(shown)} more lines (-v 2 shows all)")
        for finding in preview.findings:
            style = self.style.ERROR if finding.severity == "error" else self.style.WARNING
            self.say(f"  {describe_finding(finding, with_severity=True)}", style=style)
        for note in preview.notes:
            self.say(prefixed("  note", note), style=self.style.WARNING)

    def show_applied(self, applied: Applied) -> None:
        """Print what was applied and the audit entry recording it."""
        result = f"now at version {applied.version}" if applied.version else "file removed"
        self.say(
            f"Applied {self.action} to {applied.preview.name}: audit entry #{applied.entry.seq}, "
            f"{result}.",
            style=self.style.SUCCESS,
        )


def parse_version(value: str | None) -> str | None:
    """Check an ``--expect-version`` value (a sha256 or a prefix of 8+ hex digits)."""
    if value is None:
        return None
    version = value.strip().lower()
    if not _VERSION_RE.fullmatch(version):
        raise usage_error(
            f"--expect-version {value!r} is not a version: give the sha256 a preview shows "
            "(at least its first 8 hex digits)."
        )
    return version


def check_expected(preview: Preview, expected: str) -> None:
    """Refuse when the checkpoint is no longer at the version the person saw, in the words
    of the console's conflict (what changed since, when that version was kept)."""
    from checkpoints_admin import services
    from checkpoints_admin.conf import get_store

    current = preview.base_version
    if current is None or not current.startswith(expected):
        # (a prefix of a version finds no kept snapshot: the message then names the version)
        raise refused(services.conflict(preview.name, expected, current, get_store()).message)


def plural(count: int, word: str) -> str:
    """``1 error``, ``2 errors``."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def describe_pointer(pointer: str) -> str:
    """A JSON pointer for people: ``""`` (the whole document) shows as ``(document)``."""
    return pointer if pointer else "(document)"


def describe_finding(finding: Finding, *, with_severity: bool = False) -> str:
    """``warning  /pendingDates  message`` or ``/pendingDates: message``."""
    if with_severity:
        return f"{finding.severity:<7}  {describe_pointer(finding.pointer)}  {finding.message}"
    return f"{describe_pointer(finding.pointer)}: {finding.message}"


def unlisted_note(store: Any) -> str | None:
    """``Not listed: café.json (not a checkpoint name), …`` for the files the last listing
    of ``store`` left out; None when there are none."""
    unlisted = store.unlisted()
    if not unlisted:
        return None
    return "Not listed: " + ", ".join(f"{fname} ({why})" for fname, why in unlisted) + "."


def not_found(missing: list[str]) -> CheckpointNotFound:
    """The error for named checkpoints that do not exist (exit code 1, naming them all, and
    the checkpoint a mistyped name was probably meant to be)."""
    from checkpoints_admin.conf import get_store

    message = f"No checkpoint named {', '.join(repr(name) for name in missing)}."
    store = get_store()
    try:
        names = store.names()
    except CheckpointError:
        names = []
    meant = []
    for name in missing:
        # A name typed in the wrong case first: difflib compares letters case-sensitively.
        match = store.same_but_case(name) if names else None
        if match is None:
            match = next(iter(difflib.get_close_matches(name, names, n=1, cutoff=0.8)), None)
        if match is not None:
            meant.append(match)
    if meant:
        message += f" Did you mean {' or '.join(repr(name) for name in meant)}?"
    for name in missing:
        why = store.why_missing(name)
        if why is not None:
            message += f" {name}.json is {why}."
    return CheckpointNotFound(message, name=missing[0])


def iso(moment: datetime | None) -> str | None:
    """An aware datetime as ``2025-03-06T10:15:23.456Z`` (None stays None)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def relative(moment: datetime | None, now: datetime) -> str:
    """``4m ago``, ``in 2h`` or ``-``."""
    if moment is None:
        return "-"
    seconds = (now - moment).total_seconds()
    if abs(seconds) < 1:
        return "just now"
    text = duration(abs(seconds), parts=1)
    return f"{text} ago" if seconds > 0 else f"in {text}"


_UNITS = (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def duration(seconds: float | None, *, parts: int = 2) -> str:
    """``2h 13m``: the largest unit and up to ``parts - 1`` next ones; ``-`` when unknown."""
    if seconds is None:
        return "-"
    remaining = int(round(seconds))
    if remaining <= 0:
        return "0s"
    first = next(i for i, (_suffix, size) in enumerate(_UNITS) if remaining >= size)
    out: list[str] = []
    for suffix, size in _UNITS[first : first + parts]:
        count, remaining = divmod(remaining, size)
        if count:
            out.append(f"{count}{suffix}")
    return " ".join(out)


def rate_text(rate: float | None, unit: str) -> str:
    """Units per second as the most readable of ``/s`` … ``/wk``; ``-`` when unknown."""
    return summary_rate_text(rate, unit) or "-"


class DatesCommand(WriteCommand):
    """Base of ``skip_dates`` and ``reprocess_dates``: dates (or items with ``--items``)."""

    def add_target_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", metavar="NAME", help="The checkpoint.")
        parser.add_argument(
            "values",
            nargs="+",
            metavar="DATE|A..B",
            help="Dates (2025-03-06) or inclusive ranges (2025-03-06..2025-03-08); item names "
            "with --items.",
        )
        parser.add_argument(
            "--items",
            action="store_true",
            help="The values are items of a managed checkpoint (pendingItems/processedItems).",
        )

    def plan(self, options: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        from checkpoints_admin.checkpoints.errors import InterventionError
        from checkpoints_admin.checkpoints.interventions import parse_dates

        values: list[str] = options["values"]
        if options["items"]:
            if any(not value.strip() for value in values):
                raise usage_error("Item names must not be blank.")
            return [(options["name"], {"items": values})]
        try:
            parse_dates(values)
        except InterventionError as exc:
            raise usage_error(f"{exc}{_items_hint(options['name'])}") from exc
        return [(options["name"], {"dates": values})]


def _items_hint(name: str) -> str:
    """When ``name`` is a managed checkpoint, that its values are items (``--items``)."""
    from checkpoints_admin.checkpoints.kinds import MANAGED, detect_kind
    from checkpoints_admin.conf import get_store

    try:
        kind = detect_kind(get_store().read(name).data)
    except CheckpointError:
        return ""
    return (
        f" ({name} is a managed checkpoint: give its items with --items)" if kind == MANAGED else ""
    )
