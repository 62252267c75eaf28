"""Errors raised by the checkpoint library; every message is meant for a person."""

from __future__ import annotations


class CheckpointError(Exception):
    """Base class of every error the checkpoint library raises."""

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.name = name

    def __str__(self) -> str:
        return self.message


class CheckpointsDirectoryError(CheckpointError):
    """The checkpoints directory is missing, not a directory, or cannot be created."""


class InvalidCheckpointName(CheckpointError):
    """The name is not a valid checkpoint name, or resolves outside the directory."""


class CheckpointOutsideDirectory(InvalidCheckpointName):
    """The name is valid, but its file or lock file is a symbolic link that is refused (it
    leads outside the directory): a refusal of that file, not a mistyped name."""


class CheckpointNotFound(CheckpointError):
    """No checkpoint file of that name exists."""


class CheckpointExists(CheckpointError):
    """A checkpoint of that name already exists (creation refused)."""


class CorruptCheckpoint(CheckpointError):
    """The file's bytes are not a valid checkpoint document.

    ``too_deep``: they may be JSON, but nested deeper than the parser reads (1,024 levels).
    """

    def __init__(
        self,
        message: str,
        *,
        name: str | None = None,
        line: int | None = None,
        column: int | None = None,
        too_deep: bool = False,
    ) -> None:
        super().__init__(message, name=name)
        self.line = line
        self.column = column
        self.too_deep = too_deep


class VersionConflict(CheckpointError):
    """The file changed since the version the caller saw."""

    def __init__(
        self, message: str, *, name: str | None = None, expected: str | None, actual: str | None
    ) -> None:
        super().__init__(message, name=name)
        self.expected = expected
        self.actual = actual


class CheckpointLockTimeout(CheckpointError):
    """The checkpoint's lock could not be taken in time (a job is holding it)."""


class CheckpointTooLarge(CheckpointError):
    """The file (or the document to write) is larger than the configured limit."""


class CheckpointWriteError(CheckpointError):
    """Writing the file failed (disk full, file size limit, permissions); the old file is intact."""


class InvalidDocument(CheckpointError):
    """The document cannot be written as JSON (NaN, Infinity, a non-string key, a bad type)."""


class InterventionError(CheckpointError):
    """An intervention was refused: a date not in the list, an impossible date, a wrong type."""


class UnknownField(InterventionError):
    """An edit names a field the document does not have, and adding one was not asked for."""
