"""The checkpoint library: files on disk, the manager jobs use, kinds, summaries, diffs.

It imports nothing from Django, so any job can use it.
"""

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
    InterventionError,
    InvalidCheckpointName,
    InvalidDocument,
    UnknownField,
    VersionConflict,
)
from checkpoints_admin.checkpoints.manager import CheckpointManager
from checkpoints_admin.checkpoints.store import (
    Checkpoint,
    CheckpointInfo,
    CheckpointStore,
    utc_now_iso,
)

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "CheckpointExists",
    "CheckpointInfo",
    "CheckpointLockTimeout",
    "CheckpointManager",
    "CheckpointNotFound",
    "CheckpointOutsideDirectory",
    "CheckpointStore",
    "CheckpointsDirectoryError",
    "CheckpointTooLarge",
    "CheckpointWriteError",
    "CorruptCheckpoint",
    "InterventionError",
    "InvalidCheckpointName",
    "InvalidDocument",
    "UnknownField",
    "VersionConflict",
    "utc_now_iso",
]
