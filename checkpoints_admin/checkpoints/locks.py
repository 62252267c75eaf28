"""Checkpoint locks: the exclusive lock ``filelock.FileLock`` takes on ``N.json.lock``.

On POSIX systems that lock is ``flock(LOCK_EX)`` on the lock file, and it is taken here
directly: an open, two ``flock`` calls and a close, about 10 µs. ``filelock.FileLock`` takes
the very same lock but spends 0.4–0.7 ms a cycle on its own bookkeeping (fork tracking, path
resolution, a registry of holders, probing the file system), a third of the durable write of
a small checkpoint, which every save of a job pays. A job or tool that locks a checkpoint with
``filelock.FileLock("N.json.lock")`` and the console still exclude each other: it is one lock
on one file. Where ``fcntl.flock`` does not exist (Windows), ``filelock.FileLock`` takes it.

Like filelock's: the lock is one per open file, so two threads of a process exclude each
other as two processes do; the lock file is created under the umask and never deleted; a
symbolic link in its place is refused (``ELOOP``), as is a file system without ``flock``.
"""

from __future__ import annotations

import errno
import math
import os
import time
from typing import Final, Protocol

try:
    import fcntl
except ImportError:  # pragma: no cover (Windows)
    fcntl = None  # type: ignore[assignment]

#: Created readable and writable by all, as the umask allows (as checkpoints are).
_MODE: Final = 0o666
_OPEN_FLAGS: Final = (
    os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
)
#: Waits between tries while another holds the lock: short at first (a job's save holds it
#: for a few milliseconds), up to filelock's own interval.
_FIRST_WAIT: Final = 0.001
_LONGEST_WAIT: Final = 0.05


class LockTimeout(Exception):
    """The lock was held elsewhere for longer than the timeout."""


class HeldLock(Protocol):
    def release(self) -> None: ...


class _Flock:
    """A held ``flock``: its open lock file."""

    __slots__ = ("_fd",)

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, -1
        if fd < 0:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def acquire_flock(path: str, timeout: float) -> HeldLock:
    """Lock ``path`` with ``flock``, waiting up to ``timeout`` seconds (negative or infinite:
    for ever; 0: one try). Raises :class:`LockTimeout`, or ``OSError`` when the file cannot
    be opened or locked (``ELOOP`` for a symbolic link)."""
    deadline = None if timeout < 0 or math.isinf(timeout) else time.monotonic() + timeout
    wait = _FIRST_WAIT
    fd = os.open(path, _OPEN_FLAGS, _MODE)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass
            else:
                if os.fstat(fd).st_nlink > 0:
                    return _Flock(fd)
                # A holder that deletes its lock file on release (filelock's soft locks, other
                # tools) unlinked this one: the next holder locks the file now at the path.
                os.close(fd)
                fd = -1  # (nothing left to close if the open fails)
                fd = os.open(path, _OPEN_FLAGS, _MODE)
                continue
            left = math.inf if deadline is None else deadline - time.monotonic()
            if left <= 0:
                raise LockTimeout(path)
            time.sleep(min(wait, left))
            wait = min(wait * 2, _LONGEST_WAIT)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        raise


def acquire_filelock(path: str, timeout: float) -> HeldLock:
    """The same lock through ``filelock.FileLock`` (where ``fcntl`` is missing)."""
    import filelock

    if os.path.islink(path):
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
    lock = filelock.FileLock(
        path,
        thread_local=True,
        is_singleton=True,
        fallback_to_soft=False,
        preserve_lock_file=True,
    )
    try:
        # (filelock's own -1 refuses to wait on a lock held elsewhere in the process)
        lock.acquire(timeout=math.inf if timeout < 0 else timeout)
    except filelock.Timeout:
        raise LockTimeout(path) from None
    return lock


#: Takes a checkpoint's lock: ``(lock file path, timeout) -> held lock``.
acquire = acquire_flock if fcntl is not None else acquire_filelock
