"""``validate_checkpoints``: integrity findings per checkpoint; exit 1 when there are errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import CommandParser

from checkpoints_admin.checkpoints import (
    CheckpointError,
    CheckpointNotFound,
    CheckpointOutsideDirectory,
    CheckpointStore,
    CorruptCheckpoint,
)
from checkpoints_admin.checkpoints.kinds import count_findings, detect_kind, validate
from checkpoints_admin.checkpoints.store import file_findings
from checkpoints_admin.conf import get_settings, get_store
from checkpoints_admin.management.cli import (
    CheckpointsCommand,
    describe_pointer,
    not_found,
    plural,
    refused,
)
from checkpoints_admin.services import finding_json


class Command(CheckpointsCommand):
    help = (
        "Validate checkpoints: each finding with its severity, JSON pointer and message; corrupt "
        "files with line and column. Exit 1 when there are errors (or warnings with --strict)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*", metavar="NAME", help="Checkpoints (default: all).")
        parser.add_argument("--json", action="store_true", help="A JSON list of results.")
        parser.add_argument(
            "--strict", action="store_true", help="Warnings fail validation too (exit 1)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        store = get_store()
        names: list[str] = options["names"]
        for name in names:
            store.validate_name(name)
        missing = [name for name in names if not _there(store, name)]
        if missing:
            raise not_found(missing)
        if not names:
            # Each is read and parsed once, by check(); a symbolic link leading outside the
            # directory is reported as refused (the list leaves it out).
            names = store.names(refused=True)

        now = datetime.now(UTC)
        stale_after = get_settings().stale_after_seconds
        results = []
        for name in names:
            try:
                results.append(check(store, name, now=now, stale_after=stale_after))
            except CheckpointNotFound:
                if options["names"]:
                    raise
                # Removed since it was listed (a reset): nothing left to validate.
        if options["json"]:
            self.write_json(results)
        else:
            self.report(results)

        failing = sum(1 for r in results if r["errors"] or (options["strict"] and r["warnings"]))
        if failing:
            what = "errors or warnings" if options["strict"] else "errors"
            raise refused(f"{plural(failing, 'checkpoint')} with {what}.")

    def report(self, results: list[dict[str, Any]]) -> None:
        """Print the findings per checkpoint, then a one-line total."""
        if not results:
            self.say(f"No checkpoints in {get_store().directory}.")
            return
        width = max(len(result["name"]) for result in results)
        kind_width = max(len(result["kind"] or "-") for result in results)
        for result in results:
            errors, warnings = result["errors"], result["warnings"]
            if result["corrupt"]:
                verdict = "corrupt"
            elif errors or warnings:
                counts = [plural(errors, "error")] if errors else []
                counts += [plural(warnings, "warning")] if warnings else []
                verdict = ", ".join(counts)
            else:
                verdict = "ok"
            style = self.style.ERROR if errors else self.style.WARNING if warnings else None
            self.say(
                f"{result['name']:<{width}}  {result['kind'] or '-':<{kind_width}}  {verdict}",
                style=style,
            )
            corrupt = result["corrupt"]
            if corrupt:
                message = corrupt["message"]
                if corrupt["line"] is not None and f"line {corrupt['line']}" not in message:
                    message += f" (line {corrupt['line']}, column {corrupt['column']})"
                self.say(f"  error    (file)  {message}", level=0)
            for finding in result["findings"]:
                pointer = describe_pointer(finding["pointer"])
                self.say(f"  {finding['severity']:<7}  {pointer}  {finding['message']}", level=0)
        with_errors = sum(1 for r in results if r["errors"])
        with_warnings = sum(1 for r in results if r["warnings"] and not r["errors"])
        self.say(
            f"{plural(len(results), 'checkpoint')}: {with_errors} with errors, "
            f"{with_warnings} with warnings only."
        )


def _there(store: CheckpointStore, name: str) -> bool:
    """Whether ``name`` has a file; a refused symbolic link counts (its check reports it)."""
    try:
        return store.exists(name)
    except CheckpointOutsideDirectory:
        return True


def check(
    store: CheckpointStore, name: str, *, now: datetime, stale_after: float
) -> dict[str, Any]:
    """Validate one checkpoint; a JSON-ready dict (the ``--json`` schema)."""
    result: dict[str, Any] = {
        "name": name,
        "kind": None,
        "version": None,
        "corrupt": None,
        "errors": 0,
        "warnings": 0,
        "findings": [],
    }
    try:
        checkpoint = store.read(name)
    except CorruptCheckpoint as exc:
        result.update(
            corrupt={"message": str(exc), "line": exc.line, "column": exc.column}, errors=1
        )
        return result
    except CheckpointNotFound:
        raise
    except CheckpointError as exc:  # too large, unreadable
        result.update(corrupt={"message": str(exc), "line": None, "column": None}, errors=1)
        return result
    kind = detect_kind(checkpoint.data)
    findings = file_findings(
        validate(checkpoint.data, kind=kind, now=now, stale_after=stale_after),
        checkpoint.raw,
        checkpoint.data,
    )
    errors, warnings = count_findings(findings)
    result.update(
        kind=kind,
        version=checkpoint.version,
        errors=errors,
        warnings=warnings,
        findings=[finding_json(finding) for finding in findings],
    )
    return result
